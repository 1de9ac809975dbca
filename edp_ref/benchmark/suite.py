"""Training- and sampling-speed benchmark: Figure 2 (Sec. 5.1) and Appendix C.5 of the paper.

On walker2d-medium-expert shapes (observation 17, action 6, batch 256, 3 x 256 Mish networks,
K = 1000 for EDP) it measures, in one process and after warm-up, the median training iterations
per second (IPS) of Diffusion-QL (backpropagation through the K-step chain, Sec. 4.4) at several
K, the Figure 2 ablations (EDP w/o DPM, EDP w/o AP), EDP + TD3 / CRR / IQL and the feed-forward
TD3+BC and IQL (App. C.5); the actions per second of energy-based action selection (Sec. 4.5,
Alg. 2) through DPM-Solver-15 and DDPM-K; the FLOPs of every training step
(``torch.utils.flop_counter.FlopCounterMode``: matrix products only) against the dense-matmul
FLOP rate measured on the same machine for the networks' layer shapes; the speed-up of S vmapped
seeds over S sequential updates (:mod:`edp_ref.algorithms.multiseed`); and the peak memory of a
training run on a synthetic 2M-transition dataset (in a fresh subprocess). An iteration is one
uniform batch drawn on the device (:func:`edp_ref.data.sample_batch`), the update's randomness
drawn on the device, and one update; no host synchronisation happens inside it (batch checks
off). On CUDA the timing uses CUDA events.

``scripts/benchmark.py`` is the command line; :func:`run_benchmark` returns, and
:func:`write_json` writes, one JSON document (default ``runs/benchmark/benchmark.json``):

* ``schema``: ``"edp_ref.benchmark/1"``; ``created``: ISO-8601 UTC time; ``elapsed_seconds``.
* ``machine``: ``platform``, ``processor``, ``cpu_count``, ``torch_version``, ``device``
  (``"cpu"``/``"cuda"``), ``device_name``, ``torch_threads``, ``loadavg_start`` and
  ``loadavg_end`` (``os.getloadavg()``: 1, 5, 15 min).
* ``settings``: every field of :class:`BenchmarkSettings` (``preset``: full / quick / tiny).
* ``matmul``: the dense-matmul reference: ``layer_shapes`` ([rows, in, out] of each Linear of
  one MLP forward), ``flops_per_pass``, ``seconds_median``, ``flops_per_second`` (the reference
  rate) and ``square_flops_per_second`` (one [B, H] x [H, H] product).
* ``training``: one record per (algorithm, mode): ``name`` (``dql_k5``, ``dql_k100``,
  ``dql_k1000``, ``edp_without_dpm``, ``edp_without_ap``, ``edp_td3``, ``edp_crr``,
  ``edp_iql``, ``td3bc``, ``iql``), ``label``, ``mode`` (``"eager"``/``"compiled"``),
  ``num_steps`` (K, null for feed-forward), ``iterations`` (timed), ``seconds_per_iteration``
  (median), ``iterations_per_second``, ``extrapolated`` (bool) and ``note``,
  ``flops_per_iteration``, ``flops_per_second``, ``fraction_of_matmul_rate``,
  ``ratio_to_edp_td3`` (IPS over EDP + TD3's IPS in the same mode), ``paper`` (list of
  ``{"label", "ips", "ratio_to_edp", "source"}``: the paper's figures, never measured here),
  ``loadavg`` (1-min load after the measurement),
  ``compile_seconds`` (compiled mode) and ``error`` (null, or why it did not run). Diffusion-QL
  at the largest K is by default an ``extrapolated`` record (affine in K from the two smaller
  K, ``iterations`` 0); when it is also timed the estimate is ``dql_k1000_extrapolated``.
* ``sampling``: one record per (sampler, candidates, states, mode): ``sampler``
  (``"dpm_solver"``/``"ddpm"``), ``model_calls`` (15 or K), ``candidates`` (N), ``states``,
  ``mode``, ``calls``, ``seconds_per_call``, ``actions_per_second`` (states / seconds),
  ``ratio_dpm_to_ddpm`` (on DPM-Solver records, against eager DDPM), ``loadavg``, ``error``; and
  ``sampling_paper``: Figure 2's sampling steps per second (environment steps, paper's GPU).
* ``multiseed``: ``algorithm``, ``seeds`` (S), ``sequential_seconds`` and ``vmap_seconds`` (per
  iteration of all S seeds), ``vmap_compiled_seconds`` (or null), ``speedup_vmap`` (sequential
  over vmap), ``speedup_vmap_compiled``, ``faster_path``, ``loadavg``.
* ``memory``: ``transitions``, ``dataset_bytes``, ``baseline_rss_bytes`` (after imports),
  ``peak_rss_bytes`` (peak RSS of the run's process: ``VmHWM``, else ``ru_maxrss``),
  ``limit_bytes`` (dataset + 1 GiB), ``iterations``, ``cuda_peak_allocated_bytes`` (or null),
  ``met``, ``error``.
* ``profile``: one EDP + TD3 update under ``torch.profiler``: ``ops``, ``dpm_plan_builds``
  (DPM-Solver plans built during the update: 0 when its constants are cached),
  ``dpm_plans_cached``, ``small_op_counts`` and
  ``small_op_fraction`` (self-CPU share of ``aten::full``/``_to_copy``/``index``, the per-call
  residue of constant handling).
* ``targets``: list of ``{"name", "value", "threshold", "met", "note"}`` (issue 7's targets).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from edp_ref.algorithms import (
    Batch,
    DiffusionConfig,
    DQLConfig,
    EDPCRRConfig,
    EDPIQLConfig,
    EDPTD3Config,
    EDPWithoutAPConfig,
    EDPWithoutDPMConfig,
    GaussianIQLConfig,
    NetworkConfig,
    SamplerNoise,
    TD3BCConfig,
    TrainState,
    dql_update,
    draw_crr_randomness,
    draw_eas_uniforms,
    draw_iql_randomness,
    draw_sampler_noise,
    draw_td3_randomness,
    draw_td3bc_randomness,
    edp_crr_update,
    edp_iql_update,
    edp_td3_update,
    edp_without_ap_update,
    edp_without_dpm_update,
    gaussian_iql_update,
    init_dql,
    init_edp_crr,
    init_edp_iql,
    init_edp_td3,
    init_gaussian_iql,
    init_td3bc,
    select_actions,
    td3bc_update,
)
from edp_ref.algorithms.config import SamplerKind
from edp_ref.algorithms.multiseed import sequential_update, stack_states, stack_tree, vmap_update
from edp_ref.compilation import compile_function
from edp_ref.core import dpm_solver as samplers
from edp_ref.data import TransitionDataset, sample_batch

__all__ = [
    "DEFAULT_OUTPUT",
    "PAPER_C5_IPS",
    "PAPER_FIG2_IPS",
    "PAPER_FIG2_SPS",
    "SCHEMA",
    "BenchmarkSettings",
    "format_report",
    "run_benchmark",
    "write_json",
]

SCHEMA = "edp_ref.benchmark/1"
DEFAULT_OUTPUT = Path("runs/benchmark/benchmark.json")

# The paper's figures (walker2d-medium-expert-v2, the authors' GPU); facts.md section 5.
PAPER_FIG2_IPS: dict[str, float] = {
    "Diffusion-QL (official PyTorch)": 4.66,
    "DQL (JAX)": 22.30,
    "EDP w/o DPM": 50.94,
    "EDP w/o AP": 38.4,
    "EDP": 116.21,
}
PAPER_FIG2_SPS: dict[str, float] = {
    "Diffusion-QL (official PyTorch)": 18.67,
    "DQL (JAX)": 123.70,
    "EDP w/o DPM": 123.06,
    "EDP w/o AP": 411.0,
    "EDP": 411.79,
}
PAPER_C5_IPS: dict[str, float] = {"TD3+BC": 689.0, "EDP": 412.0}

_GIB = 1 << 30


@dataclass(frozen=True)
class BenchmarkSettings:
    """What the benchmark measures and for how long (presets: :meth:`full`, :meth:`quick`,
    :meth:`tiny`)."""

    preset: str = "full"
    obs_dim: int = 17
    action_dim: int = 6
    batch_size: int = 256
    hidden: int = 256
    layers: int = 3
    num_steps: int = 1000  # K of every EDP variant
    dql_steps: tuple[int, ...] = (5, 100, 1000)
    # DQL at these K or more: time only dql_long_iterations iterations (no more warm-up than 1).
    dql_long_from: int = 1000
    dql_long_iterations: int = 2
    # Extrapolate the longest DQL from the two shorter ones (affine in K) instead of timing it
    # (measured once on the 2-core CPU: K = 1000 takes about 28 s and 15 GB per iteration).
    extrapolate_longest_dql: bool = True
    warmup: int = 2
    min_iterations: int = 5
    max_iterations: int = 200
    min_seconds: float = 3.0
    max_seconds: float = 30.0
    modes: tuple[str, ...] = ("eager", "compiled")
    # Compiled mode only for these (a 100- or 1000-step chain, or backpropagation through 15
    # DPM-Solver steps, unrolls into a graph that takes minutes to compile on 2 cores).
    compile_names: tuple[str, ...] = (
        "dql_k5",
        "edp_td3",
        "edp_crr",
        "edp_iql",
        "td3bc",
        "iql",
    )
    dataset_transitions: int = 100_000
    candidates: tuple[int, ...] = (10, 50)
    sampling_states: tuple[int, ...] = (1, 32)
    seeds: int = 5
    multiseed_compiled: bool = True
    memory_transitions: int = 2_000_000
    memory_iterations: int = 20
    device: str = "auto"
    threads: int | None = None
    seed: int = 0

    @classmethod
    def full(cls, **changes: Any) -> BenchmarkSettings:
        """Every measurement with enough iterations for a stable median (DQL at the largest K
        extrapolated unless ``extrapolate_longest_dql=False``)."""
        return dataclasses.replace(cls(), **changes)

    @classmethod
    def quick(cls, **changes: Any) -> BenchmarkSettings:
        """A few minutes on 2 CPU cores: fewer iterations, DQL at K = 1000 extrapolated."""
        base = cls(
            preset="quick",
            warmup=1,
            min_iterations=3,
            max_iterations=50,
            min_seconds=1.0,
            max_seconds=8.0,
            extrapolate_longest_dql=True,
            compile_names=("edp_td3", "edp_iql", "iql"),
            sampling_states=(1, 8),
            seeds=5,
            multiseed_compiled=False,
            memory_iterations=5,
        )
        return dataclasses.replace(base, **changes)

    @classmethod
    def tiny(cls, **changes: Any) -> BenchmarkSettings:
        """Seconds: small networks and K, for tests of the benchmark itself."""
        base = cls(
            preset="tiny",
            obs_dim=3,
            action_dim=2,
            batch_size=8,
            hidden=16,
            layers=1,
            num_steps=40,
            dql_steps=(5, 10, 40),
            dql_long_from=40,
            dql_long_iterations=1,
            extrapolate_longest_dql=True,
            warmup=1,
            min_iterations=2,
            max_iterations=3,
            min_seconds=0.0,
            max_seconds=1.0,
            modes=("eager",),
            dataset_transitions=200,
            candidates=(2,),
            sampling_states=(1, 2),
            seeds=2,
            multiseed_compiled=False,
            memory_transitions=1000,
            memory_iterations=2,
        )
        return dataclasses.replace(base, **changes)


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


def _load1() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover - platforms without getloadavg
        return None


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def _time_loop(
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


def _count_flops(step: Callable[[], object]) -> int:
    with FlopCounterMode(display=False) as counter:
        step()
    return int(counter.get_total_flops())


# --------------------------------------------------------------------------------------------
# The algorithms
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Case:
    name: str
    label: str
    num_steps: int | None
    config: Any
    init: Callable[..., TrainState]
    draw: Callable[..., Any] | None
    update: Callable[[TrainState, Batch, Any, Any], tuple[TrainState, Any]]
    paper: tuple[dict[str, Any], ...] = ()


def _paper(label: str, ips: float, edp: float, source: str) -> dict[str, Any]:
    return {"label": label, "ips": ips, "ratio_to_edp": round(ips / edp, 4), "source": source}


def _cases(s: BenchmarkSettings) -> list[_Case]:
    net = NetworkConfig(hidden=s.hidden, layers=s.layers)
    diff = DiffusionConfig(num_steps=s.num_steps)
    common: dict[str, Any] = {"network": net, "check_batch": False, "compile": False}
    fig2_edp, c5_edp = PAPER_FIG2_IPS["EDP"], PAPER_C5_IPS["EDP"]
    cases: list[_Case] = []
    for k in s.dql_steps:
        paper: tuple[dict[str, Any], ...] = ()
        if k == 5:
            paper = (
                _paper("Diffusion-QL (official PyTorch)", 4.66, fig2_edp, "Fig. 2"),
                _paper("DQL (JAX)", 22.30, fig2_edp, "Fig. 2"),
            )
        cases.append(
            _Case(
                f"dql_k{k}",
                f"Diffusion-QL K={k}",
                k,
                DQLConfig(diffusion=DiffusionConfig(schedule="vp", num_steps=k), **common),
                init_dql,
                draw_td3_randomness,
                dql_update,
                paper,
            )
        )
    cases += [
        _Case(
            "edp_without_dpm",
            "EDP w/o DPM",
            s.num_steps,
            EDPWithoutDPMConfig(diffusion=diff, **common),
            init_edp_td3,
            draw_td3_randomness,
            edp_without_dpm_update,
            (_paper("EDP w/o DPM", 50.94, fig2_edp, "Fig. 2"),),
        ),
        _Case(
            "edp_without_ap",
            "EDP w/o AP",
            s.num_steps,
            EDPWithoutAPConfig(diffusion=diff, **common),
            init_edp_td3,
            draw_td3_randomness,
            edp_without_ap_update,
            (_paper("EDP w/o AP", 38.4, fig2_edp, "Fig. 2"),),
        ),
        _Case(
            "edp_td3",
            "EDP+TD3",
            s.num_steps,
            EDPTD3Config(diffusion=diff, **common),
            init_edp_td3,
            draw_td3_randomness,
            edp_td3_update,
            (
                _paper("EDP", 116.21, fig2_edp, "Fig. 2"),
                _paper("EDP", 412.0, c5_edp, "App. C.5"),
            ),
        ),
        _Case(
            "edp_crr",
            "EDP+CRR",
            s.num_steps,
            EDPCRRConfig(diffusion=diff, **common),
            init_edp_crr,
            draw_crr_randomness,
            edp_crr_update,
        ),
        _Case(
            "edp_iql",
            "EDP+IQL",
            s.num_steps,
            EDPIQLConfig(diffusion=diff, **common),
            init_edp_iql,
            draw_iql_randomness,
            edp_iql_update,
        ),
        _Case(
            "td3bc",
            "TD3+BC (FF)",
            None,
            TD3BCConfig(**common),
            init_td3bc,
            draw_td3bc_randomness,
            td3bc_update,
            (_paper("TD3+BC", 689.0, c5_edp, "App. C.5"),),
        ),
        _Case(
            "iql",
            "IQL (FF)",
            None,
            GaussianIQLConfig(**common),
            init_gaussian_iql,
            None,
            gaussian_iql_update,
        ),
    ]
    return cases


def _dataset(s: BenchmarkSettings, n: int, device: torch.device) -> TransitionDataset:
    """A synthetic dataset of ``n`` walker-shaped transitions (float32, actions in [-1, 1])."""
    g = torch.Generator(device="cpu").manual_seed(s.seed)
    obs = torch.randn(n, s.obs_dim, generator=g)
    nxt = torch.randn(n, s.obs_dim, generator=g)
    act = torch.rand(n, s.action_dim, generator=g).mul_(1.998).sub_(0.999)
    rew = torch.randn(n, generator=g)
    zeros = torch.zeros(n)
    return TransitionDataset(
        observations=obs.to(device),
        actions=act.to(device),
        rewards=rew.to(device),
        next_observations=nxt.to(device),
        terminals=zeros.to(device),
        timeouts=zeros.clone().to(device),
        source="synthetic-walker2d-shapes",
    )


class _Trainer:
    """One algorithm's training loop: batch and randomness drawn on the device, one update."""

    def __init__(
        self, case: _Case, s: BenchmarkSettings, data: TransitionDataset, device: torch.device
    ) -> None:
        self.case = case
        self.s = s
        self.data = data
        self.device = device
        self.generator = torch.Generator(device=device).manual_seed(s.seed)
        init_gen = torch.Generator().manual_seed(s.seed)
        self.state = case.init(case.config, s.obs_dim, s.action_dim, init_gen, device)
        self.config = case.config

    def draw(self) -> tuple[Batch, Any]:
        batch = sample_batch(self.data, self.s.batch_size, self.generator)
        rand = None
        if self.case.draw is not None:
            rand = self.case.draw(
                self.config, self.s.batch_size, self.s.action_dim, self.generator, self.device
            )
        return batch, rand

    def step(self) -> None:
        batch, rand = self.draw()
        self.state, _ = self.case.update(self.state, batch, rand, self.config)

    def update_only(self) -> Callable[[], object]:
        batch, rand = self.draw()
        return lambda: self.case.update(self.state, batch, rand, self.config)


