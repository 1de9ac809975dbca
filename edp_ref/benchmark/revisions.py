"""Benchmarks of this checkout beside another git revision: the other revision's ``edp_ref``
package, and one measurement run in a fresh process that imports a given package
(``scripts/benchmark_generation.py``, ``scripts/benchmark_evaluation.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["package_at", "run_worker"]


def package_at(root: Path, revision: str, into: Path) -> Path:
    """The ``edp_ref`` package of ``revision`` of the repository at ``root`` (``git archive``),
    extracted under ``into``; returns ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", "--format=tar", revision, "edp_ref"],
        check=True,
        capture_output=True,
    ).stdout
    tar_path = into / "edp_ref.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="data")
    return into


def run_worker(
    script: str, source: Path, flags: Sequence[str], cpu: int | None
) -> dict[str, float]:
    """``python script --worker *flags`` in a fresh process importing ``edp_ref`` from
    ``source`` (pinned to ``cpu`` with taskset when given); the JSON of its last line.

    Raises:
        SystemExit: the worker failed; the message names the script, the package and the
            worker's last error line (the callers are command-line scripts: no traceback).
    """
    command = [sys.executable, script, "--worker", *flags]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    env = {**os.environ, "PYTHONPATH": str(source)}
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        name = os.path.basename(script)
        raise SystemExit(
            f"{name}: error: the worker importing edp_ref from {source} failed: {last}"
        )
    out = done.stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result
