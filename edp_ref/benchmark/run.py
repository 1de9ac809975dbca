"""One benchmark run: every measurement of the settings, in one process, as one JSON document.

:func:`run_benchmark` returns, and :func:`write_json` writes (default
``runs/benchmark/benchmark.json``), a document of schema :data:`SCHEMA`:

* ``schema``: ``"edp_ref.benchmark/1"``; ``created``: ISO-8601 UTC time; ``elapsed_seconds``.
* ``machine``: ``platform``, ``processor``, ``cpu_count``, ``torch_version``, ``device``
  (``"cpu"``/``"cuda"``), ``device_name``, ``torch_threads``, ``loadavg_start`` and
  ``loadavg_end`` (``os.getloadavg()``: 1, 5, 15 min).
* ``settings``: every field of :class:`~edp_ref.benchmark.settings.BenchmarkSettings`
  (``preset``: full / quick / tiny).
* ``matmul``: the dense-matmul reference (:func:`~edp_ref.benchmark.timing.measure_matmul`):
  ``layer_shapes`` ([rows, in, out] of each Linear of one MLP forward), ``flops_per_pass``,
  ``seconds_median``, ``flops_per_second`` (the reference rate), ``square_flops_per_second``
  (one [B, H] x [H, H] product) and ``loadavg``.
* ``training``: one record per (case, mode) (:mod:`~edp_ref.benchmark.training`): ``name``
  (each registered algorithm's name, Diffusion-QL as ``dql_k<K>`` for each K of ``dql_steps``),
  ``label``, ``mode`` (``"eager"``/``"compiled"``), ``num_steps`` (K, null for feed-forward),
  ``iterations`` (timed), ``seconds_per_iteration`` (median), ``iterations_per_second``,
  ``extrapolated`` and ``note``, ``flops_per_iteration``, ``flops_per_second``,
  ``fraction_of_matmul_rate``, ``ratio_to_edp_td3`` (IPS over EDP + TD3's in the same mode),
  ``paper`` (the paper's ``{"label", "ips", "ratio_to_edp", "source"}``, never measured here),
  ``loadavg`` (1-min load after the measurement), ``compile_seconds`` and ``error`` (null, or
  why it did not run). Diffusion-QL at the largest K is by default ``extrapolated`` (affine in K
  from the two smaller K, ``iterations`` 0); when it is also timed the estimate is
  ``dql_k<K>_extrapolated``.
* ``sampling``: one record per (sampler, candidates, states, mode)
  (:mod:`~edp_ref.benchmark.sampling`): ``sampler`` (``"dpm_solver"``/``"ddpm"``),
  ``model_calls`` (15 or K), ``candidates`` (N), ``states``, ``mode``, ``calls``,
  ``seconds_per_call``, ``actions_per_second`` (states / seconds), ``ratio_dpm_to_ddpm`` (on
  DPM-Solver records, against eager DDPM), ``loadavg``, ``error``; and ``sampling_paper``:
  Figure 2's sampling steps per second (environment steps, paper's GPU).
* ``multiseed`` (:mod:`~edp_ref.benchmark.multiseed`): ``algorithm``, ``seeds`` (S),
  ``sequential_seconds`` and ``vmap_seconds`` (per iteration of all S seeds),
  ``vmap_compiled_seconds`` (or null), ``speedup_vmap`` (sequential over vmap),
  ``speedup_vmap_compiled``, ``faster_path``, ``loadavg``, ``error``.
* ``memory`` (:mod:`~edp_ref.benchmark.memory`): ``transitions``, ``dataset_bytes``,
  ``baseline_rss_bytes`` (after imports), ``peak_rss_bytes`` (peak RSS of the run's process:
  ``VmHWM``, else ``ru_maxrss``), ``limit_bytes`` (dataset + 1 GiB), ``iterations``,
  ``cuda_peak_allocated_bytes`` (or null), ``met``, ``error``.
* ``profile`` (:func:`~edp_ref.benchmark.training.profile_update`): one EDP + TD3 update under
  ``torch.profiler``: ``ops``, ``dpm_plan_builds`` (DPM-Solver plans built during the update: 0
  when its constants are cached), ``dpm_plans_cached``, ``small_op_counts`` and
  ``small_op_fraction`` (self-CPU share of ``aten::full``/``_to_copy``/``index``/``fill_``).
* ``targets`` (:func:`~edp_ref.benchmark.report.targets`): list of ``{"name", "value", "threshold",
  "met", "note"}``.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from edp_ref.atomic_files import atomic_write_text
from edp_ref.benchmark.memory import measure_memory
from edp_ref.benchmark.multiseed import measure_multiseed
from edp_ref.benchmark.report import sampling_paper_summary, targets
from edp_ref.benchmark.sampling import measure_sampling
from edp_ref.benchmark.settings import DEFAULT_OUTPUT, BenchmarkSettings, resolve_device
from edp_ref.benchmark.timing import loadavg, measure_matmul
from edp_ref.benchmark.training import check_compile_names, profile_update, training_records
from edp_ref.data.synthetic import synthetic_dataset

__all__ = ["DEFAULT_OUTPUT", "SCHEMA", "run_benchmark", "write_json"]

SCHEMA = "edp_ref.benchmark/1"


def _machine(device: torch.device) -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_version": torch.__version__,
        "device": device.type,
        "device_name": (
            torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine()
        ),
        "torch_threads": torch.get_num_threads(),
        "loadavg_start": loadavg(),
        "loadavg_end": None,
    }


def run_benchmark(
    settings: BenchmarkSettings, log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Run every measurement of ``settings`` and return the JSON document (module docstring);
    ``log`` receives one line per step.

    Raises:
        ValueError: before any measurement, for a device this machine lacks or a
            ``compile_names`` entry that is no training case.
    """
    say = log or (lambda _msg: None)
    s = settings
    device = resolve_device(s.device)
    check_compile_names(s)
    if s.threads:
        torch.set_num_threads(s.threads)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": _machine(device),
        "settings": dataclasses.asdict(s),
    }
    say(f"device {device}, {torch.get_num_threads()} threads, load {loadavg()}")
    result["matmul"] = measure_matmul(s, device)
    say(f"dense matmul: {result['matmul']['flops_per_second'] / 1e9:.1f} GFLOP/s")
    data = synthetic_dataset(
        s.dataset_transitions, s.obs_dim, s.action_dim, seed=s.seed, device=device
    )
    result["training"] = training_records(
        s, data, device, result["matmul"]["flops_per_second"], say
    )
    say("sampling ...")
    result["sampling"] = measure_sampling(s, device)
    result["sampling_paper"] = sampling_paper_summary()
    say(f"multiseed (S={s.seeds}) ...")
    result["multiseed"] = measure_multiseed(s, data, device)
    say("profile ...")
    result["profile"] = profile_update(s, data, device)
    say(f"memory ({s.memory_transitions} transitions, subprocess) ...")
    result["memory"] = measure_memory(s)
    result["machine"]["loadavg_end"] = loadavg()
    result["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    result["targets"] = targets(result)
    return result


def write_json(result: dict[str, Any], path: Path | str = DEFAULT_OUTPUT) -> Path:
    """Write the benchmark document as JSON, atomically (parent folders created)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, indent=2, sort_keys=False) + "\n")
    return out
