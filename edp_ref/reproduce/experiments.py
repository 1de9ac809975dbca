"""Grids of runs for the paper's tables and figures (Sec. 5, Appendix C).

A table or figure of the paper needs a grid of runs: tasks x agents (algorithm, policy class) x
seeds. :func:`target` names what a table or figure measures (:data:`TABLE_AGENTS`,
:data:`edp_ref.paper.FIGURES`); :func:`build_grid` makes its runs under a budget
(:mod:`edp_ref.runner.presets`) and the user's filters, with each task's data plan
(:mod:`edp_ref.runner.data_plans`). The runs are then run by :mod:`edp_ref.runner.launchers`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edp_ref.config_checks import check_int
from edp_ref.paper import FIGURES, PAPER_DATASETS, paper_dataset, paper_table
from edp_ref.runner.agents import AGENTS, ALGORITHMS, agent_spec
from edp_ref.runner.data_plans import DataPlan, plan_data
from edp_ref.runner.presets import Preset
from edp_ref.runner.spec import MAX_SEED, CompileChoice, RunSpec

__all__ = [
    "FIGURE_AGENTS",
    "TABLE_AGENTS",
    "Target",
    "build_grid",
    "target",
]

#: The agents each table measures (the paper's columns they stand beside:
#: :data:`edp_ref.runner.report_tables.TABLE_LAYOUTS`).
TABLE_AGENTS: dict[int, tuple[tuple[str, str], ...]] = {
    1: (("dql", "diffusion"), ("td3", "edp")),
    2: (
        ("td3", "ff"),
        ("td3", "edp"),
        ("crr", "ff"),
        ("crr", "edp"),
        ("iql", "ff"),
        ("iql", "edp"),
    ),
    4: (("dql", "diffusion"), ("td3", "edp")),
    5: (("td3", "edp"), ("crr", "edp"), ("iql", "edp")),
    6: (("td3", "edp"), ("td3-eas", "ff"), ("td3", "ff")),
    7: (("td3-k100", "diffusion"), ("td3-k100", "edp")),
}

#: The agent every figure of Secs. 5.3-5.4 and App. C.4 trains (:data:`edp_ref.paper.FIGURES`).
FIGURE_AGENTS: tuple[tuple[str, str], ...] = (("td3", "edp"),)


@dataclass(frozen=True)
class Target:
    """What to reproduce: ``kind`` "table" or "figure", its number, paper tasks and agents."""

    kind: str
    number: int
    paper_tasks: tuple[str, ...]
    agents: tuple[tuple[str, str], ...]

    @property
    def key(self) -> str:
        return f"{self.kind}{self.number}"


def target(kind: str, number: int) -> Target:
    """The table (1, 2, 4, 5, 6, 7) or figure (3-7) to reproduce; ``ValueError`` otherwise."""
    if kind == "table":
        table = paper_table(number)
        tasks = [r.label for r in table.task_rows()]
        if number == 1:  # domain rows: the tasks are Table 4's
            tasks = [r.label for r in paper_table(4).task_rows()]
        tasks = [t for t in tasks if t in PAPER_DATASETS]
        return Target("table", number, tuple(tasks), TABLE_AGENTS[number])
    if kind == "figure":
        if number not in FIGURES:
            raise ValueError(
                f"figure {number} has no training grid; figures: 2 (speed, from "
                f"scripts/benchmark.py) and {sorted(FIGURES)}"
            )
        return Target("figure", number, FIGURES[number].tasks, FIGURE_AGENTS)
    raise ValueError(f"target: kind must be 'table' or 'figure', got {kind!r}")


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


def build_grid(
    tgt: Target,
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
) -> tuple[list[tuple[RunSpec, Path]], list[DataPlan]]:
    """The runs (spec, folder) and data plans of a target under a preset and the filters.

    ``tasks`` must be paper datasets, for a table its rows (another name raises ``ValueError``
    listing the table's); ``algos`` / ``policies`` filter the target's agents (unknown names
    raise; without either, the preset's default subset of agents runs,
    :meth:`Preset.agents_for`);
    ``seeds`` replace the preset's; ``eas_candidates`` (>= 1) replaces the preset's EAS N;
    ``compile`` is every run's ``RunSpec.compile`` (``auto``: the rule of
    :func:`edp_ref.runner.run_config.compile_decision`); ``device`` every run's
    ``RunSpec.device`` (``cuda`` under Ray: the GPU Ray assigned to the run's task).
    A filter that leaves no run raises ``ValueError`` before any data is planned.
    """
    _check_filter("tasks", tasks, tgt.paper_tasks)
    _check_filter("algos", algos, ALGORITHMS)
    _check_filter("policies", policies, sorted({p for (_, p) in AGENTS}))
    _check_filter("seeds", seeds, preset.seeds)
    check_int("build_grid: eas_candidates", eas_candidates, 1, optional=True)
    for seed in seeds or ():
        check_int("build_grid: seed", seed, 0, MAX_SEED)
    if tasks is not None:
        for t in tasks:
            paper_dataset(t)
        # A table shows its own rows only; a figure may plot any paper dataset.
        outside = [t for t in tasks if tgt.kind == "table" and t not in tgt.paper_tasks]
        if outside:
            raise ValueError(
                f"{tgt.kind} {tgt.number} has no row for {', '.join(outside)}; its datasets: "
                + ", ".join(tgt.paper_tasks)
            )
        chosen = tuple(tasks)
    else:
        chosen = preset.tasks_for(tgt.key, tgt.paper_tasks)
    if not chosen:
        raise ValueError(f"{tgt.kind} {tgt.number}: preset {preset.name!r} selects no task")
    if algos is not None:
        for a in algos:
            if a not in ALGORITHMS:
                raise ValueError(f"unknown algorithm {a!r}; known: {', '.join(ALGORITHMS)}")
    if policies is not None:
        for p in policies:
            if p not in {pol for (_, pol) in AGENTS}:
                raise ValueError(f"unknown policy class {p!r}; known: edp, ff, diffusion")
    if algos is None and policies is None:
        agents = list(preset.agents_for(tgt.key, tgt.agents))
    else:
        agents = [
            (a, p)
            for (a, p) in tgt.agents
            if (algos is None or a in algos) and (policies is None or p in policies)
        ]
    if not agents:
        raise ValueError(
            f"{tgt.kind} {tgt.number} has no agent left after the filters; its agents: "
            + ", ".join(f"{a}/{p}" for a, p in tgt.agents)
        )
    run_seeds = tuple(seeds) if seeds is not None else preset.seeds
    if not run_seeds:
        raise ValueError(f"{tgt.kind} {tgt.number}: preset {preset.name!r} selects no seed")
    plans = [plan_data(t, preset, out) for t in chosen]
    runs = []
    for plan in plans:
        for algorithm, policy in agents:
            agent_spec(algorithm, policy)
            for seed in run_seeds:
                spec = RunSpec(
                    task=plan.task,
                    algorithm=algorithm,
                    policy=policy,
                    seed=seed,
                    epochs=preset.epochs_for(plan.task),
                    iterations_per_epoch=preset.iterations_per_epoch,
                    batch_size=preset.batch_size,
                    eval_every=preset.eval_every,
                    final_eval_every=preset.final_eval_every,
                    eval_episodes=preset.eval_episodes,
                    eas_candidates=(
                        preset.eas_candidates if eas_candidates is None else eas_candidates
                    ),
                    eval_envs=preset.eval_envs,
                    data_source=plan.source,
                    local_root=plan.local_root,
                    hidden=preset.hidden,
                    compile=compile,
                    device=device,
                )
                runs.append((spec, out / "runs" / preset.name / spec.name))
    # Seed by seed, so that a grid stopped early has whole seeds (every task and agent) to
    # report; within a seed, diffusion-policy runs first: they take two to three times as long
    # as feed-forward ones (their update and EAS), so parallel workers finish closer together.
    runs.sort(key=lambda run: (run[0].seed, not run[0].agent.is_diffusion))
    return runs, plans
