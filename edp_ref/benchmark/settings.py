"""What the speed benchmark (Figure 2, Appendix C.5) measures and for how long.

:class:`BenchmarkSettings` holds every knob: the shapes (walker2d-medium-expert-v2's observation
17 and action 6, batch 256, 3 x 256 networks, K = 1000 for EDP; Sec. 5.1 and Table 3), the K of
Diffusion-QL, how long each median is taken over, the modes (eager / compiled), the sampling,
seed and memory measurements, and the device. :data:`PRESETS` names its three presets (full,
quick, tiny). :class:`PeerBenchmarkSettings` holds those of the benchmark against the official
code (:mod:`edp_ref.benchmark.peers`). Every field is checked when the settings are built (a
``ValueError`` naming ``BenchmarkSettings.<field>``, the value and what was expected).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from edp_ref.config_checks import ConfigError, check_at_least, check_field_types, check_positive

if TYPE_CHECKING:  # imported where a device is checked: the commands' --help needs no torch
    import torch

__all__ = [
    "COMPARISON_ALGORITHM",
    "DEFAULT_OUTPUT",
    "PEERS_OUTPUT",
    "PEER_COMPARISONS",
    "PRESETS",
    "BenchmarkSettings",
    "Mode",
    "PeerBenchmarkSettings",
    "PresetName",
    "check_device",
    "comparison_names",
    "resolve_device",
]

#: Where ``edp-benchmark`` writes its JSON (which ``edp-reproduce --figure 2`` reads), and where
#: the peer benchmark writes its own.
DEFAULT_OUTPUT = Path("runs/benchmark/benchmark.json")
PEERS_OUTPUT = Path("runs/benchmark/peers.json")

Mode = Literal["eager", "compiled"]
PresetName = Literal["full", "quick", "tiny"]


@dataclass(frozen=True)
class BenchmarkSettings:
    """What the benchmark measures and for how long (presets: :meth:`full`, :meth:`quick`,
    :meth:`tiny`).

    Raises:
        ValueError (:class:`~edp_ref.config_checks.ConfigError`): a field of the wrong type or
            out of range, naming ``BenchmarkSettings.<field>``.
    """

    preset: PresetName = "full"
    obs_dim: int = 17
    action_dim: int = 6
    batch_size: int = 256
    hidden: int = 256
    layers: int = 3
    num_steps: int = 1000  # K of every diffusion policy but Diffusion-QL's
    dql_steps: tuple[int, ...] = (5, 100, 1000)
    # DQL at these K or more: time only dql_long_iterations iterations (no more warm-up than 1).
    dql_long_from: int = 1000
    dql_long_iterations: int = 2
    # Extrapolate the longest DQL from the two shorter ones (affine in K) instead of timing it
    # (its chain with gradients holds K network activations per update: gigabytes at K = 1000).
    extrapolate_longest_dql: bool = True
    warmup: int = 2
    min_iterations: int = 5
    max_iterations: int = 200
    min_seconds: float = 3.0
    max_seconds: float = 30.0
    modes: tuple[Mode, ...] = ("eager", "compiled")
    # Compiled mode only for these training records (a 100- or 1000-step chain, or
    # backpropagation through 15 DPM-Solver steps, unrolls into a graph that compiles slowly).
    compile_names: tuple[str, ...] = (
        "dql_k5",
        "edp_td3",
        "edp_crr",
        "edp_iql",
        "td3bc",
        "gaussian_crr",
        "gaussian_iql",
    )
    dataset_transitions: int = 100_000
    candidates: tuple[int, ...] = (10, 50)
    sampling_states: tuple[int, ...] = (1, 32)
    seeds: int = 5
    multiseed_compiled: bool = True
    memory_transitions: int = 2_000_000
    memory_iterations: int = 20
    device: str = "auto"
    threads: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        check_field_types(self)
        check_positive(
            self,
            "obs_dim",
            "action_dim",
            "batch_size",
            "hidden",
            "layers",
            "num_steps",
            "dql_long_from",
            "dql_long_iterations",
            "min_iterations",
            "max_iterations",
            "max_seconds",
            "dataset_transitions",
            "seeds",
            "memory_transitions",
            "threads",
        )
        check_at_least(self, 0, "warmup", "min_seconds", "memory_iterations", "seed")
        for name in ("dql_steps", "candidates", "sampling_states", "modes"):
            values = getattr(self, name)
            if not values:
                raise ConfigError(f"BenchmarkSettings.{name} = {values!r}: expected at least one")
            if len(set(values)) != len(values):
                raise ConfigError(f"BenchmarkSettings.{name} = {values!r}: expected no repeats")
        for name in ("dql_steps", "candidates", "sampling_states"):
            values = getattr(self, name)
            if min(values) < 1:
                raise ConfigError(f"BenchmarkSettings.{name} = {values!r}: expected values >= 1")
        for low, high in (("min_iterations", "max_iterations"), ("min_seconds", "max_seconds")):
            if getattr(self, high) < getattr(self, low):
                raise ConfigError(
                    f"BenchmarkSettings.{high} = {getattr(self, high)}: expected at least "
                    f"{low} = {getattr(self, low)}"
                )
        check_device(self.device)

    @classmethod
    def full(cls, **changes: Any) -> BenchmarkSettings:
        """Every measurement with enough iterations for a stable median (DQL at the largest K
        extrapolated unless ``extrapolate_longest_dql=False``)."""
        return cls(**changes)

    @classmethod
    def quick(cls, **changes: Any) -> BenchmarkSettings:
        """Fewer iterations, DQL at K = 1000 extrapolated."""
        base = cls(
            preset="quick",
            warmup=1,
            min_iterations=3,
            max_iterations=50,
            min_seconds=1.0,
            max_seconds=8.0,
            extrapolate_longest_dql=True,
            compile_names=("edp_td3", "edp_iql", "gaussian_iql"),
            sampling_states=(1, 8),
            seeds=5,
            multiseed_compiled=False,
            memory_iterations=5,
        )
        return dataclasses.replace(base, **changes)

    @classmethod
    def tiny(cls, **changes: Any) -> BenchmarkSettings:
        """Seconds: small networks and K, for tests of the benchmark itself."""
        base = cls(
            preset="tiny",
            obs_dim=3,
            action_dim=2,
            batch_size=8,
            hidden=16,
            layers=1,
            num_steps=40,
            dql_steps=(5, 10, 40),
            dql_long_from=40,
            dql_long_iterations=1,
            extrapolate_longest_dql=True,
            warmup=1,
            min_iterations=2,
            max_iterations=3,
            min_seconds=0.0,
            max_seconds=1.0,
            modes=("eager",),
            dataset_transitions=200,
            candidates=(2,),
            sampling_states=(1, 2),
            seeds=2,
            multiseed_compiled=False,
            memory_transitions=1000,
            memory_iterations=2,
        )
        return dataclasses.replace(base, **changes)


#: Preset name -> the constructor taking field changes (``PRESETS["quick"](seeds=3)``).
PRESETS: Mapping[str, Callable[..., BenchmarkSettings]] = {
    "full": BenchmarkSettings.full,
    "quick": BenchmarkSettings.quick,
    "tiny": BenchmarkSettings.tiny,
}

_DEVICE_TYPES = ("cpu", "cuda")


def check_device(name: str, where: str = "BenchmarkSettings.device") -> torch.device | None:
    """Check the spelling of a device name: ``auto`` (None), ``cpu``, ``cuda`` or ``cuda:N``.

    Raises:
        ValueError: naming the device and the accepted spellings.
    """
    import torch

    if name == "auto":
        return None
    expected = "expected 'auto', 'cpu', 'cuda' or 'cuda:N'"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"{where} = {name!r}: {expected}") from None
    if device.type not in _DEVICE_TYPES:
        raise ConfigError(f"{where} = {name!r}: {expected}")
    return device


def resolve_device(name: str) -> torch.device:
    """The device a run uses: ``auto`` is CUDA when present, else the CPU.

    Raises:
        ValueError: a misspelt name (:func:`check_device`), or a CUDA device this machine lacks.
    """
    import torch

    device = check_device(name, "device")
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"device {name!r}: CUDA is not available on this machine")
        if device.index is not None and device.index >= count:
            raise ValueError(
                f"device {name!r}: this machine has {count} CUDA device(s) (cuda:0 to "
                f"cuda:{count - 1})"
            )
    return device


#: The comparisons that have a peer, in table order: the official EDP (JAX) for EDP + TD3 / CRR /
#: IQL and its DQL (JAX) mode, the official Diffusion-QL, CORL's TD3+BC and IQL. Each names the
#: registered algorithm it times (``iql``: the feed-forward ``gaussian_iql``).
PEER_COMPARISONS: tuple[str, ...] = ("edp_td3", "edp_crr", "edp_iql", "dql", "td3bc", "iql")
#: Comparison name -> registered algorithm, where they differ.
COMPARISON_ALGORITHM: dict[str, str] = {"iql": "gaussian_iql"}


def comparison_names() -> tuple[str, ...]:
    """Every comparison the peer benchmark can run: :data:`PEER_COMPARISONS`, then every other
    registered algorithm (timed alone)."""
    from edp_ref.algorithms import REGISTRY

    covered = {COMPARISON_ALGORITHM.get(c, c) for c in PEER_COMPARISONS}
    return PEER_COMPARISONS + tuple(n for n in REGISTRY if n not in covered)


@dataclass(frozen=True)
class PeerBenchmarkSettings:
    """Sizes, timing and selection of the peer benchmark (``full()`` / ``tiny()``)."""

    preset: Literal["full", "tiny"] = "full"
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
    modes: tuple[Mode, ...] = ("eager", "compiled")
    diagnostic: bool = True
    # The comparisons to run: those with a peer by default; any registered algorithm can be
    # added (timed alone, no peer).
    comparisons: tuple[str, ...] = PEER_COMPARISONS
    seed: int = 0
    edp_root: str | None = None
    dql_root: str | None = None
    corl_root: str | None = None

    @classmethod
    def full(cls, **changes: Any) -> PeerBenchmarkSettings:
        """The paper's sizes (K = 1000, DPM-Solver-15, 3 x 256 networks, 2M transitions)."""
        return cls(**changes)

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

    def __post_init__(self) -> None:
        check_field_types(self)
        check_positive(
            self, "batch_size", "dataset_transitions", "rounds", "num_steps", "dql_steps"
        )
        known = comparison_names()
        unknown = [c for c in self.comparisons if c not in known]
        if unknown:
            raise ConfigError(
                f"PeerBenchmarkSettings.comparisons: unknown {unknown}; expected some of {known}"
            )
        if not self.modes:
            raise ConfigError(
                "PeerBenchmarkSettings.modes = (): expected 'eager' and/or 'compiled'"
            )
