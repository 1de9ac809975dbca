"""The diffusion policy inside the algorithms (Sec. 4.1-4.2, 4.5): the training terms of Eqs. 8-9,
sampling with DPM-Solver or DDPM (Eqs. 3-4; for the TD target's next actions, backpropagation
through the sampler and evaluation) and energy-based action selection (Algorithm 2).

All randomness is passed in as tensors (:class:`~edp_ref.algorithms.randomness.SamplerNoise`,
:class:`~edp_ref.algorithms.randomness.DiffusionNoise`).
"""

from __future__ import annotations

from typing import Literal

import torch
from jaxtyping import Float
from torch import Tensor

from edp_ref.algorithms.config import DiffusionConfig, SamplerKind
from edp_ref.algorithms.optim import Params
from edp_ref.algorithms.randomness import DiffusionNoise, SamplerNoise
from edp_ref.algorithms.state import Networks, TrainState
from edp_ref.core.approximation import approximate_action
from edp_ref.core.corruption import corrupt
from edp_ref.core.ddpm import ddpm_sample
from edp_ref.core.dpm_solver import dpm_solver_sample
from edp_ref.core.selection import energy_based_action_selection
from edp_ref.validation import check_same_dtype_device, value_checks

__all__ = ["diffusion_terms", "sample_actions", "sample_diffusion_actions", "select_actions"]


def diffusion_terms(
    networks: Networks,
    policy_params: Params,
    observations: Float[Tensor, "batch state"],
    actions: Float[Tensor, "batch action"],
    noise: DiffusionNoise,
    diffusion: DiffusionConfig,
) -> tuple[Float[Tensor, "batch action"], Float[Tensor, "batch action"]]:
    """eps_theta(a^k, k; s) and a_hat^0 (clipped to ``diffusion.max_action``) from one forward
    pass on the corrupted dataset actions (Eqs. 8-9, Algorithm 1)."""
    schedule = networks.require_schedule()
    k = noise.timesteps
    a_k = corrupt(schedule, actions, k, noise.noise)
    eps_hat = networks.noise(policy_params, observations, a_k, k.to(a_k.dtype))
    a0_hat = approximate_action(schedule, a_k, k, eps_hat, diffusion.max_action)
    return eps_hat, a0_hat


def sample_diffusion_actions(
    networks: Networks,
    policy_params: Params,
    observations: Float[Tensor, "batch state"],
    noise: SamplerNoise,
    diffusion: DiffusionConfig,
    sampler: SamplerKind,
    policy_scale: float = 1.0,
    initial_noise_scale: float = 1.0,
    repeats: int = 1,
) -> Float[Tensor, "rows action"]:
    """Sample a ~ pi_theta(. | s) with DPM-Solver or DDPM (differentiable in ``policy_params``).

    The noise network runs as :meth:`~edp_ref.algorithms.state.Networks.conditioned_noise`: the
    states' and the timestep's parts of its first layer once per run (equal to evaluating it
    whole to round-off).

    Args:
        observations: the conditioning states; row b * repeats + i of the sample is drawn for
            state b (``repeats``: EAS's N candidates; the noise holds B * repeats rows).
        noise: the run's randomness (DDPM needs ``noise.steps``).
        policy_scale: App. C.4's policy scaling tau, multiplies the predicted noise (1: none).
        initial_noise_scale: App. C.4's scale of the initial noise (0: deterministic sampling).
    """
    schedule = networks.require_schedule()
    check_same_dtype_device("sample_diffusion_actions", observations=observations, a=noise.initial)
    if noise.initial.shape[0] != observations.shape[0] * repeats:
        raise ValueError(
            f"sample_diffusion_actions: the noise must hold B * repeats = "
            f"{observations.shape[0] * repeats} rows, got {noise.initial.shape[0]}"
        )
    eps_fn = networks.conditioned_noise(policy_params, observations, repeats)

    if sampler == "dpm_solver":
        return dpm_solver_sample(
            schedule,
            eps_fn,
            noise.initial,
            steps=diffusion.dpm_steps,
            order=diffusion.dpm_order,
            t_end=diffusion.t_end(),
            clip=diffusion.max_action,
            policy_scale=policy_scale,
            initial_noise_scale=initial_noise_scale,
        )
    if sampler == "ddpm":
        if noise.steps is None:
            raise ValueError("sample_diffusion_actions: DDPM needs per-step noise (noise.steps)")
        return ddpm_sample(
            schedule,
            eps_fn,
            noise.initial,
            noise.steps,
            clip=diffusion.max_action,
            variance=diffusion.ddpm_variance,
            policy_scale=policy_scale,
            initial_noise_scale=initial_noise_scale,
        )
    raise ValueError(f"sample_diffusion_actions: unknown sampler {sampler!r}")


def sample_actions(
    state: TrainState,
    observations: Float[Tensor, "batch state"],
    noise: SamplerNoise,
    diffusion: DiffusionConfig,
    sampler: SamplerKind = "dpm_solver",
    use_ema: bool = False,
) -> Float[Tensor, "batch action"]:
    """Sample one action per state from a trained diffusion agent, without gradients, from the
    online policy (official evaluation) or, ``use_ema``, the EMA policy."""
    params = state.target_params["policy"] if use_ema else state.params["policy"]
    with torch.no_grad():
        return sample_diffusion_actions(
            state.networks, params, observations, noise, diffusion, sampler
        )


def select_actions(
    state: TrainState,
    observations: Float[Tensor, "batch state"],
    candidate_noise: SamplerNoise,
    uniforms: Float[Tensor, " batch"],
    num_candidates: int,
    diffusion: DiffusionConfig,
    sampler: SamplerKind = "dpm_solver",
    temperature: float = 1.0,
    policy_scale: float = 1.0,
    initial_noise_scale: float = 1.0,
    critics: Literal["online", "target"] = "online",
) -> Float[Tensor, "batch action"]:
    """Energy-based action selection (Sec. 4.5, Algorithm 2) with the online policy.

    Samples ``num_candidates`` actions per state (paper: N = 10; official code: 50; row
    ``b * N + i`` of ``candidate_noise`` is candidate i of state b, with App. C.4's
    ``policy_scale`` and ``initial_noise_scale``), scores them with min(Q1, Q2) of the online
    critics (official EDP) or the target critics (Diffusion-QL's ``sample_action``), and picks one
    per state with probability proportional to exp(Q / temperature) by inverse CDF of the U[0, 1)
    ``uniforms``.
    """
    batch = observations.shape[0]
    if candidate_noise.initial.shape[0] != batch * num_candidates:
        raise ValueError(
            f"select_actions: candidate_noise must hold B * N = {batch * num_candidates} rows, "
            f"got {candidate_noise.initial.shape[0]}"
        )
    with torch.no_grad(), value_checks(False):
        candidates = sample_diffusion_actions(
            state.networks,
            state.params["policy"],
            observations,
            candidate_noise,
            diffusion,
            sampler,
            policy_scale,
            initial_noise_scale,
            repeats=num_candidates,
        )
        scoring = state.params if critics == "online" else state.target_params
        repeated = observations.repeat_interleave(num_candidates, dim=0)
        q = state.networks.min_q(scoring["q1"], scoring["q2"], repeated, candidates)
    actions = candidates.reshape(batch, num_candidates, -1)
    return energy_based_action_selection(
        actions, q.reshape(batch, num_candidates), uniforms, temperature
    )
