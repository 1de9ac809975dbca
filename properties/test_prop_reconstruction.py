"""Forward corruption and action approximation, paper Eq. 8 and Eq. 9 (Sec. 4.2).

Eq. 8: a^k = sqrt(alpha_bar^k) a^0 + sqrt(1 - alpha_bar^k) eps.
Eq. 9: a_hat^0 = a^k / sqrt(alpha_bar^k) - sqrt(1 - alpha_bar^k) / sqrt(alpha_bar^k) eps_theta.
With eps_theta equal to the true eps and no clipping the two are an exact inverse pair, and
``noise_from_action`` (Eq. 9 solved for eps) inverts Eq. 9.

Tolerances follow the conditioning of the inverse: Eq. 9 divides by sqrt(alpha_bar^k), so a
round-off of u |a^k| in a^k becomes u |a^k| / sqrt(alpha_bar^k) in a_hat^0 (u = unit round-off
of the dtype; alpha_bar^{K-1} reaches ~1e-9 for the cosine schedule). The float64 tables
add one more term: sqrt(1/alpha_bar - 1) is formed by a subtraction, so at small k (alpha_bar
close to 1) it carries a relative error ~u64 / (1 - alpha_bar), i.e. an absolute error
~u64 |eps| / (sqrt(alpha_bar) sqrt(1 - alpha_bar)) in a_hat^0.
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from edp_ref import approximate_action, corrupt, noise_from_action
from properties._helpers import (
    DTYPES,
    arrays,
    ref_of,
    schedule_of,
    schedule_specs,
    underflow,
    unit_roundoff,
)

U64 = unit_roundoff(torch.float64)


@st.composite
def corruption_case(draw: st.DrawFn, every_k: bool = False) -> dict:
    kind, K = draw(schedule_specs())
    dtype = draw(st.sampled_from(DTYPES))
    A = draw(st.integers(1, 6))
    if every_k:
        # One clean action and noise repeated over all K timesteps (0-based 0..K-1).
        B = K
        k = torch.arange(K)
        a0 = draw(arrays(dtype, (1, A), -10, 10)).expand(K, A).contiguous()
        eps = draw(arrays(dtype, (1, A), -5, 5)).expand(K, A).contiguous()
    else:
        B = draw(st.integers(1, 8))
        k = torch.tensor(draw(st.lists(st.integers(0, K - 1), min_size=B, max_size=B)))
        a0 = draw(arrays(dtype, (B, A), -10, 10))
        eps = draw(arrays(dtype, (B, A), -5, 5))
    return {"kind": kind, "K": K, "dtype": dtype, "k": k, "a0": a0, "eps": eps}


def _sqrt_ab(case: dict) -> torch.Tensor:
    ref = ref_of(case["kind"], case["K"])
    return torch.from_numpy(np.sqrt(ref.alpha_bar))[case["k"]][:, None]


@given(case=corruption_case())
def test_corrupt_is_eq8(case: dict) -> None:
    s = schedule_of(case["kind"], case["K"])
    a0, eps, k, dtype = case["a0"], case["eps"], case["k"], case["dtype"]
    out = corrupt(s, a0, k, eps)
    assert out.dtype == dtype and out.shape == a0.shape
    sa = _sqrt_ab(case)
    expected = sa * a0.double() + torch.sqrt(1 - sa**2) * eps.double()
    tol = 8 * unit_roundoff(dtype) * (a0.double().abs() + eps.double().abs()) + underflow(dtype)
    # The float64 table sqrt(1 - alpha_bar) carries a relative error ~u64 / (1 - alpha_bar).
    tol = tol + 4 * U64 * eps.double().abs() / (1 - sa**2)
    assert torch.all((out.double() - expected).abs() <= tol)


def _check_reconstruction(case: dict) -> None:
    s = schedule_of(case["kind"], case["K"])
    a0, eps, k, dtype = case["a0"], case["eps"], case["k"], case["dtype"]
    a_k = corrupt(s, a0, k, eps)
    a0_hat = approximate_action(s, a_k, k, eps, clip=None)
    assert a0_hat.dtype == dtype and a0_hat.shape == a0.shape
    sa = _sqrt_ab(case)
    sb = torch.sqrt(1 - sa**2)
    tol = 16 * unit_roundoff(dtype) * (a0.double().abs() + eps.double().abs() / sa)
    tol = tol + 4 * U64 * eps.double().abs() / (sa * sb) + underflow(dtype)
    err = (a0_hat.double() - a0.double()).abs()
    assert torch.all(err <= tol), (err.max(), tol.min())


@given(case=corruption_case())
def test_approximate_action_inverts_corrupt(case: dict) -> None:
    _check_reconstruction(case)


@given(case=corruption_case(every_k=True))
def test_approximate_action_inverts_corrupt_at_every_k(case: dict) -> None:
    _check_reconstruction(case)


@given(case=corruption_case(), scale=st.floats(0.0, 3.0))
def test_noise_from_action_inverts_approximate_action(case: dict, scale: float) -> None:
    """eps -> a_hat^0 (Eq. 9) -> eps recovers the noise, for any noisy action a^k."""
    s = schedule_of(case["kind"], case["K"])
    k, dtype = case["k"], case["dtype"]
    a_k, eps_hat = case["a0"], case["eps"] * scale
    a0_hat = approximate_action(s, a_k, k, eps_hat, clip=None)
    eps_back = noise_from_action(s, a_k, k, a0_hat)
    assert eps_back.dtype == dtype
    sa = _sqrt_ab(case)
    sb = torch.sqrt(1 - sa**2)
    # a_hat^0 carries an error ~u (|a^k| + sb |eps|) / sa; noise_from_action divides the
    # difference of a^k / sa and a_hat^0 by sb / sa.
    u = unit_roundoff(dtype)
    tol = 16 * u * (a_k.double().abs() / sb + eps_hat.double().abs()) + underflow(dtype)
    tol = tol + 4 * U64 * eps_hat.double().abs() / sb**2
    err = (eps_back.double() - eps_hat.double()).abs()
    assert torch.all(err <= tol), (err.max(),)


@given(case=corruption_case(), clip=st.floats(0.05, 5.0))
def test_clipping_clamps_eq9(case: dict, clip: float) -> None:
    """With a bound, Eq. 9's result is clamped to [-clip, clip] and otherwise unchanged."""
    s = schedule_of(case["kind"], case["K"])
    k, a_k, eps_hat = case["k"], case["a0"], case["eps"]
    free = approximate_action(s, a_k, k, eps_hat, clip=None)
    clipped = approximate_action(s, a_k, k, eps_hat, clip=clip)
    c = torch.tensor(clip, dtype=case["dtype"])
    assert torch.equal(clipped, torch.maximum(torch.minimum(free, c), -c))