def _measure_training(
    case: _Case,
    mode: str,
    s: BenchmarkSettings,
    data: TransitionDataset,
    device: torch.device,
    count_flops: bool = True,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "name": case.name,
        "label": case.label,
        "mode": mode,
        "num_steps": case.num_steps,
        "iterations": 0,
        "seconds_per_iteration": None,
        "iterations_per_second": None,
        "extrapolated": False,
        "note": None,
        "flops_per_iteration": None,
        "flops_per_second": None,
        "fraction_of_matmul_rate": None,
        "ratio_to_edp_td3": None,
        "paper": list(case.paper),
        "loadavg": None,
        "compile_seconds": None,
        "error": None,
    }
    compiled = mode == "compiled"
    if compiled:
        case = dataclasses.replace(case, config=dataclasses.replace(case.config, compile=True))
    trainer = _Trainer(case, s, data, device)
    long_chain = (
        case.num_steps is not None
        and case.name.startswith("dql")
        and (case.num_steps >= s.dql_long_from)
    )
    try:
        if compiled:
            t0 = time.perf_counter()
            trainer.step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            record["compile_seconds"] = round(time.perf_counter() - t0, 2)
        if long_chain:
            times = _time_loop(
                trainer.step, device, 1, s.dql_long_iterations, s.dql_long_iterations, 0.0, math.inf
            )
            record["note"] = (
                f"K={case.num_steps}: median of only {len(times)} timed iteration(s) after 1 "
                "warm-up (each iteration is long)"
            )
        else:
            times = _time_loop(
                trainer.step,
                device,
                s.warmup,
                s.min_iterations,
                s.max_iterations,
                s.min_seconds,
                s.max_seconds,
            )
        sec = statistics.median(times)
        record["iterations"] = len(times)
        record["seconds_per_iteration"] = sec
        record["iterations_per_second"] = 1.0 / sec
        if count_flops and not compiled:
            record["flops_per_iteration"] = _count_flops(trainer.update_only())
    except Exception as exc:
        record["error"] = f"{type(exc).__name__}: {exc}"
    record["loadavg"] = _load1()
    return record


