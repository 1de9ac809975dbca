"""The speed-ups of the updates and of EAS are exact equivalents of the paper's definitions:

* :func:`~edp_ref.core.networks.conditioned_noise_prediction` equals the noise network
  eps_theta(a^k, k; s) to round-off and does fewer matrix-product FLOPs in a DPM-Solver run;
* :func:`~edp_ref.algorithms.catalog.edp_td3.chosen_head_q` equals running both critics and
  picking one, bit for bit, values and gradients;
* compiled functions send their CPU products to oneDNN (:mod:`edp_ref.compilation`), equal to
  ATen's to round-off.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from edp_ref.algorithms.catalog.edp_td3 import chosen_head_q
from edp_ref.algorithms.state import Networks
from edp_ref.compilation import ONEDNN_MATMUL, compile_function
from edp_ref.core.dpm_solver import dpm_solver_sample
from edp_ref.core.networks import NoisePredictionNetwork, QNetwork, conditioned_noise_prediction
from edp_ref.core.schedule import make_schedule

S, A = 11, 3


def _network(dtype: torch.dtype) -> tuple[NoisePredictionNetwork, dict[str, torch.Tensor]]:
    net = NoisePredictionNetwork(S, A, generator=torch.Generator().manual_seed(0)).to(dtype)
    return net, {k: v.detach() for k, v in net.named_parameters()}


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-14), (torch.float32, 2e-6)])
@pytest.mark.parametrize("t", [0.0, 532.7, 999.0])
def test_conditioned_noise_prediction_equals_the_network(
    dtype: torch.dtype, tol: float, t: float
) -> None:
    net, params = _network(dtype)
    g = torch.Generator().manual_seed(1)
    states = torch.randn(4, S, generator=g, dtype=dtype)
    for repeats in (1, 5):
        a = torch.randn(4 * repeats, A, generator=g, dtype=dtype)
        times = torch.full((4 * repeats,), t, dtype=dtype)
        expected = net(states.repeat_interleave(repeats, 0), a, times)
        got = conditioned_noise_prediction(net, params, states, repeats)(a, times)
        torch.testing.assert_close(got, expected, rtol=tol, atol=tol)


def test_conditioned_noise_prediction_removes_flops_from_a_dpm_solver_run() -> None:
    net, params = _network(torch.float32)
    schedule = make_schedule("linear", 1000)
    states, a_T = torch.randn(256, S), torch.randn(256, A)
    plain = lambda a, t: net(states, a, t)  # noqa: E731
    expected = dpm_solver_sample(schedule, plain, a_T)
    flops = {}
    for name in ("plain", "conditioned"):
        with FlopCounterMode(display=False) as counter:
            eps_fn = plain if name == "plain" else conditioned_noise_prediction(net, params, states)
            out = dpm_solver_sample(schedule, eps_fn, a_T)
        flops[name] = counter.get_total_flops()
        torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
    # Per model call the plain network multiplies [256, S + A + 16] by the first layer and runs
    # the time MLP (16 -> 32 -> 16) on 256 rows; the conditioned one multiplies [256, A], runs
    # the time MLP and W_e on one row, and W_s s once for the run.
    hidden, calls = 256, 15
    plain_first = 2 * 256 * (S + A + 16) * hidden + 2 * 256 * (16 * 32 + 32 * 16)
    conditioned_first = 2 * 256 * A * hidden + 2 * (16 * 32 + 32 * 16) + 2 * 16 * hidden
    removed = calls * (plain_first - conditioned_first) - 2 * 256 * S * hidden
    assert flops["plain"] - flops["conditioned"] == removed


def test_the_chosen_head_is_both_heads_picked_bit_for_bit() -> None:
    g = torch.Generator().manual_seed(0)
    q = QNetwork(S, A, generator=g)
    networks = Networks(policy=q, q=q)
    heads = [
        {k: torch.randn(v.shape, generator=g) * 0.1 for k, v in q.named_parameters()}
        for _ in range(2)
    ]
    s = torch.randn(64, S, generator=g)
    for flag in (True, False):
        use_q1 = torch.tensor(flag)
        a_fast = torch.randn(64, A, generator=g).requires_grad_()
        a_both = a_fast.detach().clone().requires_grad_()
        fast = chosen_head_q(networks, heads[0], heads[1], use_q1, s, a_fast)
        both = torch.where(
            use_q1, networks.q_value(heads[0], s, a_both), networks.q_value(heads[1], s, a_both)
        )
        (fast.square().sum()).backward()
        (both.square().sum()).backward()
        assert torch.equal(fast, both) and torch.equal(a_fast.grad, a_both.grad)
        assert not torch.equal(fast, networks.q_value(heads[1 if flag else 0], s, a_both))


@pytest.mark.skipif(ONEDNN_MATMUL is None, reason="this torch has no oneDNN")
def test_compiled_products_run_on_onednn_and_match_aten() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 64, generator=g)
    wide = torch.randn(256, 80, generator=g) / 8  # the weight: a slice of its columns
    b = torch.randn(256, generator=g)

    def loss(x: torch.Tensor, wide: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, ...]:
        # forward addmm with a strided weight, backward mm with transposed operands
        w = wide.detach().requires_grad_()
        h = torch.nn.functional.linear(x, w[:, :64], b).tanh()
        (grad,) = torch.autograd.grad((h @ h.T).sum(), w)
        return h, grad

    compiled = compile_function(loss)
    with torch.enable_grad():
        compiled(x, wide, b)
        with torch.profiler.profile() as profile:
            got = compiled(x, wide, b)
        expected = loss(x, wide, b)
    calls = [e.name for e in profile.events()]
    assert calls.count("edp_ref::onednn_matmul") == 3 and "aten::mm" not in calls
    for ours, aten in zip(got, expected, strict=True):
        # float32 round-off of sums over 64-256 terms, relative to the result's own scale
        assert (ours - aten).abs().max() <= 1e-5 * aten.abs().max()
