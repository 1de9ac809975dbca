"""What :mod:`edp_ref.benchmark.peers` times: the peer runs and the matching edp_ref updates.

edp_ref's configurations (public API of :mod:`edp_ref.algorithms`): EDPTD3Config / EDPCRRConfig /
EDPIQLConfig at K = 1000 with DPM-Solver-15 (Sec. 5) and DQLConfig at vp K = 5 (Diffusion-QL),
all on 3 x 256 networks; TD3BCConfig and GaussianIQLConfig at CORL's 2 x 256 (PyTorch default
init, no gradient clipping, as CORL) and at edp_ref's default 3 x 256. ``check_batch=False`` for
all (the peers do not check batches either); ``compile`` per mode.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import platform
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from edp_ref.algorithms import REGISTRY, Batch, DiffusionConfig, NetworkConfig, OptimizerConfig
from edp_ref.algorithms.catalog.dql import DQLConfig
from edp_ref.algorithms.catalog.edp_crr import EDPCRRConfig
from edp_ref.algorithms.catalog.edp_iql import EDPIQLConfig
from edp_ref.algorithms.catalog.edp_td3 import EDPTD3Config
from edp_ref.algorithms.catalog.gaussian_iql import GaussianIQLConfig
from edp_ref.algorithms.catalog.td3bc import TD3BCConfig
from edp_ref.benchmark.peers import PeerBenchmarkSettings, _peer_variant, _Variant
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
    "VariantSpec",
    "machine_info",
    "peer_availability",
    "peer_variant",
    "variant_specs",
]


@dataclass(frozen=True)
class VariantSpec:
    """How to build one timed variant on the benchmark's data."""

    key: str
    label: str
    side: str
    mode: str
    build: Callable[[SyntheticTransitions], _Variant]


def peer_availability(s: PeerBenchmarkSettings) -> dict[str, dict[str, Any]]:
    """Per peer: ``available``, ``reason`` (None when available) and ``env_var``."""
    roots = {"edp": s.edp_root, "dql": s.dql_root, "corl": s.corl_root}
    out: dict[str, dict[str, Any]] = {}
    for name, root in roots.items():
        reason = unavailable_reason(name, root)
        out[name] = {"available": reason is None, "reason": reason, "env_var": PEERS[name].env_var}
    return out


