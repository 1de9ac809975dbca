"""Noise schedules, paper Eq. 1 and Sec. 3.2: beta^k in (0, 1), alpha^k = 1 - beta^k,
alpha_bar^k = prod_{j<=k} alpha^j strictly decreasing in (0, 1), for every kind and K
(the official code, sail-sg/edp, diffusion/diffusion.py, gives the defining formulas of the
linear, cosine and vp schedules).
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from edp_ref import corrupt
from properties._helpers import DTYPES, ref_of, schedule_of, schedule_specs


@given(spec=schedule_specs())
def test_schedule_tables_monotone_and_in_range(spec: tuple[str, int]) -> None:
    kind, K = spec
    s = schedule_of(kind, K)
    ref = ref_of(kind, K)
    betas = s.betas.numpy()
    ab = s.alpha_bars.numpy()
    assert s.num_steps == K
    for table in (s.betas, s.alphas, s.alpha_bars, s.alpha_bars_prev):
        assert table.dtype == torch.float64
        assert table.shape == (K,)
    assert np.all(np.isfinite(betas))
    assert np.all((betas > 0) & (betas < 1)), (betas.min(), betas.max())
    # alpha_bar strictly decreasing inside (0, 1): every step adds noise, none removes all of it.
    assert np.all((ab > 0) & (ab < 1)), (ab.min(), ab.max())
    assert np.all(np.diff(ab) < 0)
    # Against the independent formulas (sail-sg/edp, diffusion/diffusion.py) and cumulative
    # product.
    np.testing.assert_allclose(betas, ref.beta, rtol=1e-12, atol=0)
    np.testing.assert_allclose(s.alphas.numpy(), ref.alpha, rtol=1e-12, atol=0)
    np.testing.assert_allclose(ab, ref.alpha_bar, rtol=1e-10, atol=0)
    np.testing.assert_allclose(s.alpha_bars_prev.numpy(), ref.alpha_bar_prev, rtol=1e-10, atol=0)
    # The coefficients of Eqs. 8 and 9.
    np.testing.assert_allclose(s.sqrt_alpha_bars.numpy(), np.sqrt(ref.alpha_bar), rtol=1e-10)
    np.testing.assert_allclose(
        s.sqrt_one_minus_alpha_bars.numpy(), np.sqrt(1 - ref.alpha_bar), rtol=1e-10
    )
    np.testing.assert_allclose(s.sqrt_recip_alpha_bars.numpy(), 1 / np.sqrt(ref.alpha_bar), 1e-10)
    np.testing.assert_allclose(
        s.sqrt_recipm1_alpha_bars.numpy(), np.sqrt(1 / ref.alpha_bar - 1), rtol=1e-9
    )
    if kind == "cosine":
        assert betas.max() <= 0.999


def test_vp_schedule_matches_published_values() -> None:
    # the official code (sail-sg/edp, diffusion/diffusion.py): Diffusion-QL's vp schedule for T = 5.
    betas = schedule_of("vp", 5).betas.numpy()
    np.testing.assert_allclose(betas, [0.196, 0.459, 0.636, 0.755, 0.835], atol=6e-4)


@given(spec=schedule_specs(), dtype=st.sampled_from(DTYPES))
def test_eq8_coefficients_in_caller_dtype_stay_monotone(
    spec: tuple[str, int], dtype: torch.dtype
) -> None:
    """Cast to the caller's dtype, sqrt(alpha_bar^k) and sqrt(1 - alpha_bar^k) (read back through
    Eq. 8 with unit inputs) stay in [0, 1], monotone in k, and sum in squares to 1."""
    kind, K = spec
    s = schedule_of(kind, K)
    k = torch.arange(K)
    ones = torch.ones(K, 1, dtype=dtype)
    zeros = torch.zeros(K, 1, dtype=dtype)
    signal = corrupt(s, ones, k, zeros)[:, 0].double()
    noise = corrupt(s, zeros, k, ones)[:, 0].double()
    assert torch.all((signal > 0) & (signal <= 1))
    assert torch.all((noise > 0) & (noise <= 1))
    assert torch.all(signal[1:] <= signal[:-1])
    assert torch.all(noise[1:] >= noise[:-1])
    u = float(torch.finfo(dtype).eps)
    assert torch.allclose(signal**2 + noise**2, torch.ones_like(signal), atol=8 * u, rtol=0)
