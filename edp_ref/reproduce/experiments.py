"""The experiments of the paper (its tables and figures) and their grids of runs (Sec. 5, App. C).

An experiment is a table or figure to reproduce: its paper tasks and the columns it measures
(:data:`TABLE_LAYOUTS`: each measured column beside the paper's columns it stands for;
:data:`edp_ref.paper.FIGURES`: every figure trains EDP + TD3). :func:`build_grid` makes its runs,
tasks x columns x seeds, under a budget (:mod:`edp_ref.reproduce.presets`) and the user's
filters, with each task's data plan; :mod:`edp_ref.reproduce.launchers` runs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edp_ref.config_checks import check_int
from edp_ref.paper import FIGURES, PAPER_DATASETS, paper_dataset, paper_table
from edp_ref.reproduce.columns import ALGOS, POLICIES, Column, column
from edp_ref.reproduce.presets import DataPlan, Preset, plan_data
from edp_ref.runner.config import default_config
from edp_ref.runner.spec import MAX_SEED, CompileChoice, RunSpec

__all__ = [
    "TABLE_LAYOUTS",
    "ColumnGroup",
    "Experiment",
    "build_grid",
    "check_tasks",
    "experiment",
    "select_columns",
]


@dataclass(frozen=True)
class ColumnGroup:
    """A measured column of a table (``label``: the paper's, ``TD3+BC EDP``) and the paper's
    columns of RAT and OMS numbers it stands beside (None: the paper has none)."""

    label: str
    column: Column
    paper_rat: str | None = None
    paper_oms: str | None = None


_DQL_EDP = (
    ColumnGroup("DQL (JAX)", column("dql", "diffusion"), paper_oms="DQL (JAX)"),
    ColumnGroup("EDP", column("td3", "edp"), paper_oms="EDP"),
)
#: What each table measures, in the paper's column order.
TABLE_LAYOUTS: dict[int, tuple[ColumnGroup, ...]] = {
    1: _DQL_EDP,
    2: tuple(
        ColumnGroup(f"{name} {cls}", column(algo, policy), paper_rat=f"{name} {cls}")
        for name, algo in (("TD3+BC", "td3"), ("CRR", "crr"), ("IQL", "iql"))
        for cls, policy in (("FF", "ff"), ("EDP", "edp"))
    ),
    4: _DQL_EDP,
    5: tuple(
        ColumnGroup(f"EDP + {n}", column(a, "edp"), f"EDP + {n} Average", f"EDP + {n} Best")
        for n, a in (("TD3", "td3"), ("CRR", "crr"), ("IQL", "iql"))
    ),
    6: (
        ColumnGroup("TD3+Diff", column("td3", "edp"), paper_rat="TD3+Diff"),
        ColumnGroup("TD3+EAS", column("td3-eas", "ff"), paper_rat="TD3+EAS"),
        ColumnGroup("TD3", column("td3", "ff"), paper_rat="TD3"),
    ),
    7: (
        ColumnGroup("DDPM", column("td3-k100", "diffusion"), paper_oms="DDPM"),
        ColumnGroup("Action Approx", column("td3-k100", "edp"), paper_oms="Action Approx"),
    ),
}


@dataclass(frozen=True)
class Experiment:
    """A table or figure to reproduce: ``kind`` "table" or "figure", its number, its paper tasks
    and the columns it measures."""

    kind: str
    number: int
    paper_tasks: tuple[str, ...]
    columns: tuple[Column, ...]

    @property
    def key(self) -> str:
        return f"{self.kind}{self.number}"


def experiment(kind: str, number: int) -> Experiment:
    """The table (1, 2, 4, 5, 6, 7) or figure (3-7) to reproduce; ``ValueError`` otherwise."""
    if kind == "table":
        # Table 1's rows are domain averages: its tasks are Table 4's.
        rows = paper_table(4 if number == 1 else number).task_rows()
        tasks = tuple(r.label for r in rows if r.label in PAPER_DATASETS)
        return Experiment("table", number, tasks, tuple(g.column for g in TABLE_LAYOUTS[number]))
    if kind == "figure":
        if number not in FIGURES:
            raise ValueError(
                f"figure {number} has no training grid; figures: 2 (speed, from "
                f"scripts/benchmark.py) and {sorted(FIGURES)}"
            )
        return Experiment("figure", number, FIGURES[number].tasks, (column("td3", "edp"),))
    raise ValueError(f"experiment: kind must be 'table' or 'figure', got {kind!r}")


def _check_filter(name: str, values: Sequence[Any] | None, known: Sequence[Any]) -> None:
    if values is None:
        return
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise TypeError(f"build_grid: {name} must be a list or None, got {values!r}")
    if not values:
        raise ValueError(
            f"build_grid: {name} is empty, so the grid would hold no run; pass None for the "
            f"preset's {name}, or some of: {', '.join(map(str, known))}"
        )
    unknown = [v for v in values if v not in known]
    if unknown and name in ("algos", "policies"):
        what = "algorithm" if name == "algos" else "policy class"
        raise ValueError(f"unknown {what} {unknown[0]!r}; known: {', '.join(known)}")


def check_tasks(exp: Experiment, tasks: Sequence[str]) -> None:
    """``ValueError`` unless every task is a paper dataset and, for a table, one of its rows (a
    figure may plot any paper dataset)."""
    for t in tasks:
        paper_dataset(t)
    outside = [t for t in tasks if exp.kind == "table" and t not in exp.paper_tasks]
    if outside:
        raise ValueError(
            f"{exp.kind} {exp.number} has no row for {', '.join(outside)}; its datasets: "
            + ", ".join(exp.paper_tasks)
        )


def select_columns(
    exp: Experiment,
    preset: Preset,
    algos: Sequence[str] | None = None,
    policies: Sequence[str] | None = None,
) -> list[Column]:
    """The columns ``algos`` and ``policies`` keep (neither given: the preset's subset,
    :attr:`Preset.columns`); ``ValueError`` listing the experiment's columns when none is left."""
    if algos is None and policies is None:
        subset = preset.columns.get(exp.key)
        columns = [c for c in exp.columns if subset is None or c.key in subset]
    else:
        columns = [
            c
            for c in exp.columns
            if (algos is None or c.algo in algos) and (policies is None or c.policy in policies)
        ]
    if not columns:
        raise ValueError(
            f"{exp.kind} {exp.number} has no agent left after the filters; its agents: "
            + ", ".join(f"{c.algo}/{c.policy}" for c in exp.columns)
        )
    return columns


def build_grid(
    exp: Experiment,
    preset: Preset,
    out: Path,
    *,
    tasks: Sequence[str] | None = None,
    algos: Sequence[str] | None = None,
    policies: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    eas_candidates: int | None = None,
    compile: CompileChoice = "auto",
    device: str = "cpu",
    missing_ok: bool = False,
) -> tuple[list[tuple[RunSpec, Path]], list[DataPlan]]:
    """The runs (spec, folder) and data plans of an experiment under a preset and the filters.

    ``tasks`` pass :func:`check_tasks`; ``algos`` / ``policies`` filter the experiment's columns
    (:func:`select_columns`; unknown names raise); ``seeds`` and ``eas_candidates`` (>= 1)
    replace the preset's; ``compile`` and ``device`` are every run's ``RunSpec.compile`` and
    ``RunSpec.device`` (``cuda`` under Ray: the GPU Ray assigned to the run's task). A filter
    that leaves no run raises ``ValueError`` before any data is planned. ``missing_ok`` (the dry
    run) plans a task without data instead of raising
    (:func:`~edp_ref.reproduce.presets.plan_data`).
    """
    _check_filter("tasks", tasks, exp.paper_tasks)
    _check_filter("algos", algos, ALGOS)
    _check_filter("policies", policies, POLICIES)
    _check_filter("seeds", seeds, preset.seeds)
    check_int("build_grid: eas_candidates", eas_candidates, 1, optional=True)
    for seed in seeds or ():
        check_int("build_grid: seed", seed, 0, MAX_SEED)
    check_tasks(exp, tasks or ())
    chosen = tuple(tasks) if tasks is not None else preset.tasks.get(exp.key, exp.paper_tasks)
    columns = select_columns(exp, preset, algos, policies)
    plans = [plan_data(t, preset, out, missing_ok=missing_ok) for t in chosen]
    runs: list[tuple[int, bool, RunSpec, Path]] = []
    for plan in plans:
        for c in columns:
            config = default_config(c.algorithm, plan.task, hidden=preset.hidden)
            for seed in seeds if seeds is not None else preset.seeds:
                spec = RunSpec(
                    task=plan.task,
                    algorithm=c.algorithm,
                    seed=seed,
                    epochs=preset.epochs_for(plan.task),
                    iterations_per_epoch=preset.iterations_per_epoch,
                    batch_size=preset.batch_size,
                    eval_every=preset.eval_every,
                    final_eval_every=preset.final_eval_every,
                    eval_episodes=preset.eval_episodes,
                    eas_candidates=eas_candidates or preset.eas_candidates,
                    eval_envs=preset.eval_envs,
                    data_source=plan.source,
                    local_root=plan.local_root,
                    compile=compile,
                    device=device,
                    config=config,
                )
                # Seed by seed, so that a grid stopped early has whole seeds to report; within a
                # seed, diffusion-policy runs first: they take longer than feed-forward ones
                # (their update and EAS), so parallel workers finish closer together.
                dir_ = out / "runs" / preset.name / spec.name
                runs.append((seed, c.policy == "ff", spec, dir_))
    runs.sort(key=lambda r: (r[0], r[1]))
    return [(spec, dir_) for _, _, spec, dir_ in runs], plans
