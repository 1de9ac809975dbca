"""Reproduce one experiment of the paper, a table or a figure, end to end (``edp-reproduce``).

:func:`reproduce` builds the grid of runs the experiment needs (Sec. 5: tasks x columns x seeds;
:mod:`edp_ref.reproduce.experiments`), generates missing local datasets, runs what is not
finished (reusing finished runs), evaluates the sweeps of Figures 4-7 on the final checkpoints
(:func:`evaluate_final_checkpoint`), and writes the table (Markdown + CSV) or figure (PNG, PDF,
Markdown, CSV) under ``<out>/tables`` or ``<out>/figures``, with the paper's numbers in columns
labelled as the paper's and the budget stated. With ``dry_run`` it prices the grid instead
(:mod:`edp_ref.reproduce.cost`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import textwrap
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from edp_ref.algorithms.acting import ActingSettings
from edp_ref.atomic_files import atomic_write_text
from edp_ref.benchmark.settings import DEFAULT_OUTPUT as DEFAULT_BENCHMARK
from edp_ref.config_checks import check_choice, check_int, check_text
from edp_ref.paper import FIGURES
from edp_ref.reproduce.cost import dry_run_estimate
from edp_ref.reproduce.experiments import TABLE_LAYOUTS, build_grid, experiment
from edp_ref.reproduce.figures import (
    render_figure2,
    render_learning_curves,
    render_sweep_figure,
    render_training_curves,
)
from edp_ref.reproduce.launchers import (
    DEFAULT_MAX_RETRIES,
    LAUNCHERS,
    check_ray_options,
    ray_cluster,
    run_grid,
)
from edp_ref.reproduce.presets import PRESETS, Preset, ensure_datasets
from edp_ref.reproduce.tables import (
    SUMMARY_WIDTH,
    budget_text,
    render_summary,
    render_table,
)
from edp_ref.reproduce.timing import PhaseClock
from edp_ref.runner.policy import evaluate, evaluation_seeds, load_policy
from edp_ref.runner.run_folder import (
    RunFolderError,
    RunResult,
    load_finished_run,
    read_json_file,
)
from edp_ref.runner.spec import COMPILE_CHOICES, CompileChoice, RunSpec
from edp_ref.runner.training import run_device

__all__ = [
    "DEFAULT_BENCHMARK",
    "REEVALUATION",
    "ReproduceOutput",
    "evaluate_final_checkpoint",
    "reproduce",
]

#: Re-evaluation ``stream`` of a final checkpoint is the run's evaluation number
#: ``REEVALUATION + stream`` (its seeds), apart from the training's evaluations (0, 1, ...).
REEVALUATION = 10_000


@dataclass(frozen=True)
class ReproduceOutput:
    """What :func:`reproduce` wrote: the text printed and the files."""

    text: str
    files: tuple[Path, ...]
    results: tuple[RunResult, ...]


def _sweep_settings(number: int, value: float, eas: int) -> ActingSettings:
    if number == 4:
        return ActingSettings(eas_candidates=int(value))
    if number == 5:
        return ActingSettings(eas_candidates=eas, dpm_steps=int(value))
    if number == 6:  # App. C.4: an alternative to EAS, so one sample (N = 1)
        return ActingSettings(eas_candidates=1, policy_scale=float(value))
    return ActingSettings(eas_candidates=1, initial_noise_scale=float(value))


def evaluate_final_checkpoint(
    spec: RunSpec,
    run_dir: Path,
    settings: ActingSettings,
    *,
    episodes: int | None = None,
    stream: int = 0,
) -> dict[str, Any]:
    """Evaluate a finished run's final checkpoint with other acting settings (Figs. 4-7: EAS's
    N, DPM-Solver's model calls, App. C.4's policy and initial noise scales), after checking its
    folder as a reused run's; returns :class:`~edp_ref.runner.policy.PolicyEvaluation`'s JSON with
    the checkpoint's step and the settings.

    Raises:
        ValueError: ``episodes`` or ``stream`` out of range.
        RunFolderError, CheckpointError: the run folder fails its checks.
    """
    check_int("evaluate_final_checkpoint: episodes", episodes, 1, optional=True)
    check_int("evaluate_final_checkpoint: stream", stream, 0)
    load_finished_run(spec, Path(run_dir))
    policy, _ = load_policy(run_dir, device=spec.device, settings=settings)
    n = spec.eval_episodes if episodes is None else episodes
    env_seed, action_seed = evaluation_seeds(spec, REEVALUATION + stream)
    env = policy.environment(min(spec.eval_envs, n))
    try:
        outcome = evaluate(policy, env, n, seed=env_seed, action_seed=action_seed)
    finally:
        env.close()
    return {**outcome.to_json(), "step": policy.step, "settings": dataclasses.asdict(settings)}


def _cached_point(path: Path) -> dict[str, Any]:
    """A re-evaluation cached by an earlier call; ``RunFolderError`` naming a damaged file."""
    remedy = "delete it to have the point evaluated again"
    entry = read_json_file(path, remedy)
    score = entry.get("score") if isinstance(entry, dict) else None
    if not isinstance(entry, dict) or not isinstance(score, int | float) or isinstance(score, bool):
        raise RunFolderError(f"{path} is damaged: no numeric 'score'; {remedy}")
    if not math.isfinite(score):
        raise RunFolderError(f"{path} is damaged: its score is {score}; {remedy}")
    return entry


def _sweep(
    number: int,
    results: Sequence[RunResult],
    values: Sequence[float],
    episodes: int,
    log: Callable[[str], None],
) -> dict[str, dict[float, list[float]]]:
    points: dict[str, dict[float, list[float]]] = {}
    for r in results:
        for value in values:
            settings = _sweep_settings(number, value, r.spec.eas_candidates)
            cache = r.run_dir / "sweeps" / f"figure{number}-{value:g}-ep{episodes}.json"
            entry = None
            if cache.exists():
                entry = _cached_point(cache)
                if entry.get("settings") != dataclasses.asdict(settings):
                    entry = None
            if entry is None:
                log(f"figure {number}: {r.spec.name} at {value:g} ({episodes} episodes)")
                entry = evaluate_final_checkpoint(
                    r.spec, r.run_dir, settings, episodes=episodes, stream=int(value * 1000)
                )
                cache.parent.mkdir(exist_ok=True)
                atomic_write_text(cache, json.dumps(entry, indent=2))
            points.setdefault(r.spec.task, {}).setdefault(float(value), []).append(entry["score"])
    return points


def reproduce(
    kind: str,
    number: int,
    *,
    preset: str = "quick",
    out: Path = Path("runs") / "reproduce",
    tasks: Sequence[str] | None = None,
    algos: Sequence[str] | None = None,
    policies: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    eas_candidates: int | None = None,
    jobs: int = 1,
    launcher: str = "local",
    threads: int = 1,
    progress: bool = True,
    benchmark: Path = DEFAULT_BENCHMARK,
    compile: CompileChoice = "auto",
    device: str = "cpu",
    log: Callable[[str], None] = print,
    # Scale-out (docs/scale_out.md): Ray's resources per run, and the dry run.
    cpus_per_run: float | int | None = None,
    gpus_per_run: float | int = 0.0,
    max_retries: int = DEFAULT_MAX_RETRIES,
    dry_run: bool = False,
    calibration_updates: int = 20,
    cost_benchmark: Path | None = None,
) -> ReproduceOutput:
    """Reproduce Table ``number`` (1, 2, 4, 5, 6, 7) or Figure ``number`` (2-7) with
    ``edp-reproduce``'s options (:mod:`edp_ref.reproduce.cli`), each checked before any work.

    ``compile`` and ``device`` are every run's ``RunSpec.compile`` and ``RunSpec.device``
    (``cuda`` with the Ray launcher: the GPU share ``gpus_per_run`` reserved);
    ``cpus_per_run``, ``gpus_per_run`` and ``max_retries`` go to :func:`run_grid`.
    ``dry_run``: print the grid, what is finished, the datasets to prepare and the cost
    (:mod:`edp_ref.reproduce.cost`), priced from ``cost_benchmark`` (``edp-benchmark``'s JSON)
    when given, else by timing ``calibration_updates`` updates of each case here; nothing is
    generated, run or written.

    Raises:
        ValueError, TypeError: a bad argument or a filter that selects no run (named).
        FileNotFoundError: Figure 2 without the benchmark's JSON.
        DatasetNotFoundError: a non-locomotion task with no data on this machine.
        RunFolderError, CheckpointError: a run folder under ``out`` fails its checks.
        GridRunError: some runs failed (each named, after all others ended).
    """
    check_text("reproduce: preset", preset)
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
    check_choice("reproduce: kind", kind, ("table", "figure"))
    check_int("reproduce: number", number, 1)
    check_int("reproduce: jobs", jobs, 1)
    check_int("reproduce: threads", threads, 1)
    check_int("reproduce: eas_candidates", eas_candidates, 1, optional=True)
    check_choice("reproduce: launcher", launcher, LAUNCHERS)
    check_choice("reproduce: compile", compile, COMPILE_CHOICES)
    check_text("reproduce: device", device)
    check_ray_options("reproduce", launcher, cpus_per_run, gpus_per_run, max_retries, device)
    check_int("reproduce: calibration_updates", calibration_updates, 1)
    budget = PRESETS[preset]
    out = Path(out)
    torch.set_num_threads(threads)  # also for the data generation
    if kind == "figure" and number == 2:
        if dry_run:
            return ReproduceOutput(f"Figure 2 trains no run: it reads {benchmark}.\n", (), ())
        (out / "figures").mkdir(parents=True, exist_ok=True)
        png, mdp = out / "figures" / "figure2.png", out / "figures" / "figure2.md"
        md = render_figure2(Path(benchmark), png)
        atomic_write_text(mdp, md)
        return ReproduceOutput(md, (png, mdp), ())
    clock = PhaseClock()
    with clock.phase("set-up", "the grid, the data plan"):
        runs, plans = build_grid(
            experiment(kind, number),
            budget,
            out,
            tasks=tasks,
            algos=algos,
            policies=policies,
            seeds=seeds,
            eas_candidates=eas_candidates,
            compile=compile,
            device=device,
            missing_ok=dry_run,
        )
    chosen = list(dict.fromkeys(p.task for p in plans))
    log(
        f"{kind} {number}, preset {preset}: "
        + ", ".join(f"{p.task} ({p.source} data)" for p in plans)
    )
    if dry_run:
        clock.stop()
        notes = []
        if kind == "figure" and number in budget.sweeps:
            notes.append(
                f"then {len(runs) * len(budget.sweeps[number])} re-evaluations of final "
                f"checkpoints ({budget.sweep_episodes} episodes each), not priced"
            )
        estimate = dry_run_estimate(
            f"{kind} {number}, preset {preset}",
            runs,
            plans,
            jobs=jobs,
            calibration_updates=calibration_updates,
            threads=threads,
            benchmark=cost_benchmark,
            notes=notes,
            log=log,
        )
        return ReproduceOutput(estimate.text(), (), ())
    # The device, or the Ray cluster's room for one run, is checked before any dataset is made.
    for spec, _ in runs if launcher == "local" else ():
        run_device(spec)
    cpus = float(threads if cpus_per_run is None else cpus_per_run)
    cluster = ray_cluster(cpus, float(gpus_per_run)) if launcher == "ray" else nullcontext()
    missing = [p.task for p in plans if p.source == "local" and not p.present]
    with cluster:
        with clock.phase("data generation", ", ".join(missing) or "nothing missing"):
            ensure_datasets(plans, out, progress=progress, log=log)
        with clock.phase("runs", f"{len(runs)} run(s) in the grid, --jobs {jobs}"):
            results = run_grid(
                runs,
                jobs=jobs,
                launcher=launcher,
                threads=threads,
                progress=progress,
                log=log,
                cpus_per_run=cpus_per_run,
                gpus_per_run=gpus_per_run,
                max_retries=max_retries,
            )
    with clock.phase("report", "tables, figures, curves"):
        if kind == "table":
            output = _write_table(number, results, budget, chosen, out)
        else:
            output = _write_figure(number, results, budget, chosen, out, log)
    return _with_timing(output, clock.text(results, jobs))


def _with_timing(output: ReproduceOutput, timing: str) -> ReproduceOutput:
    """``output`` with the command's wall-time breakdown printed after it and appended to its
    Markdown file."""
    for path in output.files:
        if path.suffix == ".md":
            text = path.read_text()
            atomic_write_text(path, f"{text.rstrip()}\n\n```text\n{timing}```\n")
    return dataclasses.replace(output, text=f"{output.text.rstrip()}\n\n{timing}")


def _write_table(
    number: int, results: Sequence[RunResult], budget: Preset, chosen: Sequence[str], out: Path
) -> ReproduceOutput:
    """The summary (printed), the full table (Markdown, CSV) and the learning curves."""
    table = render_table(number, results, budget, chosen)
    summary = render_summary(number, results, chosen)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    stem = out / "tables" / f"table{number}-{budget.name}"
    md_path, csv_path = stem.with_suffix(".md"), stem.with_suffix(".csv")
    title = f"Table {number} (edp_ref, preset {budget.name}): learning curves"
    curves, curve_csv = render_learning_curves(
        results,
        {g.column.algorithm: g.label for g in TABLE_LAYOUTS[number]},
        title,
        stem.with_name(stem.name + "-curves.png"),
    )
    curve_csv_path = stem.with_name(stem.name + "-curves.csv")
    footer = budget_text(budget, results, chosen)
    note = budget.subset_notes.get(f"table{number}")
    if note is not None:
        footer += "\n" + note
    printed = (
        summary
        + "\n"
        + "\n".join(
            line for para in footer.split("\n") for line in textwrap.wrap(para, SUMMARY_WIDTH)
        )
    )
    printed += f"\nFull table:\n  {md_path}\nLearning curves (and .pdf):\n  {curves[0]}\n"
    markdown = (
        f"## Table {number}, preset {budget.name}\n\n```text\n{summary}```\n\n"
        f"![learning curves]({curves[0].name})\n\n{footer}\n\n{table.markdown}"
    )
    atomic_write_text(md_path, markdown)
    atomic_write_text(csv_path, table.csv)
    atomic_write_text(curve_csv_path, curve_csv)
    files = (md_path, csv_path, *curves, curve_csv_path)
    return ReproduceOutput(printed, files, tuple(results))


def _write_figure(
    number: int,
    results: Sequence[RunResult],
    budget: Preset,
    chosen: Sequence[str],
    out: Path,
    log: Callable[[str], None],
) -> ReproduceOutput:
    """Figure 3's curves or Figures 4-7's sweeps (PNG, PDF, Markdown, CSV)."""
    (out / "figures").mkdir(parents=True, exist_ok=True)
    png = out / "figures" / f"figure{number}-{budget.name}.png"
    if number == 3:
        text, data, pictures = render_training_curves(results, budget, png)
    else:
        points = _sweep(number, results, budget.sweeps[number], budget.sweep_episodes, log)
        text, data, pictures = render_sweep_figure(number, points, budget, png, results)
    text = (
        f"### Figure {number}: {FIGURES[number].title}\n\n{text}\n"
        + budget_text(budget, results, chosen)
        + "\n"
    )
    mdp = out / "figures" / f"figure{number}-{budget.name}.md"
    csp = out / "figures" / f"figure{number}-{budget.name}.csv"
    atomic_write_text(mdp, text)
    atomic_write_text(csp, data)
    return ReproduceOutput(text, (*pictures, mdp, csp), tuple(results))
