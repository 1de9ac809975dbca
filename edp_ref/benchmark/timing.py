"""How the benchmarks time and count: :func:`time_loop` (the warm-up / median loop; CUDA events
on CUDA, no host synchronisation inside the timed calls), :func:`count_flops` (matrix products,
``torch.utils.flop_counter.FlopCounterMode``), :func:`measure_matmul` (the dense-matmul rate of
Figure 2's network shapes: the best FLOP rate a training step could reach here),
:class:`TimedLoop` with :func:`warm_and_calibrate` and :func:`time_rounds` (training loops timed
in interleaved rounds: the peer benchmark, the dry run's prices) and the machine load recorded
beside every figure (:func:`load1`, :func:`loadavg`: timings on a shared machine are noisy).
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from edp_ref.algorithms import NetworkConfig
from edp_ref.benchmark.settings import BenchmarkSettings

__all__ = [
    "TimedLoop",
    "count_flops",
    "load1",
    "loadavg",
    "measure_matmul",
    "time_loop",
    "time_rounds",
    "warm_and_calibrate",
]


def loadavg() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages, or None where the platform lacks them."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - platforms without getloadavg
        return None


def load1() -> float | None:
    """The 1-minute load average, or None where the platform lacks it."""
    loads = loadavg()
    return loads[0] if loads else None


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
    """The JSON's ``matmul`` section: the FLOP rate of the Linear layers of one forward of
    eps_theta(a^k, k; s) (:class:`edp_ref.core.networks.NoisePredictionNetwork`'s body: input
    observation + action + time embedding, ``layers`` x ``hidden``, output the action) as plain
    addmm calls, and of one square [B, H] x [H, H] product."""
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


@dataclass(eq=False)
class TimedLoop:
    """One training loop timed in interleaved rounds (:func:`time_rounds`): a peer's iteration or
    edp_ref's :class:`~edp_ref.algorithms.step.TrainingStep` in one mode (``side`` "peer" or
    "edp_ref", ``mode`` "peer", "eager" or "compiled"; ``diagnostic``: not the peer's official
    code path). ``sync`` waits until queued work is done (JAX dispatches asynchronously);
    ``warm`` is extra warm-up after the first iterations (e.g. compiling a later branch); the
    fields from ``build_seconds`` on are filled by the harness."""

    key: str
    label: str
    side: str
    mode: str
    diagnostic: bool
    step: Callable[[], object]
    sync: Callable[[], None]
    warm: Callable[[], None] | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    build_seconds: float | None = None
    warmup_seconds: float | None = None
    iterations_per_round: int = 0
    round_ips: list[float] = field(default_factory=list)
    error: str | None = None

    def record(self) -> dict[str, Any]:
        """The loop's JSON record (``median_ips``: median of ``round_ips``)."""
        return {
            "key": self.key,
            "label": self.label,
            "side": self.side,
            "mode": self.mode,
            "diagnostic": self.diagnostic,
            "iterations_per_round": self.iterations_per_round,
            "round_ips": self.round_ips,
            "median_ips": statistics.median(self.round_ips) if self.round_ips else None,
            "build_seconds": self.build_seconds,
            "warmup_seconds": self.warmup_seconds,
            "hyperparameters": self.hyperparameters,
            "error": self.error,
        }


def warm_and_calibrate(
    loop: TimedLoop, warmup: int, round_seconds: float, min_iterations: int, max_iterations: int
) -> None:
    """``warmup`` untimed iterations (compilation included), then the iterations per round that
    take about ``round_seconds`` (within [min_iterations, max_iterations])."""
    t0 = time.perf_counter()
    for _ in range(warmup):
        loop.step()
    loop.sync()
    if loop.warm is not None:
        loop.warm()
    loop.warmup_seconds = round(time.perf_counter() - t0, 3)
    # Calibration: at least one iteration and about a tenth of a round.
    n, t0 = 0, time.perf_counter()
    while True:
        loop.step()
        n += 1
        loop.sync()
        elapsed = time.perf_counter() - t0
        if elapsed >= 0.1 * round_seconds or n >= max_iterations:
            break
    wanted = math.ceil(round_seconds / (elapsed / n)) if round_seconds > 0 else 1
    loop.iterations_per_round = max(min_iterations, min(max_iterations, wanted))


def time_rounds(
    loops: list[TimedLoop], rounds: int, log: Callable[[str], None]
) -> list[float | None]:
    """Round r runs every live loop ``iterations_per_round`` times, in an order rotated by r, so
    that machine noise hits all alike; returns the 1-minute load after each round."""
    loads: list[float | None] = []
    live = [v for v in loops if v.error is None]
    for r in range(rounds):
        order = live[r % len(live) :] + live[: r % len(live)] if live else []
        for v in order:
            if v.error is not None:
                continue
            try:
                t0 = time.perf_counter()
                for _ in range(v.iterations_per_round):
                    v.step()
                v.sync()
                v.round_ips.append(v.iterations_per_round / (time.perf_counter() - t0))
            except Exception as exc:
                v.error = f"round {r}: {type(exc).__name__}: {exc}"
        loads.append(load1())
        log(f"round {r + 1}/{rounds} done (load {loads[-1]})")
    return loads
