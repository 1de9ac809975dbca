"""Function transforms over the core formulas: Eq. 8 (corrupt), Eq. 9 (approximate_action and
its inverse noise_from_action), Eq. 4 (ddpm_step) and Algorithm 2's softmax (eas_probabilities).

torch.func.vmap over an extra leading dimension must equal a Python loop over it (edp_ref skips
its data-dependent value checks under vmap), and torch.func.grad of Eq. 9 must give its
analytic derivatives: d a_hat^0 / d a^k = 1 / sqrt(alpha_bar^k) and d a_hat^0 / d eps =
-sqrt(1 - alpha_bar^k) / sqrt(alpha_bar^k) (no clipping).
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.func import grad, vmap

from edp_ref import (
    approximate_action,
    corrupt,
    ddpm_step,
    eas_probabilities,
    noise_from_action,
)
from properties._helpers import DTYPES, arrays, ref_of, schedule_of, schedule_specs, unit_roundoff


@st.composite
def batched_case(draw: st.DrawFn) -> dict:
    kind, K = draw(schedule_specs())
    dtype = draw(st.sampled_from(DTYPES))
    V, B, A = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 4))
    ks = draw(st.lists(st.integers(0, K - 1), min_size=V * B, max_size=V * B))
    return {
        "kind": kind,
        "K": K,
        "dtype": dtype,
        "k": torch.tensor(ks).reshape(V, B),
        "x": draw(arrays(dtype, (V, B, A), -5, 5)),
        "y": draw(arrays(dtype, (V, B, A), -3, 3)),
        "z": draw(arrays(dtype, (V, B, A), -3, 3)),
        "clip": draw(st.sampled_from([None, 1.0])),
        "variance": draw(st.sampled_from(["posterior", "beta"])),
    }


def _assert_vmap_equals_loop(fn, *args: torch.Tensor) -> None:
    batched = vmap(fn)(*args)
    looped = torch.stack([fn(*(a[i] for a in args)) for i in range(args[0].shape[0])])
    assert batched.dtype == looped.dtype and batched.shape == looped.shape
    u = unit_roundoff(batched.dtype)
    scale = looped.abs().max().item() + 1
    assert torch.allclose(batched, looped, rtol=0, atol=4 * u * scale)


@given(case=batched_case())
def test_vmap_equals_loop(case: dict) -> None:
    s = schedule_of(case["kind"], case["K"])
    k, x, y, z, clip = case["k"], case["x"], case["y"], case["z"], case["clip"]
    _assert_vmap_equals_loop(lambda a, kk, e: corrupt(s, a, kk, e), x, k, y)
    _assert_vmap_equals_loop(lambda a, kk, e: approximate_action(s, a, kk, e, clip), x, k, y)
    _assert_vmap_equals_loop(lambda a, kk, a0: noise_from_action(s, a, kk, a0), x, k, y)
    _assert_vmap_equals_loop(
        lambda a, kk, e, n: ddpm_step(s, a, kk, e, n, clip, case["variance"]), x, k, y, z
    )
    _assert_vmap_equals_loop(lambda q: eas_probabilities(q), x)


@given(case=batched_case())
def test_grad_of_eq9_is_analytic(case: dict) -> None:
    s = schedule_of(case["kind"], case["K"])
    ref = ref_of(case["kind"], case["K"])
    k, x, y = case["k"][0], case["x"][0], case["y"][0]

    def total(a_k: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        return approximate_action(s, a_k, k, eps, clip=None).sum()

    d_ak, d_eps = grad(total, argnums=(0, 1))(x, y)
    ab = torch.from_numpy(ref.alpha_bar[k.numpy()])[:, None].expand_as(x)
    u = unit_roundoff(case["dtype"])
    np.testing.assert_allclose(d_ak.double(), 1 / torch.sqrt(ab), rtol=8 * u)
    np.testing.assert_allclose(
        d_eps.double(), -torch.sqrt(1 / ab - 1), rtol=8 * u + 1e-14 / (1 - ab.max().item())
    )