def _extrapolate_dql(records: list[dict[str, Any]], k: int, mode: str) -> dict[str, Any] | None:
    """Affine-in-K estimate of DQL's seconds and FLOPs per iteration at ``k`` from the two
    largest measured K (the chain's cost is affine in K: K forward/backward passes)."""
    measured = sorted(
        (
            r
            for r in records
            if r["name"].startswith("dql_k")
            and r["mode"] == mode
            and r["seconds_per_iteration"] is not None
            and not r["extrapolated"]
        ),
        key=lambda r: r["num_steps"],
    )
    if len(measured) < 2:
        return None
    a, b = measured[-2], measured[-1]
    ka, kb = a["num_steps"], b["num_steps"]
    if kb == ka or k <= kb:
        return None

    def affine(va: float, vb: float) -> float:
        return float(va + (vb - va) * (k - ka) / (kb - ka))

    sec = affine(float(a["seconds_per_iteration"]), float(b["seconds_per_iteration"]))
    flops = None
    if a["flops_per_iteration"] is not None and b["flops_per_iteration"] is not None:
        flops = round(affine(float(a["flops_per_iteration"]), float(b["flops_per_iteration"])))
    return {
        "seconds_per_iteration": sec,
        "iterations_per_second": 1.0 / sec,
        "flops_per_iteration": flops,
        "note": f"extrapolated affinely in K from measured K={ka} and K={kb} (not timed)",
    }


