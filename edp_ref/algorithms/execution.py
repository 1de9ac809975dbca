"""How every update runs: batch validation, then the pure update core, eager or compiled.

:func:`run_update` checks the batch (one host sync, ``ValueError`` naming a NaN/inf tensor),
checks that batch and state share a device and dtype, then runs the algorithm's core with the
data-dependent checks of the core functions switched off, so that the core itself never reads a
tensor value on the host. With ``config.compile`` true (default: when the state is on CUDA) the
core runs under ``torch.compile`` (through :func:`edp_ref.compilation.compile_function`); the
compiled function is built once per core and reused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

from torch import Tensor

from edp_ref.algorithms.batch import Batch
from edp_ref.algorithms.state import TrainState
from edp_ref.compilation import compile_function
from edp_ref.validation import value_checks

__all__ = ["Metrics", "UpdateCore", "run_update", "uses_compile"]

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
    if config.check_batch:
        batch.check_finite(where)
    fn = _compiled(core) if uses_compile(config, state) else core
    with value_checks(False):
        return fn(state, batch, randomness, config)
