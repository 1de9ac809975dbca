"""Adding an algorithm is one module (docs/architecture.md, "How to add an algorithm"): a module
written here into a package of its own, diffusion behaviour cloning (EDP's L_diff of Eq. 5
alone, no critic step), is found through ``EDP_REF_ALGORITHM_PACKAGES`` and, with no change to
edp_ref, is in the registry, trains, has its conformance-kit update cases (``edp-golden export``)
and a benchmark training case. The registry refuses a taken name, names the registered ones for
an unknown name, and names the argument of a declaration that does not fit."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from edp_ref.algorithms import REGISTRY, register_algorithm, register_variant
from edp_ref.algorithms.catalog.edp_crr import EDPCRRConfig
from edp_ref.algorithms.catalog.edp_td3 import EDPTD3Config, TD3Randomness
from edp_ref.algorithms.catalog.td3bc import TD3BCConfig
from edp_ref.algorithms.registry import PACKAGES_VARIABLE
from edp_ref.compilation import shape_checks_disabled

NAME = "diffusion_bc"
PACKAGE = "my_algorithms"

#: Step 1 of "How to add an algorithm": the whole module.
MODULE = '''
"""Diffusion behaviour cloning: the policy steps on L_diff (Eq. 5) only; the critics stay."""

from dataclasses import dataclass

from torch import Tensor

from edp_ref.algorithms import (
    Batch,
    DiffusionAlgorithmConfig,
    Metrics,
    TrainState,
    register_algorithm,
)
from edp_ref.algorithms.diffusion_policy import diffusion_terms
from edp_ref.algorithms.optim import Params
from edp_ref.algorithms.policy_improvement import policy_step
from edp_ref.algorithms.randomness import DiffusionNoise, diffusion_noise, drawn
from edp_ref.algorithms.targets import finish_diffusion_update
from edp_ref.core.losses import diffusion_loss
from edp_ref.pytree import pytree_dataclass


@dataclass(frozen=True)
class DiffusionBCConfig(DiffusionAlgorithmConfig):
    """Diffusion BC: the diffusion policy's fields, nothing else."""


@pytree_dataclass
@dataclass(frozen=True, eq=False)
class DiffusionBCRandomness:
    # k and eps of L_diff (Eq. 8).
    diffusion: DiffusionNoise = drawn(diffusion_noise)


@register_algorithm(
    "diffusion_bc",
    title="Diffusion BC",
    equations="Eq. 5",
    config_class=DiffusionBCConfig,
    randomness=DiffusionBCRandomness,
    network="diffusion",
    family="td3",
    policy="edp",
)
def diffusion_bc_update(
    state: TrainState, batch: Batch, randomness: DiffusionBCRandomness, config: DiffusionBCConfig
) -> tuple[TrainState, Metrics]:
    """1. L_diff (Eq. 5) on corrupted dataset actions (Eq. 8); 2. one Adam step of the policy;
    3. the EMA policy on its schedule (the critics and their targets stay)."""
    noise = randomness.diffusion

    def loss(policy: Params) -> tuple[Tensor, Metrics]:
        eps_hat, _ = diffusion_terms(
            state.networks, policy, batch.observations, batch.actions, noise, config.diffusion
        )
        return diffusion_loss(noise.noise, eps_hat), {}

    policy, adam, metrics = policy_step(state, loss, config.optimizer)
    return finish_diffusion_update(
        state,
        {**state.params, "policy": policy},
        {**state.optimizers, "policy": adam},
        config.target_networks,
        metrics,
        batch.observations.dtype,
    )
