"""EDP + IQL (Sec. 4.3, Appendix A.3): in-sample policy evaluation and weighted regression.

One update, with t = state.step + 1, in the official order V -> policy -> Q:

1. Value (Eq. 22, first line, with App. A.3's double Q): V minimises
   mean |tau - 1(x < 0)| x^2, x = min(Q1', Q2')(s, a) - V(s), with the *target* critics.
2. Policy: weights f = min(exp(inverse_temperature (min(Q1', Q2')(s, a) - V_new(s))), cap)
   (paper: temperature 1; official: multiplier 3.0, cap 100), stop-gradient; loss
   diffusion_weight * L_diff + loss_weight * weighted Eq. 13 (or Eq. 12).
3. Critics (Eq. 22, second line): y = r + (1 - d) gamma V_new(s'), sum_i mean (Q_i - y)^2.
4. Critic targets every update; EMA policy on its schedule.

No action is ever sampled from the policy during training: the noise network runs exactly once
per update (for L_diff and a_hat0 together).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from edp_ref.algorithms.critic import expectile_value_step, td_critic_step
from edp_ref.algorithms.execution import Metrics
from edp_ref.algorithms.optim import Params
from edp_ref.algorithms.policy_improvement import (
    WeightedRegressionConfig,
    policy_step,
    weighted_regression_loss,
)
from edp_ref.algorithms.randomness import DiffusionNoise, diffusion_noise, drawn
from edp_ref.algorithms.registry import register_algorithm
from edp_ref.algorithms.state import TrainState
from edp_ref.algorithms.targets import finish_diffusion_update
from edp_ref.config_checks import check_at_least, check_interval, check_positive
from edp_ref.core.rl import bellman_target, capped_exponential_weights
from edp_ref.data.batch import Batch
from edp_ref.pytree import pytree_dataclass

__all__ = ["EDPIQLConfig", "IQLRandomness", "edp_iql_update"]


@dataclass(frozen=True)
class EDPIQLConfig(WeightedRegressionConfig):
    """EDP + IQL (Appendix A.3): expectile V, double Q, weights exp((Q - V)/tau) on Eq. 13."""

    # tau of L_2^tau (Eq. 22): 0.7, 0.9 on antmaze (App. A.3).
    expectile: float = 0.7
    # Weight exp(inverse_temperature (Q - V)): paper App. A.3 uses temperature beta = 1
    # (inverse 1.0); the official code multiplies by awr_temperature = 3.0.
    inverse_temperature: float = 1.0
    # Cap of the weight (official: 100); None for no cap.
    weight_cap: float | None = 100.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_interval(self, "expectile", 0.0, 1.0, closed_high=False)
        check_at_least(self, 0.0, "inverse_temperature")
        check_positive(self, "weight_cap")


@pytree_dataclass
@dataclass(frozen=True, eq=False)
class IQLRandomness:
    """All randomness of one EDP + IQL update (nothing is sampled from the policy)."""

    # k and eps of L_diff and action approximation (Eqs. 5, 8-9).
    diffusion: DiffusionNoise = drawn(diffusion_noise)


@register_algorithm(
    "edp_iql",
    title="EDP + IQL",
    equations="Eqs. 11-13, 22; App. A.3",
    config_class=EDPIQLConfig,
    randomness=IQLRandomness,
    network="diffusion",
    value_network=True,
    family="iql",
    policy="edp",
)
def edp_iql_update(
    state: TrainState, batch: Batch, randomness: IQLRandomness, config: EDPIQLConfig
) -> tuple[TrainState, Metrics]:
    """One EDP + IQL update (App. A.3): V, then the policy, then Q1 and Q2 (module docstring)."""
    nets = state.networks
    T = state.target_params
    s, a = batch.observations, batch.actions

    with torch.no_grad():
        q_target = nets.min_q(T["q1"], T["q2"], s, a)

    # 1. Value: expectile regression on the target critics' min (Eq. 22).
    new_value, opt_value, value_metrics = expectile_value_step(
        state, s, q_target, config.optimizer, config.expectile
    )

    # 2. Policy: weights from the updated V (App. A.3).
    def weights_of(_a0_hat: Tensor) -> tuple[Tensor, Metrics]:
        advantage = q_target - nets.state_value(new_value, s)
        weights = capped_exponential_weights(
            config.inverse_temperature * advantage, config.weight_cap
        )
        return weights, {"advantage_mean": advantage.mean(), "weight_mean": weights.mean()}

    def policy_loss(pp: Params) -> tuple[Tensor, Metrics]:
        return weighted_regression_loss(state, pp, batch, randomness.diffusion, config, weights_of)

    new_policy, opt_policy, policy_metrics = policy_step(state, policy_loss, config.optimizer)

    # 3. Critics towards y = r + (1 - d) gamma V_new(s') (Eq. 22).
    with torch.no_grad():
        next_v = nets.state_value(new_value, batch.next_observations)
        y = bellman_target(batch.rewards, batch.terminals, next_v, config.discount)
    new_q1, new_q2, opt_q1, opt_q2, critic_metrics = td_critic_step(state, batch, y, config)

    # 4. Targets.
    return finish_diffusion_update(
        state,
        {"policy": new_policy, "q1": new_q1, "q2": new_q2, "value": new_value},
        {"policy": opt_policy, "q1": opt_q1, "q2": opt_q2, "value": opt_value},
        config.target_networks,
        {**critic_metrics, **value_metrics, **policy_metrics},
        s.dtype,
    )
