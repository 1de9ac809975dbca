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

from edp_ref.algorithms.acting import feedforward_act
from edp_ref.algorithms.critic import min_q, td_critic_step
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
from edp_ref.algorithms.weights import capped_exponential_weights, crr_advantage
from edp_ref.config_checks import check_positive
from edp_ref.data.batch import Batch
from edp_ref.pytree import pytree_dataclass

__all__ = [
    "GaussianCRRConfig",
    "GaussianCRRRandomness",
    "draw_gaussian_crr_randomness",
    "gaussian_crr_update",
    "init_gaussian_crr",
]


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
    """Randomness of one Gaussian CRR update.

    Attributes:
        next_action_noise: N(0, I) ``[B, A]`` for a' ~ pi(. | s') (reparameterised).
        baseline_noise: N(0, I) ``[N, B, A]`` for the baseline's a_j ~ pi(. | s).
    """

    next_action_noise: Float[Tensor, "batch action"]
    baseline_noise: Float[Tensor, "samples batch action"]


def draw_gaussian_crr_randomness(
    config: GaussianCRRConfig,
    batch_size: int,
    action_dim: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> GaussianCRRRandomness:
    """Draw one Gaussian CRR update's randomness from ``generator``."""
    nxt = torch.randn(
        (batch_size, action_dim), generator=generator, device=generator.device, dtype=dtype
    )
    base = torch.randn(
        (config.num_baseline_samples, batch_size, action_dim),
        generator=generator,
        device=generator.device,
        dtype=dtype,
    )
    return GaussianCRRRandomness(nxt.to(device), base.to(device))


def init_gaussian_crr(
    config: GaussianCRRConfig,
    state_dim: int,
    action_dim: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> TrainState:
    """A fresh Gaussian CRR state: Gaussian policy, Q1, Q2, target critics, Adam states."""
    return init_gaussian_agent(config, state_dim, action_dim, generator, device, dtype, False)


def _gaussian_crr_core(
    state: TrainState, batch: Batch, randomness: GaussianCRRRandomness, config: GaussianCRRConfig
) -> tuple[TrainState, Metrics]:
    nets = state.networks
    P, T = state.params, state.target_params
    s, a = batch.observations, batch.actions
    bound = config.max_action

    with torch.no_grad():
        mean_n, log_std_n = nets.policy_output(P["policy"], batch.next_observations)
        next_actions = (mean_n + torch.exp(log_std_n) * randomness.next_action_noise).clamp(
            -bound, bound
        )
        next_q = min_q(nets, T["q1"], T["q2"], batch.next_observations, next_actions)
        # Advantage (Eq. 20 with Eq. 21's baseline) from the pre-update policy and critics.
        mean_s, log_std_s = nets.policy_output(P["policy"], s)
        samples = (mean_s[None] + torch.exp(log_std_s)[None] * randomness.baseline_noise).clamp(
            -bound, bound
        )
        s_rep = s[None].expand(samples.shape[0], -1, -1)
        advantage = crr_advantage(
            min_q(nets, P["q1"], P["q2"], s, a), min_q(nets, P["q1"], P["q2"], s_rep, samples)
        )
        weights = capped_exponential_weights(advantage / config.temperature, config.weight_cap)
    new_q1, new_q2, opt_q1, opt_q2, critic_metrics = td_critic_step(state, batch, next_q, config)

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


def gaussian_crr_update(
    state: TrainState,
    batch: Batch,
    randomness: GaussianCRRRandomness,
    config: GaussianCRRConfig,
) -> tuple[TrainState, Metrics]:
    """One CRR update with a Gaussian MLP policy (Eq. 20).

    Raises:
        ValueError: naming the tensor if the batch holds NaN or inf.
    """
    return run_update(_gaussian_crr_core, state, batch, randomness, config, "gaussian_crr_update")


register(
    AlgorithmSpec(
        name="gaussian_crr",
        title="CRR (Gaussian feed-forward)",
        equations="Eqs. 20-21; App. A.2",
        config_class=GaussianCRRConfig,
        init=init_gaussian_crr,
        draw=draw_gaussian_crr_randomness,
        update=gaussian_crr_update,
        act=feedforward_act,
        policy_class="gaussian",
        reward_family="crr",
    )
)
