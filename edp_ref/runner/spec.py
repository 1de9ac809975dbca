"""The schema of one training run: what to train, on what data, and how to evaluate it (Sec. 5).

:class:`RunSpec` is one (dataset, registered algorithm, config, seed) run with the paper's protocol
(Table 3). Its commented fields are also ``edp-train``'s options (tyro reads the comments). Every
field is checked when the object is built, in order, each against the fields before it, raising
:class:`FieldTypeError` or :class:`FieldError` naming ``RunSpec.<field>``, so that a bad
configuration fails before any data is loaded.

Also here: :func:`evaluation_epochs` and the algorithm config as JSON (:func:`config_to_json`,
:func:`config_from_json`: unknown or missing fields are errors naming their path).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Annotated, Any, Literal, TypeVar, no_type_check

import torch
import tyro

from edp_ref.algorithms.config import AlgorithmConfig
from edp_ref.algorithms.registry import REGISTRY, Algorithm
from edp_ref.config_checks import ConfigError, check_choice, check_int, check_text
from edp_ref.paper import DATA_SOURCES, DataSource, Domain, find_paper_dataset
from edp_ref.runner.dataset import DOMAIN_CHOICES, dataset_domain, dataset_kind, dataset_slug
from edp_ref.runner.metrics import RAT_WINDOW

__all__ = [
    "BATCHES",
    "COMPILE_CHOICES",
    "EVAL_ACTIONS",
    "EVAL_ENVS",
    "INIT",
    "MAX_SEED",
    "UPDATES",
    "CompileChoice",
    "FieldError",
    "FieldTypeError",
    "RunSpec",
    "check_fields",
    "config_from_json",
    "config_to_json",
    "evaluation_epochs",
    "tyro_readable",
]

CompileChoice = Literal["auto", "on", "off"]
#: The values of :attr:`RunSpec.compile`.
COMPILE_CHOICES: tuple[str, ...] = typing.get_args(CompileChoice)
#: The largest seed a run accepts (seeds are unsigned 32-bit numbers, as in NumPy).
MAX_SEED = 2**32 - 1
#: The generator streams of a run (:meth:`RunSpec.stream_seed`): initialisation, minibatch
#: indices, update randomness; evaluation ``i`` draws its actions from stream
#: ``EVAL_ACTIONS + i`` and seeds its environments from ``EVAL_ENVS + i``.
INIT, BATCHES, UPDATES, EVAL_ACTIONS, EVAL_ENVS = 0, 1, 2, 1000, 2000


class FieldError(ConfigError):
    """A field of a run's configuration is wrong; ``field`` names it (``edp-train`` names the
    option that sets it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class FieldTypeError(FieldError, TypeError):
    """A field of a run's configuration has the wrong type."""


def check_fields(names: Iterable[str], check: Callable[[str], None]) -> None:
    """``check(name)`` for every field in order, errors re-raised as :class:`FieldError`."""
    for name in names:
        try:
            check(name)
        except TypeError as exc:
            raise FieldTypeError(name, str(exc)) from None
        except ValueError as exc:
            raise FieldError(name, str(exc)) from None


C = TypeVar("C", bound=type)


def tyro_readable(cls: C) -> C:
    """Undo ``typing.no_type_check``'s marker on a class that checks its own fields.

    ``no_type_check`` keeps jaxtyping's import hook (active under pytest; it goes by the
    decorator's name) from pre-empting the class's own checks, whose messages name the field,
    with a generic one that says less; but its marker also empties ``typing.get_type_hints``,
    from which tyro builds ``edp-train``'s options.
    """
    delattr(cls, "__no_type_check__")
    return cls


