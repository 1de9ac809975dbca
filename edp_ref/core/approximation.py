"""Action approximation: one-step denoising of a corrupted action, paper Eq. 9.

Rearranging Eq. 8 with the predicted noise in place of the true one gives
a_hat^0 = a^k / sqrt(alpha_bar^k) - sqrt(1 - alpha_bar^k) / sqrt(alpha_bar^k) eps_theta, the
action EDP feeds to the critic instead of running the reverse chain (Sec. 4.2). The official
code clips a_hat^0 to the action range [-1, 1]; ``clip=None`` gives the paper's formula as is.
"""

from __future__ import annotations

from jaxtyping import Float, Int
from torch import Tensor

from edp_ref.core.schedule import Schedule, gather
from edp_ref.validation import check_finite, check_same_dtype_device, check_timesteps

__all__ = ["approximate_action", "clip_action", "noise_from_action"]


def clip_action(
    a: Float[Tensor, "*batch action"], clip: float | None
) -> Float[Tensor, "*batch action"]:
    """Clamp to [-clip, clip]; ``clip=None`` returns ``a`` unchanged."""
    if clip is None:
        return a
    if not clip > 0:
        raise ValueError(f"clip must be a positive bound or None, got {clip!r}")
    return a.clamp(-clip, clip)


def approximate_action(
    schedule: Schedule,
    a_k: Float[Tensor, "batch action"],
    k: Int[Tensor, " batch"],
    eps_hat: Float[Tensor, "batch action"],
    clip: float | None = 1.0,
) -> Float[Tensor, "batch action"]:
    """Approximate the clean action from a noisy one and the predicted noise (Eq. 9).

    Args:
        schedule: the noise schedule (Eq. 1).
        a_k: noisy actions at timestep k (Eq. 8).
        k: 0-based timesteps in {0, ..., K-1}.
        eps_hat: predicted noise eps_theta(a^k, k; s).
        clip: bound of the action range; the result is clamped to [-clip, clip] as in the
            official code (default 1.0, i.e. max_action = 1). ``None`` disables clipping.

    Returns:
        a_hat^0 = sqrt(1/alpha_bar^k) a^k - sqrt(1/alpha_bar^k - 1) eps_hat, optionally clipped.
    """
    where = "approximate_action"
    check_same_dtype_device(where, a_k=a_k, eps_hat=eps_hat, k=k)
    check_timesteps(k, schedule.num_steps, where)
    check_finite("a_k", a_k, where)
    check_finite("eps_hat", eps_hat, where)
    recip = gather(schedule.sqrt_recip_alpha_bars, k, a_k)[:, None]
    recipm1 = gather(schedule.sqrt_recipm1_alpha_bars, k, a_k)[:, None]
    return clip_action(recip * a_k - recipm1 * eps_hat, clip)


def noise_from_action(
    schedule: Schedule,
    a_k: Float[Tensor, "batch action"],
    k: Int[Tensor, " batch"],
    a0: Float[Tensor, "batch action"],
) -> Float[Tensor, "batch action"]:
    """The noise that maps ``a0`` to ``a_k`` at timestep k: the inverse of Eq. 9 in eps.

    eps = (sqrt(1/alpha_bar^k) a^k - a^0) / sqrt(1/alpha_bar^k - 1). Used to turn a clipped
    action estimate back into a noise prediction (the samplers' clipping).
    """
    where = "noise_from_action"
    check_same_dtype_device(where, a_k=a_k, a0=a0, k=k)
    check_timesteps(k, schedule.num_steps, where)
    recip = gather(schedule.sqrt_recip_alpha_bars, k, a_k)[:, None]
    recipm1 = gather(schedule.sqrt_recipm1_alpha_bars, k, a_k)[:, None]
    return (recip * a_k - a0) / recipm1
