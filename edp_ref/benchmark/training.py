"""Training speed (Figure 2's training IPS, Appendix C.5): one record per (case, mode).

The cases come from :data:`edp_ref.algorithms.REGISTRY`: every registered algorithm, with its
paper defaults except the benchmark's network (``hidden`` x ``layers``), K = ``num_steps`` for a
diffusion policy, the batch checks off (no host synchronisation inside an iteration) and
compilation chosen by the mode. Diffusion-QL (:data:`CHAIN_ALGORITHM`), whose update
backpropagates through the whole K-step chain (Sec. 4.4) so that its cost grows with K, is one
case per K of ``dql_steps`` (record ``dql_k<K>``); every other record is named as registered.
An algorithm registered later is benchmarked without a change here.

An iteration (:class:`Trainer`) is one :class:`edp_ref.algorithms.step.TrainingStep`: a uniform
batch and the update's randomness drawn on the device, then one update, on the synthetic dataset
of :mod:`edp_ref.data.synthetic`. :func:`measure_training` times one case in one mode and counts
the FLOPs of one update; :func:`extrapolate_dql` estimates Diffusion-QL at the largest K
affinely in K from the two largest measured K (its chain costs K forward and backward passes);
:func:`training_records` runs every case and fills the derived fields (FLOP rate, its fraction of
the dense-matmul rate, the ratio to EDP + TD3 in the same mode).

:func:`profile_update` runs one eager EDP + TD3 update under ``torch.profiler``. EDP's
policy-evaluation target samples next actions with DPM-Solver (Sec. 4.2, App. B; 15 model
calls): its constants (:class:`edp_ref.core.dpm_solver.DPMSolverPlan`) must be built once and
cached, not rebuilt in every update; the profile counts the plans built during one update (0
when cached) and the share of self-CPU time of the small ops such rebuilding shows up as.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from unittest import mock

import torch
from torch.profiler import ProfilerActivity

from edp_ref.algorithms import REGISTRY, Algorithm, DiffusionAlgorithmConfig
from edp_ref.algorithms.step import TrainingStep
from edp_ref.benchmark.report import REFERENCE_RECORD, find_record, paper_training_figures
from edp_ref.benchmark.settings import BenchmarkSettings
from edp_ref.benchmark.timing import count_flops, load1, time_loop
from edp_ref.core import dpm_solver
from edp_ref.data import TransitionDataset

__all__ = [
    "CHAIN_ALGORITHM",
    "DATASET_FIELDS",
    "REFERENCE_RECORD",
    "SMALL_OPS",
    "BenchmarkCase",
    "Trainer",
    "benchmark_config",
    "check_compile_names",
    "extrapolate_dql",
    "find_record",
    "measure_training",
    "profile_update",
    "training_case",
    "training_cases",
    "training_records",
]

#: The registered algorithm benchmarked at every K of ``BenchmarkSettings.dql_steps``.
CHAIN_ALGORITHM = "dql"

#: The tensors of a :class:`~edp_ref.data.TransitionDataset` (their bytes are the dataset's size).
DATASET_FIELDS = (
    "observations",
    "actions",
    "rewards",
    "next_observations",
    "terminals",
    "timeouts",
)


@dataclass(frozen=True)
class BenchmarkCase:
    """One training record's algorithm (``spec``) and configuration (the benchmark's network and
    K, checks and compilation off): ``name`` and ``label`` are the registry's name and title
    (``dql_k<K>`` and "Diffusion-QL K=<K>" for Diffusion-QL), ``num_steps`` K (None for a
    feed-forward policy), ``paper`` the paper's figures set beside it."""

    name: str
    label: str
    spec: Algorithm
    config: Any
    num_steps: int | None
    paper: tuple[dict[str, Any], ...] = ()

    @property
    def backpropagates_through_chain(self) -> bool:
        """Whether every update runs the K-step chain with gradients (Diffusion-QL)."""
        return self.spec.name == CHAIN_ALGORITHM

    def compiled(self) -> BenchmarkCase:
        """The same case with ``torch.compile`` on."""
        return dataclasses.replace(self, config=dataclasses.replace(self.config, compile=True))


def benchmark_config(
    spec: Algorithm, hidden: int, layers: int, num_steps: int, **diffusion: Any
) -> Any:
    """``spec``'s default config (the paper's) at a benchmark's sizes: ``hidden`` x ``layers``
    networks and, for a diffusion policy, K = ``num_steps`` and the other ``diffusion`` fields;
    batch checks (a host synchronisation) and compilation off."""
    default = spec.config_class()
    changes: dict[str, Any] = {
        "network": dataclasses.replace(default.network, hidden=hidden, layers=layers),
        "check_batch": False,
        "compile": False,
    }
    if isinstance(default, DiffusionAlgorithmConfig):
        changes["diffusion"] = dataclasses.replace(
            default.diffusion, num_steps=num_steps, **diffusion
        )
    return dataclasses.replace(default, **changes)


