"""The RL equations of edp_ref.core.rl against NumPy references and their defining properties:
the clipped double-Q target never exceeds either critic's target (Eq. 14), TD3+BC's scale makes
its Q term invariant to the scale of Q (Eq. 16), CRR's advantage is invariant to a shift of Q
(Eq. 21), the capped weights are monotone and bounded (Eqs. 20, 22), and L_2^tau mirrors into
L_2^{1 - tau} (Eq. 22)."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from edp_ref import (
    bellman_target,
    capped_exponential_weights,
    clipped_double_q_target,
    crr_advantage,
    expectile_loss,
    q_loss_scale,
    target_policy_smoothing,
)
from properties._helpers import DTYPES, arrays, underflow, unit_roundoff


@st.composite
def batch_of(draw: st.DrawFn, count: int, lo: float = -100.0, hi: float = 100.0) -> tuple:
    """``count`` tensors of one dtype and batch size B."""
    dtype = draw(st.sampled_from(DTYPES))
    B = draw(st.integers(1, 16))
    return tuple(draw(arrays(dtype, (B,), lo, hi)) for _ in range(count))


@given(x=batch_of(4), data=st.data())
def test_clipped_double_q_target_is_the_smaller_critics_target(
    x: tuple, data: st.DataObject
) -> None:
    r, q1, q2, flags = x
    d = (flags > 0).to(r.dtype)
    gamma = data.draw(st.floats(0.0, 1.0))
    y = clipped_double_q_target(r, d, q1, q2, gamma)
    assert torch.equal(y, clipped_double_q_target(r, d, q2, q1, gamma))
    assert torch.equal(y, bellman_target(r, d, torch.minimum(q1, q2), gamma))
    tol = 4 * unit_roundoff(r.dtype) * (r.abs() + q1.abs() + q2.abs())
    assert torch.all(y <= bellman_target(r, d, q1, gamma) + tol)
    assert torch.all(y <= bellman_target(r, d, q2, gamma) + tol)
    expected = r.double() + (1 - d.double()) * gamma * torch.minimum(q1.double(), q2.double())
    torch.testing.assert_close(y.double(), expected, rtol=0, atol=float(tol.max()))


@given(x=batch_of(1, 0.125, 100.0), c=st.floats(1e-2, 1e2), negative=st.booleans())
def test_td3bc_q_term_is_invariant_to_the_scale_of_q(x: tuple, c: float, negative: bool) -> None:
    (q,) = x
    c = -c if negative else c
    term = q_loss_scale(q, 2.5) * q.mean()
    scaled = q_loss_scale(c * q, 2.5) * (c * q).mean()
    expected = term if c > 0 else -term
    u = unit_roundoff(q.dtype)
    torch.testing.assert_close(scaled, expected, rtol=64 * u, atol=0)


@given(x=batch_of(1), samples=st.integers(1, 8), shift=st.floats(-1e3, 1e3), data=st.data())
def test_crr_advantage_is_invariant_to_a_shift_of_q(
    x: tuple, samples: int, shift: float, data: st.DataObject
) -> None:
    (q_data,) = x
    q_samples = data.draw(arrays(q_data.dtype, (samples, q_data.shape[0]), -100.0, 100.0))
    a = crr_advantage(q_data, q_samples)
    reference = q_data.double() - q_samples.double().mean(0)
    u = unit_roundoff(q_data.dtype)
    torch.testing.assert_close(a.double(), reference, rtol=0, atol=1e3 * u)
    shifted = crr_advantage(q_data + shift, q_samples + shift)
    torch.testing.assert_close(shifted, a, rtol=0, atol=4e3 * u)


@given(x=batch_of(1, -20.0, 20.0), cap=st.sampled_from([None, 1.0, 20.0, 100.0]))
def test_capped_weights_are_positive_bounded_and_monotone(x: tuple, cap: float | None) -> None:
    (a,) = x
    ordered, _ = torch.sort(a)
    w = capped_exponential_weights(ordered, cap)
    assert torch.all(w > 0)
    assert torch.all(w[1:] >= w[:-1])
    if cap is not None:
        assert torch.all(w <= cap)
    reference = np.minimum(np.exp(ordered.double().numpy()), np.inf if cap is None else cap)
    np.testing.assert_allclose(w.double().numpy(), reference, rtol=8 * unit_roundoff(a.dtype))


@given(x=batch_of(1, -10.0, 10.0), tau=st.floats(0.01, 0.99))
def test_expectile_loss_mirrors_and_matches_its_reference(x: tuple, tau: float) -> None:
    (u,) = x
    loss = expectile_loss(u, tau)
    ud = u.double().numpy()
    reference = np.mean(np.abs(tau - (ud < 0)) * ud**2)
    u_r, floor = unit_roundoff(u.dtype), underflow(u.dtype)  # u^2 can be subnormal
    np.testing.assert_allclose(float(loss), reference, rtol=16 * u_r, atol=floor)
    torch.testing.assert_close(expectile_loss(-u, 1.0 - tau), loss)


@given(x=batch_of(1), data=st.data())
def test_smoothed_actions_stay_in_bounds_and_near_the_actor(x: tuple, data: st.DataObject) -> None:
    (flat,) = x
    dtype, B = flat.dtype, flat.shape[0]
    pi = data.draw(arrays(dtype, (B, 3), -1.0, 1.0))
    xi = data.draw(arrays(dtype, (B, 3), -10.0, 10.0))
    sigma, c = data.draw(st.floats(0.0, 1.0)), data.draw(st.floats(0.0, 1.0))
    out = target_policy_smoothing(pi, xi, sigma, c, 1.0)
    assert torch.all(out.abs() <= 1.0)
    assert torch.all((out - pi).abs() <= c + 4 * unit_roundoff(dtype))