# --------------------------------------------------------------------------------------------
# Dense-matmul reference, sampling, seeds, memory, profile
# --------------------------------------------------------------------------------------------


def _measure_matmul(s: BenchmarkSettings, device: torch.device) -> dict[str, Any]:
    """The FLOP rate of the Linear layers of one noise-network forward, as plain addmm calls."""
    emb = 16
    dims = [s.obs_dim + s.action_dim + emb] + [s.hidden] * s.layers + [s.action_dim]
    shapes = [[s.batch_size, dims[i], dims[i + 1]] for i in range(len(dims) - 1)]
    g = torch.Generator().manual_seed(s.seed)
    xs = [torch.randn(b, i, generator=g).to(device) for b, i, _ in shapes]
    ws = [torch.randn(i, o, generator=g).to(device) for _, i, o in shapes]
    bs = [torch.randn(o, generator=g).to(device) for _, _, o in shapes]
    flops = sum(2 * b * i * o for b, i, o in shapes)

    def chain() -> None:
        for x, w, b in zip(xs, ws, bs, strict=True):
            torch.addmm(b, x, w)

    times = _time_loop(chain, device, 5, 50, 2000, 1.0, 10.0)
    sq_x = torch.randn(s.batch_size, s.hidden, generator=g).to(device)
    sq_w = torch.randn(s.hidden, s.hidden, generator=g).to(device)
    sq_times = _time_loop(lambda: sq_x @ sq_w, device, 5, 50, 2000, 0.5, 5.0)
    sec = statistics.median(times)
    return {
        "layer_shapes": shapes,
        "flops_per_pass": flops,
        "seconds_median": sec,
        "flops_per_second": flops / sec,
        "square_flops_per_second": 2 * s.batch_size * s.hidden**2 / statistics.median(sq_times),
        "loadavg": _load1(),
    }


