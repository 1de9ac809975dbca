"""Launchers: run a grid's runs here, in parallel processes, or on a Ray cluster.

``local`` runs the grid in this process (``jobs = 1``) or in ``jobs`` spawned processes;
``ray`` sends each run to a Ray cluster (``pip install ray``; ``RAY_ADDRESS`` picks the cluster,
else a local instance; run folders must be on storage every node sees). Finished runs are
reused (after their folder is checked, :func:`edp_ref.runner.loop.train_run`); interrupted ones
resume from their checkpoints.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from edp_ref.config_checks import check_int
from edp_ref.runner.loop import train_run
from edp_ref.runner.spec import RunResult, RunSpec

__all__ = ["LAUNCHERS", "run_grid"]

#: The launchers :func:`run_grid` knows.
LAUNCHERS: tuple[str, ...] = ("local", "ray")


def _worker(spec_json: dict[str, Any], run_dir: str, threads: int, position: int) -> dict[str, Any]:
    result = train_run(
        RunSpec.from_json(spec_json), run_dir, progress=True, position=position, threads=threads
    )
    return result.to_json()


def run_grid(
    runs: Sequence[tuple[RunSpec, Path]],
    *,
    jobs: int = 1,
    launcher: str = "local",
    threads: int = 1,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> list[RunResult]:
    """Run every missing run of the grid and return all results (finished runs are reused).

    Args:
        runs: (spec, folder) pairs from :func:`build_grid`.
        jobs: parallel processes (``local``) or concurrent Ray tasks (``ray``).
        launcher: ``local`` or ``ray``.
        threads: torch threads per run (1 is fastest on a shared 2-core machine).
        progress: tqdm bars.
    """
    if not runs:
        raise ValueError("run_grid: the grid holds no run (check the filters of build_grid)")
    check_int("run_grid: jobs", jobs, 1)
    check_int("run_grid: threads", threads, 1)
    if launcher not in LAUNCHERS:
        raise ValueError(f"run_grid: unknown launcher {launcher!r}; use 'local' or 'ray'")
    done = [(s, d) for s, d in runs if (d / "result.json").exists()]
    todo = [(s, d) for s, d in runs if not (d / "result.json").exists()]
    log(f"grid: {len(runs)} run(s), {len(done)} finished (reused), {len(todo)} to run")
    if launcher == "ray":
        _run_ray(todo, jobs, threads)
    elif jobs == 1 or len(todo) <= 1:
        for spec, run_dir in todo:
            train_run(spec, run_dir, progress=progress, threads=threads)
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = [
                pool.submit(_worker, s.to_json(), str(d), threads, i % jobs)
                for i, (s, d) in enumerate(todo)
            ]
            for f in futures:
                f.result()
    return [train_run(s, d, progress=False) for s, d in runs]


def _run_ray(todo: Sequence[tuple[RunSpec, Path]], jobs: int, threads: int) -> None:
    try:
        import ray  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise RuntimeError(
            "--launcher ray needs Ray, an optional dependency: `pip install ray` (or use the "
            "default --launcher local with --jobs N)"
        ) from None
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False)
    remote = ray.remote(num_cpus=threads)(_worker)
    queue = list(todo)
    pending: list[Any] = []
    while queue or pending:
        while queue and len(pending) < jobs:  # at most ``jobs`` runs in flight
            spec, run_dir = queue.pop(0)
            pending.append(remote.remote(spec.to_json(), str(run_dir.resolve()), threads, 0))
        ready, pending = ray.wait(pending, num_returns=1)
        ray.get(ready)  # re-raises a failed run's error
