"""DPM-Solver for the diffusion policy (Sec. 4.2; Lu et al. 2022): noise prediction, singlestep,
orders 1-3, time-uniform steps, on the discrete schedule mapped to continuous time.

With a fixed (schedule, steps, order, t_end) every alpha, sigma, lambda and update coefficient
is a constant, computed once by :func:`dpm_solver_plan` (float64) and cached, so a sampling call
does only the network evaluations and a few axpys. The discrete-to-continuous mapping follows the
official EDP (sail-sg/edp, diffusion/dpm_solver.py): log alpha is piecewise linear in t through
0.5 log alpha_bar_n at t_n = (n + 1)/N, and the model is fed the fractional index N t - 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from edp_ref.core.approximation import clip_action
from edp_ref.core.eps_model import EpsFn, call_eps_fn
from edp_ref.core.schedule import Schedule
from edp_ref.validation import check_finite

__all__ = [
    "DPMSolverPlan",
    "DPMSolverStep",
    "clip_index",
    "continuous_log_alpha",
    "continuous_time_of_lambda",
    "dpm_solver_orders",
    "dpm_solver_plan",
    "dpm_solver_sample",
]


def _knots(schedule: Schedule) -> tuple[Tensor, Tensor]:
    """Continuous times t_n = (n + 1)/N and log alpha_{t_n} = 0.5 log alpha_bar_n (float64)."""
    N = schedule.num_steps
    t_knots = torch.linspace(0.0, 1.0, N + 1, dtype=torch.float64)[1:]
    log_alpha = 0.5 * torch.cumsum(torch.log(1.0 - schedule.betas.cpu()), dim=0)
    return t_knots, log_alpha


def _interpolate(x: float, xp: Tensor, fp: Tensor) -> float:
    """Piecewise-linear interpolation through (xp, fp), xp ascending; linear extrapolation
    outside [xp[0], xp[-1]] from the first/last segment."""
    n = xp.shape[0]
    i = int(torch.searchsorted(xp, torch.tensor([x], dtype=torch.float64)).item())
    i = min(max(i, 1), n - 1)
    x0, x1 = float(xp[i - 1]), float(xp[i])
    y0, y1 = float(fp[i - 1]), float(fp[i])
    return y0 + (x - x0) * (y1 - y0) / (x1 - x0)


def continuous_log_alpha(schedule: Schedule, t: float) -> float:
    """log alpha_t of the discrete schedule at continuous time t (facts: piecewise linear in t
    through log alpha_{t_n} = 0.5 log alpha_bar_n at t_n = (n + 1)/N)."""
    t_knots, log_alpha = _knots(schedule)
    return _interpolate(t, t_knots, log_alpha)


def continuous_time_of_lambda(schedule: Schedule, lam: float) -> float:
    """The inverse of lambda_t = log alpha_t - log sigma_t for the discrete schedule."""
    t_knots, log_alpha = _knots(schedule)
    # log alpha = -log(1 + e^{-2 lambda}) / 2, written with logaddexp for stability.
    la = -0.5 * float(np.logaddexp(0.0, -2.0 * lam))
    return _interpolate(la, torch.flip(log_alpha, [0]), torch.flip(t_knots, [0]))


def _sigma(log_alpha: float) -> float:
    return math.sqrt(-math.expm1(2.0 * log_alpha))


def _lambda(log_alpha: float) -> float:
    return log_alpha - 0.5 * math.log(-math.expm1(2.0 * log_alpha))


def dpm_solver_orders(steps: int, order: int) -> tuple[int, ...]:
    """Orders of the singlestep solver's steps for ``steps`` model evaluations (official rule).

    order 3: [3, ..., 3, 2, 1] if steps % 3 == 0, [3, ..., 3, 1] if 1, [3, ..., 3, 2] if 2;
    order 2: [2, ..., 2] (+ [1] if steps is odd); order 1: [1] * steps. The orders sum to steps.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"dpm_solver: steps must be a positive integer, got {steps!r}")
    if order == 3:
        n = steps // 3 + 1
        if steps % 3 == 0:
            orders = [3] * (n - 2) + [2, 1]
        elif steps % 3 == 1:
            orders = [3] * (n - 1) + [1]
        else:
            orders = [3] * (n - 1) + [2]
    elif order == 2:
        orders = [2] * (steps // 2) + ([1] if steps % 2 else [])
    elif order == 1:
        orders = [1] * steps
    else:
        raise ValueError(f"dpm_solver: order must be 1, 2 or 3, got {order!r}")
    return tuple(orders)


@dataclass(frozen=True)
class DPMSolverStep:
    """The constants of one singlestep DPM-Solver update from time s to time t (float64).

    The update evaluates the model at ``order`` points s = s_0 < s_1 < s_2 (in lambda):
      u_j = inner_x[j-1] x + inner_e0[j-1] e_0 + inner_d1[j-1] (e_1 - e_0)   (j = 1, 2)
      x_t = x_coef x + e0_coef e_0 + d_coef (e_last - e_0)
    with e_j = eps(u_j, s_j) (u_0 = x) and e_last = e_1 (order 2), e_2 (order 3). For order 3:
    x_coef = alpha_t/alpha_s, e0_coef = -sigma_t (e^h - 1), d_coef = -sigma_t ((e^h - 1)/h - 1)/r2,
    and the inner points follow the official solver (sail-sg/edp, diffusion/dpm_solver.py);
    order 2 uses d_coef = -sigma_t (e^h - 1)/(2 r1).
    """

    order: int
    t_start: float
    t_end: float
    eval_times: tuple[float, ...]
    model_times: tuple[float, ...]
    clip_indices: tuple[int, ...]
    clip_recip: tuple[float, ...]
    clip_recipm1: tuple[float, ...]
    inner_x: tuple[float, ...]
    inner_e0: tuple[float, ...]
    inner_d1: tuple[float, ...]
    x_coef: float
    e0_coef: float
    d_coef: float


@dataclass(frozen=True)
class DPMSolverPlan:
    """Every constant of a DPM-Solver run: orders, outer times and per-step coefficients."""

    num_train_steps: int
    steps: int
    order: int
    t_end: float
    orders: tuple[int, ...]
    outer_times: tuple[float, ...]
    updates: tuple[DPMSolverStep, ...]

    @property
    def model_times(self) -> tuple[float, ...]:
        """The model-time indices N t - 1 of every network evaluation, in call order."""
        return tuple(m for u in self.updates for m in u.model_times)


# A model time this close (relative) to an integer is that integer in exact arithmetic.
_INTEGER_SNAP = 1e-9


def clip_index(model_time: float, num_steps: int) -> int:
    """The schedule index floor(N t - 1) whose alpha_bar bounds DPM-Solver's clipping, taken in
    exact arithmetic and kept in [0, N - 1].

    The model times of a time-uniform run are often integers in exact arithmetic (K = 1000 with
    15 steps to t_end = 1e-3: 999 - 66.6 j, so 666 and 333), which float64 gives as
    665.9999999999999 or 333.0: a plain floor would take 665 by round-off. A time within 1e-9
    (relative) of an integer is taken as that integer, which is what the official EDP computes in
    float64 (sail-sg/edp, diffusion/nets.py, ``DiffusionPolicy.dpm_sample``: ``t`` cast with
    ``astype(int32)``); the official code in float32 takes 665 and 332 there (SPEC.md section 4).
    """
    nearest = round(model_time)
    if abs(model_time - nearest) <= _INTEGER_SNAP * max(1.0, abs(model_time)):
        index = nearest
    else:
        index = math.floor(model_time)
    return min(max(index, 0), num_steps - 1)


def _make_update(schedule: Schedule, s: float, t: float, order: int) -> DPMSolverStep:
    t_knots, log_alpha_knots = _knots(schedule)
    N = schedule.num_steps

    def log_alpha(x: float) -> float:
        return _interpolate(x, t_knots, log_alpha_knots)

    inner = torch.linspace(s, t, order + 1, dtype=torch.float64).tolist()
    lam_inner = [_lambda(log_alpha(x)) for x in inner]
    la_s, la_t = log_alpha(s), log_alpha(t)
    lam_s, lam_t = _lambda(la_s), _lambda(la_t)
    h = lam_t - lam_s
    h_inner = lam_inner[-1] - lam_inner[0]
    rs = [(lam_inner[j] - lam_inner[0]) / h_inner for j in range(1, order)]
    eval_times = [s]
    inner_x: list[float] = []
    inner_e0: list[float] = []
    inner_d1: list[float] = []
    for j, r in enumerate(rs, start=1):
        s_j = continuous_time_of_lambda(schedule, lam_s + r * h)
        la_j = log_alpha(s_j)
        sig_j = _sigma(la_j)
        eval_times.append(s_j)
        inner_x.append(math.exp(la_j - la_s))
        inner_e0.append(-(sig_j * math.expm1(r * h)))
        if j == 2:
            phi_22 = math.expm1(r * h) / (r * h) - 1.0
            inner_d1.append(-(r / rs[0]) * (sig_j * phi_22))
        else:
            inner_d1.append(0.0)
    sig_t = _sigma(la_t)
    phi_1 = math.expm1(h)
    if order == 1:
        d_coef = 0.0
    elif order == 2:
        d_coef = -(0.5 / rs[0]) * (sig_t * phi_1)
    else:
        phi_2 = phi_1 / h - 1.0
        d_coef = -(1.0 / rs[1]) * (sig_t * phi_2)
    model_times = [N * x - 1.0 for x in eval_times]
    clip_idx = [clip_index(m, N) for m in model_times]
    # Eq. 9's coefficients from the schedule's own tables, as the official code reads them
    # (sail-sg/edp, diffusion/nets.py: sqrt_recip(m1)_alphas_cumprod[t]), not recomputed here.
    recip = schedule.sqrt_recip_alpha_bars.cpu()
    recipm1 = schedule.sqrt_recipm1_alpha_bars.cpu()
    return DPMSolverStep(
        order=order,
        t_start=s,
        t_end=t,
        eval_times=tuple(eval_times),
        model_times=tuple(model_times),
        clip_indices=tuple(clip_idx),
        clip_recip=tuple(float(recip[i]) for i in clip_idx),
        clip_recipm1=tuple(float(recipm1[i]) for i in clip_idx),
        inner_x=tuple(inner_x),
        inner_e0=tuple(inner_e0),
        inner_d1=tuple(inner_d1),
        x_coef=math.exp(la_t - la_s),
        e0_coef=-(sig_t * phi_1),
        d_coef=d_coef,
    )


_PLANS: dict[tuple[str, int, int, float], DPMSolverPlan] = {}


def dpm_solver_plan(
    schedule: Schedule, steps: int = 15, order: int = 3, t_end: float = 1e-3
) -> DPMSolverPlan:
    """Precompute (and cache) every constant of a singlestep, time-uniform DPM-Solver run.

    Continuous time: t_n = (n + 1)/N for the discrete steps n = 0..N-1, log alpha piecewise
    linear in t, sigma_t = sqrt(1 - alpha_t^2), lambda_t = log alpha_t - log sigma_t; the
    network sees the fractional index N t - 1. Outer times are linspace(1, t_end, steps + 1)
    taken at the cumulative orders; the inner points of each step are uniform in t and enter
    through their lambda ratios r1, r2 (sail-sg/edp, diffusion/dpm_solver.py).

    Args:
        schedule: the discrete noise schedule (N = K steps).
        steps: number of model evaluations (default 15, the paper's setting).
        order: solver order 1, 2 or 3 (default 3).
        t_end: final continuous time, in [1/N, 1) (default 1e-3 = 1/N for N = 1000; pass 1/N
            for a schedule with fewer steps).
    """
    if not 0.0 < t_end < 1.0:
        raise ValueError(f"dpm_solver: t_end must lie in (0, 1), got {t_end!r}")
    if t_end < 1.0 / schedule.num_steps:
        # Below the first discrete time t_0 = 1/N the interpolated log alpha is extrapolated
        # and soon exceeds 0 (alpha > 1, sigma undefined): the official solver returns NaN there.
        raise ValueError(
            f"dpm_solver: t_end={t_end!r} lies before the first discrete time 1/N = "
            f"{1.0 / schedule.num_steps!r} of this K = {schedule.num_steps} schedule; "
            f"use t_end >= 1/N (the default 1e-3 is 1/N for K = 1000)"
        )
    key = (schedule.fingerprint, steps, order, float(t_end))
    plan = _PLANS.get(key)
    if plan is not None:
        return plan
    built: DPMSolverPlan = _build_plan(schedule, steps, order, float(t_end))
    _PLANS[key] = built
    return built


# Built on the host in float64 (it reads tensor values); torch.compile must not trace it: a
# compiled sampler whose plan is not cached yet calls it eagerly, and a cached plan is a constant.
@torch.compiler.disable  # type: ignore[untyped-decorator,unused-ignore]
def _build_plan(schedule: Schedule, steps: int, order: int, t_end: float) -> DPMSolverPlan:
    orders = dpm_solver_orders(steps, order)
    grid = torch.linspace(1.0, t_end, steps + 1, dtype=torch.float64)
    cum = [0]
    for o in orders:
        cum.append(cum[-1] + o)
    outer = [float(grid[i]) for i in cum]
    updates = tuple(_make_update(schedule, outer[i], outer[i + 1], o) for i, o in enumerate(orders))
    return DPMSolverPlan(
        num_train_steps=schedule.num_steps,
        steps=steps,
        order=order,
        t_end=float(t_end),
        orders=orders,
        outer_times=tuple(outer),
        updates=updates,
    )


def _dpm_eval(
    eps_fn: EpsFn,
    x: Tensor,
    update: DPMSolverStep,
    j: int,
    clip: float | None,
    policy_scale: float,
) -> Tensor:
    t = torch.full((x.shape[0],), update.model_times[j], dtype=x.dtype, device=x.device)
    eps = call_eps_fn(eps_fn, x, t, policy_scale, "dpm_solver_sample")
    if clip is None:
        return eps
    recip, recipm1 = update.clip_recip[j], update.clip_recipm1[j]
    a0 = clip_action(recip * x - recipm1 * eps, clip)
    return (recip * x - a0) / recipm1


def dpm_solver_sample(
    schedule: Schedule,
    eps_fn: EpsFn,
    a_T: Float[Tensor, "batch action"],
    steps: int = 15,
    order: int = 3,
    t_end: float = 1e-3,
    clip: float | None = 1.0,
    policy_scale: float = 1.0,
    initial_noise_scale: float = 1.0,
) -> Float[Tensor, "batch action"]:
    """Sample actions with DPM-Solver (Sec. 4.2; Lu et al. 2022), noise-prediction, singlestep.

    Args:
        schedule: the discrete noise schedule the network was trained with (N = K).
        eps_fn: ``(a [B, A], t [B]) -> eps [B, A]`` with t the fractional model index N t - 1.
        a_T: the initial noise at t = 1.
        steps: number of model evaluations (default 15).
        order: solver order, 1-3 (default 3: orders [3, 3, 3, 3, 2, 1] for 15 steps).
        t_end: the final continuous time, >= 1/N (default 1e-3 = 1/N for N = 1000).
        clip: at each evaluation eps is replaced by the noise whose implied action
            sqrt(1/alpha_bar) x - sqrt(1/alpha_bar - 1) eps is clamped to [-clip, clip], with
            alpha_bar at index floor(N t - 1) (official EDP; default 1.0). ``None``: the plain
            solver, equal to the official DPM-Solver to round-off. The output is not clipped.
        policy_scale: tau of App. C.4 multiplying eps_fn's output (default 1.0).
        initial_noise_scale: multiplies ``a_T`` (App. C.4; default 1.0).

    Returns:
        The actions at t = t_end.
    """
    where = "dpm_solver_sample"
    check_finite("a_T", a_T, where)
    plan = dpm_solver_plan(schedule, steps, order, t_end)
    x = a_T * initial_noise_scale
    for u in plan.updates:
        e0 = _dpm_eval(eps_fn, x, u, 0, clip, policy_scale)
        if u.order == 1:
            x = u.x_coef * x + u.e0_coef * e0
            continue
        u1 = u.inner_x[0] * x + u.inner_e0[0] * e0
        e1 = _dpm_eval(eps_fn, u1, u, 1, clip, policy_scale)
        if u.order == 2:
            x = u.x_coef * x + u.e0_coef * e0 + u.d_coef * (e1 - e0)
            continue
        u2 = u.inner_x[1] * x + u.inner_e0[1] * e0 + u.inner_d1[1] * (e1 - e0)
        e2 = _dpm_eval(eps_fn, u2, u, 2, clip, policy_scale)
        x = u.x_coef * x + u.e0_coef * e0 + u.d_coef * (e2 - e0)
    return x
