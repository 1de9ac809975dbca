"""DPM-Solver (paper Sec. 4.2; Lu et al. 2022, noise prediction, singlestep, time-uniform) and
the discrete-to-continuous time mapping of the official DPM-Solver (sail-sg/edp,
diffusion/dpm_solver.py).

For data with a known density, the exact noise prediction eps*(x, t) = -sigma_t grad log p_t(x)
is known in closed form at every continuous time t, with alpha_t = exp(log alpha_t) (log alpha
piecewise linear in t through 0.5 log alpha_bar_n at t_n = (n + 1)/N) and sigma_t^2 = 1 -
alpha_t^2. The solver calls the model at the fractional index N t - 1. The probability-flow ODE
it integrates, written in lambda = log(alpha / sigma), is dx/dlambda = sigma^2 x - sigma eps*(x).

- Gaussian data a^0 ~ N(mu, s^2) per dimension: p_t = N(alpha_t mu, v_t), v_t = alpha_t^2 s^2 +
  sigma_t^2, eps* = sigma_t (x - alpha_t mu) / v_t, and the ODE's flow from t = 1 is affine:
  x_t = alpha_t mu + sqrt(v_t / v_1) (x_1 - alpha_1 mu).
- A 1-D two-component Gaussian mixture: eps* from the component responsibilities; the exact
  flow comes from SciPy's DOP853 on the lambda-form ODE at rtol 1e-11.

Properties: the solver's error falls as the number of model evaluations grows, at the rate of
its order; on the linear and vp schedules higher orders are more accurate at equal evaluations
once the step is small (96 or more evaluations). Not asserted, because it is not true: on the
cosine schedule (alpha_1 ~ 5e-5, lambda_1 ~ -9.9, so the first time-uniform step spans ~9 units
of lambda) orders 2 and 3 stay far less accurate than order 1 below ~200 evaluations; and with
few evaluations (6-24) order 2 is often worse than order 1 on every schedule.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from edp_ref import dpm_solver_sample
from edp_ref.core.dpm_solver import continuous_log_alpha
from properties._helpers import (
    reference_log_alpha,
    scaled,
    schedule_of,
    schedule_specs,
    time_of_model_index,
)

COARSE = (12, 24)
FINE = (96, 192)
# Error reduction demanded from the coarse grids (12-24 evaluations) to each fine one (96, 192):
# ideal 4-16 (order 1), 16-256 (order 2), more for order 3 (but EDP's order schedule ends with
# an order-1 step, and time-uniform inner points make r2 != 2/3, so 3rd order is not reached).
# Order 1 gets a loose bound here (mixtures converge pre-asymptotically at 12-24 evaluations)
# and a tight one on its last doubling below.
REDUCTION = {1: 3.0, 2: 16.0, 3: 10.0}
# Orders 2 and 3 may instead stop improving once they are this much more accurate than order 1
# at the same number of evaluations: EDP's order schedule ends with an order-1 step whose error
# (a fraction of the order-1 solver's) then dominates.
PLATEAU = 8.0


def t_end_of(K: int) -> float:
    return max(1e-3, 1.0 / K)


def _alpha_sigma(kind: str, K: int, t: float) -> tuple[float, float]:
    la = float(reference_log_alpha(kind, K, t))
    return math.exp(la), math.sqrt(-math.expm1(2 * la))


def gaussian_eps_fn(kind: str, K: int, mu: torch.Tensor, sd: torch.Tensor):
    def eps_fn(x: torch.Tensor, t_model: torch.Tensor) -> torch.Tensor:
        a, sig = _alpha_sigma(kind, K, time_of_model_index(t_model, K))
        xd = x.double()
        return (sig * (xd - a * mu) / (a * a * sd**2 + sig * sig)).to(x.dtype)

    return eps_fn


def gaussian_flow(kind: str, K: int, mu: torch.Tensor, sd: torch.Tensor, x1: torch.Tensor):
    a1, s1 = _alpha_sigma(kind, K, 1.0)
    ae, se = _alpha_sigma(kind, K, t_end_of(K))
    v1, ve = a1**2 * sd**2 + s1**2, ae**2 * sd**2 + se**2
    return ae * mu + torch.sqrt(ve / v1) * (x1.double() - a1 * mu)


def mixture_eps(x: np.ndarray, la: float, w: np.ndarray, m: np.ndarray, sd: np.ndarray):
    """eps*(x) = -sigma d/dx log sum_c w_c N(x; alpha m_c, alpha^2 sd_c^2 + sigma^2)."""
    a, sig2 = math.exp(la), -math.expm1(2 * la)
    v = a * a * sd**2 + sig2
    d = x[..., None] - a * m
    logp = np.log(w) - 0.5 * np.log(v) - 0.5 * d * d / v
    r = np.exp(logp - logp.max(axis=-1, keepdims=True))
    r /= r.sum(axis=-1, keepdims=True)
    return math.sqrt(sig2) * (r * d / v).sum(axis=-1)


def ode_flow(kind: str, K: int, x1: np.ndarray, w: np.ndarray, m: np.ndarray, sd: np.ndarray):
    """High-accuracy reference: dx/dlambda = sigma^2 x - sigma eps*(x) from t = 1 to t_end."""

    def lam(la: float) -> float:
        return la - 0.5 * math.log(-math.expm1(2 * la))

    lam1 = lam(float(reference_log_alpha(kind, K, 1.0)))
    lam_end = lam(float(reference_log_alpha(kind, K, t_end_of(K))))

    def rhs(lmb: float, x: np.ndarray) -> np.ndarray:
        la = -0.5 * float(np.logaddexp(0.0, -2.0 * lmb))
        sig2 = -math.expm1(2 * la)
        return sig2 * x - math.sqrt(sig2) * mixture_eps(x, la, w, m, sd)

    sol = solve_ivp(rhs, (lam1, lam_end), x1, method="DOP853", rtol=1e-11, atol=1e-12)
    assert sol.success
    return sol.y[:, -1]


def errors(schedule, eps_fn, x1: torch.Tensor, exact: torch.Tensor) -> dict[int, dict[int, float]]:
    K = schedule.num_steps
    out: dict[int, dict[int, float]] = {}
    for order in (1, 2, 3):
        out[order] = {}
        for n in COARSE + FINE:
            x = dpm_solver_sample(
                schedule, eps_fn, x1, steps=n, order=order, t_end=t_end_of(K), clip=None
            )
            assert x.dtype == x1.dtype and x.shape == x1.shape
            out[order][n] = float((x.double() - exact).abs().max())
    return out


def check_convergence(kind: str, err: dict[int, dict[int, float]]) -> None:
    for order in (1, 2, 3):
        coarse = max(err[order][n] for n in COARSE)
        for n in FINE:
            plateau = err[1][n] / PLATEAU if order > 1 else 0.0
            assert err[order][n] <= max(coarse / REDUCTION[order], plateau), (order, n, err)
    # Order 1 (DDIM) must really be first order: a doubling about halves the error.
    assert 0.3 <= err[1][192] / err[1][96] <= 0.7, err[1]
    if kind in ("linear", "vp"):
        for order in (2, 3):
            assert err[order][96] < err[1][96], err
            assert err[order][192] <= err[1][192] / 3, err


@st.composite
def gaussian_case(draw: st.DrawFn) -> dict:
    kind, K = draw(schedule_specs())
    A = draw(st.integers(1, 3))
    mu = torch.tensor(draw(st.lists(st.floats(-1, 1), min_size=A, max_size=A)), dtype=torch.float64)
    sd = torch.tensor(
        draw(st.lists(st.floats(0.5, 2), min_size=A, max_size=A)), dtype=torch.float64
    )
    seed = draw(st.integers(0, 2**31 - 1))
    x1 = torch.randn(16, A, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return {"kind": kind, "K": K, "mu": mu, "sd": sd, "x1": x1}


@given(spec=schedule_specs(), data=st.data())
def test_continuous_log_alpha_is_piecewise_linear_through_knots(
    spec: tuple[str, int], data: st.DataObject
) -> None:
    kind, K = spec
    s = schedule_of(kind, K)
    n = data.draw(st.integers(0, K - 1))
    knot = (n + 1) / K
    assert math.isclose(
        continuous_log_alpha(s, knot),
        0.5 * math.log(float(np.prod(1 - s.betas.numpy()[: n + 1]))),
        rel_tol=1e-12,
        abs_tol=1e-15,
    )
    t = data.draw(st.floats(t_end_of(K), 1.0))
    assert math.isclose(
        continuous_log_alpha(s, t), float(reference_log_alpha(kind, K, t)), rel_tol=1e-9
    )


@scaled(0.5)
@given(case=gaussian_case())
def test_gaussian_data_converges_to_exact_ode_solution(case: dict) -> None:
    kind, K = case["kind"], case["K"]
    eps_fn = gaussian_eps_fn(kind, K, case["mu"], case["sd"])
    exact = gaussian_flow(kind, K, case["mu"], case["sd"], case["x1"])
    check_convergence(kind, errors(schedule_of(kind, K), eps_fn, case["x1"], exact))


@scaled(0.4)
@given(
    spec=schedule_specs(),
    w1=st.floats(0.2, 0.8),
    m=st.tuples(st.floats(-1.5, -0.3), st.floats(0.3, 1.5)),
    sd=st.tuples(st.floats(0.3, 1.0), st.floats(0.3, 1.0)),
    seed=st.integers(0, 2**31 - 1),
)
def test_gaussian_mixture_converges_to_reference_ode_solution(
    spec: tuple[str, int],
    w1: float,
    m: tuple[float, float],
    sd: tuple[float, float],
    seed: int,
) -> None:
    kind, K = spec
    w, mm, ss = np.array([w1, 1 - w1]), np.array(m), np.array(sd)

    def eps_fn(x: torch.Tensor, t_model: torch.Tensor) -> torch.Tensor:
        t = time_of_model_index(t_model, K)
        la = float(reference_log_alpha(kind, K, t))
        return torch.from_numpy(mixture_eps(x.double().numpy(), la, w, mm, ss)).to(x.dtype)

    x1 = torch.randn(24, 1, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    exact = torch.from_numpy(ode_flow(kind, K, x1.numpy()[:, 0], w, mm, ss))[:, None]
    check_convergence(kind, errors(schedule_of(kind, K), eps_fn, x1, exact))


@scaled(0.5)
@given(case=gaussian_case())
def test_ode_reference_matches_gaussian_closed_form(case: dict) -> None:
    """The mixture reference (SciPy on the lambda-form ODE) reproduces the Gaussian closed form
    when the mixture has one component: a check of the oracle the mixture property relies on."""
    kind, K = case["kind"], case["K"]
    mu, sd, x1 = float(case["mu"][0]), float(case["sd"][0]), case["x1"][:, :1]
    ref = ode_flow(kind, K, x1.numpy()[:, 0], np.array([1.0]), np.array([mu]), np.array([sd]))
    closed = gaussian_flow(kind, K, case["mu"][:1], case["sd"][:1], x1)[:, 0].numpy()
    np.testing.assert_allclose(ref, closed, rtol=0, atol=1e-8)


@scaled(0.5)
@given(case=gaussian_case(), order=st.sampled_from([1, 2, 3]), steps=st.integers(3, 30))
def test_float32_run_tracks_float64_run(case: dict, order: int, steps: int) -> None:
    """Same solver, same exact eps, in float32: the result is the float64 result up to float32
    round-off, amplified by the solver's cancellations (large on the cosine schedule, whose first
    step has alpha_t / alpha_1 ~ 1e4 and cancels it against the noise term)."""
    kind, K = case["kind"], case["K"]
    s = schedule_of(kind, K)
    eps_fn = gaussian_eps_fn(kind, K, case["mu"], case["sd"])
    kw = {"steps": steps, "order": order, "t_end": t_end_of(K), "clip": None}
    x64 = dpm_solver_sample(s, eps_fn, case["x1"], **kw)
    x32 = dpm_solver_sample(s, eps_fn, case["x1"].float(), **kw)
    assert x32.dtype == torch.float32
    ref64 = x64.abs().max().item() + 1
    diff = (x32.double() - x64).abs().max().item()
    a1, _ = _alpha_sigma(kind, K, 1.0)
    # The first step multiplies a_T by alpha_t / alpha_1 (up to ~2e4 on the cosine schedule)
    # and cancels most of it against the noise term: float32 round-off grows by ~1 / alpha_1.
    u32 = float(torch.finfo(torch.float32).eps)
    assert diff <= 16 * u32 * ref64 / a1, (diff, 1 / a1)
