"""Behaviour on a one-step bandit whose dataset actions come from two separated modes, one with a
higher reward (the paper's point about multi-modality, Sec. 1 and 4): EDP + TD3, EDP + CRR and
EDP + IQL put their sampled actions in the better mode, while a Gaussian policy trained by
behaviour cloning (IQL with inverse temperature 0) puts its mean between the modes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor

from edp_ref.algorithms import (
    REGISTRY,
    Batch,
    DiffusionConfig,
    NetworkConfig,
    OptimizerConfig,
    TrainState,
)
from edp_ref.algorithms.catalog.gaussian_iql import GaussianIQLConfig
from edp_ref.algorithms.diffusion_policy import sample_actions
from edp_ref.algorithms.feedforward_policy import feedforward_actions
from edp_ref.algorithms.randomness import draw_sampler_noise
from edp_ref.compilation import shape_checks_disabled

BETTER, WORSE = 0.5, -0.5
STEPS, BATCH = 1500, 128
NET = NetworkConfig(hidden=64, layers=2)
# Diffusion-QL's small vp schedule: a few steps suffice for a 1-D action.
DIFF = DiffusionConfig(schedule="vp", num_steps=10, dpm_steps=3)
OPT = OptimizerConfig(learning_rate=1e-3)


def _bandit(g: torch.Generator, n: int = 4096) -> tuple[Tensor, Tensor, Tensor]:
    better = torch.rand(n, generator=g) < 0.5
    centre = torch.where(better, BETTER, WORSE)
    actions = (centre + 0.1 * torch.randn(n, generator=g)).clamp(-0.99, 0.99)[:, None]
    return torch.zeros(n, 1), actions, better.float() * 2.0 - 1.0


def _train(
    config: Any,
    init: Callable[..., TrainState],
    draw: Callable[..., Any],
    update: Callable[..., Any],
) -> TrainState:
    g = torch.Generator().manual_seed(0)
    observations, actions, rewards = _bandit(g)
    state = init(config, 1, 1, g)
    # Shapes are checked by the unit tests; here jaxtyping's per-call checks would cost most of
    # the run time.
    # One torch thread: tiny matrices gain nothing from two, and a second thread competing with
    # other processes on a 2-core machine slows every step by an order of magnitude.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with shape_checks_disabled():
            return _loop(state, config, draw, update, g, observations, actions, rewards)
    finally:
        torch.set_num_threads(threads)


def _loop(
    state: TrainState,
    config: Any,
    draw: Callable[..., Any],
    update: Callable[..., Any],
    g: torch.Generator,
    observations: Tensor,
    actions: Tensor,
    rewards: Tensor,
) -> TrainState:
    for _ in range(STEPS):
        idx = torch.randint(0, observations.shape[0], (BATCH,), generator=g)
        batch = Batch(
            observations[idx], actions[idx], rewards[idx], observations[idx], torch.ones(BATCH)
        )
        randomness = draw(config, BATCH, 1, g)
        state, _ = update(state, batch, randomness, config)
    return state


# The EDP algorithms, each with the settings that show the effect within 1500 updates: CRR with
# beta = 0.25 and IQL with the official inverse temperature 3 sharpen the weights enough.
SHARPER: dict[str, dict[str, Any]] = {
    "edp_td3": {},
    "edp_crr": {"temperature": 0.25},
    "edp_iql": {"inverse_temperature": 3.0},
}
CASES = {
    name: (
        REGISTRY[name].config_class(network=NET, diffusion=DIFF, optimizer=OPT, **changes),
        REGISTRY[name].init,
        REGISTRY[name].draw,
        REGISTRY[name].update,
    )
    for name, changes in SHARPER.items()
}


@pytest.mark.parametrize("name", list(CASES))
def test_diffusion_policy_samples_the_better_mode(name: str) -> None:
    config, init, draw, update = CASES[name]
    state = _train(config, init, draw, update)
    g = torch.Generator().manual_seed(1)
    noise = draw_sampler_noise("dpm_solver", DIFF.num_steps, 1000, 1, g, "cpu")
    sampled = sample_actions(state, torch.zeros(1000, 1), noise, config.diffusion)
    near_better = float(((sampled - BETTER).abs() < 0.4).float().mean())
    near_worse = float(((sampled - WORSE).abs() < 0.4).float().mean())
    assert near_better >= 0.6, (near_better, near_worse)
    assert near_better >= 3.0 * near_worse, (near_better, near_worse)


def test_gaussian_behaviour_cloning_averages_the_modes() -> None:
    config = GaussianIQLConfig(network=NET, optimizer=OPT, inverse_temperature=0.0)
    iql = REGISTRY["gaussian_iql"]
    state = _train(config, iql.init, iql.draw, iql.update)
    mean_action = feedforward_actions(state, torch.zeros(1, 1))
    # The maximum-likelihood Gaussian of a symmetric two-mode dataset sits between the modes.
    assert abs(float(mean_action)) < 0.2
    assert float(state.params["policy"]["log_std"].exp().max()) > 0.3