'''

#: What the rest of edp_ref does with it, in a process that imports edp_ref afresh.
PROBE = """
import json

import torch

from edp_ref.algorithms import REGISTRY, Batch, DiffusionConfig, NetworkConfig
from edp_ref.benchmark.training import training_case, training_cases
from edp_ref.benchmark.settings import BenchmarkSettings

out = {"registered": list(REGISTRY)}
bc = REGISTRY["diffusion_bc"]
out["module"] = bc.update.core.__module__
config = bc.config_class(
    network=NetworkConfig(hidden=32, layers=2), diffusion=DiffusionConfig(num_steps=100)
)
g = torch.Generator().manual_seed(0)
start = bc.init(config, 3, 2, g)
observations = torch.randn(64, 3, generator=g)
batch = Batch(
    observations,
    torch.tanh(observations[:, :2]),  # a deterministic behaviour policy to clone
    torch.zeros(64),
    torch.randn(64, 3, generator=g),
    torch.zeros(64),
)
fixed = bc.draw(config, 64, 2, torch.Generator().manual_seed(1))
state = start
for _ in range(150):
    state, _ = bc.update(state, batch, bc.draw(config, 64, 2, g), config)
out["loss_before"] = float(bc.update(start, batch, fixed, config)[1]["policy_loss"])
out["loss_after"] = float(bc.update(state, batch, fixed, config)[1]["policy_loss"])
out["critics_kept"] = all(
    torch.equal(state.params[net][n], p)
    for net in ("q1", "q2")
    for n, p in start.params[net].items()
)
settings = BenchmarkSettings.tiny()
out["benchmark"] = [case.name for case in training_cases(settings)]
out["benchmark_case"] = training_case(settings, "diffusion_bc").name
print(json.dumps(out))
"""


def _environment(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env[PACKAGES_VARIABLE] = PACKAGE
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    return env


@pytest.fixture(scope="module")
def package_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package of the user's own, outside edp_ref, holding the new algorithm's module."""
    root = tmp_path_factory.mktemp("user")
    (root / PACKAGE).mkdir()
    (root / PACKAGE / "__init__.py").write_text('"""My algorithms."""\n')
    (root / PACKAGE / f"{NAME}.py").write_text(MODULE.lstrip())
    return root


@pytest.fixture(scope="module")
def probe(package_root: Path) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PROBE)],
        env=_environment(package_root),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return out


def test_the_module_is_discovered_and_registered(probe: dict[str, Any]) -> None:
    assert probe["registered"][: len(REGISTRY)] == list(REGISTRY)  # edp_ref's own first
    assert probe["registered"][len(REGISTRY) :] == [NAME]
    assert probe["module"] == f"{PACKAGE}.{NAME}"
    assert NAME not in REGISTRY  # this process was not told about the package


def test_the_update_learns_and_leaves_the_critics(probe: dict[str, Any]) -> None:
    assert probe["loss_after"] < 0.5 * probe["loss_before"]
    assert probe["critics_kept"]


def test_the_conformance_kit_has_its_update_cases(package_root: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "edp_ref.golden", "export", str(tmp_path / "kit")],
        env=_environment(package_root),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "kit" / "manifest.json").read_text())
    cases = {case["name"]: case for case in manifest["cases"]}
    for tag in ("f64", "f32"):
        case = cases[f"update_{NAME}_{tag}"]
        assert (case["algorithm"], case["function"]) == (NAME, f"{NAME}_update")
        assert "randomness/diffusion/timesteps" in case["inputs"]
        assert "metrics/policy_loss" in case["outputs"]


def test_the_benchmark_has_a_training_case_for_it(probe: dict[str, Any]) -> None:
    assert NAME in probe["benchmark"]
    assert probe["benchmark_case"] == NAME


def test_the_runner_trains_and_evaluates_it(
    package_root: Path, tiny_root: str, tmp_path: Path
) -> None:
    """``edp-train --algorithm diffusion_bc`` trains it with the paper's protocol on the tiny
    generated hopper data (tests/conftest.py) and evaluates it by EAS, like any algorithm."""
    out = tmp_path / "run"
    options = [
        "--algorithm", NAME, "--dataset", "hopper-medium-v2", "--out", str(out),
        "--run.data-source", "local", "--run.local-root", tiny_root,
        "--config.network.hidden", "16", "--config.diffusion.num-steps", "50",
        "--run.epochs", "2", "--run.iterations-per-epoch", "10", "--run.batch-size", "16",
        "--run.eval-every", "1", "--run.eval-episodes", "1", "--run.eval-envs", "1",
        "--run.eas-candidates", "2", "--threads", "1", "--no-progress",
    ]  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "edp_ref.runner.cli", *options],
        env=_environment(package_root),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    evaluations = [
        json.loads(line) for line in (out / "evaluations.jsonl").read_text().splitlines()
    ]
    assert [e["epoch"] for e in evaluations] == [0, 1, 2]
    assert all(math.isfinite(e["normalized_mean"]) for e in evaluations)
    assert json.loads((out / "config.json").read_text())["run"]["algorithm"] == NAME


def test_the_peer_benchmark_times_it(package_root: Path, tmp_path: Path) -> None:
    """``scripts/benchmark_peers.py --only diffusion_bc`` times it beside no peer (the official
    code has no such algorithm): a row of edp_ref alone."""
    out = tmp_path / "peers.json"
    env = _environment(package_root)
    for variable in ("EDP_OFFICIAL_ROOT", "DQL_OFFICIAL_ROOT", "CORL_ROOT"):
        env.pop(variable, None)
    command = ["scripts/benchmark_peers.py", "--tiny", "--rounds", "1", "--only", NAME]
    result = subprocess.run(
        [sys.executable, *command, "--output", str(out)],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    (row,) = doc["rows"]
    assert row["edp_ref_key"] == NAME and row["peer_key"] is None
    assert row["edp_ref_eager_ips"] > 0
    assert "(no peer)" in result.stdout


def test_a_taken_name_and_an_unknown_name_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="an algorithm named 'edp_td3' is already registered"):
        register_variant(
            "edp_td3", base="td3bc", config_class=TD3BCConfig, title="again", equations="-"
        )
    with pytest.raises(KeyError, match=r"unknown algorithm 'edp_td4'; registered: edp_td3, "):
        REGISTRY["edp_td4"]
    with pytest.raises(KeyError, match="unknown algorithm 'edp_td4'"):
        register_variant("x", base="edp_td4", config_class=TD3BCConfig, title="x", equations="-")


@dataclasses.dataclass(frozen=True)
class Undeclared:
    """A randomness class whose field does not say how it is drawn."""

    noise: int


@pytest.mark.parametrize(
    ("changes", "error", "words"),
    [
        ({"family": "sac"}, ValueError, "family must be one of ('td3', 'crr', 'iql'), got 'sac'"),
        ({"network": "mlp"}, ValueError, "network must be one of"),
        ({"policy": "ff"}, ValueError, "policy='ff' does not fit network='diffusion'"),
        ({"config_class": TD3BCConfig}, TypeError, "a diffusion policy needs a config_class"),
        ({"randomness": Undeclared}, TypeError, "Undeclared: field(s) ['noise'] say not how"),
    ],
)
def test_a_declaration_that_does_not_fit_is_named(
    changes: dict[str, Any], error: type[Exception], words: str
) -> None:
    declaration: dict[str, Any] = {
        "title": "t",
        "equations": "-",
        "config_class": EDPTD3Config,
        "randomness": TD3Randomness,
        "network": "diffusion",
        "family": "td3",
        "policy": "edp",
        **changes,
    }
    # register_algorithm's own checks (what users get), not pytest's jaxtyping hook.
    with shape_checks_disabled(), pytest.raises(error, match=re.escape(words)):
        register_algorithm("never_registered", **declaration)
    assert "never_registered" not in REGISTRY


def test_a_variant_config_must_subclass_its_base_config() -> None:
    with pytest.raises(TypeError, match="config_class must subclass edp_td3's EDPTD3Config"):
        register_variant(
            "crr_as_td3", base="edp_td3", config_class=EDPCRRConfig, title="x", equations="-"
        )
    with pytest.raises(ValueError, match="policy='ff' does not fit edp_td3's 'edp'"):
        register_variant(
            "ff_td3",
            base="edp_td3",
            config_class=EDPTD3Config,
            title="x",
            equations="-",
            policy="ff",
        )
    assert "crr_as_td3" not in REGISTRY and "ff_td3" not in REGISTRY


def test_every_variant_is_a_base_with_another_config() -> None:
    variants = {n: a.base for n, a in REGISTRY.items() if a.base is not None}
    assert variants == {
        "edp_without_dpm": "edp_td3",
        "edp_without_ap": "edp_td3",
        "edp_td3_k100": "edp_td3",
        "edp_ddpm_k100": "edp_without_ap",
        "dql": "edp_td3",
        "td3bc_eas": "td3bc",
    }
    for name, base in variants.items():
        variant, parent = REGISTRY[name], REGISTRY[base]
        assert variant.update.core is parent.update.core and variant.init is parent.init
        assert variant.update.name == f"{name}_update"
        assert issubclass(variant.config_class, parent.config_class)
    assert REGISTRY["edp_td3_k100"].config_class().diffusion.num_steps == 100
    ddpm = REGISTRY["edp_ddpm_k100"].config_class()
    assert (ddpm.diffusion.num_steps, ddpm.policy_action_sampler) == (100, "ddpm")
    assert REGISTRY["td3bc_eas"].act is not REGISTRY["td3bc"].act
    policies = {n: (a.family, a.policy) for n, a in REGISTRY.items()}
    assert policies["dql"] == policies["edp_without_ap"] == ("td3", "diffusion")
    assert policies["edp_without_dpm"] == policies["edp_td3_k100"] == ("td3", "edp")
    assert policies["td3bc_eas"] == ("td3", "ff")