@tyro_readable
@no_type_check
@dataclass(frozen=True)
class RunSpec:
    """One training run of a registered algorithm on a dataset (Sec. 5's protocol)."""

    # Dataset: a paper name (hopper-medium-v2), a D4RL HDF5 file (*.hdf5) or a Minari id
    # (mujoco/hopper/medium-v0).
    task: Annotated[str, tyro.conf.arg(name="dataset", prefix_name=False)]
    # Registered algorithm to train (its config is --config.*).
    algorithm: Annotated[str, tyro.conf.arg(prefix_name=False, metavar=f"{{{','.join(REGISTRY)}}}")]
    # Seed of the run: initialisation, minibatches, update randomness, evaluation.
    seed: int = 0
    # Training epochs (Table 3: 2000 locomotion, 1000 antmaze / adroit / kitchen).
    epochs: int = 2000
    # Updates per epoch (paper: 1000).
    iterations_per_epoch: int = 1000
    # Minibatch size (Table 3: 256).
    batch_size: int = 256
    # Epochs between evaluations (official: 10); also before training and at the last epoch.
    eval_every: int = 10
    # Epochs between the last 10 evaluations, whose mean is the run's RAT (None: eval_every, the
    # paper's schedule; shorter runs set it so that those 10 span their final 5 %).
    final_eval_every: int | None = None
    # Episodes per evaluation (official: 10).
    eval_episodes: int = 10
    # N of energy-based action selection at evaluation (paper: 10, official code: 50).
    eas_candidates: int = 10
    # Vector environments an evaluation steps at once (at most eval_episodes).
    eval_envs: int = 10
    # Source of a paper dataset: auto (D4RL file, else Minari port, else local), d4rl, minari,
    # local (generated by edp-datasets).
    data_source: DataSource = "auto"
    # $MINARI_DATASETS_PATH holding a Minari or locally generated dataset (None: the default).
    local_root: str | None = None
    # Gymnasium id of the evaluation environment, for HDF5 files outside the paper's list.
    env_id: str | None = None
    # Domain of a dataset outside the paper's list (Table 3's values, official preprocessing);
    # auto: read from its name.
    domain: Literal["auto"] | Domain = "auto"
    # torch.compile the update: auto (on CUDA, or >= 5000 updates on the CPU, unless the update
    # unrolls a DDPM chain longer than 100 steps), on, off.
    compile: CompileChoice = "auto"
    # Device of the networks and the dataset: cpu, cuda, cuda:1, ...
    device: str = "cpu"
    # The algorithm's config (None: its defaults with Table 3's values for the dataset).
    config: Annotated[AlgorithmConfig | None, tyro.conf.arg(prefix_name=False)] = None

    def __post_init__(self) -> None:
        check_fields((f.name for f in fields(self)), self._check)

    def _check(self, name: str) -> None:
        value, where = getattr(self, name), f"RunSpec.{name}"
        match name:
            case "task":
                check_text(where, value)
                try:
                    dataset_kind(value)  # names the unknown dataset and the accepted forms
                except ValueError as exc:
                    raise ValueError(f"{where}: {exc}") from None
            case "algorithm":
                check_text(where, value)
                if value not in REGISTRY:
                    raise ValueError(
                        f"{where}: unknown algorithm {value!r}; registered algorithms: "
                        + ", ".join(REGISTRY)
                    )
            case "seed":
                check_int(where, value, 0, MAX_SEED)
            case "epochs" | "iterations_per_epoch" | "batch_size" | "eval_every":
                check_int(where, value, 1)
            case "eval_episodes" | "eas_candidates" | "eval_envs":
                check_int(where, value, 1)
            case "final_eval_every":
                check_int(where, value, 1, optional=True)
                if value is not None and value > self.eval_every:
                    raise ValueError(
                        f"{where} must be <= RunSpec.eval_every ({self.eval_every}): the final "
                        f"stretch is evaluated at least as densely as the rest, got {value}"
                    )
            case "data_source":
                check_choice(where, value, DATA_SOURCES)
                kind = dataset_kind(self.task)
                if kind != "paper" and value != "auto":
                    raise ValueError(
                        f"{where} must be 'auto' for {self.task!r} (a {kind} dataset); it picks "
                        "among the sources of the paper's datasets only"
                    )
            case "local_root":
                check_text(where, value, optional=True)
            case "env_id":
                check_text(where, value, optional=True)
                paper_file = find_paper_dataset(self.task) is not None
                if value is not None and (dataset_kind(self.task) != "hdf5" or paper_file):
                    raise ValueError(
                        f"{where} applies to HDF5 files outside the paper's list only; "
                        f"{self.task!r} names its own evaluation environment"
                    )
            case "domain":
                check_choice(where, value, DOMAIN_CHOICES)
                try:
                    dataset_domain(self.task, value)
                except ValueError as exc:
                    raise ValueError(f"{where}: {exc}") from None
            case "compile":
                check_choice(where, value, COMPILE_CHOICES)
            case "device":
                check_text(where, value)
                try:
                    torch.device(value)
                except RuntimeError as exc:
                    raise ValueError(
                        f"{where} must name a torch device (cpu, cuda, cuda:1), got {value!r}: "
                        f"{exc}"
                    ) from None
            case "config":
                self._check_config(value)

    def _check_config(self, config: AlgorithmConfig | None) -> None:
        if config is None:
            return
        expected = self.registered.config_class
        if not isinstance(config, expected):
            raise TypeError(
                f"RunSpec.config must be a {expected.__name__} (the config of "
                f"{self.algorithm}), got {type(config).__name__}"
            )
        chosen = {"on": True, "off": False}.get(self.compile)
        if chosen is not None and config.compile is not None and config.compile != chosen:
            raise ValueError(
                f"RunSpec.compile {self.compile!r} contradicts RunSpec.config.compile "
                f"{config.compile!r}; set one of them"
            )

    @property
    def registered(self) -> Algorithm:
        return REGISTRY[self.algorithm]

    @property
    def total_steps(self) -> int:
        return self.epochs * self.iterations_per_epoch

    @property
    def evaluation_schedule(self) -> list[int]:
        return evaluation_epochs(self.epochs, self.eval_every, self.final_eval_every)

    @property
    def name(self) -> str:
        """``<dataset>/<algorithm>/seed<k>``: the run's folder below a grid's root."""
        return f"{dataset_slug(self.task)}/{self.algorithm}/seed{self.seed}"

    def stream_seed(self, stream: int) -> int:
        """The seed of one purpose of the run (:data:`INIT`, :data:`BATCHES`, ...)."""
        return (self.seed * 1_000_003 + stream * 7_919 + 12_345) % (2**31 - 1)

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["config"] = None if self.config is None else config_to_json(self.config)
        return data

    @classmethod
    def from_json(cls, data: object) -> RunSpec:
        """Inverse of :meth:`to_json`; errors name a bad, unknown or missing field."""
        if not isinstance(data, Mapping):
            raise TypeError(f"RunSpec.from_json: expected a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is dataclasses.MISSING}
        unknown, missing = sorted(set(data) - known), sorted(required - set(data))
        if unknown or missing:
            raise ValueError(
                f"RunSpec.from_json: unknown field(s) {unknown}, missing field(s) {missing}; "
                f"the fields are {sorted(known)}"
            )
        values = dict(data)
        if values.get("config") is not None:
            probe = cls(**{**values, "config": None})  # names any other bad field first
            values["config"] = config_from_json(
                probe.registered.config_class, values["config"], "RunSpec.config"
            )
        return cls(**values)


def evaluation_epochs(
    epochs: int, eval_every: int, final_eval_every: int | None = None
) -> list[int]:
    """Epochs after which a run evaluates: 0, eval_every, 2 eval_every, ..., and ``epochs``; with
    ``final_eval_every``, also the final stretch ``epochs - k final_eval_every`` (k < RAT_WINDOW,
    epoch >= 1), whose mean is the run's RAT (Sec. 5: the paper evaluates every 10 of 2000
    epochs, so its last ten evaluations span the final 5 % of training)."""
    check_int("evaluation_epochs: epochs", epochs, 0)
    check_int("evaluation_epochs: eval_every", eval_every, 1)
    check_int("evaluation_epochs: final_eval_every", final_eval_every, 1, optional=True)
    out = set(range(0, epochs + 1, eval_every)) | {epochs}
    if final_eval_every is not None:
        tail = (epochs - k * final_eval_every for k in range(RAT_WINDOW))
        out |= {e for e in tail if e >= 1}
    return sorted(out)


# ------------------------------------------------------------------------------------------
# The algorithm config as JSON. A config is a tree of frozen dataclasses whose leaves are
# numbers, strings, booleans and None; every config checks its own fields when it is built.
# Hand-written (two dozen lines) rather than a library (dacite, cattrs): the configs need only
# nested dataclasses, and the errors stay in edp_ref's style without a dependency.
# ------------------------------------------------------------------------------------------

T = TypeVar("T")


def config_to_json(config: object) -> dict[str, Any]:
    """A config as a JSON-ready dict (nested configs as nested dicts)."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"config_to_json: expected a config dataclass, got {type(config).__name__}")
    return dataclasses.asdict(config)


def _dataclass_in(hint: Any) -> type | None:
    """The dataclass of an annotation (``X`` or ``X | None``), else None."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        classes = [a for a in typing.get_args(hint) if isinstance(a, type)]
        found = [a for a in classes if dataclasses.is_dataclass(a)]
        return found[0] if len(found) == 1 else None
    return None


def config_from_json(cls: type[T], data: object, where: str = "config") -> T:
    """Rebuild a config of class ``cls`` from :func:`config_to_json`'s dict; unknown or missing
    fields are a ``ValueError`` naming their path ``where.field``."""
    if not isinstance(data, Mapping):
        raise TypeError(f"{where}: expected a JSON object, got {type(data).__name__} {data!r}")
    names = {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown, missing = sorted(set(data) - names), sorted(names - set(data))
    if unknown or missing:
        raise ValueError(
            f"{where}: unknown field(s) {[f'{where}.{n}' for n in unknown]}, missing field(s) "
            f"{[f'{where}.{n}' for n in missing]}; {cls.__name__} has the fields {sorted(names)}"
        )
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, value in data.items():
        nested = _dataclass_in(hints[name])
        if nested is not None and isinstance(value, Mapping):
            values[name] = config_from_json(nested, value, f"{where}.{name}")
        else:
            values[name] = value
    return cls(**values)
