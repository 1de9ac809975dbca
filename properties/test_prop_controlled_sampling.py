"""Controlled sampling, paper Appendix C.4, as arguments of both samplers (DPM-Solver, Sec. 4.2,
and DDPM, Eqs. 3-4).

- Policy scaling: sample from a sharper policy by multiplying the noise-prediction network's
  output by tau; ``policy_scale=tau`` must be the same as sampling with tau * eps_theta, and
  ``policy_scale=1`` the same as no scaling.
- Deterministic sampling: the initial noise a^K is multiplied by a noise scale factor; at 0 the
  DPM-Solver sample no longer depends on a^K (the solver is otherwise deterministic), and any
  factor c is the same as passing c a^K.
"""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from edp_ref import ddpm_sample, dpm_solver_sample
from properties._helpers import DTYPES, arrays, schedule_of, schedule_specs


def make_eps_fn(A: int, dtype: torch.dtype, seed: int, K: int):
    """A fixed nonlinear stand-in for eps_theta(a, t): tanh(a W + t / K) scaled."""
    W = torch.randn(A, A, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    W = W.to(dtype)

    def eps_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return 1.5 * torch.tanh(x @ W + t[:, None] / K)

    return eps_fn


def scaled_fn(eps_fn, c: float):
    def f(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return eps_fn(x, t) * c

    return f


@st.composite
def sampler_case(draw: st.DrawFn, k_max: int = 1000) -> dict:
    kind, K = draw(schedule_specs(k_max=k_max))
    dtype = draw(st.sampled_from(DTYPES))
    B, A = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    return {
        "schedule": schedule_of(kind, K),
        "K": K,
        "dtype": dtype,
        "a1": draw(arrays(dtype, (B, A), -4, 4)),
        "a2": draw(arrays(dtype, (B, A), -4, 4)),
        "eps_fn": make_eps_fn(A, dtype, draw(st.integers(0, 2**16)), K),
        "clip": draw(st.sampled_from([None, 1.0])),
        "dpm": {
            "steps": draw(st.integers(1, 15)),
            "order": draw(st.sampled_from([1, 2, 3])),
            "t_end": max(1e-3, 1.0 / K),
        },
    }


@given(case=sampler_case(), c=st.floats(0.0, 2.0))
def test_dpm_initial_noise_scale(case: dict, c: float) -> None:
    s, fn, clip, kw = case["schedule"], case["eps_fn"], case["clip"], case["dpm"]
    a1, a2 = case["a1"], case["a2"]
    out = dpm_solver_sample(s, fn, a1, clip=clip, initial_noise_scale=c, **kw)
    assert torch.equal(out, dpm_solver_sample(s, fn, a1 * c, clip=clip, **kw))
    # Deterministic sampling: at scale 0 the initial noise no longer matters.
    zero1 = dpm_solver_sample(s, fn, a1, clip=clip, initial_noise_scale=0.0, **kw)
    zero2 = dpm_solver_sample(s, fn, a2, clip=clip, initial_noise_scale=0.0, **kw)
    assert torch.equal(zero1, zero2)
    assert torch.equal(zero1, dpm_solver_sample(s, fn, torch.zeros_like(a1), clip=clip, **kw))


@given(case=sampler_case(), tau=st.floats(0.25, 4.0))
def test_dpm_policy_scale(case: dict, tau: float) -> None:
    s, fn, clip, kw, a1 = case["schedule"], case["eps_fn"], case["clip"], case["dpm"], case["a1"]
    default = dpm_solver_sample(s, fn, a1, clip=clip, **kw)
    assert torch.equal(dpm_solver_sample(s, fn, a1, clip=clip, policy_scale=1.0, **kw), default)
    scaled = dpm_solver_sample(s, fn, a1, clip=clip, policy_scale=tau, **kw)
    assert torch.equal(scaled, dpm_solver_sample(s, scaled_fn(fn, tau), a1, clip=clip, **kw))


@given(
    case=sampler_case(k_max=30),
    tau=st.floats(0.25, 4.0),
    c=st.floats(0.0, 2.0),
    variance=st.sampled_from(["posterior", "beta"]),
    seed=st.integers(0, 2**16),
)
def test_ddpm_policy_and_initial_noise_scale(
    case: dict, tau: float, c: float, variance: str, seed: int
) -> None:
    s, fn, clip, a1, a2 = case["schedule"], case["eps_fn"], case["clip"], case["a1"], case["a2"]
    K = case["K"]
    gen = torch.Generator().manual_seed(seed)
    noises = torch.randn(K, *a1.shape, generator=gen, dtype=torch.float64).to(case["dtype"])

    def run(fn_, a, **kw):
        return ddpm_sample(s, fn_, a, noises, clip=clip, variance=variance, **kw)

    default = run(fn, a1)
    assert torch.equal(run(fn, a1, policy_scale=1.0, initial_noise_scale=1.0), default)
    assert torch.equal(run(fn, a1, policy_scale=tau), run(scaled_fn(fn, tau), a1))
    assert torch.equal(run(fn, a1, initial_noise_scale=c), run(fn, a1 * c))
    assert torch.equal(run(fn, a1, initial_noise_scale=0.0), run(fn, a2, initial_noise_scale=0.0))


@given(case=sampler_case(), tau=st.sampled_from([0.5, 2.0]))
def test_policy_scale_changes_the_sample(case: dict, tau: float) -> None:
    """The scale is not ignored: with clip=None a DPM-Solver step is affine in eps, so scaling a
    nonzero eps changes the sample (checked where eps_fn's first output is not ~0)."""
    s, fn, kw, a1 = case["schedule"], case["eps_fn"], case["dpm"], case["a1"]
    plain = dpm_solver_sample(s, fn, a1, clip=None, **kw)
    scaled = dpm_solver_sample(s, fn, a1, clip=None, policy_scale=tau, **kw)
    assert torch.isfinite(scaled).all()
    if float(fn(a1, torch.full((a1.shape[0],), case["K"] - 1.0, dtype=a1.dtype)).abs().max()) > 0.1:
        assert not torch.equal(plain, scaled)
