"""Training speed of edp_ref next to the official peers (Fig. 2 and App. C.5 of the EDP paper).

On one synthetic dataset with walker2d-medium-expert's shapes (observation 17, action 6, batch
256) it times, in one process and on one thread, each peer's training iteration (loaded
unmodified by :mod:`edp_ref.peers`) and the matching edp_ref update, eager and compiled
(``compile=True``):

* EDP + TD3 / CRR / IQL (K = 1000, DPM-Solver-15): the official EDP (JAX) against
  EDPTD3Config / EDPCRRConfig / EDPIQLConfig;
* DQL at K = 5 (vp schedule, DDPM, backpropagation through the chain): the official Diffusion-QL
  (PyTorch) and the official EDP's DQL (JAX) mode against DQLConfig;
* TD3+BC and IQL: CORL (2 x 256 ReLU) against TD3BCConfig / GaussianIQLConfig at 2 x 256 and at
  edp_ref's default 3 x 256 (Mish);

plus the official EDP + TD3 with its DPM-Solver interpolation replaced by a searchsorted lookup:
a DIAGNOSTIC row, not the official code path (:mod:`edp_ref.peers.edp_official`).

An iteration is, for everyone, a batch drawn + the update's randomness drawn + one update, as
each code's own training loop does it. Timing is interleaved: after warm-up (compilation
included) and a calibration that fixes each variant's iterations per round (about
``round_seconds`` each), round r runs every variant once, in an order rotated by r, so that
machine noise hits all alike; the figure is the median over rounds of iterations per second
(JAX work is waited for at the end of each variant's round). Thread settings: one torch thread,
XLA_FLAGS ``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`` (applied when JAX
is not yet imported); pin the process with ``taskset -c 1``. The 1-minute load average is recorded
at the start, after every round and at the end.

JSON (schema ``edp_ref.benchmark.peers/1``): ``created``, ``elapsed_seconds``, ``machine``
(platform, CPU affinity, versions, thread settings), ``loadavg_start`` / ``loadavg_end`` /
``loadavg_rounds``, ``settings``, ``peers`` (per peer: ``available``, ``reason``), ``variants``
(per timed variant: ``key``, ``label``, ``side`` "peer"/"edp_ref", ``mode``, ``diagnostic``,
``iterations_per_round``, ``round_ips``, ``median_ips``, ``build_seconds``, ``warmup_seconds``,
``hyperparameters``, ``error``), ``rows`` (per comparison: ``comparison``, ``peer_key``,
``peer_label``, ``diagnostic``, ``peer_ips``, ``edp_ref_key``, ``edp_ref_eager_ips``,
``edp_ref_compiled_ips``, ``ratio_eager``, ``ratio_compiled`` (edp_ref / peer), ``note``) and
``notes``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from edp_ref.peers.common import PeerRun, SyntheticTransitions, synthetic_transitions

__all__ = [
    "COMPARISONS",
    "SCHEMA",
    "PeerBenchmarkSettings",
    "configure_single_thread",
    "run_peer_benchmark",
]

SCHEMA = "edp_ref.benchmark.peers/1"
XLA_SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
# Comparison groups, in table order.
COMPARISONS: tuple[str, ...] = ("edp_td3", "edp_crr", "edp_iql", "dql", "td3bc", "iql")


@dataclass(frozen=True)
class PeerBenchmarkSettings:
    """Sizes, timing and selection of the peer benchmark (``full()`` / ``tiny()``)."""

    preset: str = "full"
    obs_dim: int = 17
    action_dim: int = 6
    batch_size: int = 256
    # Synthetic transitions (walker2d-medium-expert-v2 holds about 2M).
    dataset_transitions: int = 2_000_000
    # K of EDP, DPM-Solver model calls and end time (None: 1e-3 = 1/K at K = 1000).
    num_steps: int = 1000
    dpm_steps: int = 15
    dpm_t_end: float | None = None
    # K of DQL (Diffusion-QL's vp schedule).
    dql_steps: int = 5
    # Hidden layers of the diffusion agents' networks (paper: 3 x 256).
    hidden: int = 256
    layers: int = 3
    rounds: int = 5
    round_seconds: float = 2.0
    min_round_iterations: int = 1
    max_round_iterations: int = 2000
    warmup: int = 2
    # Compile the official EDP's policy_tgt_update=True branch during warm-up (it is taken from
    # step 1000 on; without it a variant that crosses step 1000 recompiles inside a round).
    precompile_policy_target: bool = True
    modes: tuple[str, ...] = ("eager", "compiled")
    diagnostic: bool = True
    comparisons: tuple[str, ...] = COMPARISONS
    seed: int = 0
    edp_root: str | None = None
    dql_root: str | None = None
    corl_root: str | None = None

    @classmethod
    def full(cls, **changes: Any) -> PeerBenchmarkSettings:
        """The paper's sizes (about 10 minutes on one core)."""
        return dataclasses.replace(cls(), **changes)

    @classmethod
    def tiny(cls, **changes: Any) -> PeerBenchmarkSettings:
        """Seconds: tiny sizes, for tests of the harness (CORL and Diffusion-QL keep their fixed
        256-unit networks)."""
        base = cls(
            preset="tiny",
            obs_dim=3,
            action_dim=2,
            batch_size=8,
            dataset_transitions=200,
            num_steps=50,  # the official linear schedule needs K >= 21 (beta <= 1)
            dpm_steps=3,
            dpm_t_end=0.02,  # = 1/K: below it the official interpolation extrapolates
            dql_steps=2,
            hidden=8,
            layers=1,
            rounds=2,
            round_seconds=0.0,
            warmup=1,
            precompile_policy_target=False,  # tiny runs stay far below step 1000
            modes=("eager",),
        )
        return dataclasses.replace(base, **changes)

    def validate(self) -> None:
        """Raise ValueError naming the field for an unknown comparison or mode, or a bad size."""
        unknown = [c for c in self.comparisons if c not in COMPARISONS]
        if unknown:
            raise ValueError(
                f"PeerBenchmarkSettings.comparisons: unknown {unknown}; expected {COMPARISONS}"
            )
        bad_modes = [m for m in self.modes if m not in ("eager", "compiled")]
        if bad_modes or not self.modes:
            raise ValueError(
                f"PeerBenchmarkSettings.modes: got {self.modes}; expected 'eager' and/or 'compiled'"
            )
        for name in ("batch_size", "dataset_transitions", "rounds", "num_steps", "dql_steps"):
            if getattr(self, name) <= 0:
                raise ValueError(
                    f"PeerBenchmarkSettings.{name} must be positive, got {getattr(self, name)}"
                )


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