def _measure_sampling(
    s: BenchmarkSettings, device: torch.device, modes: tuple[str, ...]
) -> list[dict[str, Any]]:
    config = EDPTD3Config(
        network=NetworkConfig(hidden=s.hidden, layers=s.layers),
        diffusion=DiffusionConfig(num_steps=s.num_steps),
    )
    init_gen = torch.Generator().manual_seed(s.seed)
    state = init_edp_td3(config, s.obs_dim, s.action_dim, init_gen, device)
    gen = torch.Generator(device=device).manual_seed(s.seed)
    records: list[dict[str, Any]] = []
    kinds: list[tuple[SamplerKind, int]] = [
        ("dpm_solver", config.diffusion.dpm_steps),
        ("ddpm", s.num_steps),
    ]
    for sampler, calls in kinds:
        for n in s.candidates:
            for states in s.sampling_states:
                rows = n * states
                obs = torch.randn(states, s.obs_dim, generator=gen, device=device)
                noise = draw_sampler_noise(sampler, s.num_steps, rows, s.action_dim, gen, device)
                uniforms = draw_eas_uniforms(states, gen, device)
                for mode in modes:
                    rec: dict[str, Any] = {
                        "sampler": sampler,
                        "model_calls": calls,
                        "candidates": n,
                        "states": states,
                        "mode": mode,
                        "calls": 0,
                        "seconds_per_call": None,
                        "actions_per_second": None,
                        "ratio_dpm_to_ddpm": None,
                        "loadavg": None,
                        "error": None,
                    }
                    if mode == "compiled" and sampler == "ddpm":
                        rec["error"] = "not compiled: the K-step DDPM loop would be unrolled"
                        records.append(rec)
                        continue
                    fn = _selector(sampler, mode)

                    def call(
                        fn: Callable[..., torch.Tensor] = fn,
                        obs: torch.Tensor = obs,
                        noise: SamplerNoise = noise,
                        uniforms: torch.Tensor = uniforms,
                        n: int = n,
                    ) -> torch.Tensor:
                        return fn(state, obs, noise, uniforms, n, config.diffusion)

                    try:
                        slow = sampler == "ddpm" and rows * calls > 200_000
                        times = _time_loop(
                            call,
                            device,
                            1,
                            1 if slow else s.min_iterations,
                            s.max_iterations,
                            0.0 if slow else s.min_seconds,
                            s.max_seconds,
                        )
                        sec = statistics.median(times)
                        rec.update(
                            calls=len(times),
                            seconds_per_call=sec,
                            actions_per_second=states / sec,
                        )
                    except Exception as exc:
                        rec["error"] = f"{type(exc).__name__}: {exc}"
                    rec["loadavg"] = _load1()
                    records.append(rec)
    for rec in records:
        if rec["sampler"] != "dpm_solver" or rec["actions_per_second"] is None:
            continue
        for other in records:
            if (
                other["sampler"] == "ddpm"
                and other["candidates"] == rec["candidates"]
                and other["states"] == rec["states"]
                and other["mode"] == "eager"
                and other["actions_per_second"]
            ):
                rec["ratio_dpm_to_ddpm"] = rec["actions_per_second"] / other["actions_per_second"]
    return records


_SELECTORS: dict[tuple[str, str], Callable[..., torch.Tensor]] = {}


def _selector(sampler: SamplerKind, mode: str) -> Callable[..., torch.Tensor]:
    key = (sampler, mode)
    if key not in _SELECTORS:

        def select(
            state: TrainState,
            obs: torch.Tensor,
            noise: SamplerNoise,
            uniforms: torch.Tensor,
            n: int,
            diffusion: DiffusionConfig,
        ) -> torch.Tensor:
            return select_actions(state, obs, noise, uniforms, n, diffusion, sampler)

        _SELECTORS[key] = compile_function(select) if mode == "compiled" else select
    return _SELECTORS[key]


