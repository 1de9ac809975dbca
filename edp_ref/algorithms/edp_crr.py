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
from typing import Literal

import torch
from jaxtyping import Float
from torch import Tensor
from torch.func import grad_and_value

from edp_ref.algorithms.batch import Batch
from edp_ref.algorithms.common import Params, apply_gradients
from edp_ref.algorithms.config import EDPCRRConfig, SamplerKind
from edp_ref.algorithms.critic import min_q
from edp_ref.algorithms.diffusion_policy import (
    DiffusionNoise,
    SamplerNoise,
    diffusion_terms,
    draw_diffusion_noise,
    draw_sampler_noise,
    init_diffusion_agent,
)
from edp_ref.algorithms.diffusion_steps import diffusion_policy_evaluation, finish_diffusion_update
from edp_ref.algorithms.execution import Metrics, run_update
from edp_ref.algorithms.state import TrainState
from edp_ref.core.losses import (
    ActionReduction,
    ElboVariant,
    SurrogateForm,
    diffusion_loss,
    elbo_weighted_loss,
    gaussian_surrogate_loss,
)

__all__ = [
    "CRRRandomness",
    "crr_advantage",
    "draw_crr_randomness",
    "edp_crr_update",
    "init_edp_crr",
    "policy_improvement_loss",
]


@dataclass(frozen=True, eq=False)
class CRRRandomness:
    """All randomness of one EDP + CRR update.

    Attributes:
        diffusion: k and eps of L_diff and action approximation.
        next_actions: sampler noise for a' of the TD target.
        baseline_noise: xi_i ~ N(0, I) of Eq. 21, ``[N, B, A]``.
    """

    diffusion: DiffusionNoise
    next_actions: SamplerNoise
    baseline_noise: Float[Tensor, "samples batch action"]


def draw_crr_randomness(
    config: EDPCRRConfig,
    batch_size: int,
    action_dim: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> CRRRandomness:
    """Draw one update's randomness from ``generator`` (then move it to ``device``)."""
    K = config.diffusion.num_steps
    diffusion = draw_diffusion_noise(K, batch_size, action_dim, generator, device, dtype)
    sampler: SamplerKind = config.next_action_sampler
    next_actions = draw_sampler_noise(sampler, K, batch_size, action_dim, generator, device, dtype)
    shape = (config.num_baseline_samples, batch_size, action_dim)
    baseline = torch.randn(shape, generator=generator, device=generator.device, dtype=dtype)
    return CRRRandomness(diffusion, next_actions, baseline.to(device))


def init_edp_crr(
    config: EDPCRRConfig,
    state_dim: int,
    action_dim: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> TrainState:
    """A fresh EDP + CRR state: policy, EMA policy, Q1, Q2, targets, Adam states."""
    return init_diffusion_agent(
        config.network, config.diffusion, state_dim, action_dim, generator, device, dtype
    )


def crr_advantage(
    q_data: Float[Tensor, " batch"], q_samples: Float[Tensor, "samples batch"]
) -> Float[Tensor, " batch"]:
    """Eq. 21: min-Q of the dataset action minus the mean min-Q of the N sampled actions."""
    return q_data - q_samples.mean(dim=0)


def policy_improvement_loss(
    objective: Literal["gaussian_surrogate", "elbo"],
    surrogate_form: SurrogateForm,
    elbo_variant: ElboVariant,
    state: TrainState,
    actions: Float[Tensor, "batch action"],
    a0_hat: Float[Tensor, "batch action"],
    eps_hat: Float[Tensor, "batch action"],
    noise: DiffusionNoise,
    weights: Float[Tensor, " batch"],
    action_reduction: ActionReduction,
) -> Float[Tensor, ""]:
    """The weighted-likelihood term of Eq. 11: Eq. 13 (Gaussian surrogate) or Eq. 12 (ELBO)."""
    if objective == "gaussian_surrogate":
        return gaussian_surrogate_loss(actions, a0_hat, weights, surrogate_form)
    if objective == "elbo":
        return elbo_weighted_loss(
            state.networks.require_schedule(),
            noise.timesteps,
            noise.noise,
            eps_hat,
            weights,
            elbo_variant,
            action_reduction,
        )
    raise ValueError(f"policy_objective must be 'gaussian_surrogate' or 'elbo', got {objective!r}")


def _edp_crr_core(
    state: TrainState, batch: Batch, randomness: CRRRandomness, config: EDPCRRConfig
) -> tuple[TrainState, Metrics]:
    nets = state.networks
    P = state.params
    dc = config.diffusion
    s, a = batch.observations, batch.actions

    # 1. Policy evaluation (Eq. 6 / Eq. 14).
    new_q1, new_q2, opt_q1, opt_q2, critic_metrics = diffusion_policy_evaluation(
        state, batch, randomness.next_actions, config
    )

    # 2. Policy improvement (Eqs. 12/13, 20, 21) with the pre-update critics.
    def policy_loss(pp: Params) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor, Tensor]]:
        eps_hat, a0_hat = diffusion_terms(nets, pp, s, a, randomness.diffusion, dc)
        l_diff = diffusion_loss(randomness.diffusion.noise, eps_hat, dc.action_reduction)
        with torch.no_grad():
            samples = a0_hat.detach()[None] + config.baseline_std * randomness.baseline_noise
            s_rep = s[None].expand(samples.shape[0], -1, -1)
            q_samples = min_q(nets, P["q1"], P["q2"], s_rep, samples)
            q_data = min_q(nets, P["q1"], P["q2"], s, a)
            advantage = crr_advantage(q_data, q_samples)
            weights = torch.exp(advantage / config.temperature)
            if config.weight_cap is not None:
                weights = torch.clamp(weights, max=config.weight_cap)
        guide = policy_improvement_loss(
            config.policy_objective,
            config.surrogate_form,
            config.elbo_variant,
            state,
            a,
            a0_hat,
            eps_hat,
            randomness.diffusion,
            weights,
            dc.action_reduction,
        )
        total = config.diffusion_weight * l_diff + config.loss_weight * guide
        return total, (l_diff.detach(), guide.detach(), advantage.mean(), weights.mean())

    grads, (p_loss, (l_diff, guide, adv, w_mean)) = grad_and_value(policy_loss, has_aux=True)(
        P["policy"]
    )
    new_policy, opt_policy, policy_norm = apply_gradients(
        P["policy"], grads, state.optimizers["policy"], config.optimizer
    )

    # 3. Targets.
    metrics: Metrics = {
        **critic_metrics,
        "policy_loss": p_loss.detach(),
        "diffusion_loss": l_diff,
        "guide_loss": guide,
        "advantage_mean": adv,
        "weight_mean": w_mean,
        "policy_grad_norm": policy_norm,
    }
    return finish_diffusion_update(
        state,
        {"policy": new_policy, "q1": new_q1, "q2": new_q2},
        {"policy": opt_policy, "q1": opt_q1, "q2": opt_q2},
        config.targets,
        metrics,
        s.dtype,
    )


def edp_crr_update(
    state: TrainState, batch: Batch, randomness: CRRRandomness, config: EDPCRRConfig
) -> tuple[TrainState, Metrics]:
    """One EDP + CRR update (App. A.2).

    Args:
        state: from :func:`init_edp_crr` or a previous update.
        batch: transitions on the state's device and dtype.
        randomness: from :func:`draw_crr_randomness`.
        config: an :class:`EDPCRRConfig`.

    Returns:
        The new state and scalar tensor metrics.

    Raises:
        ValueError: naming the tensor if the batch holds NaN or inf.
    """
    return run_update(_edp_crr_core, state, batch, randomness, config, "edp_crr_update")