def _load1() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover - platforms without getloadavg
        return None


@dataclass(eq=False)
class _Variant:
    """One timed training loop (a peer's, or edp_ref's in one mode)."""

    key: str
    label: str
    side: str
    mode: str
    diagnostic: bool
    step: Callable[[], object]
    sync: Callable[[], None]
    warm: Callable[[], None] | None = None
    hyperparameters: dict[str, Any] = dataclasses.field(default_factory=dict)
    build_seconds: float | None = None
    warmup_seconds: float | None = None
    iterations_per_round: int = 0
    round_ips: list[float] = dataclasses.field(default_factory=list)
    error: str | None = None

    def record(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "side": self.side,
            "mode": self.mode,
            "diagnostic": self.diagnostic,
            "iterations_per_round": self.iterations_per_round,
            "round_ips": self.round_ips,
            "median_ips": statistics.median(self.round_ips) if self.round_ips else None,
            "build_seconds": self.build_seconds,
            "warmup_seconds": self.warmup_seconds,
            "hyperparameters": self.hyperparameters,
            "error": self.error,
        }


def _peer_variant(run: PeerRun, warm: Callable[[], None] | None = None) -> _Variant:
    return _Variant(
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


def _warm_and_calibrate(v: _Variant, s: PeerBenchmarkSettings) -> None:
    t0 = time.perf_counter()
    for _ in range(s.warmup):
        v.step()
    v.sync()
    if v.warm is not None:
        v.warm()
    v.warmup_seconds = round(time.perf_counter() - t0, 3)
    # Calibration: at least one iteration and about a tenth of a round.
    n, t0 = 0, time.perf_counter()
    while True:
        v.step()
        n += 1
        v.sync()
        elapsed = time.perf_counter() - t0
        if elapsed >= 0.1 * s.round_seconds or n >= s.max_round_iterations:
            break
    wanted = math.ceil(s.round_seconds / (elapsed / n)) if s.round_seconds > 0 else 1
    v.iterations_per_round = max(s.min_round_iterations, min(s.max_round_iterations, wanted))


def _time_rounds(
    variants: list[_Variant], s: PeerBenchmarkSettings, log: Callable[[str], None]
) -> list[float | None]:
    """Round r runs every variant ``iterations_per_round`` times, order rotated by r."""
    loads: list[float | None] = []
    live = [v for v in variants if v.error is None]
    for r in range(s.rounds):
        order = live[r % len(live) :] + live[: r % len(live)] if live else []
        for v in order:
            if v.error is not None:
                continue
            try:
                t0 = time.perf_counter()
                for _ in range(v.iterations_per_round):
                    v.step()
                v.sync()
                v.round_ips.append(v.iterations_per_round / (time.perf_counter() - t0))
            except Exception as exc:
                v.error = f"round {r}: {type(exc).__name__}: {exc}"
        loads.append(_load1())
        log(f"round {r + 1}/{s.rounds} done (load {loads[-1]})")
    return loads


def run_peer_benchmark(
    settings: PeerBenchmarkSettings,
    log: Callable[[str], None] = lambda msg: None,
    data: SyntheticTransitions | None = None,
    runs: Mapping[str, PeerRun] | None = None,
) -> dict[str, Any]:
    """Build every variant, warm up, time interleaved rounds; return the JSON document.

    Args:
        settings: sizes, timing and selection.
        log: progress messages.
        data: the synthetic transitions (None: drawn from the settings).
        runs: peer runs already built on ``data``, by key (e.g. ``"edp_official_td3"``), timed
            instead of building new ones (a caller that holds compiled agents saves their
            compilation).
    """
    from edp_ref.benchmark import peers_variants as pv
    from edp_ref.benchmark.peers_report import NOTES, comparison_rows

    settings.validate()
    started = time.perf_counter()
    created = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    threads = configure_single_thread()
    load_start = _load1()
    if data is None:
        data = synthetic_transitions(
            settings.dataset_transitions, settings.obs_dim, settings.action_dim, settings.seed
        )
    availability = pv.peer_availability(settings)
    for name, info in availability.items():
        if not info["available"]:
            log(f"peer {name} unavailable ({info['reason']}): its rows time edp_ref alone")
    specs = pv.variant_specs(settings, availability)
    variants: list[_Variant] = []
    for spec in specs:
        log(f"building {spec.key}")
        t0 = time.perf_counter()
        try:
            prebuilt = runs.get(spec.key) if runs is not None and spec.side == "peer" else None
            v = pv.peer_variant(prebuilt, settings) if prebuilt is not None else spec.build(data)
        except Exception as exc:
            v = _Variant(spec.key, spec.label, spec.side, spec.mode, False, _noop, _noop)
            v.error = f"build: {type(exc).__name__}: {exc}"
        v.build_seconds = round(time.perf_counter() - t0, 3)
        variants.append(v)
    for v in variants:
        if v.error is None:
            log(f"warming up {v.key} ({v.mode})")
            try:
                _warm_and_calibrate(v, settings)
            except Exception as exc:
                v.error = f"warm-up: {type(exc).__name__}: {exc}"
    loads = _time_rounds(variants, settings, log)
    records = [v.record() for v in variants]
    return {
        "schema": SCHEMA,
        "created": created,
        "elapsed_seconds": round(time.perf_counter() - started, 1),
        "machine": pv.machine_info(threads),
        "loadavg_start": load_start,
        "loadavg_rounds": loads,
        "loadavg_end": _load1(),
        "settings": dataclasses.asdict(settings),
        "peers": availability,
        "variants": records,
        "rows": comparison_rows(settings, records),
        "notes": list(NOTES),
    }


def _noop() -> None:
    return None
