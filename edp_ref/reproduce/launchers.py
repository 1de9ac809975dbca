"""Launchers: run a grid's runs here, in parallel processes, or on a Ray cluster (Sec. 5's grids).

``local`` runs the grid in this process (``jobs = 1``) or in ``jobs`` spawned processes; ``ray``
sends each run to a Ray cluster as one task (``RAY_ADDRESS`` picks the cluster, else Ray's local
one; docs/scale_out.md). Every launcher reuses finished runs and resumes interrupted ones
(:func:`edp_ref.runner.training.train_run`, which also holds the run folder's writer lock: a
folder that another live process writes fails with ``RunLockedError`` naming it). A run that
fails for a reason of its own fails alone: the others go on, and :class:`GridRunError` names
every failed run with its error at the end. A run stopped by SIGTERM or SIGINT checkpoints, then
dies by the signal: a preempted Ray worker is retried (``max_retries``) and resumes from that
checkpoint, Ctrl-C stops a local grid.

Ray tasks get absolute paths only, and the driver's ``D4RL_DATASET_DIR`` and
``MINARI_DATASETS_PATH``, so run folders and datasets on shared storage are found at the same
path by every node; the driver reads each result back from the run folder, and a result it
cannot see is reported as a failure (the storage is not shared), never trained again here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import multiprocessing
import os
import socket
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edp_ref.config_checks import check_int, check_real
from edp_ref.runner.dataset import environment_variables
from edp_ref.runner.run_folder import RESULT_FILE, RunResult
from edp_ref.runner.spec import RunSpec, check_fields
from edp_ref.runner.training import RunInterrupted, exit_by_signal, train_run

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "LAUNCHERS",
    "GridRunError",
    "RunFailure",
    "check_ray_options",
    "longest_first",
    "ray_cluster",
    "ray_task_name",
    "run_grid",
]

#: The launchers :func:`run_grid` knows.
LAUNCHERS: tuple[str, ...] = ("local", "ray")
#: Retries of a Ray task whose worker process died (Ray's own default for tasks).
DEFAULT_MAX_RETRIES = 3


@dataclass(frozen=True)
class RunFailure:
    """A run of a grid that did not finish: the exception's class name and message, the process
    that raised it (``pid 123 on host-a``, or the Ray task) and its traceback, if any."""

    spec: RunSpec
    run_dir: Path
    error: str
    message: str
    where: str
    details: str = ""

    def describe(self) -> str:
        return f"{self.spec.name} ({self.run_dir}, {self.where}): {self.error}: {self.message}"


class GridRunError(RuntimeError):
    """Some runs of a grid failed (``failures``); every other run finished (``results``, in the
    grid's order) and its folder is complete."""

    def __init__(
        self, failures: Sequence[RunFailure], results: Sequence[RunResult], total: int
    ) -> None:
        self.failures = tuple(failures)
        self.results = tuple(results)
        self.total = total
        lines = [
            f"{len(self.failures)} of {total} run(s) failed ({len(self.results)} finished; "
            "their folders are complete and a new start reuses them):"
        ]
        lines += [f"  {f.describe()}" for f in self.failures]
        lines.append("Fix what each error names, then run the same command again.")
        super().__init__("\n".join(lines))


def ray_task_name(spec: RunSpec) -> str:
    """The name of a run's Ray task, also its worker's process title (``ray::<name>``)."""
    return f"edp_ref run {spec.name}"


def _run_one(
    spec_json: dict[str, Any],
    run_dir: str,
    threads: int,
    progress: bool,
    position: int,
    environment: dict[str, str],
) -> dict[str, Any]:
    """Train one run in this process; its outcome as JSON. A run's own error is returned, not
    raised, so that Ray retries only a worker that died (a retry would not fix a bad file)."""
    where = f"pid {os.getpid()} on {socket.gethostname()}"
    try:
        spec = RunSpec.from_json(spec_json)
        with environment_variables(environment):
            result = train_run(spec, run_dir, progress=progress, position=position, threads=threads)
    except RunInterrupted as exc:  # checkpointed: die by the signal (module docstring)
        exit_by_signal(exc.signum)
    except Exception as exc:
        return _failed(exc, where, details=traceback.format_exc())
    return {"ok": True, "where": where, "seconds": result.seconds, "phases": result.phases}


def _failed(
    exc: BaseException, where: str, message: str | None = None, details: str = ""
) -> dict[str, Any]:
    """The outcome of a run that raised ``exc`` in ``where``."""
    message = str(exc) if message is None else message
    return {
        "ok": False,
        "error": type(exc).__name__,
        "message": message,
        "where": where,
        "details": details,
    }


def check_ray_options(
    where: str,
    launcher: str,
    cpus_per_run: float | int | None,
    gpus_per_run: float | int,
    max_retries: int,
    device: str | None = None,
) -> None:
    """Check the Ray resources of :func:`run_grid` (``where`` names the caller in errors) and,
    when ``device`` (the runs' ``RunSpec.device``) is given, that they agree with it: Ray shows
    a task only the GPUs it reserved for it, so CUDA runs need ``gpus_per_run`` > 0 and GPUs
    reserved for CPU runs would sit idle. A :class:`~edp_ref.runner.spec.FieldError` names the
    option at fault (``cpus_per_run``, ``gpus_per_run``, ``max_retries``)."""
    values = {
        "cpus_per_run": cpus_per_run,
        "gpus_per_run": gpus_per_run,
        "max_retries": max_retries,
    }

    def check(name: str) -> None:
        value, at = values[name], f"{where}: {name}"
        if name == "max_retries":
            check_int(at, value, 0)
            return
        check_real(at, value, 0.0, optional=name == "cpus_per_run")
        if value is None:
            return
        if name == "cpus_per_run" and value <= 0:
            raise ValueError(f"{at} must be > 0 or None, got {value!r}")
        if launcher != "ray" and value != 0:
            raise ValueError(
                f"{at} = {value!r} is a request to Ray's scheduler; with the {launcher} "
                "launcher use jobs and threads"
            )
        if name != "gpus_per_run":
            return
        if value > 1 and value != int(value):
            raise ValueError(f"{at} above 1 must be a whole number of GPUs, got {value!r}")
        on_cuda = device is not None and device.startswith("cuda")
        if launcher == "ray" and on_cuda and value == 0:
            raise ValueError(
                f"{at}: the runs use device {device!r} but ask Ray for no GPU: Ray hides every "
                "GPU from such a task; give a GPU share (0.25 shares one GPU between four runs)"
            )
        if launcher == "ray" and device is not None and not on_cuda and value > 0:
            raise ValueError(
                f"{at} = {value!r} reserves GPUs for runs on device {device!r}; run them on "
                "cuda or ask for no GPU"
            )

    check_fields(values, check)


def run_grid(
    runs: Sequence[tuple[RunSpec, Path]],
    *,
    jobs: int = 1,
    launcher: str = "local",
    threads: int = 1,
    progress: bool = True,
    log: Callable[[str], None] = print,
    cpus_per_run: float | int | None = None,
    gpus_per_run: float | int = 0.0,
    max_retries: int = DEFAULT_MAX_RETRIES,
) -> list[RunResult]:
    """Run every missing run of the grid (``runs`` from
    :func:`~edp_ref.reproduce.experiments.build_grid`) and return all results (finished runs are
    reused).

    Args:
        jobs: parallel processes (``local``) or Ray tasks in flight at once (``ray``; the
            cluster's free CPUs and GPUs limit them too).
        progress: tqdm bars (local runs; Ray runs log one line each when they end).
        cpus_per_run: CPUs Ray reserves per run (None: ``threads``); fractions allowed.
        gpus_per_run: GPUs Ray reserves per run: 0, a fraction in (0, 1] so that several runs
            share one device (0.25: four runs), or a whole number.
        max_retries: times Ray re-runs a run whose worker process died (it resumes from the
            run's last checkpoint); a run's own error is never retried.

    Raises:
        ValueError / TypeError: a bad argument (named), or Ray resources with ``local``.
        RuntimeError: ``ray`` without Ray installed.
        GridRunError: some runs failed; it names each with its error, after all others ended.
    """
    if not runs:
        raise ValueError("run_grid: the grid holds no run (check the filters of build_grid)")
    check_int("run_grid: jobs", jobs, 1)
    check_int("run_grid: threads", threads, 1)
    if launcher not in LAUNCHERS:
        raise ValueError(f"run_grid: unknown launcher {launcher!r}; use 'local' or 'ray'")
    for device in sorted({spec.device for spec, _ in runs}):
        check_ray_options("run_grid", launcher, cpus_per_run, gpus_per_run, max_retries, device)
    done = [(s, d) for s, d in runs if (d / RESULT_FILE).exists()]
    todo = [(s, d) for s, d in runs if not (d / RESULT_FILE).exists()]
    log(f"grid: {len(runs)} run(s), {len(done)} finished (reused), {len(todo)} to run")
    todo = longest_first(todo)
    if launcher == "ray":
        cpus = float(threads) if cpus_per_run is None else float(cpus_per_run)
        outcomes = _run_ray(todo, jobs, threads, cpus, float(gpus_per_run), max_retries, log)
    elif jobs == 1 or len(todo) <= 1:
        outcomes = {
            run_dir: _run_one(spec.to_json(), str(run_dir), threads, progress, 0, {})
            for spec, run_dir in todo
        }
    else:
        outcomes = _run_pool(todo, jobs, threads, progress)
    return _collect(runs, outcomes)


def longest_first(runs: Sequence[tuple[RunSpec, Path]]) -> list[tuple[RunSpec, Path]]:
    """``runs`` in the order a pool of workers finishes soonest (longest processing time
    first): the most updates first and, among equals, diffusion policies before feed-forward
    ones (each update of theirs also runs a sampler, and their evaluations run EAS), so that the
    short runs fill the end; otherwise in the grid's order."""
    return sorted(runs, key=lambda run: (-run[0].total_steps, run[0].registered.policy == "ff"))


def _run_pool(
    todo: Sequence[tuple[RunSpec, Path]], jobs: int, threads: int, progress: bool
) -> dict[Path, dict[str, Any]]:
    outcomes: dict[Path, dict[str, Any]] = {}
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = [
            pool.submit(_run_one, s.to_json(), str(d), threads, progress, i % jobs, {})
            for i, (s, d) in enumerate(todo)
        ]
        for (_, run_dir), future in zip(todo, futures, strict=True):
            try:
                outcome = future.result()
            except Exception as exc:  # the worker process died (BrokenProcessPool)
                message = str(exc) or "the worker process died"
                outcome = _failed(exc, "a spawned worker process", message)
            outcomes[run_dir] = outcome
    return outcomes


def _collect(
    runs: Sequence[tuple[RunSpec, Path]],
    outcomes: dict[Path, dict[str, Any]],
) -> list[RunResult]:
    """Read every result back from its run folder (checked against the checkpoint), with the
    phases of the process that ran it here; raise :class:`GridRunError` naming the failed runs
    after all others are read."""
    results: list[RunResult] = []
    failed: list[RunFailure] = []
    for spec, run_dir in runs:
        outcome = outcomes.get(run_dir, {"ok": True})
        if not outcome["ok"]:
            fields = (outcome[k] for k in ("error", "message", "where", "details"))
            failed.append(RunFailure(spec, run_dir, *fields))
            continue
        if not (run_dir / RESULT_FILE).exists():
            failed.append(
                RunFailure(
                    spec,
                    run_dir,
                    "FileNotFoundError",
                    f"the run ended without error but {run_dir / RESULT_FILE} is not visible "
                    "to the driver: run folders must lie on storage that every node sees at "
                    "the same absolute path (docs/scale_out.md)",
                    "the driver",
                )
            )
            continue
        try:  # a finished folder: only read and checked, never trained again
            result = train_run(spec, run_dir, progress=False)
            results.append(dataclasses.replace(result, phases=outcome.get("phases", {})))
        except Exception as exc:
            failed.append(RunFailure(spec, run_dir, type(exc).__name__, str(exc), "the driver"))
    if failed:
        raise GridRunError(failed, results, len(runs))  # printed once, by its catcher
    return results


def _import_ray() -> Any:
    # Imported by name: Ray is an optional dependency, and mypy checks this module the same
    # whether it is installed or not (its calls are typed Any here).
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise RuntimeError(
            "--launcher ray needs Ray, an optional dependency: `pip install ray` (or "
            "`pip install edp_ref[ray]`; or use the default --launcher local with --jobs N)"
        ) from None


@contextlib.contextmanager
def ray_cluster(cpus_per_run: float, gpus_per_run: float) -> Iterator[None]:
    """Ray connected (``RAY_ADDRESS``, or a new local instance) for a grid, after checking that
    some node can hold one run's request (Ray would otherwise wait for ever); shut down after
    if connected here. ``ValueError`` names the option and the cluster's nodes."""
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False)
    try:
        nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
        if not any(
            r.get("CPU", 0) >= cpus_per_run and r.get("GPU", 0) >= gpus_per_run for r in nodes
        ):
            sizes = ", ".join(f"{r.get('CPU', 0):g} CPUs / {r.get('GPU', 0):g} GPUs" for r in nodes)
            raise ValueError(
                f"--cpus-per-run {cpus_per_run:g} / --gpus-per-run {gpus_per_run:g}: no node of "
                f"the Ray cluster has that much ({sizes or 'no node alive'}); ask for less"
            )
        yield
    finally:
        if started_here:
            ray.shutdown()


