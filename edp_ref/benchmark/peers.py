"""Training speed of edp_ref next to the official peers (Fig. 2 and App. C.5 of the EDP paper).

On one synthetic dataset with walker2d-medium-expert's shapes (observation 17, action 6, batch
256; :mod:`edp_ref.data.synthetic`) it times, in one process and on one thread, each peer's
training iteration (loaded unmodified by :mod:`edp_ref.peers`) and the matching edp_ref
iteration (:mod:`edp_ref.benchmark.peers_variants`), eager and compiled (``compile=True``):

* EDP + TD3 / CRR / IQL (K = 1000, DPM-Solver-15): the official EDP (JAX) against
  EDPTD3Config / EDPCRRConfig / EDPIQLConfig;
* DQL at K = 5 (vp schedule, DDPM, backpropagation through the chain): the official Diffusion-QL
  (PyTorch) and the official EDP's DQL (JAX) mode against DQLConfig;
* TD3+BC and IQL: CORL (2 x 256 ReLU) against TD3BCConfig / GaussianIQLConfig at 2 x 256 and at
  edp_ref's default 3 x 256 (Mish);

plus the official EDP + TD3 with its DPM-Solver interpolation replaced by a searchsorted lookup:
a DIAGNOSTIC row, not the official code path (:mod:`edp_ref.peers.edp_official`), and any other
registered algorithm asked for (``--only NAME``), timed alone.

An iteration is, for everyone, a batch drawn + the update's randomness drawn + one update, as
each code's own training loop does it. Timing is interleaved
(:func:`edp_ref.benchmark.timing.time_rounds`): after warm-up (compilation included) and a
calibration that fixes each loop's iterations per round (about ``round_seconds`` each), round r
runs every loop once, in an order rotated by r, so that machine noise hits all alike; the figure
is the median over rounds of iterations per second (JAX work is waited for at the end of each
loop's round). Thread settings: one torch thread,
XLA_FLAGS ``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`` (applied when JAX
is not yet imported); pin the process with ``taskset -c 1``. The 1-minute load average is recorded
at the start, after every round and at the end.

JSON (schema ``edp_ref.benchmark.peers/1``): ``created``, ``elapsed_seconds``, ``machine``
(platform, CPU affinity, versions, thread settings), ``loadavg_start`` / ``loadavg_end`` /
``loadavg_rounds``, ``settings``, ``peers`` (per peer: ``available``, ``reason``), ``variants``
(per timed loop: ``key``, ``label``, ``side`` "peer"/"edp_ref", ``mode``, ``diagnostic``,
``iterations_per_round``, ``round_ips``, ``median_ips``, ``build_seconds``, ``warmup_seconds``,
``hyperparameters``, ``error``), ``rows`` (per comparison: ``comparison``, ``peer_key``,
``peer_label``, ``diagnostic``, ``peer_ips``, ``edp_ref_key``, ``edp_ref_eager_ips``,
``edp_ref_compiled_ips``, ``ratio_eager``, ``ratio_compiled`` (edp_ref / peer), ``note``) and
``notes``.

``python scripts/benchmark_peers.py`` (or ``edp-benchmark --peers``) runs it
(:func:`edp_ref.benchmark.cli.peers_main`);
meant to run pinned to one core::

    EDP_OFFICIAL_ROOT=... DQL_OFFICIAL_ROOT=... CORL_ROOT=... \\
        taskset -c 1 python scripts/benchmark_peers.py --rounds 5
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from edp_ref.atomic_files import atomic_write_text
from edp_ref.benchmark.peers_report import NOTES, comparison_rows
from edp_ref.benchmark.peers_variants import (
    loop_builders,
    machine_info,
    peer_availability,
    peer_loop,
)
from edp_ref.benchmark.settings import PEERS_OUTPUT as DEFAULT_OUTPUT
from edp_ref.benchmark.settings import PeerBenchmarkSettings
from edp_ref.benchmark.timing import TimedLoop, load1, time_rounds, warm_and_calibrate
from edp_ref.peers.common import PeerRun, SyntheticTransitions, synthetic_transitions

__all__ = [
    "DEFAULT_OUTPUT",
    "SCHEMA",
    "configure_single_thread",
    "run_peer_benchmark",
    "write_json",
]

SCHEMA = "edp_ref.benchmark.peers/1"
XLA_SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def configure_single_thread() -> dict[str, Any]:
    """One torch thread; XLA's CPU thread pools to one thread if JAX is not imported yet.

    Returns the applied settings (recorded in the JSON).
    """
    jax_imported = "jax" in sys.modules
    if not jax_imported:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} {XLA_SINGLE_THREAD}".strip()
    torch.set_num_threads(1)
    # Raises when already set or when parallel work has started: then it stays as it is.
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    return {
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "xla_flags_applied": not jax_imported,
        "cpu_affinity": sorted(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else None,
    }


def run_peer_benchmark(
    settings: PeerBenchmarkSettings,
    log: Callable[[str], None] = lambda msg: None,
    data: SyntheticTransitions | None = None,
    runs: Mapping[str, PeerRun] | None = None,
) -> dict[str, Any]:
    """Build every loop, warm up, time interleaved rounds; return the JSON document.

    Args:
        settings: sizes, timing and selection.
        log: progress messages.
        data: the synthetic transitions (None: drawn from the settings).
        runs: peer runs already built on ``data``, by key (e.g. ``"edp_official_td3"``), timed
            instead of building new ones (a caller that holds compiled agents saves their
            compilation).
    """
    settings.validate()
    started = time.perf_counter()
    created = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    threads = configure_single_thread()
    load_start = load1()
    if data is None:
        data = synthetic_transitions(
            settings.dataset_transitions, settings.obs_dim, settings.action_dim, settings.seed
        )
    availability = peer_availability(settings)
    for name, info in availability.items():
        if not info["available"]:
            log(f"peer {name} unavailable ({info['reason']}): its rows time edp_ref alone")
    loops: list[TimedLoop] = []
    for builder in loop_builders(settings, availability):
        log(f"building {builder.key} ({builder.mode})")
        t0 = time.perf_counter()
        try:
            prebuilt = (
                runs.get(builder.key) if runs is not None and builder.side == "peer" else None
            )
            loop = peer_loop(prebuilt, settings) if prebuilt is not None else builder.build(data)
        except Exception as exc:
            loop = TimedLoop(
                builder.key, builder.label, builder.side, builder.mode, False, _noop, _noop
            )
            loop.error = f"build: {type(exc).__name__}: {exc}"
        loop.build_seconds = round(time.perf_counter() - t0, 3)
        loops.append(loop)
    for loop in loops:
        if loop.error is None:
            log(f"warming up {loop.key} ({loop.mode})")
            try:
                warm_and_calibrate(
                    loop,
                    settings.warmup,
                    settings.round_seconds,
                    settings.min_round_iterations,
                    settings.max_round_iterations,
                )
            except Exception as exc:
                loop.error = f"warm-up: {type(exc).__name__}: {exc}"
    loads = time_rounds(loops, settings.rounds, log)
    records = [loop.record() for loop in loops]
    return {
        "schema": SCHEMA,
        "created": created,
        "elapsed_seconds": round(time.perf_counter() - started, 1),
        "machine": machine_info(threads),
        "loadavg_start": load_start,
        "loadavg_rounds": loads,
        "loadavg_end": load1(),
        "settings": dataclasses.asdict(settings),
        "peers": availability,
        "variants": records,
        "rows": comparison_rows(settings, records),
        "notes": list(NOTES),
    }


def _noop() -> None:
    return None


def write_json(result: dict[str, Any], path: Path | str = DEFAULT_OUTPUT) -> Path:
    """Write the result as indented JSON (atomically); returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, indent=2, default=str) + "\n")
    return out
