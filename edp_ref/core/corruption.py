"""Forward corruption of dataset actions: the closed form of q(a^k | a^0), paper Eq. 8.

a^k = sqrt(alpha_bar^k) a^0 + sqrt(1 - alpha_bar^k) eps, with eps ~ N(0, I) passed in by the
caller (no randomness is drawn here).
"""

from __future__ import annotations

from jaxtyping import Float, Int
from torch import Tensor

from edp_ref.core.schedule import Schedule, gather
from edp_ref.validation import check_finite, check_same_dtype_device, check_timesteps

__all__ = ["corrupt"]


def corrupt(
    schedule: Schedule,
    a0: Float[Tensor, "batch action"],
    k: Int[Tensor, " batch"],
    eps: Float[Tensor, "batch action"],
) -> Float[Tensor, "batch action"]:
    """Corrupt clean actions to timestep k (Eq. 8).

    Args:
        schedule: the noise schedule (Eq. 1).
        a0: clean actions a^0.
        k: 0-based timesteps in {0, ..., K-1}, one per row (index k is the paper's step k+1).
        eps: standard normal noise, same shape as ``a0``.

    Returns:
        a^k = sqrt(alpha_bar^k) a^0 + sqrt(1 - alpha_bar^k) eps.
    """
    where = "corrupt"
    check_same_dtype_device(where, a0=a0, eps=eps, k=k)
    check_timesteps(k, schedule.num_steps, where)
    check_finite("a0", a0, where)
    check_finite("eps", eps, where)
    sqrt_ab = gather(schedule.sqrt_alpha_bars, k, a0)[:, None]
    sqrt_1m_ab = gather(schedule.sqrt_one_minus_alpha_bars, k, a0)[:, None]
    return sqrt_ab * a0 + sqrt_1m_ab * eps
