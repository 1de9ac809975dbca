"""Training losses: the ELBO weights and weighted loss of paper Eq. 12, the diffusion loss of
Eq. 5 and the Gaussian surrogate of Eq. 13 (Sec. 4.3).

Eq. 12 weights step k (the paper's 1-based step) by beta^k / (2 alpha^k (1 - alpha_bar^{k-1})).
edp_ref's "paper" variant is that formula for every 0-based k >= 1 and is finite at k = 0, where
the paper's formula divides by 1 - alpha_bar^0 = 0 (edp_ref's documented convention there:
beta_0 / (2 alpha_0 beta~_1), the posterior variance clipped at k = 0). The "official" variant
(sail-sg/edp, diffusion/diffusion.py) is beta^k / (2 alpha^k (1 - alpha_bar^k)) normalized to
mean 1 over k.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from edp_ref import diffusion_loss, elbo_weighted_loss, elbo_weights, gaussian_surrogate_loss
from properties._helpers import DTYPES, arrays, ref_of, schedule_of, schedule_specs, unit_roundoff


@given(spec=schedule_specs(), variant=st.sampled_from(["paper", "official"]))
def test_elbo_weights_positive_and_finite(spec: tuple[str, int], variant: str) -> None:
    kind, K = spec
    w = elbo_weights(schedule_of(kind, K), variant).numpy()
    assert w.shape == (K,)
    assert np.all(np.isfinite(w)), w
    assert np.all(w > 0), w


@given(spec=schedule_specs())
def test_paper_elbo_weights_are_eq12(spec: tuple[str, int]) -> None:
    kind, K = spec
    ref = ref_of(kind, K)
    w = elbo_weights(schedule_of(kind, K), "paper").numpy()
    eq12 = ref.beta[1:] / (2 * ref.alpha[1:] * (1 - ref.alpha_bar_prev[1:]))
    np.testing.assert_allclose(w[1:], eq12, rtol=1e-9)
    # k = 0: the clipped-variance convention.
    post_var_1 = ref.beta[1] * (1 - ref.alpha_bar[0]) / (1 - ref.alpha_bar[1])
    np.testing.assert_allclose(w[0], ref.beta[0] / (2 * ref.alpha[0] * post_var_1), rtol=1e-9)


@given(spec=schedule_specs())
def test_official_elbo_weights_have_mean_one(spec: tuple[str, int]) -> None:
    kind, K = spec
    ref = ref_of(kind, K)
    w = elbo_weights(schedule_of(kind, K), "official").numpy()
    np.testing.assert_allclose(w.mean(), 1.0, rtol=1e-12)
    raw = ref.beta / (2 * ref.alpha * (1 - ref.alpha_bar))
    np.testing.assert_allclose(w, raw / raw.mean(), rtol=1e-9)


@st.composite
def loss_case(draw: st.DrawFn) -> dict:
    kind, K = draw(schedule_specs())
    dtype = draw(st.sampled_from(DTYPES))
    B, A = draw(st.integers(1, 8)), draw(st.integers(1, 6))
    return {
        "kind": kind,
        "K": K,
        "dtype": dtype,
        "k": torch.tensor(draw(st.lists(st.integers(0, K - 1), min_size=B, max_size=B))),
        "x": draw(arrays(dtype, (B, A), -4, 4)),
        "y": draw(arrays(dtype, (B, A), -4, 4)),
        "f": draw(arrays(dtype, (B,), 0, 100)),
    }


@given(
    case=loss_case(),
    variant=st.sampled_from(["paper", "official"]),
    reduction=st.sampled_from(["mean", "sum"]),
)
def test_weighted_losses_match_their_formulas(case: dict, variant: str, reduction: str) -> None:
    """Eq. 5: mean_b ||eps - eps_hat||^2 (per-dimension mean or sum); Eq. 12: the same with
    w_k f(Q) per row; Eq. 13: mean_b f(Q) ||a - a_hat^0||^2 (summed squares, the paper's norm)
    and the official -f(Q) log N(a; a_hat^0, I) form."""
    s = schedule_of(case["kind"], case["K"])
    ref = ref_of(case["kind"], case["K"])
    k, x, y, f, dtype = case["k"], case["x"], case["y"], case["f"], case["dtype"]
    A = x.shape[1]
    sq = ((x.double() - y.double()) ** 2).sum(dim=1)
    per_row = sq / A if reduction == "mean" else sq
    u = unit_roundoff(dtype)

    # The float64 tables form 1 - alpha_bar by subtraction: relative error ~u64 / beta_0 at k = 0.
    table_err = 8 * unit_roundoff(torch.float64) / ref.beta[0]

    def close(got: torch.Tensor, want: torch.Tensor, scale: torch.Tensor) -> None:
        assert got.dtype == dtype and got.shape == ()
        # Squares of tiny inputs underflow: an absolute floor of a few thousand tiny normals
        # (weights up to ~1e3).
        floor = 1e4 * float(torch.finfo(dtype).tiny)
        assert abs(float(got) - float(want)) <= (64 * u + table_err) * float(scale) + floor

    close(diffusion_loss(x, y, reduction), per_row.mean(), per_row.mean())

    if variant == "paper":
        kk = np.maximum(k.numpy(), 1)
        w_np = ref.beta[kk] / (2 * ref.alpha[kk] * (1 - ref.alpha_bar_prev[kk]))
        post_var_1 = ref.beta[1] * (1 - ref.alpha_bar[0]) / (1 - ref.alpha_bar[1])
        w_np = np.where(k.numpy() == 0, ref.beta[0] / (2 * ref.alpha[0] * post_var_1), w_np)
    else:
        raw = ref.beta / (2 * ref.alpha * (1 - ref.alpha_bar))
        w_np = (raw / raw.mean())[k.numpy()]
    w = torch.from_numpy(w_np)
    terms = w * f.double() * per_row
    got = elbo_weighted_loss(s, k, x, y, f, variant, reduction)
    close(got, terms.mean(), terms.abs().mean())

    terms13 = f.double() * sq
    close(gaussian_surrogate_loss(x, y, f), terms13.mean(), terms13.mean())
    nll = f.double() * (0.5 * sq + 0.5 * A * math.log(2 * math.pi))
    close(gaussian_surrogate_loss(x, y, f, "negative_log_likelihood"), nll.mean(), nll.mean())
