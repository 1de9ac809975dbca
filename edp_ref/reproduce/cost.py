"""The cost of a grid before it runs: its runs, what is finished, and an estimate in device-hours.

A dry run (:func:`dry_run_estimate`, ``edp-reproduce --dry-run``) reads the grid's run folders
without writing anything (:func:`read_progress`) and prices what is left of each run under
Sec. 5's protocol (``epochs x iterations_per_epoch`` updates, the evaluations of
:attr:`RunSpec.evaluation_schedule`) and the generation of missing datasets
(:func:`edp_ref.generation.estimate_seconds`), with the speed of each case (:func:`speed_case`)
either timed here (:func:`calibrate`: the run's :class:`~edp_ref.algorithms.step.TrainingStep`
on a synthetic dataset of the task's widths and its EAS action selection, by the benchmark's own
timing code, :mod:`edp_ref.benchmark.timing`; a run's start-up for datasets already present) or
read from ``edp-benchmark``'s JSON (:func:`speeds_from_benchmark`: training only).

The evaluation's length is not known before the policy is trained, so the estimate is a range:
from evaluation episodes that end at once to every episode reaching the task's episode limit;
environment steps are not priced (policy calls only).
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from edp_ref.algorithms.acting import ActingSettings
from edp_ref.algorithms.step import TrainingStep
from edp_ref.benchmark.timing import TimedLoop, time_loop, time_rounds, warm_and_calibrate
from edp_ref.config_checks import check_int
from edp_ref.data.evaluation import dataset_env
from edp_ref.data.registry import d4rl_dataset_dir
from edp_ref.data.synthetic import synthetic_dataset
from edp_ref.generation import estimate_seconds
from edp_ref.paper import paper_dataset
from edp_ref.reproduce.figures import read_benchmark_json
from edp_ref.reproduce.presets import DataPlan, missing_generations
from edp_ref.runner.config import resolve_config
from edp_ref.runner.dataset import (
    dataset_domain,
    load_run_dataset,
    minari_root,
    prepare_training_data,
)
from edp_ref.runner.run_folder import CHECKPOINT_FILE, RESULT_FILE, checkpoint_epoch
from edp_ref.runner.spec import RunSpec, config_to_json

__all__ = [
    "GridEstimate",
    "RunProgress",
    "Speed",
    "calibrate",
    "dry_run_estimate",
    "estimate_grid",
    "read_progress",
    "speed_case",
    "speeds_from_benchmark",
]


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
    if (run_dir / RESULT_FILE).exists():
        return RunProgress(spec, run_dir, "finished", spec.epochs)
    ckpt = run_dir / CHECKPOINT_FILE
    if not ckpt.exists():
        return RunProgress(spec, run_dir, "new", 0)
    try:  # the header only: a dry run does not hash every checkpoint of a large grid
        epoch = checkpoint_epoch(ckpt)
    except Exception as exc:  # reported by the dry run, and by the run when it starts
        return RunProgress(spec, run_dir, "damaged", 0, f"{ckpt}: {type(exc).__name__}: {exc}")
    return RunProgress(spec, run_dir, "partial", min(max(epoch, 0), spec.epochs))


@dataclass(frozen=True)
class Speed:
    """The measured cost of one case's runs: one training step (batch, randomness, update), one
    policy call on the evaluation's vector of states and a run's fixed start-up (None: not
    measured), and where the numbers come from, in words."""

    seconds_per_update: float
    seconds_per_action: float | None
    setup_seconds: float | None
    source: str


def speed_case(spec: RunSpec) -> tuple[Any, ...]:
    """What a run's speed depends on: its algorithm and config, widths, batch, EAS and envs."""
    config = json.dumps(config_to_json(resolve_config(spec)), sort_keys=True)
    widths = paper_dataset(spec.task).d4rl_widths
    envs = min(spec.eval_envs, spec.eval_episodes)
    return (spec.algorithm, config, widths, spec.batch_size, spec.eas_candidates, envs)


def _mode(config: Any) -> str:
    return "compiled" if config.compile else "eager"


def _startup_seconds(spec: RunSpec) -> float:
    """A run's fixed start-up: loading and preparing its dataset, building its environments."""
    t0 = time.perf_counter()
    raw = load_run_dataset(spec.task, spec.data_source, spec.local_root, spec.env_id)
    domain = dataset_domain(spec.task, spec.domain)
    prepare_training_data(raw, domain, spec.registered.family)
    envs = min(spec.eval_envs, spec.eval_episodes)
    with minari_root(spec.local_root):
        env = dataset_env(
            raw.env_id, raw.minari_id, raw.state_dim, raw.action_dim, envs, source=raw.source
        )
    env.close()
    return time.perf_counter() - t0


