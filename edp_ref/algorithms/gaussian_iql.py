"""IQL (Kostrikov et al. 2022; App. A.3, Eq. 22) with a Gaussian MLP policy: Table 2's
feed-forward IQL baseline.

One update, with t = state.step + 1, in IQL's order V -> policy -> Q: the expectile value step on
the target critics' min (Eq. 22, first line); AWR policy step on -mean min(exp(beta (Q - V)), 100)
log pi(a | s) with the updated V; the critics towards r + gamma V(s') (Eq. 22, second line). IQL
never samples an action, so the update draws no randomness. ``inverse_temperature = 0`` is
Gaussian behaviour cloning.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from edp_ref.algorithms.acting import feedforward_act
from edp_ref.algorithms.critic import expectile_value_step, min_q, td_critic_step
from edp_ref.algorithms.execution import Metrics, run_update
from edp_ref.algorithms.gaussian_policy import (
    GaussianPolicyConfig,
    init_gaussian_agent,
    weighted_log_likelihood_loss,
)
from edp_ref.algorithms.policy_improvement import policy_step
from edp_ref.algorithms.registry import AlgorithmSpec, register
from edp_ref.algorithms.state import TrainState
from edp_ref.algorithms.targets import advance_state
from edp_ref.algorithms.weights import capped_exponential_weights
from edp_ref.config_checks import check_at_least, check_interval, check_positive
from edp_ref.data.batch import Batch

__all__ = [
    "GaussianIQLConfig",
    "draw_gaussian_iql_randomness",
    "gaussian_iql_update",
    "init_gaussian_iql",
]


@dataclass(frozen=True)
class GaussianIQLConfig(GaussianPolicyConfig):
    """IQL (Kostrikov et al. 2022; App. A.3, Eq. 22) with a Gaussian MLP policy.

    ``inverse_temperature = 0`` gives Gaussian behaviour cloning (all weights 1).
    """

    # tau of L_2^tau (IQL: 0.7, antmaze 0.9).
    expectile: float = 0.7
    # beta of IQL's exp(beta (Q - V)) (IQL: 3.0 locomotion, 10.0 antmaze, 0.5 kitchen/adroit).
    inverse_temperature: float = 3.0
    # Cap of the weight (IQL: 100).
    weight_cap: float | None = 100.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_interval(self, "expectile", 0.0, 1.0, closed_high=False)
        check_at_least(self, 0.0, "inverse_temperature")
        check_positive(self, "weight_cap")


def draw_gaussian_iql_randomness(
    config: GaussianIQLConfig,
    batch_size: int,
    action_dim: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> None:
    """IQL draws nothing: ``None``, the randomness :func:`gaussian_iql_update` takes."""
    return None


def init_gaussian_iql(
    config: GaussianIQLConfig,
    state_dim: int,
    action_dim: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> TrainState:
    """A fresh Gaussian IQL state: Gaussian policy, Q1, Q2, V, target critics, Adam states."""
    return init_gaussian_agent(config, state_dim, action_dim, generator, device, dtype, True)


def _gaussian_iql_core(
    state: TrainState, batch: Batch, randomness: None, config: GaussianIQLConfig
) -> tuple[TrainState, Metrics]:
    nets = state.networks
    T = state.target_params
    s, a = batch.observations, batch.actions

    with torch.no_grad():
        q_target = min_q(nets, T["q1"], T["q2"], s, a)

    # 1. Value: expectile regression on the target critics' min (Eq. 22).
    new_value, opt_value, value_metrics = expectile_value_step(
        state, s, q_target, config.optimizer, config.expectile
    )

    # 2. Policy: advantage-weighted regression with the updated V.
    with torch.no_grad():
        advantage = q_target - nets.state_value(new_value, s)
        weights = capped_exponential_weights(
            config.inverse_temperature * advantage, config.weight_cap
        )

    new_policy, opt_policy, policy_metrics = policy_step(
        state, weighted_log_likelihood_loss(nets, s, a, weights), config.optimizer
    )

    # 3. Critics towards r + gamma V_new(s') (Eq. 22).
    with torch.no_grad():
        next_v = nets.state_value(new_value, batch.next_observations)
    new_q1, new_q2, opt_q1, opt_q2, critic_metrics = td_critic_step(state, batch, next_v, config)
    new_state = advance_state(
        state,
        {"policy": new_policy, "q1": new_q1, "q2": new_q2, "value": new_value},
        {"policy": opt_policy, "q1": opt_q1, "q2": opt_q2, "value": opt_value},
        config.target_networks.critic_tau,
    )
    metrics: Metrics = {
        **critic_metrics,
        **value_metrics,
        "advantage_mean": advantage.mean(),
        "weight_mean": weights.mean(),
        **policy_metrics,
    }
    return new_state, metrics


def gaussian_iql_update(
    state: TrainState, batch: Batch, randomness: None, config: GaussianIQLConfig
) -> tuple[TrainState, Metrics]:
    """One IQL update with a Gaussian MLP policy (Eq. 22).

    The update is deterministic (IQL never samples), so ``randomness`` is ``None``; the argument
    keeps the common ``update(state, batch, randomness, config)`` signature.

    Raises:
        ValueError: naming the tensor if the batch holds NaN or inf.
    """
    return run_update(_gaussian_iql_core, state, batch, randomness, config, "gaussian_iql_update")


register(
    AlgorithmSpec(
        name="gaussian_iql",
        title="IQL (Gaussian feed-forward)",
        equations="Eq. 22; App. A.3",
        config_class=GaussianIQLConfig,
        init=init_gaussian_iql,
        draw=draw_gaussian_iql_randomness,
        update=gaussian_iql_update,
        act=feedforward_act,
        policy_class="gaussian",
        reward_family="iql",
    )
)
