"""EDP + CRR (Sec. 4.3, Appendix A.2): likelihood-based policy improvement of a diffusion policy.

One update, with t = state.step + 1:

1. Policy evaluation as in EDP + TD3 (Eq. 6, Eq. 14): a' from the EMA policy with DPM-Solver.
2. Policy improvement (Eq. 11 realised by Eq. 13, or Eq. 12): with the pre-update online critics,
   advantage (Eq. 21) A = min(Q1, Q2)(s, a) - (1/N) sum_i min(Q1, Q2)(s, a_i),
   a_i = a_hat0 + sigma xi_i, xi_i ~ N(0, I) (unclipped, N = 10, sigma = 1); weight
   f = min(exp(A / beta), cap) (Eq. 20; cap 20 official), stop-gradient; policy loss
   diffusion_weight * L_diff + loss_weight * E[f ||a - a_hat0||^2] (Eq. 13) or the ELBO-weighted
   loss of Eq. 12.
3. Adam, critic targets every update, EMA policy on its schedule (as EDP + TD3).
"""

from __future__ import annotations

from dataclasses import dataclass

from jaxtyping import Float
from torch import Tensor

from edp_ref.algorithms.config import NextActionPolicy, SamplerKind
from edp_ref.algorithms.critic import diffusion_policy_evaluation
from edp_ref.algorithms.execution import Metrics
from edp_ref.algorithms.optim import Params
from edp_ref.algorithms.policy_improvement import (
    WeightedRegressionConfig,
    policy_step,
    weighted_regression_loss,
)
from edp_ref.algorithms.randomness import (
    DiffusionNoise,
    SamplerNoise,
    diffusion_noise,
    drawn,
    normal,
    sampler_noise,
)
from edp_ref.algorithms.registry import register_algorithm
from edp_ref.algorithms.state import TrainState
from edp_ref.algorithms.targets import finish_diffusion_update
from edp_ref.config_checks import check_at_least, check_positive
from edp_ref.core.rl import capped_exponential_weights, crr_advantage
from edp_ref.data.batch import Batch
from edp_ref.pytree import pytree_dataclass

__all__ = ["CRRRandomness", "EDPCRRConfig", "edp_crr_update"]


@dataclass(frozen=True)
class EDPCRRConfig(WeightedRegressionConfig):
    """EDP + CRR (Appendix A.2): weighted Eq. 13 (or Eq. 12) with the advantage of Eq. 21."""

    # N of Eq. 21: samples a_i ~ N(a_hat0, sigma^2 I) for the baseline (App. A.2: 10).
    num_baseline_samples: int = 10
    # sigma of Eq. 21 (App. A.2: identity, 1.0).
    baseline_std: float = 1.0
    # beta of Eq. 20 (App. A.2: 1.0): weight exp(A / beta).
    temperature: float = 1.0
    # Cap of the weight (official: 20); None for the paper's uncapped exp.
    weight_cap: float | None = 20.0
    # Policy drawing a' for the TD target: "ema" (official) or "online" (Eq. 6 as printed).
    next_action_policy: NextActionPolicy = "ema"
    # Sampler of a': "dpm_solver" (EDP) or "ddpm".
    next_action_sampler: SamplerKind = "dpm_solver"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(self, "num_baseline_samples", "temperature", "weight_cap")
        check_at_least(self, 0.0, "baseline_std")


@pytree_dataclass
@dataclass(frozen=True, eq=False)
class CRRRandomness:
    """All randomness of one EDP + CRR update, drawn in this order."""

    # k and eps of L_diff and action approximation (Eqs. 5, 8-9).
    diffusion: DiffusionNoise = drawn(diffusion_noise)
    # Sampler noise of a' ~ pi(. | s') in the TD target (Eq. 6).
    next_actions: SamplerNoise = drawn(sampler_noise("next_action_sampler"))
    # xi_i ~ N(0, I) of Eq. 21's a_i = a_hat0 + sigma xi_i, [N, B, A].
    baseline_noise: Float[Tensor, "samples batch action"] = drawn(
        normal("num_baseline_samples", "batch", "action")
    )


@register_algorithm(
    "edp_crr",
    title="EDP + CRR",
    equations="Eqs. 11-13, 20-21; App. A.2",
    config_class=EDPCRRConfig,
    randomness=CRRRandomness,
    network="diffusion",
    family="crr",
    policy="edp",
)
def edp_crr_update(
    state: TrainState, batch: Batch, randomness: CRRRandomness, config: EDPCRRConfig
) -> tuple[TrainState, Metrics]:
    """One EDP + CRR update (App. A.2; module docstring)."""
    nets = state.networks
    P = state.params
    s, a = batch.observations, batch.actions

    # 1. Policy evaluation (Eq. 6 / Eq. 14).
    new_q1, new_q2, opt_q1, opt_q2, critic_metrics = diffusion_policy_evaluation(
        state, batch, randomness.next_actions, config
    )

    # 2. Policy improvement (Eqs. 12/13, 20, 21) with the pre-update critics.
    def weights_of(a0_hat: Tensor) -> tuple[Tensor, Metrics]:
        samples = a0_hat[None] + config.baseline_std * randomness.baseline_noise
        s_rep = s[None].expand(samples.shape[0], -1, -1)
        q_samples = nets.min_q(P["q1"], P["q2"], s_rep, samples)
        q_data = nets.min_q(P["q1"], P["q2"], s, a)
        advantage = crr_advantage(q_data, q_samples)
        weights = capped_exponential_weights(advantage / config.temperature, config.weight_cap)
        return weights, {"advantage_mean": advantage.mean(), "weight_mean": weights.mean()}

    def policy_loss(pp: Params) -> tuple[Tensor, Metrics]:
        return weighted_regression_loss(state, pp, batch, randomness.diffusion, config, weights_of)

    new_policy, opt_policy, policy_metrics = policy_step(state, policy_loss, config.optimizer)

    # 3. Targets.
    return finish_diffusion_update(
        state,
        {"policy": new_policy, "q1": new_q1, "q2": new_q2},
        {"policy": opt_policy, "q1": opt_q1, "q2": opt_q2},
        config.target_networks,
        {**critic_metrics, **policy_metrics},
        s.dtype,
    )
