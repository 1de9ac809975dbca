"""Peak memory of a training run on a large dataset, measured in a fresh process.

D4RL's medium-expert datasets (Figure 2 uses walker2d-medium-expert-v2) hold about 2M transitions
(medium and expert, 1M each); the benchmark's memory target is a peak resident set below the
dataset's bytes plus 1 GiB (:data:`MEMORY_HEADROOM_BYTES`). To keep the
parent's own allocations out of the figure, :func:`measure_memory` runs :func:`memory_probe` in
a new Python process (``python -c``, importing this module from the same ``edp_ref`` the parent
imported): the probe records the RSS after its imports, builds a synthetic EDP + TD3-shaped
dataset of ``memory_transitions`` rows, runs ``memory_iterations`` updates and reports its peak
RSS (``VmHWM`` on Linux, ``ru_maxrss`` elsewhere) and, on CUDA, the peak allocated bytes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from edp_ref.benchmark.settings import BenchmarkSettings, resolve_device
from edp_ref.benchmark.training import (
    DATASET_FIELDS,
    REFERENCE_RECORD,
    Trainer,
    training_case,
)
from edp_ref.data.synthetic import synthetic_dataset

__all__ = ["MEMORY_HEADROOM_BYTES", "measure_memory", "memory_probe"]

#: The memory a run may use beyond its dataset: 1 GiB.
MEMORY_HEADROOM_BYTES = 1 << 30

# What the child process runs: this module's probe on the settings passed as JSON.
_CHILD = (
    "import json, sys; from edp_ref.benchmark.memory import memory_probe; "
    "print(json.dumps(memory_probe(json.loads(sys.argv[1]))))"
)


def _peak_rss() -> int:
    """Peak RSS of this process in bytes."""
    # Linux: VmHWM of /proc/self/status (ru_maxrss would carry the RSS of the forked parent
    # across exec); elsewhere ru_maxrss.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(kb) * (1 if sys.platform == "darwin" else 1024)


def memory_probe(fields: dict[str, Any]) -> dict[str, Any]:
    """Run in a fresh process: the JSON's ``memory`` section for the settings ``fields``
    (``dataclasses.asdict`` of :class:`BenchmarkSettings`, lists for tuples)."""
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
    s = BenchmarkSettings(**values)
    device = resolve_device(s.device)
    if s.threads:
        torch.set_num_threads(s.threads)
    baseline = _peak_rss()
    data = synthetic_dataset(
        s.memory_transitions, s.obs_dim, s.action_dim, seed=s.seed, device=device
    )
    dataset_bytes = sum(getattr(data, f).nbytes for f in DATASET_FIELDS)
    trainer = Trainer(training_case(s, REFERENCE_RECORD), s, data, device)
    for _ in range(s.memory_iterations):
        trainer.step()
    cuda_peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    peak = _peak_rss()
    limit = dataset_bytes + MEMORY_HEADROOM_BYTES
    return {
        "transitions": s.memory_transitions,
        "dataset_bytes": dataset_bytes,
        "baseline_rss_bytes": baseline,
        "peak_rss_bytes": peak,
        "limit_bytes": limit,
        "iterations": s.memory_iterations,
        "cuda_peak_allocated_bytes": cuda_peak,
        "met": peak < limit,
        "error": None,
    }


def measure_memory(s: BenchmarkSettings) -> dict[str, Any]:
    """:func:`memory_probe` in a new process; a failure is recorded in ``error`` (with the end
    of the child's stderr), not raised."""
    args = json.dumps(dataclasses.asdict(s))
    # The folder holding the imported edp_ref first on PYTHONPATH: the child imports the same code.
    paths = [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, args],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        return result
    except (subprocess.CalledProcessError, ValueError, IndexError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        return {"error": f"{type(exc).__name__}: {exc} {detail[-500:]}", "met": None}