def _run_ray(
    todo: Sequence[tuple[RunSpec, Path]],
    jobs: int,
    threads: int,
    cpus: float,
    gpus: float,
    max_retries: int,
    log: Callable[[str], None],
) -> dict[Path, dict[str, Any]]:
    """Run ``todo`` as Ray tasks, at most ``jobs`` in flight; their outcomes by folder."""
    outcomes: dict[Path, dict[str, Any]] = {}
    if not todo:
        return outcomes
    with ray_cluster(cpus, gpus):
        ray = _import_ray()
        remote = ray.remote(_run_one)
        # Where the datasets are, as the driver sees them (module docstring).
        shared = ("D4RL_DATASET_DIR", "MINARI_DATASETS_PATH")
        environment = {k: os.path.abspath(os.environ[k]) for k in shared if os.environ.get(k)}
        queue = list(todo)
        pending: dict[Any, tuple[RunSpec, Path]] = {}
        while queue or pending:
            while queue and len(pending) < jobs:
                spec, run_dir = queue.pop(0)
                ref = remote.options(
                    name=ray_task_name(spec),
                    num_cpus=cpus,
                    num_gpus=gpus,
                    max_retries=max_retries,
                    retry_exceptions=False,
                ).remote(spec.to_json(), os.path.abspath(run_dir), threads, False, 0, environment)
                pending[ref] = (spec, run_dir)
            ready, _ = ray.wait(list(pending), num_returns=1)
            spec, run_dir = pending.pop(ready[0])
            try:
                outcome = ray.get(ready[0])
            except Exception as exc:  # the task's worker died more than max_retries times
                where = f"Ray task {ray_task_name(spec)!r}"
                outcome = _failed(exc, where, f"{exc} (after {max_retries} retries)")
            status = (
                f"{outcome['seconds']:.0f} s" if outcome["ok"] else f"FAILED ({outcome['error']})"
            )
            where = outcome["where"]
            log(f"run {len(outcomes) + 1}/{len(todo)} ended: {spec.name}, {where}, {status}")
            outcomes[run_dir] = outcome
    return outcomes
