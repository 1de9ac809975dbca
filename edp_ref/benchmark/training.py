"""Training speed (Figure 2's training IPS, Appendix C.5): one record per (case, mode).

:func:`measure_training` times one case (:mod:`edp_ref.benchmark.cases`) in one mode and counts
the FLOPs of one update; :func:`extrapolate_dql` estimates Diffusion-QL at the largest K
affinely in K from the two largest measured K (its chain costs K forward and backward passes);
:func:`training_records` runs every case of the settings and fills the derived fields (FLOP rate,
its fraction of the dense-matmul rate, the ratio to EDP + TD3 in the same mode).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from edp_ref.benchmark.cases import BenchmarkCase, Trainer, check_compile_names, training_cases
from edp_ref.benchmark.settings import BenchmarkSettings
from edp_ref.benchmark.timing import count_flops, load1, time_loop
from edp_ref.data import TransitionDataset

__all__ = [
    "REFERENCE_RECORD",
    "extrapolate_dql",
    "find_record",
    "measure_training",
    "training_records",
]

#: The record every ``ratio_to_edp_td3`` divides by (EDP + TD3, the paper's "EDP").
REFERENCE_RECORD = "edp_td3"


def find_record(records: list[dict[str, Any]], name: str, mode: str) -> dict[str, Any] | None:
    """The measured (or extrapolated) record ``name`` in ``mode`` with a speed, or None."""
    for r in records:
        if r["name"] == name and r["mode"] == mode and r["iterations_per_second"] is not None:
            return r
    return None


def measure_training(
    case: BenchmarkCase,
    mode: str,
    s: BenchmarkSettings,
    data: TransitionDataset,
    device: torch.device,
    count: bool = True,
) -> dict[str, Any]:
    """Time ``case`` in ``mode`` (median seconds per iteration) and, eager, count its FLOPs.

    A failure is recorded in ``error``, not raised: one case that cannot run leaves the others.
    """
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
        if long_chain:
            times = time_loop(
                trainer.step, device, 1, s.dql_long_iterations, s.dql_long_iterations, 0.0, math.inf
            )
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
        if count and not compiled:
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


def _extrapolated_record(
    case: BenchmarkCase, records: list[dict[str, Any]], estimate: dict[str, Any]
) -> dict[str, Any]:
    have = find_record(records, case.name, "eager")
    return {
        "name": case.name if have is None else f"{case.name}_extrapolated",
        "label": case.label + (" (extrapolated)" if have is not None else ""),
        "mode": "eager",
        "num_steps": case.num_steps,
        "iterations": 0,
        "extrapolated": True,
        "ratio_to_edp_td3": None,
        "flops_per_second": None,
        "fraction_of_matmul_rate": None,
        "paper": [],
        "loadavg": load1(),
        "compile_seconds": None,
        "error": None,
        **estimate,
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
    ``dql_k<K>_extrapolated`` beside the timed one otherwise.

    Raises:
        ValueError: ``s.compile_names`` naming no training case (:func:`check_compile_names`).
    """
    cases = training_cases(s)
    check_compile_names(s)
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
        records.append(_extrapolated_record(longest_case, records, estimate))
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