def _timed_case(spec: RunSpec, updates: int, warmup: int) -> tuple[float, float]:
    """Seconds per training step and per policy call of ``spec``'s case, on ``spec.device``
    (see the module docstring)."""
    config, algorithm = resolve_config(spec), spec.registered
    device = torch.device(spec.device)
    obs_dim, action_dim = paper_dataset(spec.task).d4rl_widths
    size = max(4 * spec.batch_size, 1024)
    dataset = synthetic_dataset(size, obs_dim, action_dim, seed=0, device=device)
    step = TrainingStep(
        algorithm,
        config,
        dataset,
        spec.batch_size,
        batches=torch.Generator(device).manual_seed(1),
        randomness=torch.Generator(device).manual_seed(2),
    )
    init = torch.Generator().manual_seed(0)
    state = [algorithm.init(config, obs_dim, action_dim, init, device)]

    def iteration() -> None:
        state[0], _ = step(state[0])

    loop = TimedLoop(spec.name, spec.algorithm, "edp_ref", _mode(config), False, iteration, _noop)
    warm_and_calibrate(loop, warmup, 0.0, updates, updates)
    time_rounds([loop], 1, _noop)
    if loop.error is not None or not loop.round_ips:
        raise RuntimeError(f"calibrating {spec.algorithm} on {spec.task}: {loop.error}")
    settings = ActingSettings(eas_candidates=spec.eas_candidates)
    g = torch.Generator(device).manual_seed(3)
    envs = min(spec.eval_envs, spec.eval_episodes)
    obs = torch.randn(envs, obs_dim, generator=g, device=device)
    calls = max(3, updates // 4)
    with torch.no_grad():
        act = lambda: algorithm.act(state[0], obs, config, settings, g)  # noqa: E731
        action_times = time_loop(act, device, 1, calls, calls, 0.0, math.inf)
    return 1.0 / loop.round_ips[0], statistics.median(action_times)


def _noop(*_: object) -> None:
    pass


def calibrate(
    runs: Sequence[tuple[RunSpec, Path]],
    plans: Sequence[DataPlan],
    *,
    updates: int = 20,
    warmup: int = 3,
    threads: int = 1,
    log: Callable[[str], None] = print,
) -> dict[tuple[Any, ...], Speed]:
    """Time each calibration case of the grid on this machine (see the module's docstring) with
    ``threads`` torch threads, as each run of the grid has (``run_grid``'s ``threads``). The
    start-up is measured once per task whose data is present."""
    check_int("calibrate: updates", updates, 1)
    check_int("calibrate: warmup", warmup, 0)
    check_int("calibrate: threads", threads, 1)
    present = {p.task for p in plans if p.present}
    before = torch.get_num_threads()
    # A run's speed depends strongly on its thread count: time it as the runs will run.
    torch.set_num_threads(threads)
    try:
        setup: dict[str, float] = {}
        for spec, _ in runs:
            if spec.task in present and spec.task not in setup:
                setup[spec.task] = _startup_seconds(spec)
        speeds: dict[tuple[Any, ...], Speed] = {}
        for spec, _ in runs:
            key = speed_case(spec)
            if key in speeds:
                continue
            log(f"calibrating {spec.algorithm} on {spec.task}: {updates} updates")
            per_update, per_action = _timed_case(spec, updates, warmup)
            source = (
                f"calibrated here: {updates} updates after {warmup} warm-up, "
                f"{_mode(resolve_config(spec))}, {spec.device}, {threads} torch thread(s)"
            )
            speeds[key] = Speed(per_update, per_action, setup.get(spec.task), source)
    finally:
        torch.set_num_threads(before)
    return speeds


def speeds_from_benchmark(
    path: Path, runs: Sequence[tuple[RunSpec, Path]]
) -> tuple[dict[tuple[Any, ...], Speed], list[str]]:
    """Training speeds of the grid's cases from ``edp-benchmark``'s JSON, and notes on what
    differs between the benchmark's settings and the grid's runs.

    Raises:
        FileNotFoundError, ValueError: as :func:`~edp_ref.reproduce.figures.read_benchmark_json`,
            or no usable record for a case (each named).
    """
    path = Path(path)
    doc = read_benchmark_json(path)
    records = doc.get("training") if isinstance(doc, dict) else None
    if not isinstance(records, list):
        raise ValueError(f"benchmark JSON {path}: no 'training' list (scripts/benchmark.py schema)")
    settings = doc.get("settings") if isinstance(doc.get("settings"), dict) else {}
    machine = doc.get("machine") if isinstance(doc.get("machine"), dict) else {}
    device = machine.get("device_name") or machine.get("device") or "unknown device"
    speeds: dict[tuple[Any, ...], Speed] = {}
    notes: list[str] = []
    missing: list[str] = []
    for spec, _ in runs:
        key = speed_case(spec)
        if key in speeds:
            continue
        config = resolve_config(spec)
        diffusion = getattr(config, "diffusion", None)
        steps = None if diffusion is None else diffusion.num_steps
        name = f"dql_k{steps}" if spec.algorithm == "dql" else spec.algorithm
        mode = _mode(config)
        found = [
            r
            for r in records
            if isinstance(r, dict)
            and r.get("name") == name
            and r.get("mode") == mode
            and not r.get("error")
            and isinstance(r.get("iterations_per_second"), int | float)
            and r["iterations_per_second"] > 0
        ]
        if not found:
            missing.append(f"{spec.algorithm} (record {name!r}, {mode})")
            continue
        record = found[0]
        if steps is not None and record.get("num_steps") not in (None, steps):
            notes.append(
                f"{spec.algorithm}: record {name!r} is measured at K = {record['num_steps']}, "
                f"the runs use K = {steps}"
            )
        speeds[key] = Speed(
            1.0 / float(record["iterations_per_second"]),
            None,
            None,
            f"benchmark {path.name}: {name!r} ({mode}, {device})",
        )
    if missing:
        raise ValueError(
            f"benchmark JSON {path} has no usable training record for "
            + "; ".join(missing)
            + "; run scripts/benchmark.py with these algorithms, or estimate by calibration"
        )
    hidden = {resolve_config(s).network.hidden for s, _ in runs}
    batch = {s.batch_size for s, _ in runs}
    if runs and (settings.get("hidden") not in hidden or settings.get("batch_size") not in batch):
        notes.append(
            f"the benchmark measured width {settings.get('hidden')} x {settings.get('layers')} "
            f"layers, batch {settings.get('batch_size')}; the grid's runs use width "
            f"{sorted(hidden)}, batch {sorted(batch)}"
        )
    if machine.get("device") == "cuda" and any(s.device == "cpu" for s, _ in runs):
        notes.append(
            "the benchmark ran on CUDA and the grid's runs train on the CPU: this prices them "
            "as if they ran at the benchmark's GPU speed"
        )
    return speeds, notes


@dataclass(frozen=True)
class GridEstimate:
    """A priced grid: each run's progress and seconds left, the datasets to prepare, notes.

    ``run_seconds[i]`` = (start-up, training, evaluation bound) of ``progress[i]`` (None: not
    measured); ``downloads``: the tasks without data here that cannot be generated. The cost
    lies between :attr:`low_seconds` (evaluation episodes that end at once)
    and :attr:`high_seconds` (every episode to the episode limit).
    """

    title: str
    progress: tuple[RunProgress, ...]
    speeds: dict[tuple[Any, ...], Speed]
    run_seconds: tuple[tuple[float | None, float, float | None], ...]
    datasets: tuple[tuple[str, float], ...]
    jobs: int
    notes: tuple[str, ...]
    downloads: tuple[str, ...] = ()

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
            *(
                [f"datasets to download first: {'; '.join(self.downloads)}"]
                if self.downloads
                else []
            ),
            "",
            "| algorithm | runs | to run | updates to run | ms / update | ms / policy call "
            "| start-up s / run | hours | speeds from |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        groups: dict[str, list[int]] = {}
        for i, r in enumerate(p):
            groups.setdefault(r.spec.algorithm, []).append(i)
        for algorithm, idx in groups.items():
            cases = dict.fromkeys(speed_case(p[i].spec) for i in idx)
            speeds = [self.speeds[c] for c in cases if c in self.speeds]
            act = [1e3 * s.seconds_per_action for s in speeds if s.seconds_per_action is not None]
            setup = [s.setup_seconds for s in speeds if s.setup_seconds is not None]
            low = self._sum(0, idx) + self._sum(1, idx)
            lines.append(
                f"| {algorithm} | {len(idx)} | {sum(p[i].state != 'finished' for i in idx)} | "
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
    """``a`` or ``a-b``: the values of an algorithm's calibration cases (one per task width)."""
    if not values:
        return "-"
    lo, hi = min(values), max(values)
    return _number(lo) if _number(lo) == _number(hi) else f"{_number(lo)}-{_number(hi)}"


def estimate_grid(
    title: str,
    runs: Sequence[tuple[RunSpec, Path]],
    plans: Sequence[DataPlan],
    speeds: dict[tuple[Any, ...], Speed],
    *,
    jobs: int = 1,
    notes: Sequence[str] = (),
) -> GridEstimate:
    """Price the grid ``runs`` with ``speeds`` (:func:`calibrate` / :func:`speeds_from_benchmark`)
    and the generation of the datasets ``plans`` mark missing."""
    progress = tuple(read_progress(spec, Path(run_dir)) for spec, run_dir in runs)
    run_seconds: list[tuple[float | None, float, float | None]] = []
    for r in progress:
        if r.state == "finished":
            run_seconds.append((None, 0.0, None))
            continue
        speed = speeds.get(speed_case(r.spec))
        if speed is None:
            raise ValueError(f"estimate_grid: no speed for the case of {r.spec.name}")
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
    datasets = []
    for g in missing_generations(plans):
        cfg = g.config
        label = (
            f"generate {', '.join(p.task for p in g.plans)} ({cfg.env_id}, SAC for "
            f"{cfg.train_steps:,} steps, {cfg.size:,} transitions; writes "
            f"{', '.join(cfg.kinds)}) into {g.root or 'Minari'}"
        )
        datasets.append((label, float(estimate_seconds(cfg)["total"])))
    downloads = tuple(
        f"{p.task} ({paper_dataset(p.task).d4rl_file} into {d4rl_dataset_dir()})"
        for p in plans
        if not p.present and p.generation is None
    )
    return GridEstimate(
        title, progress, speeds, tuple(run_seconds), tuple(datasets), jobs, tuple(notes), downloads
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
    given, else by :func:`calibrate` on this machine with ``threads`` torch threads per run."""
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
