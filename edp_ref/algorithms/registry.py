"""The algorithm registry: one typed record per algorithm, registered beside the algorithm's code.

Every algorithm module ends with ``register(AlgorithmSpec(...))``; importing
:mod:`edp_ref.algorithms` imports them all, so :data:`REGISTRY` maps every name to its record.
The runner, the conformance kit, the benchmark and the tests iterate it: adding an algorithm
touches its own module and its test, nothing else (docs/architecture.md shows how).

A record binds what the rest of edp_ref needs to train and run the algorithm:

| field | what |
|---|---|
| ``config_class`` | the config dataclass (defaults: the paper's) |
| ``init(config, state_dim, action_dim, generator, device, dtype)`` | a fresh :class:`TrainState` |
| ``draw(config, batch_size, action_dim, generator, device, dtype)`` | one update's randomness |
| ``update(state, batch, randomness, config)`` | one training update |
| ``act(state, observations, config, settings, generator)`` | actions at evaluation |
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from edp_ref.algorithms.acting import ActFn
from edp_ref.algorithms.config import AlgorithmConfig
from edp_ref.algorithms.execution import Metrics
from edp_ref.algorithms.state import TrainState
from edp_ref.data.batch import Batch

__all__ = [
    "REGISTRY",
    "ActFn",
    "AlgorithmSpec",
    "DrawFn",
    "InitFn",
    "PolicyClass",
    "RewardFamily",
    "UpdateFn",
    "algorithm",
    "register",
]

#: ``init(config, state_dim, action_dim, generator, device, dtype) -> TrainState``.
InitFn = Callable[..., TrainState]
#: ``draw(config, batch_size, action_dim, generator, device, dtype) -> randomness`` (a dataclass
#: of tensors, or None for an update that draws nothing).
DrawFn = Callable[..., Any]
#: ``update(state, batch, randomness, config) -> (state, metrics)``.
UpdateFn = Callable[[TrainState, Batch, Any, Any], tuple[TrainState, Metrics]]
#: ``diffusion``: a diffusion policy eps_theta; ``deterministic`` / ``gaussian``: an MLP policy.
PolicyClass = Literal["diffusion", "deterministic", "gaussian"]
#: The critic family that picks the official per-domain reward preprocessing (IQL runs get
#: IQL's reward scaling; TD3 and CRR runs the other transform).
RewardFamily = Literal["td3", "crr", "iql"]


@dataclass(frozen=True)
class AlgorithmSpec:
    """One algorithm: what it is, where it comes from in the paper, and how to run it.

    Attributes:
        name: the registry key (``edp_td3``, ``dql``, ``td3bc``, ...).
        title: the paper's name for it ("EDP + TD3", "Diffusion-QL", "TD3+BC (feed-forward)").
        equations: the paper's equations / sections it implements.
        config_class: its config dataclass; ``config_class()`` holds the paper's defaults.
        init, draw, update, act: see the module docstring.
        policy_class: the kind of policy it trains.
        reward_family: which official reward preprocessing its runs use.
    """

    name: str
    title: str
    equations: str
    config_class: type[AlgorithmConfig]
    init: InitFn
    draw: DrawFn
    update: UpdateFn
    act: ActFn
    policy_class: PolicyClass
    reward_family: RewardFamily

    def default_config(self, **changes: Any) -> Any:
        """``config_class(**changes)``: the paper's defaults with some fields replaced."""
        return self.config_class(**changes)


class _Registry(Mapping[str, AlgorithmSpec]):
    """Name -> :class:`AlgorithmSpec`, in registration order; unknown names raise a KeyError
    that lists the known ones."""

    def __init__(self) -> None:
        self._specs: dict[str, AlgorithmSpec] = {}

    def __getitem__(self, name: str) -> AlgorithmSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise KeyError(
                f"unknown algorithm {name!r}; registered: {', '.join(self._specs)}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def add(self, spec: AlgorithmSpec) -> AlgorithmSpec:
        if spec.name in self._specs and self._specs[spec.name] != spec:
            raise ValueError(f"register: an algorithm named {spec.name!r} is already registered")
        self._specs[spec.name] = spec
        return spec

    def remove(self, name: str) -> AlgorithmSpec:
        """Unregister ``name`` (an algorithm defined for a test or an experiment); returns it."""
        if name not in self._specs:
            raise KeyError(f"cannot remove unknown algorithm {name!r}")
        return self._specs.pop(name)


#: Every algorithm of edp_ref by name.
REGISTRY = _Registry()


def register(spec: AlgorithmSpec) -> AlgorithmSpec:
    """Add ``spec`` to :data:`REGISTRY` (called by each algorithm module); returns it."""
    return REGISTRY.add(spec)


def algorithm(name: str) -> AlgorithmSpec:
    """The registered algorithm ``name``; ``ValueError`` listing the registered ones otherwise."""
    if name not in REGISTRY:
        raise ValueError(f"unknown algorithm {name!r}; registered: {', '.join(REGISTRY)}")
    return REGISTRY[name]
