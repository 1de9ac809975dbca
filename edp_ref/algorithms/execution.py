"""How every update runs: input validation, then the pure update core, eager or compiled.

:func:`run_update` checks that batch and state share a device and dtype, that the batch's widths
are the networks' and that the randomness was drawn for this batch size and action width (free:
shapes only, each error names the argument), then the batch's values (one host sync,
``ValueError`` naming a NaN/inf tensor or a terminal flag that is not 0/1; off with
``check_batch=False``), then runs the algorithm's core with the
data-dependent checks of the core functions switched off, so that the core itself never reads a
tensor value on the host. With ``config.compile`` true (default: when the state is on CUDA) the
core runs under ``torch.compile`` (through :func:`edp_ref.compilation.compile_function`); the
compiled function is built once per core and reused.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

from torch import Tensor

from edp_ref.algorithms.batch import Batch
from edp_ref.algorithms.state import TrainState
from edp_ref.compilation import compile_function
from edp_ref.validation import value_checks

__all__ = [
    "Metrics",
    "UpdateCore",
    "check_schedule",
    "check_widths",
    "run_update",
    "uses_compile",
]

Metrics = dict[str, Tensor]
RandomnessT = TypeVar("RandomnessT")
ConfigT = TypeVar("ConfigT", bound="_RunConfig")


@runtime_checkable
class _RunConfig(Protocol):
    @property
    def compile(self) -> bool | None: ...

    @property
    def check_batch(self) -> bool: ...


UpdateCore = Callable[[TrainState, Batch, Any, Any], tuple[TrainState, Metrics]]

_COMPILED: dict[UpdateCore, UpdateCore] = {}


def uses_compile(config: _RunConfig, state: TrainState) -> bool:
    """Whether an update with this config runs compiled: ``config.compile``, or CUDA if None."""
    if config.compile is None:
        return state.device.type == "cuda"
    return bool(config.compile)


def _compiled(core: UpdateCore) -> UpdateCore:
    fn = _COMPILED.get(core)
    if fn is None:
        fn = compile_function(core)
        _COMPILED[core] = fn
    return fn


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
            f"{schedule.num_steps}; build the state with init_*(config, ...) of this config"
        )


def run_update(
    core: Callable[[TrainState, Batch, RandomnessT, ConfigT], tuple[TrainState, Metrics]],
    state: TrainState,
    batch: Batch,
    randomness: RandomnessT,
    config: ConfigT,
    where: str,
) -> tuple[TrainState, Metrics]:
    """Validate, then run ``core(state, batch, randomness, config)`` eagerly or compiled."""
    if batch.observations.device != state.device or batch.observations.dtype != state.dtype:
        raise ValueError(
            f"{where}: batch is {batch.observations.dtype} on {batch.observations.device} but the "
            f"state is {state.dtype} on {state.device}; move the batch with batch.to(...)"
        )
    check_widths(where, state, batch, randomness)
    check_schedule(where, state, config)
    if config.check_batch:
        batch.check_values(where)
    fn = _compiled(core) if uses_compile(config, state) else core
    with value_checks(False):
        return fn(state, batch, randomness, config)
