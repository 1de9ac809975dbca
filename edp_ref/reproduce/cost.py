"""The cost of a grid before it runs: its runs, what is finished, and an estimate in device-hours.

A dry run (:func:`dry_run_estimate`, ``reproduce(..., dry_run=True)``) reads the grid's run
folders without writing anything (:func:`read_progress`: ``result.json``, else the epoch in the
checkpoint's header) and prices what is left of each run under Sec. 5's protocol (``epochs x
iterations_per_epoch`` updates; an evaluation at epoch 0, every ``eval_every`` epochs and at the
last epoch) with per-agent speeds (:mod:`edp_ref.runner.cost_speeds`: calibrated here, or read
from a benchmark JSON), plus the generation of missing datasets
(:func:`edp_ref.generation.estimate_seconds`).

The evaluation's length is not known before the policy is trained, so the estimate is a range:
from evaluation episodes that end at once to every episode reaching the task's episode limit
(1000 steps on locomotion, which trained policies mostly reach); environment steps are not
priced (policy calls only).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import safe_open

from edp_ref.config_checks import check_int
from edp_ref.generation import estimate_seconds
from edp_ref.paper import paper_dataset
from edp_ref.runner.cost_speeds import AgentSpeed, calibrate, speed_case, speeds_from_benchmark
from edp_ref.runner.data_plans import DataPlan
from edp_ref.runner.run_folder import CHECKPOINT_FILE
from edp_ref.runner.spec import RunSpec

__all__ = ["GridEstimate", "RunProgress", "dry_run_estimate", "estimate_grid", "read_progress"]


@dataclass(frozen=True)
class RunProgress:
    """How far a run folder is, read from its files (nothing is checked or written).

    ``state``: ``finished`` (``result.json``), ``partial`` (a checkpoint at ``epochs_done``),
    ``new``, or ``damaged`` (a checkpoint whose header cannot be read: the run will stop with
    an error naming it).
    """

    spec: RunSpec
    run_dir: Path
    state: str
    epochs_done: int
    problem: str = ""

    @property
    def updates_left(self) -> int:
        if self.state == "finished":
            return 0
        return (self.spec.epochs - self.epochs_done) * self.spec.iterations_per_epoch

    @property
    def evaluations_left(self) -> int:
        if self.state == "finished":
            return 0
        at = self.spec.evaluation_schedule  # with the dense final stretch (final_eval_every)
        return len([e for e in at if e > self.epochs_done or self.state != "partial"])


def read_progress(spec: RunSpec, run_dir: Path) -> RunProgress:
    """The progress of one run folder: ``result.json``, else the checkpoint's epoch."""
    if (run_dir / "result.json").exists():
        return RunProgress(spec, run_dir, "finished", spec.epochs)
    ckpt = run_dir / CHECKPOINT_FILE
    if not ckpt.exists():
        return RunProgress(spec, run_dir, "new", 0)
    try:  # the header only: a dry run does not hash every checkpoint of a large grid
        with safe_open(str(ckpt), "pt") as f:
            epoch = int(f.metadata()["epoch"])
    except Exception as exc:  # reported by the dry run, and by the run when it starts
        return RunProgress(spec, run_dir, "damaged", 0, f"{ckpt}: {type(exc).__name__}: {exc}")
    return RunProgress(spec, run_dir, "partial", min(max(epoch, 0), spec.epochs))


