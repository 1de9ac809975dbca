"""The algorithm registry: one :class:`Algorithm` record per name, declared in the algorithm's own
module and found by discovery.

An algorithm module declares four things: its config class (the paper's defaults, invariants in
``__post_init__``), the core of its update, its randomness class (each field says how it is drawn:
:mod:`~edp_ref.algorithms.randomness`) and the kind of its policy network. The decorator
:func:`register_algorithm` on the core builds the rest of the record: ``update`` (the core behind
input validation and eager / compiled execution, :class:`~edp_ref.algorithms.execution.Update`),
``init`` from the policy network (:mod:`~edp_ref.algorithms.initialization`), ``draw`` from the
randomness class and, unless given, ``act`` (EAS over DPM-Solver samples for a diffusion policy,
the network's action for a feed-forward one). A variant is a registered base with another config
class, declared one way: :func:`register_variant` (Diffusion-QL, the ablations of Fig. 2 and
Table 7, Table 6's TD3+EAS).

Importing :mod:`edp_ref.algorithms` imports every algorithm module
(:func:`import_algorithm_modules`), so that :data:`REGISTRY` holds them all. The runner, the
conformance kit, the benchmark and the tests iterate it: adding an algorithm is one module, its
test and its SPEC.md row (docs/architecture.md).

| field | what |
|---|---|
| ``name``, ``title``, ``equations`` | registry key, the paper's name, the equations it implements |
| ``config_class`` | the config dataclass; ``config_class()`` holds the paper's defaults |
| ``init(config, state_dim, action_dim, generator, device, dtype)`` | a fresh :class:`TrainState` |
| ``draw(config, batch_size, action_dim, generator, device, dtype)`` | one update's randomness |
| ``update(state, batch, randomness, config)`` | one training update -> (state, metrics) |
| ``act(state, observations, config, settings, generator)`` | actions at evaluation |
| ``family`` | the critic family ``td3`` / ``crr`` / ``iql`` (Table 2's column groups) |
| ``policy`` | the paper's policy class ``edp`` / ``diffusion`` / ``ff`` (:data:`Policy`) |
| ``base`` | the algorithm it is a variant of, or None |
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import pkgutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from edp_ref.algorithms.acting import ActFn, DiffusionAct, feedforward_act
from edp_ref.algorithms.config import AlgorithmConfig, DiffusionAlgorithmConfig
from edp_ref.algorithms.execution import Update, UpdateCore
from edp_ref.algorithms.feedforward_policy import GaussianPolicyConfig
from edp_ref.algorithms.initialization import InitFn, PolicyNetwork, make_init
from edp_ref.algorithms.randomness import draw_randomness

__all__ = [
    "PACKAGES_VARIABLE",
    "REGISTRY",
    "Algorithm",
    "DrawFn",
    "Family",
    "Policy",
    "import_algorithm_modules",
    "register_algorithm",
    "register_variant",
]

#: ``draw(config, batch_size, action_dim, generator, device, dtype) -> randomness`` (a dataclass
#: of tensors, or None for an update that draws nothing).
DrawFn = Callable[..., Any]
#: The critic family (Table 2's column groups); it picks the official reward preprocessing.
Family = Literal["td3", "crr", "iql"]
#: The paper's policy classes: ``edp`` (efficient diffusion policy, trained on a_hat^0),
#: ``diffusion`` (trained through its sampler: Diffusion-QL, EDP w/o AP), ``ff`` (feed-forward).
Policy = Literal["edp", "diffusion", "ff"]
#: The environment variable naming further algorithm packages to discover (comma-separated).
PACKAGES_VARIABLE = "EDP_REF_ALGORITHM_PACKAGES"
#: The package of edp_ref's own algorithm modules.
CATALOG = "edp_ref.algorithms.catalog"


@dataclass(frozen=True)
class Algorithm:
    """One algorithm: what it is, where it comes from in the paper, and how to run it (module
    docstring)."""

    name: str
    title: str
    equations: str
    config_class: type[AlgorithmConfig]
    init: InitFn
    draw: DrawFn
    update: Update
    act: ActFn
    family: Family
    policy: Policy
    base: str | None = None

    @property
    def diffusion(self) -> bool:
        """Whether its policy is a diffusion policy (``policy`` edp or diffusion)."""
        return self.policy != "ff"


class _Registry(Mapping[str, Algorithm]):
    """Name -> :class:`Algorithm`, in registration order; an unknown name raises a KeyError that
    lists the registered ones."""

    def __init__(self) -> None:
        self._algorithms: dict[str, Algorithm] = {}

    def __getitem__(self, name: str) -> Algorithm:
        try:
            return self._algorithms[name]
        except KeyError:
            raise KeyError(
                f"unknown algorithm {name!r}; registered: {', '.join(self._algorithms)}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._algorithms)

    def __len__(self) -> int:
        return len(self._algorithms)

    def add(self, algorithm: Algorithm) -> Algorithm:
        if algorithm.name in self._algorithms:
            raise ValueError(f"an algorithm named {algorithm.name!r} is already registered")
        self._algorithms[algorithm.name] = algorithm
        return algorithm


#: Every algorithm of edp_ref (and of the packages in ``EDP_REF_ALGORITHM_PACKAGES``) by name.
REGISTRY = _Registry()

#: The config class each policy network's init needs (any AlgorithmConfig for the others).
_NETWORK_CONFIGS: dict[str, type[AlgorithmConfig]] = {
    "diffusion": DiffusionAlgorithmConfig,
    "gaussian": GaussianPolicyConfig,
}


def _check_declaration(
    name: str, config_class: type, network: str, family: str, policy: str
) -> None:
    where = f"register_algorithm({name!r})"
    for arg, value, allowed in (
        ("network", network, get_args(PolicyNetwork)),
        ("family", family, get_args(Family)),
        ("policy", policy, get_args(Policy)),
    ):
        if value not in allowed:
            raise ValueError(f"{where}: {arg} must be one of {allowed}, got {value!r}")
    if (network == "diffusion") != (policy != "ff"):
        raise ValueError(
            f"{where}: policy={policy!r} does not fit network={network!r} (edp and diffusion "
            "policies have a diffusion network, ff policies a deterministic or gaussian one)"
        )
    needed = _NETWORK_CONFIGS.get(network, AlgorithmConfig)
    if not (isinstance(config_class, type) and issubclass(config_class, needed)):
        raise TypeError(f"{where}: a {network} policy needs a config_class subclassing {needed}")
    fields = {f.name for f in dataclasses.fields(config_class)}
    if network == "deterministic" and "max_action" not in fields:
        raise TypeError(f"{where}: a deterministic policy's config needs a max_action field")


def register_algorithm(
    name: str,
    *,
    title: str,
    equations: str,
    config_class: type[AlgorithmConfig],
    randomness: type | None,
    network: PolicyNetwork,
    family: Family,
    policy: Policy,
    value_network: bool = False,
    act: ActFn | None = None,
) -> Callable[[UpdateCore], Update]:
    """Register the algorithm whose update core the decorated function is; returns its update.

    The arguments are the record's fields (module docstring) and: ``randomness``, the class the
    core takes, every field declared with ``drawn`` (None if the core draws nothing);
    ``network``, the kind of its policy network; ``value_network``, whether it trains IQL's V.
    A ValueError / TypeError names the argument that does not fit.
    """
    _check_declaration(name, config_class, network, family, policy)
    draw = draw_randomness(randomness)
    default_act = DiffusionAct("dpm_solver") if network == "diffusion" else feedforward_act

    def register(core: UpdateCore) -> Update:
        update = Update(core, randomness, f"{name}_update")
        init = make_init(network, value_network)
        REGISTRY.add(
            Algorithm(
                name,
                title,
                equations,
                config_class,
                init,
                draw,
                update,
                act or default_act,
                family,
                policy,
            )
        )
        return update

    return register


def register_variant(
    name: str,
    *,
    base: str,
    config_class: type[AlgorithmConfig],
    title: str,
    equations: str,
    policy: Policy | None = None,
    act: ActFn | None = None,
) -> Algorithm:
    """Register ``base`` run with ``config_class`` (a subclass of the base's, whose defaults and
    ``__post_init__`` make the variant) as algorithm ``name``: the base's init, draw and update
    core, its family, and its policy class and ``act`` unless given."""
    parent = REGISTRY[base]
    where = f"register_variant({name!r})"
    if not (isinstance(config_class, type) and issubclass(config_class, parent.config_class)):
        raise TypeError(
            f"{where}: config_class must subclass {base}'s {parent.config_class.__name__}"
        )
    if policy is not None and (policy == "ff") != (parent.policy == "ff"):
        raise ValueError(f"{where}: policy={policy!r} does not fit {base}'s {parent.policy!r}")
    update = dataclasses.replace(parent.update, name=f"{name}_update")
    return REGISTRY.add(
        dataclasses.replace(
            parent,
            name=name,
            title=title,
            equations=equations,
            config_class=config_class,
            update=update,
            act=act or parent.act,
            policy=policy or parent.policy,
            base=base,
        )
    )


def import_algorithm_modules() -> None:
    """Import every module of :data:`CATALOG` and of the packages named in the environment
    variable ``EDP_REF_ALGORITHM_PACKAGES`` (comma-separated import names; each module registers
    its algorithms when imported). An ImportError names a package that cannot be imported."""
    named = os.environ.get(PACKAGES_VARIABLE, "")
    for package_name in [CATALOG, *(p.strip() for p in named.split(",") if p.strip())]:
        try:
            package = importlib.import_module(package_name)
        except ImportError as exc:
            raise ImportError(
                f"cannot import the algorithm package {package_name!r} (edp_ref's own, or named "
                f"in {PACKAGES_VARIABLE}): {exc}"
            ) from exc
        for module in pkgutil.walk_packages(getattr(package, "__path__", []), f"{package_name}."):
            importlib.import_module(module.name)