def _measure_multiseed(
    s: BenchmarkSettings, data: TransitionDataset, device: torch.device
) -> dict[str, Any]:
    case = next(c for c in _cases(s) if c.name == "edp_td3")
    config = case.config
    states, batches, rands = [], [], []
    for i in range(s.seeds):
        init_gen = torch.Generator().manual_seed(s.seed + i)
        states.append(init_edp_td3(config, s.obs_dim, s.action_dim, init_gen, device))
        gen = torch.Generator(device=device).manual_seed(s.seed + 100 + i)
        batches.append(sample_batch(data, s.batch_size, gen))
        rands.append(draw_td3_randomness(config, s.batch_size, s.action_dim, gen, device))
    stacked, batch, rand = stack_states(states), stack_tree(batches), stack_tree(rands)
    out: dict[str, Any] = {
        "algorithm": "edp_td3",
        "seeds": s.seeds,
        "sequential_seconds": None,
        "vmap_seconds": None,
        "vmap_compiled_seconds": None,
        "speedup_vmap": None,
        "speedup_vmap_compiled": None,
        "faster_path": None,
        "loadavg": None,
        "error": None,
    }
    paths: list[tuple[str, Callable[..., Any]]] = [
        ("sequential_seconds", sequential_update(edp_td3_update, config)),
        ("vmap_seconds", vmap_update(edp_td3_update, config)),
    ]
    if s.multiseed_compiled and "compiled" in s.modes:
        paths.append(("vmap_compiled_seconds", vmap_update(edp_td3_update, config, compile=True)))
    try:
        for key, fn in paths:

            def call(fn: Callable[..., Any] = fn) -> object:
                return fn(stacked, batch, rand)

            times = _time_loop(
                call,
                device,
                s.warmup,
                max(2, s.min_iterations // 2),
                s.max_iterations,
                s.min_seconds,
                s.max_seconds,
            )
            out[key] = statistics.median(times)
        seq = out["sequential_seconds"]
        out["speedup_vmap"] = seq / out["vmap_seconds"]
        if out["vmap_compiled_seconds"] is not None:
            out["speedup_vmap_compiled"] = seq / out["vmap_compiled_seconds"]
        best = min((k for k, _ in paths), key=lambda k: out[k])
        out["faster_path"] = best.removesuffix("_seconds")
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    out["loadavg"] = _load1()
    return out


def _memory_probe(args: dict[str, Any]) -> dict[str, Any]:
    """Run in a fresh process: RSS after imports, then a short EDP + TD3 training run on a
    synthetic dataset of ``transitions`` rows; report the peak RSS (``ru_maxrss``)."""
    import resource

    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}
    s = BenchmarkSettings(**fields)
    device = _device(s.device)
    if s.threads:
        torch.set_num_threads(s.threads)

    def rss() -> int:
        # Peak RSS of this process. Linux: VmHWM of /proc/self/status (ru_maxrss would carry
        # the RSS of the forked parent across exec); elsewhere ru_maxrss.
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(kb) * (1 if sys.platform == "darwin" else 1024)

    baseline = rss()
    data = _dataset(s, s.memory_transitions, device)
    dataset_bytes = sum(getattr(data, f).nbytes for f in _DATA_FIELDS)
    case = next(c for c in _cases(s) if c.name == "edp_td3")
    trainer = _Trainer(case, s, data, device)
    for _ in range(s.memory_iterations):
        trainer.step()
    cuda_peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    peak = rss()
    return {
        "transitions": s.memory_transitions,
        "dataset_bytes": dataset_bytes,
        "baseline_rss_bytes": baseline,
        "peak_rss_bytes": peak,
        "limit_bytes": dataset_bytes + _GIB,
        "iterations": s.memory_iterations,
        "cuda_peak_allocated_bytes": cuda_peak,
        "met": peak < dataset_bytes + _GIB,
        "error": None,
    }


_DATA_FIELDS = ("observations", "actions", "rewards", "next_observations", "terminals", "timeouts")