def _edp_ref_variant(
    key: str,
    label: str,
    mode: str,
    config: Any,
    init: Callable[..., Any],
    draw: Callable[..., Any] | None,
    update: Callable[..., Any],
    s: PeerBenchmarkSettings,
    data: SyntheticTransitions,
) -> _Variant:
    cfg = dataclasses.replace(config, compile=mode == "compiled", check_batch=False)
    S, A, B, n = data.obs_dim, data.action_dim, s.batch_size, data.size
    state = [init(cfg, S, A, torch.Generator().manual_seed(s.seed), "cpu")]
    generator = torch.Generator().manual_seed(s.seed + 1)
    # The same arrays the peers index, shared rather than copied.
    obs, act, nxt = (
        torch.from_numpy(x) for x in (data.observations, data.actions, data.next_observations)
    )
    rew, term = torch.from_numpy(data.rewards), torch.from_numpy(data.terminals)

    def step() -> None:
        # Uniform indices with the generator and index_select, as edp_ref.data.sample_batch does
        # (written out so that this benchmark does not depend on the data package's layout).
        idx = torch.randint(n, (B,), generator=generator)
        batch = Batch(
            observations=obs.index_select(0, idx),
            actions=act.index_select(0, idx),
            rewards=rew.index_select(0, idx),
            next_observations=nxt.index_select(0, idx),
            terminals=term.index_select(0, idx),
        )
        rand = draw(cfg, B, A, generator, "cpu") if draw is not None else None
        state[0], _ = update(state[0], batch, rand, cfg)

    return _Variant(
        key=key,
        label=label,
        side="edp_ref",
        mode=mode,
        diagnostic=False,
        step=step,
        sync=lambda: None,
        hyperparameters=_jsonable(dataclasses.asdict(cfg)),
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _edp_ref_specs(s: PeerBenchmarkSettings) -> list[tuple[str, str, str, Any, Any, Any, Any]]:
    """(group, key, label, config, init, draw, update) of every edp_ref configuration."""
    net = NetworkConfig(hidden=s.hidden, layers=s.layers)
    diff = DiffusionConfig(num_steps=s.num_steps, dpm_steps=s.dpm_steps, dpm_t_end=s.dpm_t_end)
    dql_diff = DiffusionConfig(schedule="vp", num_steps=s.dql_steps)
    corl_net = NetworkConfig(hidden=256, layers=2, init="torch", activation="relu")
    no_clip = OptimizerConfig(max_grad_norm=None)
    K, D = s.num_steps, s.dpm_steps
    return [
        (
            "edp_td3",
            "edp_td3",
            f"edp_ref EDP+TD3 K={K} DPM-{D}",
            EDPTD3Config(network=net, diffusion=diff),
            REGISTRY["edp_td3"].init,
            REGISTRY["edp_td3"].draw,
            REGISTRY["edp_td3"].update,
        ),
        (
            "edp_crr",
            "edp_crr",
            f"edp_ref EDP+CRR K={K} DPM-{D}",
            EDPCRRConfig(network=net, diffusion=diff),
            REGISTRY["edp_crr"].init,
            REGISTRY["edp_crr"].draw,
            REGISTRY["edp_crr"].update,
        ),
        (
            "edp_iql",
            "edp_iql",
            f"edp_ref EDP+IQL K={K}",
            EDPIQLConfig(network=net, diffusion=diff),
            REGISTRY["edp_iql"].init,
            REGISTRY["edp_iql"].draw,
            REGISTRY["edp_iql"].update,
        ),
        (
            "dql",
            "dql",
            f"edp_ref DQL vp K={s.dql_steps}",
            DQLConfig(network=net, diffusion=dql_diff),
            REGISTRY["dql"].init,
            REGISTRY["dql"].draw,
            REGISTRY["dql"].update,
        ),
        (
            "td3bc",
            "td3bc_2x256",
            "edp_ref TD3+BC 2x256 ReLU (CORL's network)",
            TD3BCConfig(network=corl_net, optimizer=no_clip),
            REGISTRY["td3bc"].init,
            REGISTRY["td3bc"].draw,
            REGISTRY["td3bc"].update,
        ),
        (
            "td3bc",
            "td3bc_3x256",
            "edp_ref TD3+BC 3x256 Mish (default)",
            TD3BCConfig(),
            REGISTRY["td3bc"].init,
            REGISTRY["td3bc"].draw,
            REGISTRY["td3bc"].update,
        ),
        (
            "iql",
            "iql_2x256",
            "edp_ref IQL 2x256 ReLU, no clip (CORL's network)",
            GaussianIQLConfig(network=corl_net, optimizer=no_clip),
            REGISTRY["gaussian_iql"].init,
            None,
            REGISTRY["gaussian_iql"].update,
        ),
        (
            "iql",
            "iql_3x256",
            "edp_ref IQL 3x256 Mish (default)",
            GaussianIQLConfig(),
            REGISTRY["gaussian_iql"].init,
            None,
            REGISTRY["gaussian_iql"].update,
        ),
    ]


def peer_variant(run: PeerRun, s: PeerBenchmarkSettings) -> _Variant:
    """The timed variant of a peer run (the official EDP's warm-up also compiles the
    ``policy_tgt_update=True`` branch when ``s.precompile_policy_target``)."""
    warm = None
    if run.key.startswith("edp_official") and s.precompile_policy_target:

        def warm() -> None:
            warm_policy_target_branch(run)

    return _peer_variant(run, warm)


RunMaker = Callable[[SyntheticTransitions], PeerRun]


def _peer_specs(
    s: PeerBenchmarkSettings, availability: dict[str, dict[str, Any]]
) -> list[tuple[str, str, str, RunMaker]]:
    """(group, peer, key, make_run) of every peer run."""
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

    specs: list[tuple[str, str, str, RunMaker]] = [
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
        specs.insert(1, ("edp_td3", "edp", "edp_official_td3_diagnostic", diag))
    return [spec for spec in specs if availability[spec[1]]["available"]]


def variant_specs(
    s: PeerBenchmarkSettings, availability: dict[str, dict[str, Any]]
) -> list[VariantSpec]:
    """Every variant of the selected comparisons: peers first, then edp_ref per mode."""
    specs: list[VariantSpec] = []
    for group, _peer, key, make_run in _peer_specs(s, availability):
        if group in s.comparisons:

            def build_peer(data: SyntheticTransitions, make_run: RunMaker = make_run) -> _Variant:
                return peer_variant(make_run(data), s)

            specs.append(VariantSpec(key, key, "peer", "peer", build_peer))
    for mode in s.modes:
        for group, key, label, config, init, draw, update in _edp_ref_specs(s):
            if group not in s.comparisons:
                continue

            def build(
                data: SyntheticTransitions,
                key: str = key,
                label: str = label,
                mode: str = mode,
                fns: tuple[Any, Any, Any, Any] = (config, init, draw, update),
            ) -> _Variant:
                config_, init_, draw_, update_ = fns
                return _edp_ref_variant(key, label, mode, config_, init_, draw_, update_, s, data)

            specs.append(VariantSpec(key, label, "edp_ref", mode, build))
    return specs


def machine_info(threads: dict[str, Any]) -> dict[str, Any]:
    """Platform, CPU, package versions and the thread settings in force."""
    versions: dict[str, str | None] = {}
    for package in (
        "torch",
        "numpy",
        "jax",
        "jaxlib",
        "flax",
        "optax",
        "distrax",
        "ml_collections",
    ):
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
