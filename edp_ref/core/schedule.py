"""Noise schedules of the diffusion policy: Eq. 1 and the DDPM quantities derived from it.

Paper Sec. 3.2 (Eq. 1) and Sec. 4.1: the forward process q(a^k | a^{k-1}) = N(sqrt(1 - beta^k)
a^{k-1}, beta^k I) with alpha^k = 1 - beta^k and alpha_bar^k = prod_{j <= k} alpha^j. edp_ref
indexes timesteps from 0: index k in {0, ..., K-1} is the paper's step k + 1, so
``alpha_bars[0] = alpha[0]`` and the paper's alpha_bar^0 = 1 is ``alpha_bars_prev[0]``.

Every table is computed and stored in float64 and cast to the caller's dtype at use
(``gather``), so float32 and float64 callers read the same schedule.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Literal

import torch
from jaxtyping import Float, Int
from torch import Tensor

__all__ = ["SCHEDULE_KINDS", "Schedule", "ScheduleKind", "gather", "make_schedule"]

ScheduleKind = Literal["linear", "cosine", "vp"]
SCHEDULE_KINDS: tuple[str, ...] = ("linear", "cosine", "vp")

# Improved-DDPM cosine schedule offset and cap (Nichol & Dhariwal 2021), as in the official code.
_COSINE_OFFSET = 0.008
_COSINE_MAX_BETA = 0.999
# Diffusion-QL's variance-preserving schedule constants.
_VP_BETA_MIN = 0.1
_VP_BETA_MAX = 10.0


@dataclass(frozen=True, eq=False)
class Schedule:
    """The DDPM constants of one noise schedule, float64, indexed by 0-based timestep k.

    Attributes (all ``Float[Tensor, "K"]``, float64):
        betas: beta^k of Eq. 1.
        alphas: alpha^k = 1 - beta^k.
        alpha_bars: alpha_bar^k = prod_{j<=k} alpha^j.
        alpha_bars_prev: alpha_bar^{k-1}, with 1 at k = 0.
        sqrt_alpha_bars, sqrt_one_minus_alpha_bars: coefficients of Eq. 8.
        sqrt_recip_alpha_bars, sqrt_recipm1_alpha_bars: 1/sqrt(alpha_bar) and
            sqrt(1/alpha_bar - 1), the coefficients of Eq. 9.
        posterior_variance: beta~^k = beta^k (1 - alpha_bar^{k-1}) / (1 - alpha_bar^k), the
            variance of q(a^{k-1} | a^k, a^0) (zero at k = 0).
        posterior_log_variance_clipped: log beta~^k with the k = 0 entry replaced by k = 1's
            (the DDPM convention, so that it is finite).
        posterior_mean_coef1, posterior_mean_coef2: the posterior mean is
            coef1 * a^0 + coef2 * a^k.
    """

    kind: str
    num_steps: int
    betas: Tensor
    alphas: Tensor
    alpha_bars: Tensor
    alpha_bars_prev: Tensor
    sqrt_alpha_bars: Tensor
    sqrt_one_minus_alpha_bars: Tensor
    sqrt_recip_alpha_bars: Tensor
    sqrt_recipm1_alpha_bars: Tensor
    posterior_variance: Tensor
    posterior_log_variance_clipped: Tensor
    posterior_mean_coef1: Tensor
    posterior_mean_coef2: Tensor
    fingerprint: str

    @classmethod
    def from_betas(cls, betas: Float[Tensor, " K"], kind: str = "custom") -> Schedule:
        """Build every DDPM quantity from a beta sequence (each beta in (0, 1))."""
        b = betas.detach().to(dtype=torch.float64, device="cpu").clone()
        if b.ndim != 1 or b.numel() < 2:
            raise ValueError(f"Schedule.from_betas: betas must be 1-D with K >= 2, got {b.shape}")
        if not bool(torch.isfinite(b).all()):
            raise ValueError("Schedule.from_betas: betas contain NaN or inf")
        if not bool(((b > 0) & (b < 1)).all()):
            raise ValueError(
                f"Schedule.from_betas ({kind}, K={b.numel()}): every beta must lie in (0, 1); got "
                f"range [{float(b.min())}, {float(b.max())}]"
            )
        alphas = 1.0 - b
        alpha_bars = torch.cumprod(alphas, dim=0)
        # 1 - alpha_bar without cancellation: -expm1(sum log(1 - beta)) keeps full relative
        # precision at small k, where 1 - cumprod(...) would lose log10(1/beta_0) digits.
        one_minus = -torch.expm1(torch.cumsum(torch.log1p(-b), dim=0))
        one_minus_prev = torch.cat([torch.zeros(1, dtype=torch.float64), one_minus[:-1]])
        alpha_bars_prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bars[:-1]])
        posterior_variance = b * one_minus_prev / one_minus
        log_var_clipped = torch.log(torch.cat([posterior_variance[1:2], posterior_variance[1:]]))
        digest = hashlib.sha256(b.numpy().tobytes()).hexdigest()[:16]
        return cls(
            kind=kind,
            num_steps=int(b.numel()),
            betas=b,
            alphas=alphas,
            alpha_bars=alpha_bars,
            alpha_bars_prev=alpha_bars_prev,
            sqrt_alpha_bars=torch.sqrt(alpha_bars),
            sqrt_one_minus_alpha_bars=torch.sqrt(one_minus),
            sqrt_recip_alpha_bars=torch.sqrt(1.0 / alpha_bars),
            sqrt_recipm1_alpha_bars=torch.sqrt(one_minus / alpha_bars),
            posterior_variance=posterior_variance,
            posterior_log_variance_clipped=log_var_clipped,
            posterior_mean_coef1=b * torch.sqrt(alpha_bars_prev) / one_minus,
            posterior_mean_coef2=one_minus_prev * torch.sqrt(alphas) / one_minus,
            fingerprint=f"{kind}-{b.numel()}-{digest}",
        )

    def to(self, device: torch.device | str) -> Schedule:
        """The same schedule with every table on ``device`` (still float64).

        Moving the schedule once avoids a host-to-device copy of the gathered table per call.
        """
        moved = {
            name: getattr(self, name).to(device)
            for name, value in vars(self).items()
            if isinstance(value, Tensor)
        }
        fields = {**vars(self), **moved}
        return Schedule(**fields)


def _linear_betas(K: int) -> Tensor:
    # Ho et al.'s 1e-4..0.02 range, rescaled by 1000/K as in the official EDP code so that the
    # total noise stays comparable for any K.
    scale = 1000.0 / K
    return torch.linspace(scale * 1e-4, scale * 0.02, K, dtype=torch.float64)


def _cosine_betas(K: int) -> Tensor:
    def alpha_bar(t: float) -> float:
        return math.cos((t + _COSINE_OFFSET) / (1 + _COSINE_OFFSET) * math.pi / 2) ** 2

    betas = [min(1 - alpha_bar((i + 1) / K) / alpha_bar(i / K), _COSINE_MAX_BETA) for i in range(K)]
    return torch.tensor(betas, dtype=torch.float64)


def _vp_betas(K: int) -> Tensor:
    t = torch.arange(1, K + 1, dtype=torch.float64)
    alpha = torch.exp(-_VP_BETA_MIN / K - 0.5 * (_VP_BETA_MAX - _VP_BETA_MIN) * (2 * t - 1) / K**2)
    return 1.0 - alpha


def make_schedule(kind: str, num_steps: int) -> Schedule:
    """Make the noise schedule of Eq. 1 with K = ``num_steps`` steps.

    Args:
        kind: ``"linear"`` (beta from 1e-4 to 0.02, both scaled by 1000/K, the official EDP
            schedule; needs K > 20 so that every beta stays below 1), ``"cosine"`` (improved
            DDPM, beta capped at 0.999) or ``"vp"`` (Diffusion-QL's variance-preserving
            schedule, meant for small K such as 5).
        num_steps: K >= 2.

    Returns:
        A float64 :class:`Schedule`.
    """
    if kind not in SCHEDULE_KINDS:
        raise ValueError(
            f"make_schedule: unknown schedule kind {kind!r}; expected one of {SCHEDULE_KINDS}"
        )
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 2:
        raise ValueError(f"make_schedule: num_steps must be an integer >= 2, got {num_steps!r}")
    if kind == "linear":
        betas = _linear_betas(num_steps)
    elif kind == "cosine":
        betas = _cosine_betas(num_steps)
    else:
        betas = _vp_betas(num_steps)
    return Schedule.from_betas(betas, kind=kind)


def gather(
    table: Float[Tensor, " K"], k: Int[Tensor, " batch"], like: Tensor
) -> Float[Tensor, " batch"]:
    """``table[k]`` on ``like``'s device, cast to ``like``'s dtype (float64 kept until the cast).

    ``k`` is not validated here: every public function that gathers checks its timesteps once
    (``validation.check_timesteps``) before its gathers, so a call does not repeat the range
    check (a host synchronisation) for each table it reads.
    """
    return table.to(device=k.device)[k].to(dtype=like.dtype)
