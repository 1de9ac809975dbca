"""The DDPM posterior and reverse step, paper Eq. 1, Eq. 4 and the closed form of q(a^k | a^0)
(Sec. 4.2), with Bayes' rule for q(a^{k-1} | a^k, a^0).

From Eq. 1, q(a^k | a^{k-1}) = N(sqrt(alpha^k) a^{k-1}, beta^k) and q(a^{k-1} | a^0) =
N(sqrt(alpha_bar^{k-1}) a^0, 1 - alpha_bar^{k-1}); Bayes gives the posterior in precision form:
  1 / var = alpha^k / beta^k + 1 / (1 - alpha_bar^{k-1}),
  mean = var (sqrt(alpha^k) / beta^k a^k + sqrt(alpha_bar^{k-1}) / (1 - alpha_bar^{k-1}) a^0),
which the properties compare with the schedule's closed-form coefficients (a different
expression of the same quantities), and Eq. 4's mean
  (a^k - beta^k / sqrt(1 - alpha_bar^k) eps) / sqrt(alpha^k)
which ddpm_step must reproduce without clipping. Timesteps are 0-based: k >= 1 here is the
paper's step k + 1 >= 2; k = 0 (the paper's first step) has a zero-variance posterior.
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from edp_ref import corrupt, ddpm_step
from properties._helpers import DTYPES, arrays, ref_of, schedule_of, schedule_specs, unit_roundoff

U64 = unit_roundoff(torch.float64)


@given(spec=schedule_specs())
def test_posterior_coefficients_are_bayes_rule(spec: tuple[str, int]) -> None:
    kind, K = spec
    s = schedule_of(kind, K)
    ref = ref_of(kind, K)
    beta, alpha, abp = ref.beta[1:], ref.alpha[1:], ref.alpha_bar_prev[1:]
    precision = alpha / beta + 1 / (1 - abp)
    var = 1 / precision
    coef_a0 = var * np.sqrt(abp) / (1 - abp)
    coef_ak = var * np.sqrt(alpha) / beta
    np.testing.assert_allclose(s.posterior_variance.numpy()[1:], var, rtol=1e-9)
    np.testing.assert_allclose(s.posterior_mean_coef1.numpy()[1:], coef_a0, rtol=1e-9)
    np.testing.assert_allclose(s.posterior_mean_coef2.numpy()[1:], coef_ak, rtol=1e-9)
    # beta~ = beta (1 - alpha_bar^{k-1}) / (1 - alpha_bar^k) is a variance no larger than beta.
    post_var = s.posterior_variance.numpy()
    assert np.all(post_var[1:] > 0)
    assert np.all(post_var <= s.betas.numpy())
    # k = 0: a^{-1} is a^0 itself, a point mass (alpha_bar^{k-1} = 1).
    assert post_var[0] == 0
    np.testing.assert_allclose(s.posterior_mean_coef1.numpy()[0], 1.0, rtol=1e-12)
    assert abs(float(s.posterior_mean_coef2[0])) < 1e-12
    # The clipped log variance is finite: index 0 takes index 1's value.
    log_var = s.posterior_log_variance_clipped.numpy()
    assert np.all(np.isfinite(log_var))
    np.testing.assert_allclose(log_var[1:], np.log(var), rtol=1e-9, atol=1e-12)
    assert log_var[0] == log_var[1]


@given(spec=schedule_specs())
def test_posterior_marginalises_to_forward_marginal(spec: tuple[str, int]) -> None:
    """Integrating q(a^{k-1} | a^k, a^0) over q(a^k | a^0) gives q(a^{k-1} | a^0):
    coef1 + coef2 sqrt(alpha_bar^k) = sqrt(alpha_bar^{k-1}) and
    coef2^2 (1 - alpha_bar^k) + beta~^k = 1 - alpha_bar^{k-1}."""
    kind, K = spec
    s = schedule_of(kind, K)
    ref = ref_of(kind, K)
    c1, c2 = s.posterior_mean_coef1.numpy(), s.posterior_mean_coef2.numpy()
    var = s.posterior_variance.numpy()
    np.testing.assert_allclose(
        c1 + c2 * np.sqrt(ref.alpha_bar), np.sqrt(ref.alpha_bar_prev), rtol=1e-10, atol=1e-13
    )
    np.testing.assert_allclose(
        c2**2 * (1 - ref.alpha_bar) + var, 1 - ref.alpha_bar_prev, rtol=1e-9, atol=1e-13
    )


@given(spec=schedule_specs(), dtype=st.sampled_from(DTYPES), A=st.integers(1, 5))
def test_forward_step_composes_to_marginal(
    spec: tuple[str, int], dtype: torch.dtype, A: int
) -> None:
    """Marginal consistency of Eq. 1: a^{k-1} ~ q(. | a^0) (Eq. 8 at k-1) followed by one forward
    step q(a^k | a^{k-1}) has the moments of Eq. 8 at k: mean sqrt(alpha^k) sqrt(alpha_bar^{k-1})
    a^0 = sqrt(alpha_bar^k) a^0, variance alpha^k (1 - alpha_bar^{k-1}) + beta^k = 1 - alpha_bar^k.
    Eq. 8 is linear, so its coefficients are read back with unit inputs."""
    kind, K = spec
    s = schedule_of(kind, K)
    ref = ref_of(kind, K)
    k = torch.arange(1, K)
    ones = torch.ones(K - 1, A, dtype=dtype)
    zeros = torch.zeros(K - 1, A, dtype=dtype)
    mean_prev = corrupt(s, ones, k - 1, zeros).double()
    std_prev = corrupt(s, zeros, k - 1, ones).double()
    mean_k = corrupt(s, ones, k, zeros).double()
    std_k = corrupt(s, zeros, k, ones).double()
    alpha = torch.from_numpy(ref.alpha[1:])[:, None]
    beta = torch.from_numpy(ref.beta[1:])[:, None]
    u = unit_roundoff(dtype)
    # Absolute tolerances: both sides are at most 1 (1 - alpha_bar is formed by a subtraction).
    assert torch.allclose(torch.sqrt(alpha) * mean_prev, mean_k, rtol=0, atol=16 * u)
    assert torch.allclose(alpha * std_prev**2 + beta, std_k**2, rtol=0, atol=16 * u)


@st.composite
def step_case(draw: st.DrawFn, k_min: int = 0) -> dict:
    kind, K = draw(schedule_specs())
    dtype = draw(st.sampled_from(DTYPES))
    B, A = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    k = torch.tensor(draw(st.lists(st.integers(k_min, K - 1), min_size=B, max_size=B)))
    return {
        "kind": kind,
        "K": K,
        "dtype": dtype,
        "k": k,
        "a_k": draw(arrays(dtype, (B, A), -5, 5)),
        "eps": draw(arrays(dtype, (B, A), -4, 4)),
        "noise": draw(arrays(dtype, (B, A), -4, 4)),
    }


@given(case=step_case(k_min=1), variance=st.sampled_from(["posterior", "beta"]))
def test_ddpm_step_mean_is_eq4(case: dict, variance: str) -> None:
    s = schedule_of(case["kind"], case["K"])
    ref = ref_of(case["kind"], case["K"])
    k, a_k, eps, dtype = case["k"], case["a_k"], case["eps"], case["dtype"]
    out = ddpm_step(s, a_k, k, eps, torch.zeros_like(a_k), clip=None, variance=variance)
    assert out.dtype == dtype and out.shape == a_k.shape
    alpha = torch.from_numpy(ref.alpha)[k][:, None]
    beta = torch.from_numpy(ref.beta)[k][:, None]
    ab = torch.from_numpy(ref.alpha_bar)[k][:, None]
    eq4 = (a_k.double() - beta / torch.sqrt(1 - ab) * eps.double()) / torch.sqrt(alpha)
    # The implementation goes through Eq. 9 (dividing by sqrt(alpha_bar^k)) and back; its
    # float64 tables form 1 - alpha_bar and 1/alpha_bar - 1 by subtraction (relative error
    # ~u64 / (1 - alpha_bar), large only for alpha_bar near 1).
    u = unit_roundoff(dtype)
    scale = (a_k.double().abs() + eps.double().abs()) / torch.sqrt(ab)
    assert torch.all((out.double() - eq4).abs() <= 32 * u * scale + 8 * U64 * scale / (1 - ab))


@given(case=step_case(k_min=1), variance=st.sampled_from(["posterior", "beta"]))
def test_ddpm_step_noise_has_eq4_or_posterior_std(case: dict, variance: str) -> None:
    """a^{k-1} = mean + std z with std = sqrt(beta^k) (Eq. 4) or sqrt(beta~^k) (posterior)."""
    s = schedule_of(case["kind"], case["K"])
    ref = ref_of(case["kind"], case["K"])
    k, a_k, eps, noise = case["k"], case["a_k"], case["eps"], case["noise"]
    for clip in (None, 1.0):
        with_noise = ddpm_step(s, a_k, k, eps, noise, clip=clip, variance=variance)
        without = ddpm_step(s, a_k, k, eps, torch.zeros_like(noise), clip=clip, variance=variance)
        beta = ref.beta[k.numpy()]
        if variance == "beta":
            var = beta
        else:
            var = beta * (1 - ref.alpha_bar_prev[k.numpy()]) / (1 - ref.alpha_bar[k.numpy()])
        std = torch.from_numpy(np.sqrt(var))[:, None]
        u = unit_roundoff(case["dtype"])
        scale = without.double().abs() + noise.double().abs()
        diff = (with_noise.double() - without.double()) - std * noise.double()
        assert torch.all(diff.abs() <= 8 * u * scale)


@given(case=step_case(), clip=st.sampled_from([None, 1.0, 0.3]))
def test_ddpm_step_at_first_step_returns_eq9(case: dict, clip: float | None) -> None:
    """At k = 0 (the paper's step 1) the step returns a_hat^0 of Eq. 9, without noise."""
    s = schedule_of(case["kind"], case["K"])
    ref = ref_of(case["kind"], case["K"])
    a_k, eps, noise, dtype = case["a_k"], case["eps"], case["noise"], case["dtype"]
    k = torch.zeros_like(case["k"])
    out = ddpm_step(s, a_k, k, eps, noise, clip=clip)
    ab0 = ref.alpha_bar[0]
    eq9 = (a_k.double() - np.sqrt(1 - ab0) * eps.double()) / np.sqrt(ab0)
    if clip is not None:
        eq9 = eq9.clamp(-clip, clip)
    u = unit_roundoff(dtype)
    scale = (a_k.double().abs() + eps.double().abs()) / np.sqrt(ab0)
    tol = 16 * u * scale + 8 * U64 * scale / (1 - ab0)  # see test_ddpm_step_mean_is_eq4
    assert torch.all((out.double() - eq9).abs() <= tol)