def _measure_memory(s: BenchmarkSettings) -> dict[str, Any]:
    args = json.dumps(dataclasses.asdict(s))
    code = (
        "import json, sys; import edp_ref.benchmark.suite as b; "
        "print(json.dumps(b._memory_probe(json.loads(sys.argv[1]))))"
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, args], capture_output=True, text=True, check=True
        )
        result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        return result
    except (subprocess.CalledProcessError, ValueError, IndexError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        return {"error": f"{type(exc).__name__}: {exc} {detail[-500:]}", "met": None}


def _profile_update(
    s: BenchmarkSettings, data: TransitionDataset, device: torch.device
) -> dict[str, Any]:
    """One eager EDP + TD3 update under torch.profiler: are DPM-Solver's constants rebuilt?"""
    case = next(c for c in _cases(s) if c.name == "edp_td3")
    trainer = _Trainer(case, s, data, device)
    trainer.step()
    plans_before = len(samplers._PLANS)
    builds = 0
    original = samplers._build_plan

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal builds
        builds += 1
        return original(*args, **kwargs)

    samplers._build_plan = counting
    try:
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            trainer.step()
    finally:
        samplers._build_plan = original
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    small = ("aten::full", "aten::_to_copy", "aten::index", "aten::fill_")
    small_time = sum(e.self_cpu_time_total for e in events if e.key in small)
    return {
        "ops": int(sum(e.count for e in events if e.key.startswith("aten::"))),
        "dpm_plan_builds": builds,
        "dpm_plans_cached": plans_before,
        "small_op_fraction": small_time / total,
        "small_op_counts": {e.key: int(e.count) for e in events if e.key in small},
    }


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _find(records: list[dict[str, Any]], name: str, mode: str) -> dict[str, Any] | None:
    for r in records:
        if r["name"] == name and r["mode"] == mode and r["iterations_per_second"] is not None:
            return r
    return None


def _ratio_target(
    records: list[dict[str, Any]], a: str, b: str, threshold: float, title: str
) -> list[dict[str, Any]]:
    out = []
    for mode in ("eager", "compiled"):
        ra, rb = _find(records, a, mode), _find(records, b, mode)
        if ra is None or rb is None:
            continue
        value = ra["iterations_per_second"] / rb["iterations_per_second"]
        note = f"{mode}: {a} / {b} IPS"
        if rb["extrapolated"] or ra["extrapolated"]:
            note += " (one side extrapolated)"
        out.append(
            {
                "name": f"{title} [{mode}]",
                "value": value,
                "threshold": threshold,
                "met": value >= threshold,
                "note": note,
            }
        )
    return out


def _targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    records = result["training"]
    targets: list[dict[str, Any]] = []
    for mode in ("eager", "compiled"):
        r = _find(records, "edp_td3", mode)
        if r is None or r["fraction_of_matmul_rate"] is None:
            continue
        targets.append(
            {
                "name": f"EDP+TD3 FLOP rate >= 40% of dense matmul [{mode}]",
                "value": r["fraction_of_matmul_rate"],
                "threshold": 0.4,
                "met": r["fraction_of_matmul_rate"] >= 0.4,
                "note": "counted matmul FLOPs per iteration / median iteration time",
            }
        )
    dql_mid = f"dql_k{sorted(result['settings']['dql_steps'])[1]}"
    dql_low = f"dql_k{sorted(result['settings']['dql_steps'])[0]}"
    targets += _ratio_target(records, "edp_td3", dql_mid, 20.0, f"EDP+TD3 >= 20x {dql_mid}")
    targets += _ratio_target(records, "edp_td3", dql_low, 1.2, f"EDP+TD3 >= 1.2x {dql_low}")
    targets += _ratio_target(records, "edp_iql", "iql", 0.6, "EDP+IQL >= 0.6x IQL")
    ms = result.get("multiseed") or {}
    if ms.get("speedup_vmap") is not None:
        cuda = result["machine"]["device"] == "cuda"
        best = max(v for v in (ms["speedup_vmap"], ms.get("speedup_vmap_compiled")) if v)
        targets.append(
            {
                "name": f"{ms['seeds']} vmapped seeds vs sequential",
                "value": best,
                "threshold": 3.0 if cuda else None,
                "met": (best >= 3.0) if cuda else None,
                "note": f"CUDA target 3x; on CPU reported only (faster path: {ms['faster_path']})",
            }
        )
    mem = result.get("memory") or {}
    if mem.get("peak_rss_bytes") is not None:
        targets.append(
            {
                "name": "peak memory < dataset + 1 GiB",
                "value": mem["peak_rss_bytes"],
                "threshold": mem["limit_bytes"],
                "met": mem["met"],
                "note": f"{mem['transitions']} transitions, {mem['dataset_bytes']} bytes of data",
            }
        )
    return targets


def run_benchmark(
    settings: BenchmarkSettings, log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Run every measurement of ``settings`` and return the JSON document (module docstring)."""
    say = log or (lambda _msg: None)
    s = settings
    if s.threads:
        torch.set_num_threads(s.threads)
    device = _device(s.device)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch_version": torch.__version__,
            "device": device.type,
            "device_name": (
                torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine()
            ),
            "torch_threads": torch.get_num_threads(),
            "loadavg_start": _loadavg(),
            "loadavg_end": None,
        },
        "settings": dataclasses.asdict(s),
    }
    say(f"device {device}, {torch.get_num_threads()} threads, load {_loadavg()}")
    result["matmul"] = _measure_matmul(s, device)
    say(f"dense matmul: {result['matmul']['flops_per_second'] / 1e9:.1f} GFLOP/s")
    data = _dataset(s, s.dataset_transitions, device)
    records: list[dict[str, Any]] = []
    cases = _cases(s)
    longest_dql = max(s.dql_steps)
    for mode in s.modes:
        for case in cases:
            if mode == "compiled" and case.name not in s.compile_names:
                continue
            if case.name == f"dql_k{longest_dql}" and s.extrapolate_longest_dql:
                continue
            say(f"training {case.label} [{mode}] ...")
            rec = _measure_training(case, mode, s, data, device)
            records.append(rec)
            ips = rec["iterations_per_second"]
            say(f"  {ips:.3f} it/s" if ips else f"  error: {rec['error']}")
    # Diffusion-QL at the largest K: extrapolated (quick/tiny) and/or measured (full).
    est = _extrapolate_dql(records, longest_dql, "eager")
    if est is not None:
        case = next(c for c in cases if c.name == f"dql_k{longest_dql}")
        have = _find(records, case.name, "eager")
        rec = {
            "name": case.name if have is None else f"{case.name}_extrapolated",
            "label": case.label + (" (extrapolated)" if have is not None else ""),
            "mode": "eager",
            "num_steps": longest_dql,
            "iterations": 0,
            "extrapolated": True,
            "ratio_to_edp_td3": None,
            "flops_per_second": None,
            "fraction_of_matmul_rate": None,
            "paper": [],
            "loadavg": _load1(),
            "compile_seconds": None,
            "error": None,
            **est,
        }
        records.append(rec)
    rate = result["matmul"]["flops_per_second"]
    for r in records:
        if r["flops_per_iteration"] is None:
            eager = _find(records, r["name"], "eager")
            if eager is not None and eager["flops_per_iteration"] is not None:
                r["flops_per_iteration"] = eager["flops_per_iteration"]
        if r["flops_per_iteration"] is not None and r["seconds_per_iteration"]:
            r["flops_per_second"] = r["flops_per_iteration"] / r["seconds_per_iteration"]
            r["fraction_of_matmul_rate"] = r["flops_per_second"] / rate
        ref = _find(records, "edp_td3", r["mode"])
        if ref is not None and r["iterations_per_second"] is not None:
            r["ratio_to_edp_td3"] = r["iterations_per_second"] / ref["iterations_per_second"]
    result["training"] = records
    say("sampling ...")
    result["sampling"] = _measure_sampling(s, device, s.modes)
    result["sampling_paper"] = {
        "steps_per_second": PAPER_FIG2_SPS,
        "ratio_edp_to_edp_without_dpm": PAPER_FIG2_SPS["EDP"] / PAPER_FIG2_SPS["EDP w/o DPM"],
        "note": "environment steps per second on the paper's GPU (Fig. 2), not measured here",
    }
    say(f"multiseed (S={s.seeds}) ...")
    result["multiseed"] = _measure_multiseed(s, data, device)
    say("profile ...")
    result["profile"] = _profile_update(s, data, device)
    say(f"memory ({s.memory_transitions} transitions, subprocess) ...")
    result["memory"] = _measure_memory(s)
    result["machine"]["loadavg_end"] = _loadavg()
    result["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    result["targets"] = _targets(result)
    return result


def write_json(result: dict[str, Any], path: Path | str = DEFAULT_OUTPUT) -> Path:
    """Write the benchmark document as JSON (parent directories created)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")
    return out


def _fmt(x: float | int | None, spec: str = ".3g") -> str:
    return "-" if x is None else format(x, spec)


def format_report(result: dict[str, Any]) -> str:
    """The benchmark as plain-text tables (training, sampling, seeds, memory, targets)."""
    m = result["machine"]
    lines = [
        f"edp_ref benchmark ({result['settings']['preset']}), {result['created']}",
        f"device {m['device']} ({m['device_name']}), {m['cpu_count']} CPUs, "
        f"{m['torch_threads']} torch threads, load {m['loadavg_start']} -> {m['loadavg_end']}",
        f"dense matmul, same layer shapes: {result['matmul']['flops_per_second'] / 1e9:.1f} "
        f"GFLOP/s (square {result['matmul']['square_flops_per_second'] / 1e9:.1f} GFLOP/s)",
        "",
        "Training (ours: measured here; paper: Fig. 2 / App. C.5 on the authors' GPU)",
    ]
    head = (
        f"{'algorithm':<34}{'mode':<9}{'IPS':>9}{'ratio':>8}{'GFLOP/it':>10}{'GFLOP/s':>9}"
        f"{'%mm':>6}  {'paper IPS':<14}{'paper ratio':<17}load"
    )
    lines += [head, "-" * len(head)]
    for r in result["training"]:
        paper = r.get("paper") or []
        p_ips = " / ".join(f"{p['ips']:g}" for p in paper) or "-"
        p_ratio = " / ".join(f"{p['ratio_to_edp']:.3g}" for p in paper) or "-"
        label = r["label"] + (" *" if r["extrapolated"] else "")
        flops = r["flops_per_iteration"]
        fps = r["flops_per_second"]
        frac = r["fraction_of_matmul_rate"]
        if r["error"]:
            lines.append(f"{label:<34}{r['mode']:<9}error: {r['error'][:80]}")
            continue
        lines.append(
            f"{label:<34}{r['mode']:<9}{_fmt(r['iterations_per_second']):>9}"
            f"{_fmt(r['ratio_to_edp_td3']):>8}"
            f"{_fmt(flops / 1e9 if flops else None):>10}{_fmt(fps / 1e9 if fps else None):>9}"
            f"{_fmt(100 * frac if frac else None, '.0f'):>6}  {p_ips:<14}{p_ratio:<17}"
            f"{_fmt(r['loadavg'])}"
        )
    notes = [f"  {r['label']}: {r['note']}" for r in result["training"] if r.get("note")]
    if notes:
        lines += ["notes (* = extrapolated, not timed):", *notes]
    lines += [
        "ratio = IPS / EDP+TD3 IPS in the same mode; paper ratio = paper IPS / paper EDP IPS of "
        "the same figure (Fig. 2: 116.21, App. C.5: 412); Diffusion-QL K=5 row: paper's "
        "official PyTorch / DQL (JAX).",
        "",
        "Sampling: energy-based action selection (Alg. 2), actions per second",
    ]
    head2 = f"{'sampler':<12}{'calls':>6}{'N':>5}{'states':>8}  {'mode':<9}{'actions/s':>11}"
    head2 += f"{'DPM/DDPM':>10}  load"
    lines += [head2, "-" * len(head2)]
    for r in result["sampling"]:
        if r["error"]:
            err = f"{r['sampler']:<12}{r['model_calls']:>6}{r['candidates']:>5}{r['states']:>8}"
            lines.append(f"{err}  {r['mode']:<9}{r['error'][:60]}")
            continue
        lines.append(
            f"{r['sampler']:<12}{r['model_calls']:>6}{r['candidates']:>5}{r['states']:>8}  "
            f"{r['mode']:<9}{_fmt(r['actions_per_second']):>11}"
            f"{_fmt(r['ratio_dpm_to_ddpm']):>10}  {_fmt(r['loadavg'])}"
        )
    sp = result["sampling_paper"]
    lines.append(
        f"paper (Fig. 2, environment steps/s): EDP {sp['steps_per_second']['EDP']} vs EDP w/o DPM "
        f"{sp['steps_per_second']['EDP w/o DPM']} (ratio {sp['ratio_edp_to_edp_without_dpm']:.3g})"
    )
    ms = result["multiseed"]
    lines += [
        "",
        f"Seeds: {ms['seeds']} x EDP+TD3 per iteration: sequential "
        f"{_fmt(ms['sequential_seconds'])} s, vmap {_fmt(ms['vmap_seconds'])} s "
        f"(speed-up {_fmt(ms['speedup_vmap'])}), vmap compiled "
        f"{_fmt(ms['vmap_compiled_seconds'])} s (speed-up {_fmt(ms['speedup_vmap_compiled'])}); "
        f"faster: {ms['faster_path']}" + (f"; error {ms['error']}" if ms["error"] else ""),
    ]
    pr = result["profile"]
    lines.append(
        f"Profile of one EDP+TD3 update: {pr['ops']} aten ops, DPM-Solver plans built "
        f"{pr['dpm_plan_builds']}, full/_to_copy/index/fill share "
        f"{100 * pr['small_op_fraction']:.1f}% of self CPU time"
    )
    mem = result["memory"]
    if mem.get("error"):
        lines.append(f"Memory: error {mem['error']}")
    else:
        lines.append(
            f"Memory: {mem['transitions']} transitions ({mem['dataset_bytes'] / 2**20:.0f} MiB): "
            f"peak RSS {mem['peak_rss_bytes'] / 2**20:.0f} MiB (after imports "
            f"{mem['baseline_rss_bytes'] / 2**20:.0f} MiB), limit "
            f"{mem['limit_bytes'] / 2**20:.0f} MiB"
        )
    lines += ["", "Targets (issue 7)"]
    for t in result["targets"]:
        met = {True: "MET", False: "MISSED", None: "reported"}[t["met"]]
        lines.append(
            f"  {met:<9}{t['name']}: {_fmt(t['value'])} (threshold {_fmt(t['threshold'])}) "
            f"- {t['note']}"
        )
    lines.append(f"elapsed {result['elapsed_seconds']} s")
    return "\n".join(lines)