@dataclass(frozen=True)
class GridEstimate:
    """A priced grid: each run's progress and seconds left, the datasets to prepare, notes.

    ``run_seconds[i]`` = (start-up, training, evaluation bound) of ``progress[i]`` (None: not
    measured). The cost lies between :attr:`low_seconds` (evaluation episodes that end at once)
    and :attr:`high_seconds` (every episode to the episode limit).
    """

    title: str
    progress: tuple[RunProgress, ...]
    speeds: dict[tuple[Any, ...], AgentSpeed]
    run_seconds: tuple[tuple[float | None, float, float | None], ...]
    datasets: tuple[tuple[str, float], ...]
    jobs: int
    notes: tuple[str, ...]

    def _sum(self, part: int, runs: Sequence[int] | None = None) -> float:
        idx = range(len(self.run_seconds)) if runs is None else runs
        return math.fsum(self.run_seconds[i][part] or 0.0 for i in idx)

    @property
    def low_seconds(self) -> float:
        """Data generation, start-up and training."""
        return math.fsum(s for _, s in self.datasets) + self._sum(0) + self._sum(1)

    @property
    def high_seconds(self) -> float:
        """:attr:`low_seconds` plus the evaluation with every episode to its limit."""
        return self.low_seconds + self._sum(2)

    def text(self) -> str:
        p = self.progress
        count = {s: sum(r.state == s for r in p) for s in ("finished", "partial", "new", "damaged")}
        damaged = f", {count['damaged']} with an unreadable checkpoint" if count["damaged"] else ""
        data = "; ".join(f"{d} ({_duration(s)})" for d, s in self.datasets) or "none"
        lines = [
            f"Dry run: {self.title} (nothing is generated, trained or written)",
            f"grid: {len(p)} run(s): {count['finished']} finished (reused), {count['partial']} "
            f"to resume, {count['new']} new{damaged}",
            f"updates: {sum(r.spec.total_steps for r in p):,} in all, "
            f"{sum(r.updates_left for r in p):,} to run; evaluations to run: "
            f"{sum(r.evaluations_left for r in p):,}",
            f"datasets to prepare: {data}",
            "",
            "| agent | runs | to run | updates to run | ms / update | ms / policy call "
            "| start-up s / run | hours | speeds from |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        agents: dict[tuple[str, str | None], list[int]] = {}
        for i, r in enumerate(p):
            agents.setdefault((r.spec.algorithm, r.spec.policy), []).append(i)
        for (algorithm, policy), idx in agents.items():
            cases = dict.fromkeys(speed_case(p[i].spec) for i in idx)
            speeds = [self.speeds[c] for c in cases if c in self.speeds]
            act = [1e3 * s.seconds_per_action for s in speeds if s.seconds_per_action is not None]
            setup = [s.setup_seconds for s in speeds if s.setup_seconds is not None]
            low = self._sum(0, idx) + self._sum(1, idx)
            lines.append(
                f"| {algorithm if policy is None else f'{algorithm}/{policy}'} | {len(idx)} | "
                f"{sum(p[i].state != 'finished' for i in idx)} | "
                f"{sum(p[i].updates_left for i in idx):,} | "
                f"{_span([1e3 * s.seconds_per_update for s in speeds])} | {_span(act)} | "
                f"{_span(setup)} | {_span([low / 3600, (low + self._sum(2, idx)) / 3600])} | "
                f"{'; '.join(dict.fromkeys(s.source for s in speeds)) or 'finished'} |"
            )
        pending = [i for i, r in enumerate(p) if r.state != "finished"]
        unmeasured = any(self.run_seconds[i][0] is None for i in pending)
        startup = "not measured" if unmeasured else _duration(self._sum(0))
        busy = min(self.jobs, max(1, len(p) - count["finished"]))
        longest = [
            max((a or 0.0) + b + (c or 0.0) * k for a, b, c in self.run_seconds) for k in (0, 1)
        ]
        # The driver generates the datasets one after another before any run starts.
        data_seconds = math.fsum(s for _, s in self.datasets)
        wall = [
            data_seconds + max((self.low_seconds - data_seconds) / busy, longest[0]),
            data_seconds + max((self.high_seconds - data_seconds) / busy, longest[1]),
        ]
        lines += [
            "",
            f"estimate: {_number(self.low_seconds / 3600)} to {_number(self.high_seconds / 3600)} "
            "device-hours (one run per device or process at a time): training "
            f"{_duration(self._sum(1))}, start-up {startup}, data generation "
            f"{_duration(data_seconds)}, evaluation from 0 (episodes "
            f"that end at once) to {_duration(self._sum(2))} (every episode to its limit; "
            "policy calls only, environment steps not included)",
            f"with {self.jobs} run(s) at a time: {_number(wall[0] / 3600)} to "
            f"{_number(wall[1] / 3600)} h of wall time (the datasets first, on the driver), if "
            "that many runs at once keep the measured speed",
            *(f"note: {n}" for n in self.notes),
            *(f"damaged: {r.spec.name}: {r.problem}" for r in p if r.state == "damaged"),
        ]
        return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    """Three significant digits, thousands written out (``25,400``, not ``2.54e+04``)."""
    rounded = float(f"{value:.3g}")
    return f"{value:.3g}" if abs(rounded) < 1000 else f"{rounded:,.0f}"


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 360 else f"{_number(seconds / 3600)} h"


def _span(values: Sequence[float]) -> str:
    """``a`` or ``a-b``: the values of an agent's calibration cases (one per domain)."""
    if not values:
        return "-"
    lo, hi = min(values), max(values)
    return _number(lo) if _number(lo) == _number(hi) else f"{_number(lo)}-{_number(hi)}"


def estimate_grid(
    title: str,
    runs: Sequence[tuple[RunSpec, Path]],
    plans: Sequence[DataPlan],
    speeds: dict[tuple[Any, ...], AgentSpeed],
    *,
    jobs: int = 1,
    notes: Sequence[str] = (),
) -> GridEstimate:
    """Price the grid ``runs`` with ``speeds`` (:func:`calibrate` / :func:`speeds_from_benchmark`)
    and the generation of the datasets ``plans`` mark missing."""
    progress = tuple(read_progress(spec, Path(run_dir)) for spec, run_dir in runs)
    run_seconds: list[tuple[float | None, float, float | None]] = []
    for r in progress:
        speed = speeds.get(speed_case(r.spec))
        if r.state == "finished":
            run_seconds.append((None, 0.0, None))
            continue
        if speed is None:
            raise ValueError(f"estimate_grid: no speed for the agent of {r.spec.name}")
        envs = min(r.spec.eval_envs, r.spec.eval_episodes)
        steps = (
            math.ceil(r.spec.eval_episodes / envs) * paper_dataset(r.spec.task).max_episode_steps
        )
        evaluation = (
            None
            if speed.seconds_per_action is None
            else r.evaluations_left * steps * speed.seconds_per_action
        )
        run_seconds.append(
            (speed.setup_seconds, r.updates_left * speed.seconds_per_update, evaluation)
        )
    # One behaviour training per (folder, environment), as ensure_datasets generates them.
    groups: dict[tuple[str | None, str], list[DataPlan]] = {}
    for plan in plans:
        if plan.source == "local" and not plan.present and plan.generation is not None:
            groups.setdefault((plan.local_root, plan.generation.env), []).append(plan)
    datasets = []
    for (root, _), group in groups.items():
        gen = group[0].generation
        assert gen is not None
        kinds = tuple(dict.fromkeys(k for g in group if g.generation for k in g.generation.kinds))
        cfg = dataclasses.replace(gen, kinds=kinds)
        label = (
            f"generate {', '.join(g.task for g in group)} ({cfg.env_id}, SAC for "
            f"{cfg.train_steps:,} steps, {cfg.size:,} transitions) into {root or 'Minari'}"
        )
        datasets.append((label, float(estimate_seconds(cfg)["total"])))
    return GridEstimate(
        title, progress, speeds, tuple(run_seconds), tuple(datasets), jobs, tuple(notes)
    )


def dry_run_estimate(
    title: str,
    runs: Sequence[tuple[RunSpec, Path]],
    plans: Sequence[DataPlan],
    *,
    jobs: int = 1,
    calibration_updates: int = 20,
    threads: int = 1,
    benchmark: Path | None = None,
    notes: Sequence[str] = (),
    log: Callable[[str], None] = print,
) -> GridEstimate:
    """The grid, its progress and its cost, priced from a benchmark JSON when ``benchmark`` is
    given, else by a calibration on this machine with ``threads`` torch threads per run
    (:func:`~edp_ref.runner.cost_speeds.calibrate`)."""
    check_int("dry_run_estimate: jobs", jobs, 1)
    pending = [(s, d) for s, d in runs if read_progress(s, Path(d)).state != "finished"]
    if benchmark is not None:
        speeds, extra = speeds_from_benchmark(Path(benchmark), pending)
        extra.append("a benchmark prices training only: start-up and evaluation not measured")
    else:
        speeds = calibrate(pending, plans, updates=calibration_updates, threads=threads, log=log)
        extra = []
        if any(not p.present for p in plans):
            extra.append("start-up is not measured for datasets still to be generated")
    return estimate_grid(title, runs, plans, speeds, jobs=jobs, notes=[*notes, *extra])
