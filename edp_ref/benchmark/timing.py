"""How the speed benchmark times and counts: the warm-up / median loop, matmul-FLOP counting and
the dense-matmul reference rate (the FLOP rate Figure 2's networks could reach at best here).

* :func:`time_loop`: seconds of each call of a step after warm-up, with CUDA events on CUDA
  (no host synchronisation inside the timed calls) and ``time.perf_counter`` on the CPU; the
  benchmark reports the median.
* :func:`count_flops`: the FLOPs of one call, counted by
  ``torch.utils.flop_counter.FlopCounterMode`` (matrix products only).
* :func:`measure_matmul`: the FLOP rate of the Linear layers of one noise-network forward
  (Sec. 5.1's 3 x 256 MLP on walker2d shapes) as plain ``addmm`` calls, and of one square
  [B, H] x [H, H] product: the reference a training step's FLOP rate is divided by.
* :func:`load1`, :func:`loadavg`: the machine load recorded beside every figure (timings on a
  shared machine are noisy).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from edp_ref.algorithms import NetworkConfig
from edp_ref.benchmark.settings import BenchmarkSettings

__all__ = ["count_flops", "load1", "loadavg", "measure_matmul", "time_loop"]


def load1() -> float | None:
    """The 1-minute load average (``os.getloadavg``), or None where the platform lacks it."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover - platforms without getloadavg
        return None


def loadavg() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages, or None where the platform lacks them."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def time_loop(
    step: Callable[[], object],
    device: torch.device,
    warmup: int,
    min_iterations: int,
    max_iterations: int,
    min_seconds: float,
    max_seconds: float,
) -> list[float]:
    """Seconds of each timed call of ``step`` after ``warmup`` calls (CUDA events on CUDA).

    Stops once both ``min_iterations`` and ``min_seconds`` are reached, or at ``max_iterations``
    or ``max_seconds`` (always at least one timed call).
    """
    for _ in range(warmup):
        step()
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
    times: list[float] = []
    events: list[tuple[Any, Any]] = []
    start_all = time.perf_counter()
    while True:
        if cuda:
            begin = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
            end = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
            begin.record()
            step()
            end.record()
            events.append((begin, end))
        else:
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        n = len(events) if cuda else len(times)
        elapsed = time.perf_counter() - start_all
        if n >= max_iterations or elapsed >= max_seconds:
            break
        if n >= min_iterations and elapsed >= min_seconds:
            break
    if cuda:
        torch.cuda.synchronize(device)
        times = [b.elapsed_time(e) / 1000.0 for b, e in events]
    return times


def count_flops(step: Callable[[], object]) -> int:
    """The FLOPs of one call of ``step`` (matrix products; ``FlopCounterMode``)."""
    with FlopCounterMode(display=False) as counter:
        step()
    return int(counter.get_total_flops())


def measure_matmul(s: BenchmarkSettings, device: torch.device) -> dict[str, Any]:
    """The FLOP rate of the Linear layers of one noise-network forward, as plain addmm calls.

    The layer shapes are those of eps_theta(a^k, k; s)
    (:class:`edp_ref.core.networks.NoisePredictionNetwork`'s body): input
    observation + action + time embedding, ``layers`` hidden layers of ``hidden`` units, output
    the action. Returns the JSON's ``matmul`` section.
    """
    time_dim = NetworkConfig(hidden=s.hidden, layers=s.layers).time_dim
    dims = [s.obs_dim + s.action_dim + time_dim] + [s.hidden] * s.layers + [s.action_dim]
    shapes = [[s.batch_size, dims[i], dims[i + 1]] for i in range(len(dims) - 1)]
    g = torch.Generator().manual_seed(s.seed)
    xs = [torch.randn(b, i, generator=g).to(device) for b, i, _ in shapes]
    ws = [torch.randn(i, o, generator=g).to(device) for _, i, o in shapes]
    bs = [torch.randn(o, generator=g).to(device) for _, _, o in shapes]
    flops = sum(2 * b * i * o for b, i, o in shapes)

    def chain() -> None:
        for x, w, b in zip(xs, ws, bs, strict=True):
            torch.addmm(b, x, w)

    times = time_loop(chain, device, 5, 50, 2000, 1.0, 10.0)
    sq_x = torch.randn(s.batch_size, s.hidden, generator=g).to(device)
    sq_w = torch.randn(s.hidden, s.hidden, generator=g).to(device)
    sq_times = time_loop(lambda: sq_x @ sq_w, device, 5, 50, 2000, 0.5, 5.0)
    sec = statistics.median(times)
    return {
        "layer_shapes": shapes,
        "flops_per_pass": flops,
        "seconds_median": sec,
        "flops_per_second": flops / sec,
        "square_flops_per_second": 2 * s.batch_size * s.hidden**2 / statistics.median(sq_times),
        "loadavg": load1(),
    }
