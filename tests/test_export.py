"""A run's policy exported with torch.export (edp_ref.runner.export) acts as load_policy's policy:
the same actions, bit for bit, from the same draws, for any batch size; PyTorch alone loads it."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from edp_ref.runner import RunSpec, default_config, load_policy, train_run
from edp_ref.runner.export import METADATA_FILE, export_policy


@pytest.fixture(scope="module")
def runs(tiny_root: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny finished run of EDP + TD3 and one of TD3+BC, each with its exported policy."""
    out = tmp_path_factory.mktemp("export")
    return {a: _run(tiny_root, out, a) for a in ("edp_td3", "td3bc")}


def _run(root: str, out: Path, algorithm: str) -> Path:
    spec = RunSpec(
        task="hopper-medium-v2",
        algorithm=algorithm,
        epochs=1,
        iterations_per_epoch=20,
        batch_size=32,
        eval_every=1,
        eval_episodes=1,
        eas_candidates=3,
        eval_envs=1,
        data_source="local",
        local_root=root,
        config=default_config(algorithm, "hopper-medium-v2", hidden=32),
    )
    train_run(spec, out / algorithm, progress=False, threads=1)
    export_policy(out / algorithm, out / algorithm / "policy.pt2")
    return out / algorithm


@pytest.mark.parametrize("algorithm", ["edp_td3", "td3bc"])
def test_the_exported_policy_acts_as_load_policy(runs: dict[str, Path], algorithm: str) -> None:
    run = runs[algorithm]
    path = run / "policy.pt2"
    extra = {METADATA_FILE: ""}
    program = torch.export.load(path, extra_files=extra).module()
    meta = json.loads(extra[METADATA_FILE])
    n, a_dim = meta["candidates"], meta["action_dim"]
    assert (meta["observation_dim"], a_dim) == (11, 3)
    assert n == (3 if algorithm == "edp_td3" else None)
    policy, _ = load_policy(run, seed=5)
    g = torch.Generator().manual_seed(5)
    for batch in (1, 4):
        obs = torch.randn(batch, 11, generator=g) * 3
        draws = torch.Generator().manual_seed(batch)
        policy.reset(batch)
        expected = policy(obs)
        if n is None:
            got = program(obs)
        else:
            noise = torch.randn(batch * n, a_dim, generator=draws)
            got = program(obs, noise, torch.rand(batch, generator=draws))
            other = program(obs, torch.randn(batch * n, a_dim, generator=draws), torch.rand(batch))
            assert not torch.equal(got, other)  # the draws are inputs, not constants
        assert torch.equal(got, expected)


def test_the_exported_file_loads_with_pytorch_alone(runs: dict[str, Path]) -> None:
    path = runs["edp_td3"] / "policy.pt2"
    code = (
        "import sys, torch; sys.modules['edp_ref'] = None\n"  # importing edp_ref would fail
        f"p = torch.export.load({str(path)!r}).module()\n"
        "print(tuple(p(torch.zeros(2, 11), torch.zeros(6, 3), torch.rand(2)).shape))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(2, 3)"


def test_ddpm_sampled_policies_are_refused(runs: dict[str, Path], tmp_path: Path) -> None:
    from edp_ref.algorithms.acting import ActingSettings

    run = runs["edp_td3"]
    settings = dataclasses.replace(ActingSettings(eas_candidates=3), sampler="ddpm")
    with pytest.raises(ValueError, match="only EAS over DPM-Solver samples"):
        export_policy(run, tmp_path / "p.pt2", settings=settings)
