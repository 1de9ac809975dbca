"""Where an EDP + TD3 update spends its time: one eager update under ``torch.profiler``.

EDP's policy-evaluation target samples next actions with DPM-Solver (Sec. 4.2, App. B; 15
model calls): its constants (:class:`edp_ref.core.dpm_solver.DPMSolverPlan`: times, orders and
coefficients) must be built once and cached, not rebuilt in every update. :func:`profile_update`
counts the plans built during one update (0 when cached) and the share of self-CPU time of the
small ops such rebuilding shows up as (``aten::full``, ``aten::_to_copy``, ``aten::index``,
``aten::fill_``).
"""

from __future__ import annotations

from typing import Any

import torch

from edp_ref.benchmark.cases import Trainer, training_case
from edp_ref.benchmark.settings import BenchmarkSettings
from edp_ref.benchmark.training import REFERENCE_RECORD
from edp_ref.core import dpm_solver
from edp_ref.data import TransitionDataset

__all__ = ["SMALL_OPS", "profile_update"]

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
    builds = 0
    original = dpm_solver._build_plan

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal builds
        builds += 1
        return original(*args, **kwargs)

    dpm_solver._build_plan = counting
    try:
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            trainer.step()
    finally:
        dpm_solver._build_plan = original
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    small_time = sum(e.self_cpu_time_total for e in events if e.key in SMALL_OPS)
    return {
        "ops": int(sum(e.count for e in events if e.key.startswith("aten::"))),
        "dpm_plan_builds": builds,
        "dpm_plans_cached": plans_before,
        "small_op_fraction": small_time / total,
        "small_op_counts": {e.key: int(e.count) for e in events if e.key in SMALL_OPS},
    }
