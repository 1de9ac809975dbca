"""Energy-based action selection, paper Sec. 4.5 and Algorithm 2: among N candidate actions
a_i ~ pi_theta(. | s), pick a_i with probability e^{Q(s, a_i)} / sum_j e^{Q(s, a_j)}, i.e.
softmax(Q) (sampling from p(a | s) ∝ e^{Q(s, a)} pi_theta(a | s)); the categorical draw takes a
uniform in [0, 1) from the caller.
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from edp_ref import eas_probabilities, energy_based_action_selection
from properties._helpers import DTYPES, arrays, floats_for, scaled, unit_roundoff


def softmax_reference(q: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = q.astype(np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@st.composite
def q_values(draw: st.DrawFn, max_batch: int = 6, max_candidates: int = 12) -> torch.Tensor:
    dtype = draw(st.sampled_from(DTYPES))
    B, N = draw(st.integers(1, max_batch)), draw(st.integers(1, max_candidates))
    spread = draw(st.sampled_from([1.0, 10.0, 100.0]))
    return draw(arrays(dtype, (B, N), -spread, spread))


@given(q=q_values(), temperature=st.sampled_from([1.0, 0.1, 3.0]))
def test_probabilities_are_softmax_of_q(q: torch.Tensor, temperature: float) -> None:
    p = eas_probabilities(q, temperature)
    assert p.dtype == q.dtype and p.shape == q.shape
    u = unit_roundoff(q.dtype)
    expected = softmax_reference(q.numpy(), temperature)
    np.testing.assert_allclose(p.double().numpy(), expected, rtol=0, atol=32 * u * q.shape[1])
    assert torch.all(p >= 0)
    np.testing.assert_allclose(p.double().sum(-1).numpy(), 1.0, rtol=0, atol=8 * u * q.shape[1])


@given(q=q_values(), data=st.data())
def test_probabilities_unchanged_by_constant_shift(q: torch.Tensor, data: st.DataObject) -> None:
    """Adding a constant (per state) to every Q leaves the selection probabilities unchanged."""
    c = data.draw(arrays(q.dtype, (q.shape[0], 1), -50, 50))
    shifted = q + c
    u = unit_roundoff(q.dtype)
    # q + c rounds each entry by up to u |q + c|, which moves exp by the same relative amount.
    tol = 8 * u * (1 + float((q.abs() + c.abs()).max())) + 32 * u * q.shape[1]
    np.testing.assert_allclose(
        eas_probabilities(shifted).double().numpy(),
        eas_probabilities(q).double().numpy(),
        rtol=0,
        atol=tol,
    )


def _candidates(q: torch.Tensor, A: int) -> torch.Tensor:
    """Distinct candidates per state: candidate i holds i in its first coordinate."""
    B, N = q.shape
    actions = torch.zeros(B, N, A, dtype=q.dtype)
    actions[:, :, 0] = torch.arange(N, dtype=q.dtype)
    if A > 1:
        actions[:, :, 1:] = torch.linspace(-1, 1, B * N * (A - 1), dtype=q.dtype).reshape(
            B, N, A - 1
        )
    return actions


@given(q=q_values(), A=st.integers(1, 4), data=st.data())
def test_selection_returns_one_of_the_candidates(
    q: torch.Tensor, A: int, data: st.DataObject
) -> None:
    B, N = q.shape
    actions = _candidates(q, A)
    uniform = data.draw(arrays(q.dtype, (B,), 0, 1).filter(lambda t: bool((t < 1).all())))
    chosen = energy_based_action_selection(actions, q, uniform)
    assert chosen.shape == (B, A) and chosen.dtype == q.dtype
    for b in range(B):
        i = int(chosen[b, 0])
        assert 0 <= i < N
        assert torch.equal(chosen[b], actions[b, i])
        # The inverse-CDF rule: i is the first index whose cumulative probability exceeds u.
        cdf = np.cumsum(softmax_reference(q[b].numpy()))
        u = float(uniform[b])
        slack = 64 * unit_roundoff(q.dtype) * N
        assert (i == 0 or cdf[i - 1] <= u + slack) and (u <= cdf[i] + slack or i == N - 1)


@scaled(0.5)
@given(
    N=st.integers(2, 8),
    logits=st.lists(floats_for(torch.float64, -6, 6), min_size=8, max_size=8),
    dtype=st.sampled_from(DTYPES),
    temperature=st.sampled_from([1.0, 0.5, 4.0]),
)
def test_selection_frequencies_on_a_stratified_grid(
    N: int, logits: list[float], dtype: torch.dtype, temperature: float
) -> None:
    """With M stratified uniforms (j + 1/2)/M, candidate i is chosen M p_i times up to one,
    p = softmax(Q / temperature)."""
    M = 4000
    q_row = torch.tensor(logits[:N], dtype=dtype)
    q = q_row.expand(M, N).contiguous()
    uniform = ((torch.arange(M, dtype=torch.float64) + 0.5) / M).to(dtype)
    chosen = energy_based_action_selection(_candidates(q, 1), q, uniform, temperature)
    counts = torch.bincount(chosen[:, 0].long(), minlength=N).numpy()
    expected = M * softmax_reference(q_row.numpy(), temperature)
    assert counts.sum() == M
    # Each count is M (CDF_i - CDF_{i-1}) rounded either way; the CDF itself is off by ~u N.
    slack = 1.0 + M * 64 * unit_roundoff(dtype) * N
    assert np.all(np.abs(counts - expected) <= slack), (counts, expected)


@scaled(0.5)
@given(
    N=st.integers(2, 8),
    logits=st.lists(floats_for(torch.float64, -4, 4), min_size=8, max_size=8),
    seed=st.integers(0, 2**31 - 1),
)
def test_selection_frequencies_match_probabilities(N: int, logits: list[float], seed: int) -> None:
    """Many random uniforms: the counts pass a chi-square goodness-of-fit test against softmax(Q),
    and every frequency lies within 5 standard errors of its probability."""
    M = 20000
    q_row = torch.tensor(logits[:N], dtype=torch.float64)
    q = q_row.expand(M, N).contiguous()
    gen = torch.Generator().manual_seed(seed)
    uniform = torch.rand(M, generator=gen, dtype=torch.float64)
    chosen = energy_based_action_selection(_candidates(q, 2), q, uniform)[:, 0].long()
    counts = torch.bincount(chosen, minlength=N).numpy()
    p = softmax_reference(q_row.numpy())
    se = np.sqrt(p * (1 - p) / M)
    assert np.all(np.abs(counts / M - p) <= 5 * se + 1 / M)
    keep = p * M >= 5  # chi-square needs expected counts of at least ~5 per cell
    if keep.sum() >= 2:
        obs = np.append(counts[keep], counts[~keep].sum())
        exp = np.append(p[keep] * M, p[~keep].sum() * M)
        obs, exp = (obs, exp) if exp[-1] > 0 else (obs[:-1], exp[:-1])
        assert stats.chisquare(obs, exp).pvalue > 1e-4


@given(
    log2_n=st.integers(0, 4),
    shift=floats_for(torch.float64, -20, 20),
    dtype=st.sampled_from(DTYPES),
)
def test_selection_at_cdf_boundaries(log2_n: int, shift: float, dtype: torch.dtype) -> None:
    """Equal Q over N = 2^m candidates: the CDF is exactly j / N, and a uniform u = j / N selects
    candidate j (the smallest i with u < CDF_i, the inverse-CDF rule)."""
    N = 2**log2_n
    q = torch.full((N, N), shift, dtype=dtype)
    uniform = torch.arange(N, dtype=dtype) / N
    chosen = energy_based_action_selection(_candidates(q, 1), q, uniform)[:, 0]
    assert torch.equal(chosen, torch.arange(N, dtype=dtype))
