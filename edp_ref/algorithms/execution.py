"""How every update runs: input validation, then the pure update core, eager or compiled.

An algorithm module writes only the core of its update, ``core(state, batch, randomness,
config)``; registering it makes it an :class:`Update`, which first checks its inputs: that the
randomness is the core's class and fits the config, that batch and state share a device and dtype,
that the batch's widths are the networks', that the randomness was drawn for this batch size and
action width and that a diffusion config's schedule is the state's (free: shapes and configs
only, each error names the argument and both values), then the batch's values (one host sync,
``ValueError`` naming a NaN/inf tensor, a terminal flag that is not 0/1 or an action beyond the
config's ``max_action``; off with ``check_batch=False``). It then runs the core with the
data-dependent checks of the core functions switched off, so that the core never reads a tensor
value on the host: eagerly, or under ``torch.compile`` when ``config.compile`` is true (default:
on CUDA; :func:`edp_ref.compilation.compile_function`, built once per core). The first compiled
call is timed (:func:`compile_records`); if compilation fails where the eager update works, a
``RuntimeWarning`` says so and that update runs eagerly from then on.
"""

from __future__ import annotations

import dataclasses
import time
import typing
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import torch
from torch import Tensor

from edp_ref.algorithms.config import AlgorithmConfig
from edp_ref.algorithms.randomness import check_drawn_for
from edp_ref.algorithms.state import TrainState
from edp_ref.compilation import compile_function, compile_options
from edp_ref.data.batch import Batch
from edp_ref.validation import value_checks

__all__ = [
    "CompileRecord",
    "Metrics",
    "Update",
    "UpdateCore",
    "check_schedule",
    "check_widths",
    "compile_records",
    "compiled_for",
    "uses_compile",
]

Metrics = dict[str, Tensor]
F = TypeVar("F", bound=Callable[..., Any])


#: ``core(state, batch, randomness, config) -> (state, metrics)``: the arithmetic of one update.
UpdateCore = Callable[[TrainState, Batch, Any, Any], tuple[TrainState, Metrics]]


@dataclass
class CompileRecord:
    """What compiling one update (core and config) cost, or why it failed."""

    # The public update's name (``edp_td3_update``, ...).
    name: str
    # Wall time of the first compiled call (compilation included), None until then.
    seconds: float | None = None
    # Why compilation failed (the update then runs eagerly), else None.
    error: str | None = None


_HINTS: dict[type, dict[str, Any]] = {}


def _named_dims(hint: Any) -> tuple[str, ...] | None:
    """The dimension names of a jaxtyping annotation (``Float[Tensor, "batch action"]``), or of
    the array member of ``X | None``; None for other annotations."""
    for candidate in (hint, *typing.get_args(hint)):
        dims = getattr(candidate, "dims", None)
        if dims is not None:
            return tuple(str(getattr(d, "name", "")) for d in dims)
    return None


def _check_randomness(where: str, obj: Any, path: str, batch_size: int, action_dim: int) -> None:
    if obj is None or isinstance(obj, Tensor) or not dataclasses.is_dataclass(obj):
        return
    cls = type(obj)
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        name = f"{path}.{f.name}"
        if not isinstance(value, Tensor):
            _check_randomness(where, value, name, batch_size, action_dim)
            continue
        dims = _named_dims(_HINTS[cls][f.name])
        if dims is None:
            continue
        if value.ndim != len(dims):
            raise ValueError(
                f"{where}: {name} has shape {tuple(value.shape)}, expected [{', '.join(dims)}]"
            )
        for axis, dim in enumerate(dims):
            expected = {"batch": batch_size, "action": action_dim}.get(dim)
            if expected is not None and value.shape[axis] != expected:
                raise ValueError(
                    f"{where}: {name} has shape {tuple(value.shape)}: its '{dim}' axis is "
                    f"{value.shape[axis]} but the batch has {dim} size {expected}; draw the "
                    "randomness for this batch"
                )


def check_widths(where: str, state: TrainState, batch: Batch, randomness: Any) -> None:
    """Raise ``ValueError`` naming the argument if the batch's observation or action width is not
    the networks', or a randomness tensor was drawn for another batch size or action width."""
    nets = state.networks
    for field, got, expected in (
        ("observations", batch.state_dim, nets.state_dim),
        ("actions", batch.action_dim, nets.action_dim),
    ):
        if got != expected:
            raise ValueError(
                f"{where}: batch.{field} has width {got} but the state's networks take "
                f"{field} of width {expected}"
            )
    _check_randomness(where, randomness, "randomness", batch.batch_size, nets.action_dim)


