"""The shape and consistency checks every update makes on its inputs before it runs (free: they
read shapes and configs, never tensor values): the batch's widths are the networks', every
randomness tensor was drawn for this batch size and action width, and a diffusion config's
schedule is the one the state was built with. Each error names the argument and both values.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from torch import Tensor

from edp_ref.algorithms.state import TrainState
from edp_ref.data.batch import Batch

__all__ = ["check_schedule", "check_widths"]

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
