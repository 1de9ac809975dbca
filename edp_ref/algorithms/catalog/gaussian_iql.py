"""IQL (Kostrikov et al. 2022; App. A.3, Eq. 22) with a Gaussian MLP policy: Table 2's
feed-forward IQL baseline.

One update, with t = state.step + 1, in IQL's order V -> policy -> Q: the expectile value step on
the target critics' min (Eq. 22, first line); AWR policy step on -mean min(exp(beta (Q - V)), 100)
log pi(a | s) with the updated V; the critics towards r + gamma V(s') (Eq. 22, second line). IQL
never samples an action, so the update draws no randomness. ``update_order="corl"`` is CORL's
``ImplicitQLearning.train`` (corl-team/CORL, algorithms/offline/iql.py; SPEC.md section 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from edp_ref.algorithms.critic import expectile_value_step, td_critic_step
from edp_ref.algorithms.execution import Metrics
from edp_ref.algorithms.feedforward_policy import GaussianPolicyConfig, weighted_log_likelihood_loss
from edp_ref.algorithms.policy_improvement import policy_step
from edp_ref.algorithms.registry import register_algorithm
from edp_ref.algorithms.state import TrainState
from edp_ref.algorithms.targets import advance_state
from edp_ref.config_checks import check_at_least, check_interval, check_positive
from edp_ref.core.rl import bellman_target, capped_exponential_weights
from edp_ref.data.batch import Batch

__all__ = ["GaussianIQLConfig", "gaussian_iql_update"]


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
    # Which V the policy's advantage Q - V(s) and the critics' target r + gamma V(s') use:
    # "iql" (IQL's paper, the official EDP: V after this update's value step) or "corl"
    # (CORL's train(): V before it; CORL steps V -> Q -> policy).
    update_order: Literal["iql", "corl"] = "iql"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_interval(self, "expectile", 0.0, 1.0, closed_high=False)
        check_at_least(self, 0.0, "inverse_temperature")
        check_positive(self, "weight_cap")


@register_algorithm(
    "gaussian_iql",
    title="IQL (Gaussian feed-forward)",
    equations="Eq. 22; App. A.3",
    config_class=GaussianIQLConfig,
    randomness=None,
    network="gaussian",
    value_network=True,
    family="iql",
    policy="ff",
)
def gaussian_iql_update(
    state: TrainState, batch: Batch, randomness: None, config: GaussianIQLConfig
) -> tuple[TrainState, Metrics]:
    """One IQL update with a Gaussian MLP policy (Eq. 22; module docstring)."""
    nets = state.networks
    T = state.target_params
    s, a = batch.observations, batch.actions

    with torch.no_grad():
        q_target = nets.min_q(T["q1"], T["q2"], s, a)

    # 1. Value: expectile regression on the target critics' min (Eq. 22).
    new_value, opt_value, value_metrics = expectile_value_step(
        state, s, q_target, config.optimizer, config.expectile
    )

    # 2. Policy: advantage-weighted regression with the updated V (CORL: the pre-update V).
    value_used = new_value if config.update_order == "iql" else state.params["value"]
    with torch.no_grad():
        advantage = q_target - nets.state_value(value_used, s)
        weights = capped_exponential_weights(
            config.inverse_temperature * advantage, config.weight_cap
        )

    new_policy, opt_policy, policy_metrics = policy_step(
        state, weighted_log_likelihood_loss(nets, s, a, weights), config.optimizer
    )

    # 3. Critics towards y = r + (1 - d) gamma V(s') (Eq. 22), the same V as the advantage's.
    with torch.no_grad():
        next_v = nets.state_value(value_used, batch.next_observations)
        y = bellman_target(batch.rewards, batch.terminals, next_v, config.discount)
    new_q1, new_q2, opt_q1, opt_q2, critic_metrics = td_critic_step(state, batch, y, config)
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
