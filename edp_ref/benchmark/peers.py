"""Training speed of edp_ref next to the official peers (Fig. 2 and App. C.5 of the EDP paper).

On one synthetic dataset with walker2d-medium-expert's shapes (observation 17, action 6, batch
256; :mod:`edp_ref.data.synthetic`) it times, in one process and on one thread, each peer's
training iteration (loaded unmodified by :mod:`edp_ref.peers`) and the matching edp_ref
iteration, eager and compiled (``compile=True``):

* EDP + TD3 / CRR / IQL (K = 1000, DPM-Solver-15): the official EDP (JAX) against
  EDPTD3Config / EDPCRRConfig / EDPIQLConfig;
* DQL at K = 5 (vp schedule, DDPM, backpropagation through the chain): the official Diffusion-QL
  (PyTorch) and the official EDP's DQL (JAX) mode against DQLConfig;
* TD3+BC and IQL: CORL (2 x 256 ReLU) against TD3BCConfig / GaussianIQLConfig, both with CORL's
  own networks (PyTorch default init, no gradient clipping) and at edp_ref's default 3 x 256 Mish;

plus the official EDP + TD3 with its DPM-Solver interpolation replaced by a searchsorted lookup:
a DIAGNOSTIC row, not the official code path (:mod:`edp_ref.peers.edp_official`), and any other
registered algorithm asked for (``--only NAME``), timed alone. edp_ref's side is the registered
algorithm of each comparison (:data:`~edp_ref.benchmark.settings.COMPARISON_ALGORITHM`) with the
paper's defaults at the benchmark's sizes (:func:`~edp_ref.benchmark.training.benchmark_config`),
batch checks off (the peers check none).

An iteration is, for everyone, a batch drawn + the update's randomness drawn + one update, as
each code's own training loop does it. Timing is interleaved
(:func:`edp_ref.benchmark.timing.time_rounds`); the figure is the median over rounds of
iterations per second (JAX work is waited for at the end of each loop's round). Thread settings:
one torch thread, XLA_FLAGS ``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``
(applied when JAX is not yet imported); pin the process with ``taskset -c 1``. The 1-minute load
average is recorded at the start, after every round and at the end.

JSON (schema ``edp_ref.benchmark.peers/1``): ``created``, ``elapsed_seconds``, ``machine``
(platform, CPU affinity, versions, thread settings), ``loadavg_start`` / ``loadavg_end`` /
``loadavg_rounds``, ``settings``, ``peers`` (per peer: ``available``, ``reason``), ``variants``
(per timed loop: ``key``, ``label``, ``side`` "peer"/"edp_ref", ``mode``, ``diagnostic``,
``iterations_per_round``, ``round_ips``, ``median_ips``, ``build_seconds``, ``warmup_seconds``,
``hyperparameters``, ``error``), ``rows`` (one peer run beside one edp_ref loop of the same
comparison, or edp_ref alone where no peer runs: ``comparison``, ``peer_key``, ``peer_label``,
``diagnostic``, ``peer_ips``, ``edp_ref_key``, ``edp_ref_eager_ips``, ``edp_ref_compiled_ips``,
``ratio_eager``, ``ratio_compiled`` (edp_ref / peer), ``note``) and ``notes``.

``python scripts/benchmark_peers.py`` (or ``edp-benchmark --peers``,
:func:`edp_ref.benchmark.cli.peers_main`) runs it, meant to be pinned to one core::

    EDP_OFFICIAL_ROOT=... DQL_OFFICIAL_ROOT=... CORL_ROOT=... \\
        taskset -c 1 python scripts/benchmark_peers.py --rounds 5
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import importlib.metadata
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from edp_ref.algorithms import REGISTRY, DiffusionAlgorithmConfig, NetworkConfig
from edp_ref.algorithms.step import TrainingStep
from edp_ref.atomic_files import atomic_write_text
from edp_ref.benchmark.settings import COMPARISON_ALGORITHM, PeerBenchmarkSettings
from edp_ref.benchmark.settings import PEERS_OUTPUT as DEFAULT_OUTPUT
from edp_ref.benchmark.timing import TimedLoop, load1, time_rounds, warm_and_calibrate
from edp_ref.benchmark.training import benchmark_config
from edp_ref.data import TransitionDataset
from edp_ref.peers import (
    DIAGNOSTIC,
    OFFICIAL,
    PEERS,
    PeerRun,
    SyntheticTransitions,
    corl_run,
    diffusion_ql_run,
    official_edp_run,
    synthetic_transitions,
    unavailable_reason,
)
from edp_ref.peers.edp_official import DIAGNOSTIC_NOTE, warm_policy_target_branch

__all__ = [
    "DEFAULT_OUTPUT",
    "NOTES",
    "SCHEMA",
    "comparison_rows",
    "configure_single_thread",
    "format_report",
    "run_peer_benchmark",
    "write_json",
]

SCHEMA = "edp_ref.benchmark.peers/1"
XLA_SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

#: CORL's networks for TD3+BC and IQL (algorithms/offline/td3_bc.py, iql.py: 2 x 256 ReLU,
#: PyTorch's default init); its optimiser clips no gradient.
_CORL_NETWORK = NetworkConfig(hidden=256, layers=2, init="torch", activation="relu")
#: The comparisons timed at two network sizes: key suffix -> (what, the row's note).
_SIZES: dict[str, tuple[str, str]] = {
    "_2x256": ("CORL's 2x256 ReLU", "both CORL's 2 x 256 ReLU networks"),
    "_3x256": ("3x256 Mish (default)", "CORL at its 2 x 256 ReLU"),
}
_TWO_SIZES = ("td3bc", "iql")

RunMaker = Callable[[SyntheticTransitions], PeerRun]


@dataclass(frozen=True)
class LoopBuilder:
    """How to build one timed loop on the benchmark's data: ``key`` (a peer run's key, or
    edp_ref's comparison key), ``side`` ("peer" or "edp_ref"), ``mode`` ("peer", "eager" or
    "compiled")."""

    key: str
    side: str
    mode: str
    build: Callable[[SyntheticTransitions], TimedLoop]


def peer_availability(s: PeerBenchmarkSettings) -> dict[str, dict[str, Any]]:
    """Per peer: ``available``, ``reason`` (None when available) and ``env_var``."""
    roots = {"edp": s.edp_root, "dql": s.dql_root, "corl": s.corl_root}
    out: dict[str, dict[str, Any]] = {}
    for name, root in roots.items():
        reason = unavailable_reason(name, root)
        out[name] = {"available": reason is None, "reason": reason, "env_var": PEERS[name].env_var}
    return out


def edp_ref_keys(comparison: str) -> dict[str, tuple[str, str | None]]:
    """edp_ref's loop keys of a comparison, each with what it is and the note of its table row
    (two network sizes for CORL's)."""
    if comparison in _TWO_SIZES:
        return {comparison + suffix: what for suffix, what in _SIZES.items()}
    return {comparison: ("paper defaults", None)}


def _peer_makers(s: PeerBenchmarkSettings) -> list[tuple[str, str, str, RunMaker]]:
    """(comparison, peer, key, make_run) of every peer run, whether or not its peer is here."""
    edp_kw: dict[str, Any] = {
        "root": s.edp_root,
        "dpm_steps": s.dpm_steps,
        "dpm_t_end": s.dpm_t_end,
        "arch": (s.hidden,) * s.layers,
        "batch_size": s.batch_size,
        "seed": s.seed,
    }

    def edp(algorithm: str, k: int, interpolation: str = OFFICIAL) -> RunMaker:
        return functools.partial(
            official_edp_run, algorithm, interpolation=interpolation, num_steps=k, **edp_kw
        )

    def corl(algorithm: str) -> RunMaker:
        return functools.partial(
            corl_run, algorithm, root=s.corl_root, batch_size=s.batch_size, seed=s.seed
        )

    dql = functools.partial(
        diffusion_ql_run,
        root=s.dql_root,
        num_steps=s.dql_steps,
        batch_size=s.batch_size,
        seed=s.seed,
    )
    makers: list[tuple[str, str, str, RunMaker]] = [
        ("edp_td3", "edp", "edp_official_td3", edp("td3", s.num_steps)),
        ("edp_crr", "edp", "edp_official_crr", edp("crr", s.num_steps)),
        ("edp_iql", "edp", "edp_official_iql", edp("iql", s.num_steps)),
        ("dql", "dql", "dql_official", dql),
        ("dql", "edp", "edp_official_dql_jax", edp("dql_jax", s.dql_steps)),
        ("td3bc", "corl", "corl_td3_bc", corl("td3_bc")),
        ("iql", "corl", "corl_iql", corl("iql")),
    ]
    if s.diagnostic:
        diag = edp("td3", s.num_steps, DIAGNOSTIC)
        makers.insert(1, ("edp_td3", "edp", "edp_official_td3_diagnostic", diag))
    return makers


def peer_keys(comparison: str, s: PeerBenchmarkSettings) -> tuple[str, ...]:
    """The peer runs a comparison is set beside (whether or not their folders are present)."""
    return tuple(key for c, _, key, _ in _peer_makers(s) if c == comparison)


def _edp_ref_loop(
    s: PeerBenchmarkSettings, comparison: str, key: str, mode: str, data: SyntheticTransitions
) -> TimedLoop:
    algorithm = REGISTRY[COMPARISON_ALGORITHM.get(comparison, comparison)]
    if key.endswith("_2x256"):
        config = algorithm.config_class(network=_CORL_NETWORK, check_batch=False)
        config = dataclasses.replace(
            config, optimizer=dataclasses.replace(config.optimizer, max_grad_norm=None)
        )
    elif key.endswith("_3x256"):
        config = algorithm.config_class(check_batch=False)
    elif comparison == "dql":
        config = benchmark_config(algorithm, s.hidden, s.layers, s.dql_steps)
    else:
        config = benchmark_config(
            algorithm, s.hidden, s.layers, s.num_steps, dpm_steps=s.dpm_steps, dpm_t_end=s.dpm_t_end
        )
    config = dataclasses.replace(config, compile=mode == "compiled")
    # The arrays the peers index, shared rather than copied.
    dataset = TransitionDataset.from_arrays(data.d4rl_dict(), source="peer benchmark data")
    step = TrainingStep(
        algorithm,
        config,
        dataset,
        s.batch_size,
        batches=torch.Generator().manual_seed(s.seed + 1),
        randomness=torch.Generator().manual_seed(s.seed + 2),
    )
    init = torch.Generator().manual_seed(s.seed)
    state = [algorithm.init(config, data.obs_dim, data.action_dim, init, "cpu")]

    def iteration() -> None:
        state[0], _ = step(state[0])

    return TimedLoop(
        key=key,
        label=f"edp_ref {algorithm.title} ({edp_ref_keys(comparison)[key][0]})",
        side="edp_ref",
        mode=mode,
        diagnostic=False,
        step=iteration,
        sync=lambda: None,
        # JSON-ready: tuples as lists, anything else JSON lacks as its str().
        hyperparameters=json.loads(json.dumps(dataclasses.asdict(config), default=str)),
    )


def peer_loop(run: PeerRun, s: PeerBenchmarkSettings) -> TimedLoop:
    """The timed loop of a peer run (the official EDP's warm-up also compiles the
    ``policy_tgt_update=True`` branch when ``s.precompile_policy_target``)."""
    warm = None
    if run.key.startswith("edp_official") and s.precompile_policy_target:
        warm = functools.partial(warm_policy_target_branch, run)
    return TimedLoop(
        key=run.key,
        label=run.label,
        side="peer",
        mode="peer",
        diagnostic=run.diagnostic,
        step=run.step,
        sync=run.sync,
        warm=warm,
        hyperparameters=run.hyperparameters,
    )


def loop_builders(
    s: PeerBenchmarkSettings,
    availability: dict[str, dict[str, Any]],
    runs: Mapping[str, PeerRun],
) -> list[LoopBuilder]:
    """Every loop of the selected comparisons: the available peers first (those in ``runs``
    already built), then edp_ref's per mode."""
    builders: list[LoopBuilder] = []
    for comparison, peer, key, make_run in _peer_makers(s):
        if comparison in s.comparisons and availability[peer]["available"]:

            def build_peer(
                data: SyntheticTransitions,
                make_run: RunMaker = make_run,
                key: str = key,
            ) -> TimedLoop:
                return peer_loop(runs.get(key) or make_run(data), s)

            builders.append(LoopBuilder(key, "peer", "peer", build_peer))
    for mode in s.modes:
        for comparison in s.comparisons:
            for key in edp_ref_keys(comparison):
                build = functools.partial(_edp_ref_loop, s, comparison, key, mode)
                builders.append(LoopBuilder(key, "edp_ref", mode, build))
    return builders


def machine_info(threads: dict[str, Any]) -> dict[str, Any]:
    """Platform, CPU, package versions and the thread settings in force."""
    versions: dict[str, str | None] = {}
    for package in ("torch", "numpy", "jax", "jaxlib", "flax", "optax", "distrax"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "python": platform.python_version(),
        "versions": versions,
        **threads,
    }


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

    ``data`` None draws the synthetic transitions from the settings; ``runs`` are peer runs
    already built on ``data``, by key (e.g. ``"edp_official_td3"``), timed instead of new ones (a
    caller that holds compiled agents saves their compilation).
    """
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
    for builder in loop_builders(settings, availability, runs or {}):
        log(f"building {builder.key} ({builder.mode})")
        t0 = time.perf_counter()
        try:
            loop = builder.build(data)
        except Exception as exc:
            loop = TimedLoop(
                builder.key, builder.key, builder.side, builder.mode, False, _noop, _noop
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


NOTES: tuple[str, ...] = (
    "The 2 x 256 rows build CORL's own networks in edp_ref (NetworkConfig(hidden=256, layers=2, "
    "init='torch', activation='relu'), no gradient clipping); the 3 x 256 rows are edp_ref's "
    "defaults (Sec. 5's Mish MLPs) against CORL at its own 2 x 256 ReLU.",
    "CORL's IQL steps a cosine learning-rate schedule of the actor every update "
    "(CosineAnnealingLR over max_timesteps); edp_ref's GaussianIQLConfig has none.",
    "The official EDP's trainer is not run (it needs D4RL, TensorFlow, wandb and a data package "
    "absent from the snapshot): its batch drawing (data/sampler.py RandSampler + "
    "Dataset.retrieve, i.e. np.random.randint + utilities/replay_buffer.py index_batch, then "
    "batch_to_jax) and agent.train(batch) are called as its loop calls them. Its "
    "policy_tgt_update=True branch is compiled during warm-up so that no recompilation falls "
    "inside a timed round.",
    "Rows marked DIAGNOSTIC time the official EDP with dpm_solver.interpolate_fn replaced by a "
    "searchsorted lookup: not the official code path, only a measure of what that function costs.",
)


def _title(comparison: str, s: PeerBenchmarkSettings) -> str:
    algorithm = REGISTRY[COMPARISON_ALGORITHM.get(comparison, comparison)]
    if comparison == "dql":
        return f"DQL vp K={s.dql_steps}"
    if isinstance(algorithm.config_class(), DiffusionAlgorithmConfig):
        return f"{algorithm.title} K={s.num_steps} DPM-{s.dpm_steps}"
    return algorithm.title


def comparison_rows(
    s: PeerBenchmarkSettings, records: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One row per (peer run, edp_ref loop) of each comparison: both median IPS and the ratios
    edp_ref / peer.

    A row whose peer was not run (unavailable, or diagnostic off) keeps edp_ref's figures with
    ``peer_ips`` null; a row is left out when neither side was run.
    """

    def find(key: str, mode: str) -> dict[str, Any] | None:
        return next((r for r in records if r["key"] == key and r["mode"] == mode), None)

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    rows: list[dict[str, Any]] = []
    for comparison in s.comparisons:
        for peer_key in peer_keys(comparison, s) or (None,):
            for ref_key, (what, note) in edp_ref_keys(comparison).items():
                peer = find(peer_key, "peer") if peer_key else None
                eager, compiled = find(ref_key, "eager"), find(ref_key, "compiled")
                if peer is None and eager is None and compiled is None:
                    continue
                diagnostic = peer_key is not None and peer_key.endswith("_diagnostic")
                peer_ips = peer["median_ips"] if peer else None
                eager_ips = eager["median_ips"] if eager else None
                compiled_ips = compiled["median_ips"] if compiled else None
                rows.append(
                    {
                        "comparison": _title(comparison, s)
                        + (f" {what}" if note is not None else ""),
                        "peer_key": peer_key,
                        "peer_label": peer["label"] if peer else None,
                        "diagnostic": diagnostic,
                        "peer_ips": peer_ips,
                        "edp_ref_key": ref_key,
                        "edp_ref_eager_ips": eager_ips,
                        "edp_ref_compiled_ips": compiled_ips,
                        "ratio_eager": ratio(eager_ips, peer_ips),
                        "ratio_compiled": ratio(compiled_ips, peer_ips),
                        "note": DIAGNOSTIC_NOTE if diagnostic else note,
                    }
                )
    return rows


def _fmt(x: float | None, spec: str = ".3g") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return format(x, spec)


def format_report(result: dict[str, Any]) -> str:
    """The comparison table, the per-variant figures, the load and the notes, as text."""
    lines = [
        "Training iterations per second, edp_ref vs the official peers (median over "
        f"{result['settings']['rounds']} interleaved rounds; one thread; preset "
        f"{result['settings']['preset']})",
        f"load average (1 min): start {result['loadavg_start']}, rounds "
        f"{result['loadavg_rounds']}, end {result['loadavg_end']}; CPU affinity "
        f"{result['machine'].get('cpu_affinity')}",
    ]
    for name, info in result["peers"].items():
        if not info["available"]:
            lines.append(f"peer {name} not run: {info['reason']}")
    header = (
        f"{'comparison':<44} {'peer':<34} {'peer IPS':>9} {'eager IPS':>9} {'compiled':>9} "
        f"{'eager/peer':>10} {'comp/peer':>9}"
    )
    lines += ["", header, "-" * len(header)]
    for row in result["rows"]:
        peer = row["peer_label"] or (
            f"({row['peer_key']}: not run)" if row["peer_key"] else "(no peer)"
        )
        peer = peer.split(" [")[0]
        lines.append(
            f"{row['comparison']:<44.44} {peer:<34.34} {_fmt(row['peer_ips']):>9} "
            f"{_fmt(row['edp_ref_eager_ips']):>9} {_fmt(row['edp_ref_compiled_ips']):>9} "
            f"{_fmt(row['ratio_eager']):>10} {_fmt(row['ratio_compiled']):>9}"
        )
        if row["diagnostic"]:
            lines.append(f"{'':<4}^ {row['note']}")
        elif row["note"]:
            lines.append(f"{'':<4}({row['note']})")
    lines += ["", "Variants (median IPS over rounds; iterations per round; warm-up seconds):"]
    for v in result["variants"]:
        status = f"ERROR {v['error']}" if v["error"] else ""
        rounds = ", ".join(_fmt(x) for x in v["round_ips"])
        lines.append(
            f"  {v['key']:<30} {v['mode']:<8} {_fmt(v['median_ips']):>9}  "
            f"n={v['iterations_per_round']:<5} warm-up {_fmt(v['warmup_seconds'])} s  "
            f"[{rounds}] {status}"
        )
    lines += ["", "Notes:"] + [f"- {n}" for n in result["notes"]]
    lines.append(f"elapsed {result['elapsed_seconds']} s")
    return "\n".join(lines)