def _case(spec: Algorithm, s: BenchmarkSettings, name: str, label: str, k: int) -> BenchmarkCase:
    config = benchmark_config(spec, s.hidden, s.layers, k)
    diffusion = isinstance(config, DiffusionAlgorithmConfig)
    return BenchmarkCase(
        name=name,
        label=label,
        spec=spec,
        config=config,
        num_steps=k if diffusion else None,
        paper=paper_training_figures(name),
    )


def training_cases(s: BenchmarkSettings) -> list[BenchmarkCase]:
    """Every training case of ``s``, in registry order (Diffusion-QL once per K)."""
    cases: list[BenchmarkCase] = []
    for name, spec in REGISTRY.items():
        if name == CHAIN_ALGORITHM:
            for k in s.dql_steps:
                cases.append(_case(spec, s, f"{name}_k{k}", f"Diffusion-QL K={k}", k))
        else:
            cases.append(_case(spec, s, name, spec.title, s.num_steps))
    return cases


def training_case(s: BenchmarkSettings, name: str) -> BenchmarkCase:
    """The training case named ``name``; ``ValueError`` listing the case names otherwise."""
    cases = training_cases(s)
    for case in cases:
        if case.name == name:
            return case
    raise ValueError(
        f"no benchmark training case {name!r}; cases: {', '.join(c.name for c in cases)}"
    )


def check_compile_names(s: BenchmarkSettings) -> None:
    """Raise ``ValueError`` if ``s.compile_names`` holds a name that is no training case of ``s``
    (the message lists the case names)."""
    names = [c.name for c in training_cases(s)]
    unknown = [n for n in s.compile_names if n not in names]
    if unknown:
        raise ValueError(
            f"BenchmarkSettings.compile_names = {s.compile_names!r}: {unknown} name no training "
            f"case; cases: {', '.join(names)}"
        )


class Trainer:
    """One case's state and its :class:`~edp_ref.algorithms.step.TrainingStep` (batch and
    randomness drawn on the device, then one update)."""

    def __init__(
        self,
        case: BenchmarkCase,
        s: BenchmarkSettings,
        data: TransitionDataset,
        device: torch.device,
    ) -> None:
        self.training_step = TrainingStep(
            algorithm=case.spec,
            config=case.config,
            dataset=data,
            batch_size=s.batch_size,
            batches=torch.Generator(device=device).manual_seed(s.seed),
            randomness=torch.Generator(device=device).manual_seed(s.seed + 1),
        )
        init_gen = torch.Generator().manual_seed(s.seed)
        self.state = case.spec.init(case.config, s.obs_dim, s.action_dim, init_gen, device)

    def step(self) -> None:
        """One iteration: draw, update, keep the new state."""
        self.state, _ = self.training_step(self.state)

    def update_only(self) -> Callable[[], object]:
        """One update on a batch drawn now, as a call (for counting its FLOPs)."""
        batch, randomness = self.training_step.draw()
        step = self.training_step
        return lambda: step.algorithm.update(self.state, batch, randomness, step.config)


def _record(case: BenchmarkCase, mode: str, **values: Any) -> dict[str, Any]:
    """A training record of ``case`` in ``mode``: ``values`` over no measurement."""
    return {
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
        **values,
    }


