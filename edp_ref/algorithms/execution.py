"""How every update runs: input validation, then the pure update core, eager or compiled.

An algorithm module writes only the core of its update, ``core(state, batch, randomness,
config)``; registering it makes it an :class:`Update`, the ``update`` of its registry record,
which checks that the randomness is the core's class and fits the config (a field drawn only for
some configs), that batch and state share a device and dtype, that the batch's widths are the
networks' and that the randomness was drawn for this batch size and action width (free:
shapes only, each error names the argument), then the batch's values (one host sync,
``ValueError`` naming a NaN/inf tensor, a terminal flag that is not 0/1 or an action beyond
the config's ``max_action``; off with ``check_batch=False``), then runs the algorithm's core
with the
data-dependent checks of the core functions switched off, so that the core itself never reads a
tensor value on the host. With ``config.compile`` true (default: when the state is on CUDA) the
core runs under ``torch.compile`` (through :func:`edp_ref.compilation.compile_function`); the
compiled function is built once per core and reused. The first compiled call is timed
(:func:`compile_records`); if compilation fails where the eager update works, a
``RuntimeWarning`` says so and that update runs eagerly from then on.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from edp_ref.algorithms.input_checks import check_schedule, check_widths
from edp_ref.algorithms.randomness import check_drawn_for
from edp_ref.algorithms.state import TrainState
from edp_ref.compilation import compile_function, compile_options
from edp_ref.data.batch import Batch
from edp_ref.validation import value_checks

__all__ = ["CompileRecord", "Metrics", "Update", "UpdateCore", "compile_records", "uses_compile"]

Metrics = dict[str, Tensor]


@runtime_checkable
class _RunConfig(Protocol):
    @property
    def compile(self) -> bool | None: ...

    @property
    def check_batch(self) -> bool: ...


#: ``core(state, batch, randomness, config) -> (state, metrics)``: the arithmetic of one update.
UpdateCore = Callable[[TrainState, Batch, Any, Any], tuple[TrainState, Metrics]]


@dataclass
class CompileRecord:
    """What compiling one update (core and config) cost, or why it failed.

    Attributes:
        name: the public update's name (``edp_td3_update``, ...).
        seconds: wall time of the first compiled call (compilation included), None until then.
        error: why compilation failed (the update then runs eagerly), else None.
    """

    name: str
    seconds: float | None = None
    error: str | None = None


_COMPILED: dict[tuple[UpdateCore, str], UpdateCore] = {}
_RECORDS: dict[tuple[UpdateCore, Any], CompileRecord] = {}


def compile_records() -> list[CompileRecord]:
    """Every update core compiled in this process so far, with its compile time or failure."""
    return list(_RECORDS.values())


def uses_compile(config: _RunConfig, state: TrainState) -> bool:
    """Whether an update with this config runs compiled: ``config.compile``, or CUDA if None."""
    if config.compile is None:
        return state.device.type == "cuda"
    return bool(config.compile)


def _compiled(core: UpdateCore, device: torch.device) -> UpdateCore:
    """``core`` compiled for ``device`` (CUDA graphs on CUDA: :func:`compile_options`), built
    once per (core, device type) and reused."""
    key = (core, device.type)
    fn = _COMPILED.get(key)
    if fn is None:
        fn = compile_function(core, **compile_options(device))
        _COMPILED[key] = fn
    return fn


@dataclass(frozen=True, eq=False)
class Update:
    """An algorithm's update, ``update(state, batch, randomness, config) -> (state, metrics)``.

    Attributes:
        core: the pure arithmetic of one update (the algorithm module's function).
        randomness: the randomness class the core takes; None for a core that draws nothing.
        name: the name its errors and compile records give (``edp_td3_update``).
    """

    core: UpdateCore
    randomness: type | None
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
                return _compiled(core, state.device)(state, batch, randomness, config)
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
        out = _compiled(core, state.device)(state, batch, randomness, config)
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
