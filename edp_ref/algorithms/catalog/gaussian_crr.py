"""CRR (Wang et al. 2020; App. A.2, Eq. 20) with a Gaussian MLP policy: Table 2's feed-forward
CRR baseline.

One update, with t = state.step + 1: advantage A = min-Q(s, a) - mean_j min-Q(s, a_j) with
a_j ~ pi(. | s) (Eq. 20 with the baseline of Eq. 21), weight f = min(exp(A / beta), cap), both from
the pre-update policy and critics; the critics step towards the clipped double-Q target with
a' ~ pi(. | s') and the target critics; the policy steps on -mean f log pi(a | s).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from edp_ref.algorithms.critic import double_q_target, td_critic_step
from edp_ref.algorithms.execution import Metrics
from edp_ref.algorithms.feedforward_policy import GaussianPolicyConfig, weighted_log_likelihood_loss
from edp_ref.algorithms.policy_improvement import policy_step
from edp_ref.algorithms.randomness import drawn, normal
from edp_ref.algorithms.registry import register_algorithm
from edp_ref.algorithms.state import TrainState
from edp_ref.algorithms.targets import advance_state
from edp_ref.config_checks import check_positive
from edp_ref.core.rl import capped_exponential_weights, crr_advantage
from edp_ref.data.batch import Batch
from edp_ref.pytree import pytree_dataclass

__all__ = ["GaussianCRRConfig", "GaussianCRRRandomness", "gaussian_crr_update"]


@dataclass(frozen=True)
class GaussianCRRConfig(GaussianPolicyConfig):
    """CRR (Wang et al. 2020; App. A.2, Eq. 20) with a Gaussian MLP policy."""

    # Policy samples for the baseline mean_j Q(s, a_j) (matched to EDP + CRR's 10).
    num_baseline_samples: int = 10
    # beta of Eq. 20.
    temperature: float = 1.0
    # Cap of exp(A / beta) (CRR's "exp" variant with a cap of 20).
    weight_cap: float | None = 20.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(self, "num_baseline_samples", "temperature", "weight_cap")


@pytree_dataclass
@dataclass(frozen=True, eq=False)
class GaussianCRRRandomness:
    """Randomness of one Gaussian CRR update, drawn in this order."""

    # N(0, I) [B, A] for a' ~ pi(. | s') (reparameterised).
    next_action_noise: Float[Tensor, "batch action"] = drawn(normal("batch", "action"))
    # N(0, I) [N, B, A] for the baseline's a_j ~ pi(. | s).
    baseline_noise: Float[Tensor, "samples batch action"] = drawn(
        normal("num_baseline_samples", "batch", "action")
    )


@register_algorithm(
    "gaussian_crr",
    title="CRR (Gaussian feed-forward)",
    equations="Eqs. 20-21; App. A.2",
    config_class=GaussianCRRConfig,
    randomness=GaussianCRRRandomness,
    network="gaussian",
    family="crr",
    policy="ff",
)
def gaussian_crr_update(
    state: TrainState, batch: Batch, randomness: GaussianCRRRandomness, config: GaussianCRRConfig
) -> tuple[TrainState, Metrics]:
    """One CRR update with a Gaussian MLP policy (Eq. 20; module docstring)."""
    nets = state.networks
    P = state.params
    s, a = batch.observations, batch.actions
    bound = config.max_action

    # 1. Without gradient, from the pre-update policy and critics: a' ~ pi(. | s') and the
    # advantage of Eq. 20 with Eq. 21's baseline over N actions a_j ~ pi(. | s), and its weights.
    with torch.no_grad():
        mean_n, log_std_n = nets.policy_output(P["policy"], batch.next_observations)
        next_actions = (mean_n + torch.exp(log_std_n) * randomness.next_action_noise).clamp(
            -bound, bound
        )
        mean_s, log_std_s = nets.policy_output(P["policy"], s)
        samples = (mean_s[None] + torch.exp(log_std_s)[None] * randomness.baseline_noise).clamp(
            -bound, bound
        )
        s_rep = s[None].expand(samples.shape[0], -1, -1)
        advantage = crr_advantage(
            nets.min_q(P["q1"], P["q2"], s, a), nets.min_q(P["q1"], P["q2"], s_rep, samples)
        )
        weights = capped_exponential_weights(advantage / config.temperature, config.weight_cap)
    # 2. Critics towards Eq. 14's target.
    y = double_q_target(state, batch, next_actions, config.discount)
    new_q1, new_q2, opt_q1, opt_q2, critic_metrics = td_critic_step(state, batch, y, config)

    # 3. Policy on -mean f log pi(a | s) (Eq. 20); critic targets move.
    new_policy, opt_policy, policy_metrics = policy_step(
        state, weighted_log_likelihood_loss(nets, s, a, weights), config.optimizer
    )
    new_state = advance_state(
        state,
        {"policy": new_policy, "q1": new_q1, "q2": new_q2},
        {"policy": opt_policy, "q1": opt_q1, "q2": opt_q2},
        config.target_networks.critic_tau,
    )
    metrics: Metrics = {
        **critic_metrics,
        "advantage_mean": advantage.mean(),
        "weight_mean": weights.mean(),
        **policy_metrics,
    }
    return new_state, metrics
