"""What the peer benchmark (:mod:`edp_ref.benchmark.peers`) times: the peers' training loops and
edp_ref's matching ones, as :class:`~edp_ref.benchmark.timing.TimedLoop` builders.

edp_ref's side comes from :data:`edp_ref.algorithms.REGISTRY`: each comparison times its
registered algorithm (:data:`~edp_ref.benchmark.settings.COMPARISON_ALGORITHM`) with the paper's
defaults at the benchmark's sizes (:func:`~edp_ref.benchmark.cases.benchmark_config`: K = 1000
with DPM-Solver-15 for EDP, Diffusion-QL's vp K = 5, 3 x 256 networks), one
:class:`~edp_ref.algorithms.step.TrainingStep` per iteration, eager or compiled. TD3+BC and IQL
are timed twice: with CORL's own 2 x 256 ReLU networks (PyTorch default init, no gradient
clipping, as CORL) and at edp_ref's default 3 x 256 Mish. An algorithm registered later is a
comparison of its own, timed without a peer. Batch checks are off for all (the peers check none).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import platform
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from edp_ref.algorithms import REGISTRY, NetworkConfig
from edp_ref.algorithms.step import TrainingStep
from edp_ref.benchmark.cases import benchmark_config
from edp_ref.benchmark.settings import COMPARISON_ALGORITHM, PeerBenchmarkSettings
from edp_ref.benchmark.timing import TimedLoop
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
    unavailable_reason,
    warm_policy_target_branch,
)

__all__ = [
    "LoopBuilder",
    "edp_ref_keys",
    "loop_builders",
    "machine_info",
    "peer_availability",
    "peer_keys",
    "peer_loop",
]

#: CORL's networks for TD3+BC and IQL (algorithms/offline/td3_bc.py, iql.py: 2 x 256 ReLU,
#: PyTorch's default init) and its optimiser (no gradient clipping).
_CORL_CHANGES: dict[str, Any] = {
    "network": NetworkConfig(hidden=256, layers=2, init="torch", activation="relu"),
}
#: The comparisons timed at two network sizes: key suffix -> (what, the row's note).
_SIZES: dict[str, tuple[str, str]] = {
    "_2x256": ("CORL's 2x256 ReLU", "both CORL's 2 x 256 ReLU networks"),
    "_3x256": ("3x256 Mish (default)", "CORL at its 2 x 256 ReLU"),
}
_TWO_SIZES = ("td3bc", "iql")


@dataclass(frozen=True)
class LoopBuilder:
    """How to build one timed loop on the benchmark's data.

    Attributes:
        key: the loop's identifier (a peer run's key, or edp_ref's comparison key).
        label: what it is.
        side: "peer" or "edp_ref".
        mode: "peer", "eager" or "compiled".
        build: builds the loop from the data.
    """

    key: str
    label: str
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


def peer_keys(comparison: str, s: PeerBenchmarkSettings) -> tuple[str, ...]:
    """The peer runs a comparison is set beside (whether or not their folders are present)."""
    everything = {name: {"available": True} for name in PEERS}
    return tuple(key for c, _, key, _ in _peer_makers(s, everything) if c == comparison)


def _edp_ref_config(s: PeerBenchmarkSettings, comparison: str, key: str) -> Any:
    algorithm = REGISTRY[COMPARISON_ALGORITHM.get(comparison, comparison)]
    if key.endswith("_2x256"):
        config = algorithm.config_class(**_CORL_CHANGES, check_batch=False)
        return dataclasses.replace(
            config, optimizer=dataclasses.replace(config.optimizer, max_grad_norm=None)
        )
    if key.endswith("_3x256"):
        return algorithm.config_class(check_batch=False)
    if comparison == "dql":
        return benchmark_config(algorithm, s.hidden, s.layers, s.dql_steps)
    return benchmark_config(
        algorithm, s.hidden, s.layers, s.num_steps, dpm_steps=s.dpm_steps, dpm_t_end=s.dpm_t_end
    )


def _edp_ref_loop(
    s: PeerBenchmarkSettings, comparison: str, key: str, mode: str, data: SyntheticTransitions
) -> TimedLoop:
    algorithm = REGISTRY[COMPARISON_ALGORITHM.get(comparison, comparison)]
    config = dataclasses.replace(_edp_ref_config(s, comparison, key), compile=mode == "compiled")
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
        hyperparameters=_jsonable(dataclasses.asdict(config)),
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def peer_loop(run: PeerRun, s: PeerBenchmarkSettings) -> TimedLoop:
    """The timed loop of a peer run (the official EDP's warm-up also compiles the
    ``policy_tgt_update=True`` branch when ``s.precompile_policy_target``)."""
    warm = None
    if run.key.startswith("edp_official") and s.precompile_policy_target:

        def warm() -> None:
            warm_policy_target_branch(run)

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


RunMaker = Callable[[SyntheticTransitions], PeerRun]


def _peer_makers(
    s: PeerBenchmarkSettings, availability: dict[str, dict[str, Any]]
) -> list[tuple[str, str, str, RunMaker]]:
    """(comparison, peer, key, make_run) of every available peer run."""
    edp_kw: dict[str, Any] = {
        "root": s.edp_root,
        "dpm_steps": s.dpm_steps,
        "dpm_t_end": s.dpm_t_end,
        "arch": (s.hidden,) * s.layers,
        "batch_size": s.batch_size,
        "seed": s.seed,
    }

    def edp(algorithm: Any, interpolation: Any, K: int) -> RunMaker:
        def make(data: SyntheticTransitions) -> PeerRun:
            return official_edp_run(
                algorithm, data, interpolation=interpolation, num_steps=K, **edp_kw
            )

        return make

    def dql(data: SyntheticTransitions) -> PeerRun:
        return diffusion_ql_run(
            data, root=s.dql_root, num_steps=s.dql_steps, batch_size=s.batch_size, seed=s.seed
        )

    def corl(algorithm: Any) -> RunMaker:
        def make(data: SyntheticTransitions) -> PeerRun:
            return corl_run(algorithm, data, root=s.corl_root, batch_size=s.batch_size, seed=s.seed)

        return make

    makers: list[tuple[str, str, str, RunMaker]] = [
        ("edp_td3", "edp", "edp_official_td3", edp("td3", OFFICIAL, s.num_steps)),
        ("edp_crr", "edp", "edp_official_crr", edp("crr", OFFICIAL, s.num_steps)),
        ("edp_iql", "edp", "edp_official_iql", edp("iql", OFFICIAL, s.num_steps)),
        ("dql", "dql", "dql_official", dql),
        ("dql", "edp", "edp_official_dql_jax", edp("dql_jax", OFFICIAL, s.dql_steps)),
        ("td3bc", "corl", "corl_td3_bc", corl("td3_bc")),
        ("iql", "corl", "corl_iql", corl("iql")),
    ]
    if s.diagnostic:
        diag = edp("td3", DIAGNOSTIC, s.num_steps)
        makers.insert(1, ("edp_td3", "edp", "edp_official_td3_diagnostic", diag))
    return [m for m in makers if availability[m[1]]["available"]]


def loop_builders(
    s: PeerBenchmarkSettings, availability: dict[str, dict[str, Any]]
) -> list[LoopBuilder]:
    """Every loop of the selected comparisons: peers first, then edp_ref's per mode."""
    builders: list[LoopBuilder] = []
    for comparison, _peer, key, make_run in _peer_makers(s, availability):
        if comparison in s.comparisons:

            def build_peer(data: SyntheticTransitions, make_run: RunMaker = make_run) -> TimedLoop:
                return peer_loop(make_run(data), s)

            builders.append(LoopBuilder(key, key, "peer", "peer", build_peer))
    for mode in s.modes:
        for comparison in s.comparisons:
            for key in edp_ref_keys(comparison):

                def build(
                    data: SyntheticTransitions, c: str = comparison, k: str = key, m: str = mode
                ) -> TimedLoop:
                    return _edp_ref_loop(s, c, k, m, data)

                builders.append(LoopBuilder(key, key, "edp_ref", mode, build))
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
