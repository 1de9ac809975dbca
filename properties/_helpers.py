"""Shared strategies and independent references for the properties.

Every expected value the properties compare against is computed here (or in the test itself)
from the paper's formulas and the official code, in NumPy float64, without calling the function
under test: the schedule's betas from their defining formulas, alpha_bar as a cumulative product,
the continuous-time log alpha of the DPM-Solver mapping as a plain piecewise-linear interpolation.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edp_ref import Schedule, make_schedule

DTYPES = (torch.float32, torch.float64)

# Per-kind range of K the properties draw from: the linear schedule needs K > 20 (its betas are
# scaled by 1000/K), vp is Diffusion-QL's small-K schedule.
K_RANGE = {"linear": (21, 1000), "cosine": (2, 1000), "vp": (2, 30)}


def scaled(fraction: float, minimum: int = 3) -> settings:
    """Settings with ``fraction`` of the active profile's examples (for expensive properties)."""
    return settings(max_examples=max(minimum, round(settings().max_examples * fraction)))


def unit_roundoff(dtype: torch.dtype) -> float:
    return float(torch.finfo(dtype).eps)


def underflow(dtype: torch.dtype) -> float:
    """Absolute error floor: products of tiny normals fall into the subnormal range."""
    return 4 * float(torch.finfo(dtype).tiny)


@functools.lru_cache(maxsize=256)
def schedule_of(kind: str, K: int) -> Schedule:
    """``make_schedule`` cached (schedules are immutable)."""
    return make_schedule(kind, K)


@st.composite
def schedule_specs(
    draw: st.DrawFn,
    kinds: tuple[str, ...] = ("linear", "cosine", "vp"),
    k_min: int = 2,
    k_max: int = 1000,
) -> tuple[str, int]:
    """(kind, K) pairs; build the schedule with :func:`schedule_of`."""
    kind = draw(st.sampled_from(kinds))
    lo, hi = K_RANGE[kind]
    lo, hi = max(lo, k_min), min(hi, k_max)
    K = draw(st.integers(lo, hi))
    return kind, K


def floats_for(dtype: torch.dtype, lo: float, hi: float) -> st.SearchStrategy[float]:
    width = 32 if dtype == torch.float32 else 64
    # Subnormals excluded: relative round-off bounds do not hold for them.
    return st.floats(
        lo, hi, width=width, allow_nan=False, allow_infinity=False, allow_subnormal=False
    )


@st.composite
def arrays(
    draw: st.DrawFn, dtype: torch.dtype, shape: tuple[int, ...], lo: float, hi: float
) -> torch.Tensor:
    """A tensor of the given dtype and shape with elements in [lo, hi] drawn by Hypothesis."""
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    a = draw(hnp.arrays(np_dtype, shape, elements=floats_for(dtype, lo, hi)))
    return torch.from_numpy(np.ascontiguousarray(a))


# ------------------------------------------------------------------------------------------
# Independent references (NumPy float64), from the paper's formulas and the official code
# (sail-sg/edp, diffusion/diffusion.py).
# ------------------------------------------------------------------------------------------


def reference_betas(kind: str, K: int) -> np.ndarray:
    """beta^k (0-based k) from the defining formulas of the official code (sail-sg/edp,
    diffusion/diffusion.py)."""
    if kind == "linear":
        return np.linspace(1e-4 * 1000 / K, 0.02 * 1000 / K, K)
    if kind == "cosine":
        s = 0.008

        def f(t: float) -> float:
            return math.cos((t + s) / (1 + s) * math.pi / 2) ** 2

        return np.array([min(1 - f((i + 1) / K) / f(i / K), 0.999) for i in range(K)])
    if kind == "vp":
        t = np.arange(1, K + 1, dtype=np.float64)
        b_min, b_max = 0.1, 10.0
        alpha = np.exp(-b_min / K - 0.5 * (b_max - b_min) * (2 * t - 1) / K**2)
        return 1 - alpha
    raise AssertionError(kind)


class Ref:
    """The DDPM quantities of one schedule, computed independently in float64 (0-based k)."""

    def __init__(self, kind: str, K: int) -> None:
        self.K = K
        self.beta = reference_betas(kind, K)
        self.alpha = 1.0 - self.beta
        self.alpha_bar = np.cumprod(self.alpha)
        # The paper's alpha_bar^{k-1} (alpha_bar^0 = 1 before the first step).
        self.alpha_bar_prev = np.concatenate([[1.0], self.alpha_bar[:-1]])


@functools.lru_cache(maxsize=256)
def ref_of(kind: str, K: int) -> Ref:
    return Ref(kind, K)


def reference_log_alpha(kind: str, K: int, t: np.ndarray | float) -> np.ndarray:
    """log alpha_t of the official DPM-Solver (sail-sg/edp, diffusion/dpm_solver.py): piecewise
    linear in t through (t_n, 0.5 log alpha_bar_n), t_n = (n + 1)/N, with linear extrapolation
    from the end segments."""
    ref = ref_of(kind, K)
    tk = np.arange(1, K + 1, dtype=np.float64) / K
    la = 0.5 * np.log(ref.alpha_bar)
    t = np.asarray(t, dtype=np.float64)
    i = np.clip(np.searchsorted(tk, t), 1, K - 1)
    return la[i - 1] + (t - tk[i - 1]) * (la[i] - la[i - 1]) / (tk[i] - tk[i - 1])


def time_of_model_index(t_model: torch.Tensor, K: int) -> float:
    """Continuous time t of the solver's model-time index N t - 1 (one value per call)."""
    return (float(t_model[0]) + 1.0) / K
