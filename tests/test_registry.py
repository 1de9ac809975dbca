"""Adding an algorithm touches its own module and its test (docs/architecture.md, "How to add an
algorithm"): a diffusion behaviour-cloning algorithm (EDP's L_diff of Eq. 5 alone, no critic),
written here with the shared pieces and registered, is seen by the conformance kit, the
benchmark and the runner without any change to them; the registry refuses a second algorithm
under a taken name and names the registered ones for an unknown name."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch.func import grad_and_value

from edp_ref import algorithms as alg
from edp_ref.algorithms.acting import make_diffusion_act
from edp_ref.algorithms.diffusion_policy import (
    DiffusionNoise,
    diffusion_terms,
    draw_diffusion_noise,
    init_diffusion_agent,
)
from edp_ref.algorithms.execution import Metrics, run_update
from edp_ref.algorithms.optim import Params, apply_gradients
from edp_ref.algorithms.registry import REGISTRY, AlgorithmSpec, algorithm, register
from edp_ref.algorithms.state import TrainState
from edp_ref.algorithms.targets import finish_diffusion_update
from edp_ref.core.losses import diffusion_loss
from edp_ref.pytree import pytree_dataclass

NAME = "test_diffusion_bc"


# -- Step 1 of "How to add an algorithm": config, randomness, init, draw, update ---------------


@dataclass(frozen=True)
class DiffusionBCConfig(alg.DiffusionAlgorithmConfig):
    """Diffusion behaviour cloning: the policy steps on L_diff (Eq. 5) only."""


@pytree_dataclass
@dataclass(frozen=True, eq=False)
class DiffusionBCRandomness:
    """k and eps of L_diff (Eq. 8)."""

    diffusion: DiffusionNoise


def init_diffusion_bc(
    config: DiffusionBCConfig,
    state_dim: int,
    action_dim: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> TrainState:
    return init_diffusion_agent(
        config.network, config.diffusion, state_dim, action_dim, generator, device, dtype
    )


def draw_diffusion_bc_randomness(
    config: DiffusionBCConfig,
    batch_size: int,
    action_dim: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> DiffusionBCRandomness:
    noise = draw_diffusion_noise(
        config.diffusion.num_steps, batch_size, action_dim, generator, device, dtype
    )
    return DiffusionBCRandomness(noise)


def _core(
    state: TrainState,
    batch: alg.Batch,
    randomness: DiffusionBCRandomness,
    config: DiffusionBCConfig,
) -> tuple[TrainState, Metrics]:
    def loss(policy: Params) -> torch.Tensor:
        eps_hat, _ = diffusion_terms(
            state.networks,
            policy,
            batch.observations,
            batch.actions,
            randomness.diffusion,
            config.diffusion,
        )
        return diffusion_loss(randomness.diffusion.noise, eps_hat)

    grads, value = grad_and_value(loss)(state.params["policy"])
    policy, policy_adam, norm = apply_gradients(
        state.params["policy"], grads, state.optimizers["policy"], config.optimizer
    )
    return finish_diffusion_update(
        state,
        {**state.params, "policy": policy},
        {**state.optimizers, "policy": policy_adam},
        config.target_networks,
        {"diffusion_loss": value.detach(), "policy_grad_norm": norm},
        batch.observations.dtype,
    )


def diffusion_bc_update(
    state: TrainState,
    batch: alg.Batch,
    randomness: DiffusionBCRandomness,
    config: DiffusionBCConfig,
) -> tuple[TrainState, Metrics]:
    return run_update(_core, state, batch, randomness, config, "diffusion_bc_update")


SPEC = AlgorithmSpec(
    name=NAME,
    title="Diffusion BC (test)",
    equations="Eq. 5",
    config_class=DiffusionBCConfig,
    init=init_diffusion_bc,
    draw=draw_diffusion_bc_randomness,
    update=diffusion_bc_update,
    act=make_diffusion_act("dpm_solver"),
    policy_class="diffusion",
    reward_family="td3",
)


@pytest.fixture
def registered() -> Iterator[AlgorithmSpec]:
    """Step 2: ``register(...)`` (an algorithm module does it at import); removed afterwards."""
    register(SPEC)
    try:
        yield SPEC
    finally:
        REGISTRY.remove(NAME)
    assert NAME not in REGISTRY


# -- What the rest of edp_ref does with it ------------------------------------------------------


def test_the_update_learns_and_leaves_the_critics(registered: AlgorithmSpec) -> None:
    config = DiffusionBCConfig(network=alg.NetworkConfig(hidden=32, layers=2), compile=False)
    g = torch.Generator().manual_seed(0)
    state = registered.init(config, 3, 2, g)
    observations = torch.randn(64, 3, generator=g)
    batch = alg.Batch(
        observations,
        torch.tanh(observations[:, :2]),  # a deterministic behaviour policy to clone
        torch.zeros(64),
        torch.randn(64, 3, generator=g),
        torch.zeros(64),
    )
    fixed = registered.draw(config, 64, 2, torch.Generator().manual_seed(1))
    before = float(registered.update(state, batch, fixed, config)[1]["diffusion_loss"])
    for _ in range(150):
        state, _ = registered.update(state, batch, registered.draw(config, 64, 2, g), config)
    after = float(registered.update(state, batch, fixed, config)[1]["diffusion_loss"])
    assert after < 0.5 * before
    start = registered.init(config, 3, 2, torch.Generator().manual_seed(0))
    for net in ("q1", "q2"):
        for name, p in start.params[net].items():
            assert torch.equal(state.params[net][name], p)


def test_the_conformance_kit_has_an_update_case_for_it(registered: AlgorithmSpec) -> None:
    from edp_ref.golden.cases_updates import update_cases

    cases = {case.extra.get("algorithm"): case for case in update_cases(torch.float64)}
    case = cases[NAME]
    first, second = case.compute(case.inputs), case.compute(case.inputs)
    assert first.keys() == second.keys() and first
    for key in first:
        assert torch.equal(first[key], second[key]), key


def test_the_benchmark_has_a_training_case_for_it(registered: AlgorithmSpec) -> None:
    from edp_ref.benchmark.cases import training_case, training_cases
    from edp_ref.benchmark.settings import BenchmarkSettings

    settings = BenchmarkSettings.tiny()
    assert NAME in [case.name for case in training_cases(settings)]
    assert training_case(settings, NAME).name == NAME


def test_the_runner_trains_and_evaluates_it(
    registered: AlgorithmSpec, tiny_root: str, tmp_path: Path
) -> None:
    from edp_ref.runner import RunSpec, train_run

    spec = RunSpec(
        task="hopper-medium-v2",
        algorithm=NAME,
        seed=0,
        epochs=2,
        iterations_per_epoch=20,
        batch_size=32,
        eval_every=1,
        eval_episodes=2,
        eas_candidates=3,
        eval_envs=2,
        data_source="local",
        local_root=tiny_root,
        # K = 100 and 3 solver steps keep the evaluation episodes' sampling short.
        config=DiffusionBCConfig(
            network=alg.NetworkConfig(hidden=32, layers=2),
            diffusion=alg.DiffusionConfig(num_steps=100, dpm_steps=3),
        ),
    )
    result = train_run(spec, tmp_path / "run", progress=False)
    assert len(result.records) == 3  # before training and after each epoch
    assert all(math.isfinite(r.score) for r in result.records)


def test_names_are_unique_and_unknown_names_list_the_registered(
    registered: AlgorithmSpec,
) -> None:
    register(SPEC)  # the same record again: a module imported twice
    with pytest.raises(ValueError, match=f"an algorithm named '{NAME}' is already registered"):
        register(dataclasses.replace(SPEC, title="another"))
    with pytest.raises(ValueError, match=r"unknown algorithm 'edp_td4'; registered: edp_td3, "):
        algorithm("edp_td4")
    with pytest.raises(KeyError, match=f"{NAME}"):
        REGISTRY["edp_td4"]
    with pytest.raises(KeyError, match=r"cannot remove unknown algorithm 'edp_td4'"):
        REGISTRY.remove("edp_td4")
