"""DDPM ancestral sampling of the diffusion policy (Sec. 3.2, Eqs. 3-4).

:func:`ddpm_step` is one reverse step p_theta(a^{k-1} | a^k) (Eq. 4, with the official code's
posterior "fixed small" variance by default and its clipping of the implied a^0);
:func:`ddpm_sample` runs the whole chain of Eq. 3 from a^K. All randomness (a^K and the per-step
noise) comes in as tensors; Appendix C.4's knobs (``policy_scale``, ``initial_noise_scale``) are
arguments.
"""

from __future__ import annotations

from typing import Literal

import torch
from jaxtyping import Float, Int
from torch import Tensor

from edp_ref.core.approximation import approximate_action
from edp_ref.core.eps_model import EpsFn, call_eps_fn
from edp_ref.core.schedule import Schedule, gather
from edp_ref.validation import check_finite, check_same_dtype_device, check_timesteps

__all__ = ["DdpmVariance", "ddpm_sample", "ddpm_step"]

DdpmVariance = Literal["posterior", "beta"]


def ddpm_step(
    schedule: Schedule,
    a_k: Float[Tensor, "batch action"],
    k: Int[Tensor, " batch"],
    eps_hat: Float[Tensor, "batch action"],
    noise: Float[Tensor, "batch action"],
    clip: float | None = 1.0,
    variance: DdpmVariance = "posterior",
) -> Float[Tensor, "batch action"]:
    """One reverse step a^k -> a^{k-1} of the DDPM chain (Eq. 4), from 0-based timestep k.

    The mean is the posterior mean of q(a^{k-1} | a^k, a_hat^0) with a_hat^0 from Eq. 9; with
    ``clip=None`` it equals Eq. 4's (a^k - beta^k / sqrt(1 - alpha_bar^k) eps_hat) / sqrt(alpha^k)
    exactly (an identity the tests check). At k = 0 the step returns a_hat^0 itself (no noise).

    Args:
        schedule: the noise schedule.
        a_k: the current noisy actions.
        k: 0-based timesteps of ``a_k``.
        eps_hat: the noise predicted at (a_k, k).
        noise: standard normal noise for this step (ignored where k = 0).
        clip: a_hat^0 is clamped to [-clip, clip] before the posterior mean (official code,
            default 1.0); ``None`` disables clipping.
        variance: ``"posterior"``: beta~^k, the posterior ("fixed small") variance of the
            official code (default); ``"beta"``: beta^k, the paper's Eq. 4.

    Returns:
        a^{k-1}.
    """
    where = "ddpm_step"
    check_same_dtype_device(where, a_k=a_k, eps_hat=eps_hat, noise=noise, k=k)
    check_timesteps(k, schedule.num_steps, where)
    check_finite("noise", noise, where)
    a0_hat = approximate_action(schedule, a_k, k, eps_hat, clip)
    coef1 = gather(schedule.posterior_mean_coef1, k, a_k)[:, None]
    coef2 = gather(schedule.posterior_mean_coef2, k, a_k)[:, None]
    mean = coef1 * a0_hat + coef2 * a_k
    if variance == "posterior":
        std = torch.exp(0.5 * gather(schedule.posterior_log_variance_clipped, k, a_k))
    elif variance == "beta":
        std = torch.sqrt(gather(schedule.betas, k, a_k))
    else:
        raise ValueError(f"{where}: variance must be 'posterior' or 'beta', got {variance!r}")
    sample = mean + std[:, None] * noise
    return torch.where((k == 0)[:, None], a0_hat, sample)


def ddpm_sample(
    schedule: Schedule,
    eps_fn: EpsFn,
    a_K: Float[Tensor, "batch action"],
    noises: Float[Tensor, "steps batch action"],
    clip: float | None = 1.0,
    variance: DdpmVariance = "posterior",
    policy_scale: float = 1.0,
    initial_noise_scale: float = 1.0,
) -> Float[Tensor, "batch action"]:
    """Draw actions by running the whole reverse chain of Eq. 3 with :func:`ddpm_step`.

    Args:
        schedule: the noise schedule (K steps).
        eps_fn: ``(a_k [B, A], t [B]) -> eps [B, A]``; called with t = k as floats, k = K-1..0.
        a_K: the initial noise a^K ~ N(0, I).
        noises: [K, B, A] per-step noise; ``noises[k]`` is used by the step from timestep k
            (``noises[0]`` is never used: the last step returns a_hat^0).
        clip: see :func:`ddpm_step` (default 1.0).
        variance: see :func:`ddpm_step` (default ``"posterior"``).
        policy_scale: tau of App. C.4, multiplies eps_fn's output (default 1.0: no scaling).
        initial_noise_scale: multiplies a^K (App. C.4; default 1.0, 0.0 = deterministic start).

    Returns:
        a^0, the sampled actions.
    """
    where = "ddpm_sample"
    K = schedule.num_steps
    if noises.shape[0] != K:
        raise ValueError(
            f"{where}: noises must hold one [B, A] slice per step (K = {K}), got {noises.shape[0]}"
        )
    check_same_dtype_device(where, a_K=a_K, noises=noises)
    check_finite("a_K", a_K, where)
    x = a_K * initial_noise_scale
    batch = a_K.shape[0]
    for step in reversed(range(K)):
        k = torch.full((batch,), step, dtype=torch.long, device=a_K.device)
        eps = call_eps_fn(eps_fn, x, k.to(a_K.dtype), policy_scale, where)
        x = ddpm_step(schedule, x, k, eps, noises[step], clip, variance)
    return x
