"""DDPM ancestral sampling, paper Eq. 3 and Eq. 4 (Sec. 3.2), with the exact noise prediction of
Gaussian data.

For a^0 ~ N(mu, s^2) per dimension, q(a^k) = N(sqrt(alpha_bar^k) mu, alpha_bar^k s^2 + 1 -
alpha_bar^k) and the exact (MMSE) noise prediction is, with ab = alpha_bar^k,
  eps*(x, k) = sqrt(1 - ab) (x - sqrt(ab) mu) / (ab s^2 + 1 - ab).
With it, every reverse step of Eq. 4 is affine in a^k plus Gaussian noise, so the law of the
sampler's output is Gaussian with a mean and variance that a scalar recursion gives exactly
(computed here from Eq. 4's form and the schedule formulas, not from edp_ref's coefficients).
Properties: (1) that law has the data's mean exactly and its variance up to a discretisation
bias that vanishes as K grows (large at K = 50-100: up to ~30% with the posterior variance);
(2) a large batch drawn by ddpm_sample (clip=None, both variance options) has the data's mean
and the law's variance within 5 standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from edp_ref import ddpm_sample
from properties._helpers import DTYPES, ref_of, scaled, schedule_of, schedule_specs

BATCH = 4000


def exact_eps_fn(kind: str, K: int, mu: torch.Tensor, sd: torch.Tensor):
    ab_all = ref_of(kind, K).alpha_bar

    def eps_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        k = int(t[0])
        assert torch.all(t == k)
        ab = float(ab_all[k])
        eps = math.sqrt(1 - ab) * (x.double() - math.sqrt(ab) * mu) / (ab * sd**2 + 1 - ab)
        return eps.to(x.dtype)

    return eps_fn


def sampler_law(
    kind: str, K: int, mu: np.ndarray, sd: np.ndarray, variance: str
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the output of Eq. 4's chain with eps*, from a^K ~ N(0, 1)."""
    ref = ref_of(kind, K)
    m, v = np.zeros_like(mu), np.ones_like(mu)
    for k in range(K - 1, -1, -1):
        ab, beta, alpha = ref.alpha_bar[k], ref.beta[k], ref.alpha[k]
        c = math.sqrt(1 - ab) / (ab * sd**2 + 1 - ab)  # eps* = c (x - sqrt(ab) mu)
        if k == 0:  # the last step returns a_hat^0 of Eq. 9
            gain = (1 - math.sqrt(1 - ab) * c) / math.sqrt(ab)
            m = gain * m + math.sqrt(1 - ab) * c * mu
            v = gain**2 * v
            continue
        gain = (1 - beta / math.sqrt(1 - ab) * c) / math.sqrt(alpha)
        shift = beta / math.sqrt(1 - ab) * c * math.sqrt(ab) * mu / math.sqrt(alpha)
        noise_var = beta if variance == "beta" else beta * (1 - ref.alpha_bar[k - 1]) / (1 - ab)
        m = gain * m + shift
        v = gain**2 * v + noise_var
    return m, v


@st.composite
def sampling_case(draw: st.DrawFn, k_min: int = 50, k_max: int = 100) -> dict:
    kind, K = draw(schedule_specs(kinds=("linear", "cosine"), k_min=k_min, k_max=k_max))
    A = draw(st.integers(1, 2))
    mu = draw(st.lists(st.floats(-1, 1), min_size=A, max_size=A))
    sd = draw(st.lists(st.floats(0.3, 2), min_size=A, max_size=A))
    return {
        "kind": kind,
        "K": K,
        "A": A,
        "mu": np.array(mu),
        "sd": np.array(sd),
        "dtype": draw(st.sampled_from(DTYPES)),
        "variance": draw(st.sampled_from(["posterior", "beta"])),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


@given(case=sampling_case(k_max=250))
def test_exact_chain_law_converges_to_the_data_distribution(case: dict) -> None:
    """The oracle: with eps*, Eq. 4's chain keeps the mean up to the trace of the prior
    mismatch (a^K ~ N(0, 1) instead of N(sqrt(alpha_bar^K) mu, .)), which the exact conditional
    means carry to a^0 as -alpha_bar^K s^2 mu; its variance error is a discretisation bias that
    shrinks as K grows (the posterior variance under-disperses, beta over-disperses for small
    s): at least halved from K to 4K, below 3% at K = 1000; at K = 50 it reaches ~30%."""
    kind, K, mu, sd, variance = case["kind"], case["K"], case["mu"], case["sd"], case["variance"]
    s2 = sd**2
    for KK in (K, 4 * K):
        m, _ = sampler_law(kind, KK, mu, sd, variance)
        ab_last = ref_of(kind, KK).alpha_bar[-1]
        np.testing.assert_allclose(mu - m, ab_last * s2 * mu, rtol=1e-3, atol=1e-12)
    _, v = sampler_law(kind, K, mu, sd, variance)
    _, v4 = sampler_law(kind, 4 * K, mu, sd, variance)
    bias, bias4 = np.abs(v / s2 - 1), np.abs(v4 / s2 - 1)
    assert np.all(bias4 <= bias / 2 + 1e-3), (bias, bias4)
    _, v1000 = sampler_law(kind, 1000, mu, sd, variance)
    assert np.all(np.abs(v1000 / s2 - 1) <= 0.03), v1000 / s2


@scaled(0.5)
@given(case=sampling_case())
def test_ddpm_samples_reproduce_mean_and_variance(case: dict) -> None:
    """ddpm_sample with eps* (clip=None) over 4000 draws: the sample mean is the data mean and the
    sample variance the exact chain's (data variance up to the bias above), within 5 standard
    errors."""
    kind, K, A, dtype = case["kind"], case["K"], case["A"], case["dtype"]
    mu_t = torch.tensor(case["mu"], dtype=torch.float64)
    sd_t = torch.tensor(case["sd"], dtype=torch.float64)
    gen = torch.Generator().manual_seed(case["seed"])
    a_K = torch.randn(BATCH, A, generator=gen, dtype=torch.float64).to(dtype)
    noises = torch.randn(K, BATCH, A, generator=gen, dtype=torch.float64).to(dtype)
    out = ddpm_sample(
        schedule_of(kind, K),
        exact_eps_fn(kind, K, mu_t, sd_t),
        a_K,
        noises,
        clip=None,
        variance=case["variance"],
    )
    assert out.dtype == dtype and out.shape == (BATCH, A)
    x = out.double().numpy()
    mean, var = x.mean(axis=0), x.var(axis=0, ddof=1)
    _, v = sampler_law(kind, K, case["mu"], case["sd"], case["variance"])
    se_mean = np.sqrt(v / BATCH)
    se_var = v * math.sqrt(2 / (BATCH - 1))
    assert np.all(np.abs(mean - case["mu"]) <= 5 * se_mean), (mean, case["mu"], se_mean)
    assert np.all(np.abs(var - v) <= 5 * se_var), (var, v, se_var)