def measure_training(
    case: BenchmarkCase,
    mode: str,
    s: BenchmarkSettings,
    data: TransitionDataset,
    device: torch.device,
) -> dict[str, Any]:
    """Time ``case`` in ``mode`` (median seconds per iteration) and, eager, count its FLOPs.

    A failure is recorded in ``error``, not raised: one case that cannot run leaves the others.
    """
    record = _record(case, mode)
    compiled = mode == "compiled"
    if compiled:
        case = case.compiled()
    long_chain = (
        case.backpropagates_through_chain
        and case.num_steps is not None
        and case.num_steps >= s.dql_long_from
    )
    try:
        trainer = Trainer(case, s, data, device)
        if compiled:
            t0 = time.perf_counter()
            trainer.step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            record["compile_seconds"] = round(time.perf_counter() - t0, 2)
        if long_chain:  # only dql_long_iterations timed calls after one warm-up
            n = s.dql_long_iterations
            times = time_loop(trainer.step, device, 1, n, n, 0.0, math.inf)
            record["note"] = (
                f"K={case.num_steps}: median of only {len(times)} timed iteration(s) after 1 "
                "warm-up (each iteration is long)"
            )
        else:
            times = time_loop(
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
        if not compiled:
            record["flops_per_iteration"] = count_flops(trainer.update_only())
    except Exception as exc:
        record["error"] = f"{type(exc).__name__}: {exc}"
    record["loadavg"] = load1()
    return record


def extrapolate_dql(records: list[dict[str, Any]], k: int, mode: str) -> dict[str, Any] | None:
    """Affine-in-K estimate of DQL's seconds and FLOPs per iteration at ``k`` from the two
    largest measured K (the chain's cost is affine in K: K forward/backward passes); None when
    fewer than two K were measured or ``k`` is not beyond them."""
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


def training_records(
    s: BenchmarkSettings,
    data: TransitionDataset,
    device: torch.device,
    matmul_rate: float,
    say: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Every training record of ``s`` (the JSON's ``training`` list), derived fields filled.

    Diffusion-QL at the largest K is timed unless ``extrapolate_longest_dql``, and extrapolated
    (eager) whenever two smaller K were measured: ``dql_k<K>`` when it was not timed,
    ``dql_k<K>_extrapolated`` beside the timed one otherwise. ``s.compile_names`` is checked by
    the caller (:func:`check_compile_names`).
    """
    cases = training_cases(s)
    longest = max(s.dql_steps)
    chain_cases = [c for c in cases if c.backpropagates_through_chain]
    longest_case = next((c for c in chain_cases if c.num_steps == longest), None)
    records: list[dict[str, Any]] = []
    for mode in s.modes:
        for case in cases:
            if mode == "compiled" and case.name not in s.compile_names:
                continue
            if case is longest_case and s.extrapolate_longest_dql:
                continue
            say(f"training {case.label} [{mode}] ...")
            rec = measure_training(case, mode, s, data, device)
            records.append(rec)
            ips = rec["iterations_per_second"]
            say(f"  {ips:.3f} it/s" if ips else f"  error: {rec['error']}")
    estimate = extrapolate_dql(records, longest, "eager")
    if estimate is not None and longest_case is not None:
        case = longest_case
        rec = _record(case, "eager", **estimate, extrapolated=True, paper=[], loadavg=load1())
        if find_record(records, case.name, "eager") is not None:  # timed too
            rec["name"] += "_extrapolated"
            rec["label"] += " (extrapolated)"
        records.append(rec)
    for r in records:
        if r["flops_per_iteration"] is None:
            eager = find_record(records, r["name"], "eager")
            if eager is not None and eager["flops_per_iteration"] is not None:
                r["flops_per_iteration"] = eager["flops_per_iteration"]
        if r["flops_per_iteration"] is not None and r["seconds_per_iteration"]:
            r["flops_per_second"] = r["flops_per_iteration"] / r["seconds_per_iteration"]
            r["fraction_of_matmul_rate"] = r["flops_per_second"] / matmul_rate
        ref = find_record(records, REFERENCE_RECORD, r["mode"])
        if ref is not None and r["iterations_per_second"] is not None:
            r["ratio_to_edp_td3"] = r["iterations_per_second"] / ref["iterations_per_second"]
    return records


#: The per-call residue of constant handling whose self-CPU share the profile reports.
SMALL_OPS = ("aten::full", "aten::_to_copy", "aten::index", "aten::fill_")


def profile_update(
    s: BenchmarkSettings, data: TransitionDataset, device: torch.device
) -> dict[str, Any]:
    """The JSON's ``profile`` section: one eager EDP + TD3 update after one warm-up update."""
    trainer = Trainer(training_case(s, REFERENCE_RECORD), s, data, device)
    trainer.step()
    # The plan cache and builder are private to dpm_solver; counting calls of the builder is the
    # only way to see a rebuild from outside (the profiler shows ops, not their Python caller).
    plans_before = len(dpm_solver._PLANS)
    builder = mock.patch.object(dpm_solver, "_build_plan", wraps=dpm_solver._build_plan)
    with builder as build_plan, torch.profiler.profile(activities=[ProfilerActivity.CPU]) as prof:
        trainer.step()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    small_time = sum(e.self_cpu_time_total for e in events if e.key in SMALL_OPS)
    return {
        "ops": int(sum(e.count for e in events if e.key.startswith("aten::"))),
        "dpm_plan_builds": build_plan.call_count,
        "dpm_plans_cached": plans_before,
        "small_op_fraction": small_time / total,
        "small_op_counts": {e.key: int(e.count) for e in events if e.key in SMALL_OPS},
    }