def check_schedule(where: str, state: TrainState, config: Any) -> None:
    """Raise ``ValueError`` if a diffusion config's schedule (kind, K) is not the state's."""
    diffusion = getattr(config, "diffusion", None)
    schedule = state.networks.schedule
    if diffusion is None or schedule is None:
        return
    if (schedule.kind, schedule.num_steps) != (diffusion.schedule, diffusion.num_steps):
        raise ValueError(
            f"{where}: the config's diffusion schedule is {diffusion.schedule!r} with K = "
            f"{diffusion.num_steps} but the state was built with {schedule.kind!r}, K = "
            f"{schedule.num_steps}; build the state with the algorithm's init for this config"
        )


_COMPILED: dict[tuple[Callable[..., Any], str], Callable[..., Any]] = {}
_RECORDS: dict[tuple[UpdateCore, Any], CompileRecord] = {}


def compile_records() -> list[CompileRecord]:
    """Every update core compiled in this process so far, with its compile time or failure."""
    return list(_RECORDS.values())


def uses_compile(config: AlgorithmConfig, state: TrainState) -> bool:
    """Whether an update with this config runs compiled: ``config.compile``, or CUDA if None."""
    if config.compile is None:
        return state.device.type == "cuda"
    return bool(config.compile)


def compiled_for(fn: F, device: torch.device) -> F:
    """``fn`` compiled for ``device`` (CUDA graphs on CUDA: :func:`compile_options`), built once
    per (function, device type) and reused: the updates' cores and EAS's candidate scoring."""
    key = (fn, device.type)
    if key not in _COMPILED:
        _COMPILED[key] = compile_function(fn, **compile_options(device))
    return cast(F, _COMPILED[key])


@dataclass(frozen=True, eq=False)
class Update:
    """An algorithm's update, ``update(state, batch, randomness, config) -> (state, metrics)``:
    the algorithm module's ``core`` behind the checks of its inputs (module docstring)."""

    core: UpdateCore
    # The randomness class the core takes; None for a core that draws nothing.
    randomness: type | None
    # The name its errors and compile records give (``edp_td3_update``).
    name: str

    def __call__(
        self, state: TrainState, batch: Batch, randomness: Any, config: Any
    ) -> tuple[TrainState, Metrics]:
        """Validate the inputs, then run the core eagerly or compiled (module docstring)."""
        where, expected = self.name, self.randomness
        if not (randomness is None if expected is None else isinstance(randomness, expected)):
            raise TypeError(
                f"{where}: randomness must be {expected.__name__ if expected else 'None'} (from "
                f"the algorithm's draw), got {type(randomness).__name__}"
            )
        check_drawn_for(where, randomness, config)
        obs = batch.observations
        if obs.device != state.device or obs.dtype != state.dtype:
            raise ValueError(
                f"{where}: batch is {obs.dtype} on {obs.device} but the state is {state.dtype} on "
                f"{state.device}; move the batch with batch.to(...)"
            )
        check_widths(where, state, batch, randomness)
        check_schedule(where, state, config)
        if config.check_batch:
            batch.check_values(where, _action_bound(config))
        core = self.core
        with value_checks(False):
            if not uses_compile(config, state):
                return core(state, batch, randomness, config)
            # One record per (core, config): dynamo compiles a new graph for every config.
            record = _RECORDS.setdefault((core, config), CompileRecord(where))
            if record.error is not None:
                return core(state, batch, randomness, config)
            if record.seconds is not None:
                return compiled_for(core, state.device)(state, batch, randomness, config)
            return _first_compiled_call(core, record, state, batch, randomness, config)


def _action_bound(config: Any) -> float | None:
    """The bound of the actions the config trains on: the ``max_action`` of its diffusion
    policy (None: unclipped) or of its feed-forward actor."""
    owner = getattr(config, "diffusion", config)
    bound = getattr(owner, "max_action", None)
    return None if bound is None else float(bound)


def _first_compiled_call(
    core: UpdateCore,
    record: CompileRecord,
    state: TrainState,
    batch: Batch,
    randomness: Any,
    config: Any,
) -> tuple[TrainState, Metrics]:
    """The compiling call: timed; if compilation fails where the eager update works, warn once and
    run this core eagerly from now on (an error of the update itself is raised as eager raises
    it)."""
    start = time.perf_counter()
    try:
        out = compiled_for(core, state.device)(state, batch, randomness, config)
    except Exception as exc:
        eager = core(state, batch, randomness, config)  # raises if the update itself is wrong
        record.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        warnings.warn(
            f"{record.name}: torch.compile failed ({record.error}); this update runs eagerly "
            "(slower, same results)",
            RuntimeWarning,
            stacklevel=3,
        )
        return eager
    record.seconds = time.perf_counter() - start
    return out
