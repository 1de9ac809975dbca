"""Validation of configuration dataclasses when they are built: every config of edp_ref
(algorithms, runs, evaluation settings) checks its fields in ``__post_init__`` with these helpers.

:func:`check_field_types` checks each field against its annotation with beartype's
``is_bearable`` (``Literal`` options, ``int`` vs ``float`` vs ``None``, nested config types), so a
misspelled option (``q_head="q3"``), a string where a number belongs (``epochs="2"``) or a bool
where a number belongs fails at construction instead of silently selecting another code path.
The range helpers (:func:`check_positive`, :func:`check_interval`, ...) check numeric ranges.
Every error is a :class:`ConfigError` (a ``ValueError``) that names ``Class.field``, the value and
what was expected.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from beartype import BeartypeConf
from beartype.door import is_bearable

__all__ = [
    "ConfigError",
    "check_at_least",
    "check_field_types",
    "check_interval",
    "check_positive",
]

# int is accepted where float is annotated (PEP 484's numeric tower): learning_rate=1 is fine.
_CONF = BeartypeConf(is_pep484_tower=True)


class ConfigError(ValueError):
    """A configuration field holds a value of the wrong type or outside its range."""


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """The resolved field annotations of ``cls`` (cached: resolving them is slow)."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(hint))
    if hint is type(None):
        return "None"
    return getattr(hint, "__name__", str(hint))


def _mentions(hint: Any, kind: type) -> bool:
    return hint is kind or any(_mentions(a, kind) for a in typing.get_args(hint))


def check_field_types(config: Any) -> None:
    """Check every field of the dataclass ``config`` against its type annotation.

    Bools are rejected where only numbers are allowed (``True`` is an ``int`` to Python, never a
    learning rate or a width), and floats must be finite unless the annotation is ``float`` and
    the class allows infinity explicitly (none does today).

    Raises:
        ConfigError: naming ``Class.field``, the value and the expected type.
    """
    cls = type(config)
    hints = _hints(cls)
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        hint = hints[f.name]
        where = f"{cls.__name__}.{f.name}"
        if isinstance(value, bool) and not _mentions(hint, bool):
            raise ConfigError(f"{where} = {value!r}: expected {_describe(hint)}, not a bool")
        if not is_bearable(value, hint, conf=_CONF):
            raise ConfigError(f"{where} = {value!r}: expected {_describe(hint)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{where} = {value!r}: expected a finite number")


def _value(config: Any, name: str) -> Any:
    return getattr(config, name)


def check_positive(config: Any, *names: str) -> None:
    """Each named field is > 0 (None is allowed where the annotation allows it)."""
    for name in names:
        value = _value(config, name)
        if value is not None and not value > 0:
            raise ConfigError(f"{type(config).__name__}.{name} = {value!r}: expected a value > 0")


def check_at_least(config: Any, minimum: int | float, *names: str) -> None:
    """Each named field is >= ``minimum`` (None is allowed where the annotation allows it)."""
    for name in names:
        value = _value(config, name)
        if value is not None and not value >= minimum:
            raise ConfigError(
                f"{type(config).__name__}.{name} = {value!r}: expected a value >= {minimum}"
            )


def check_interval(
    config: Any, name: str, low: int | float, high: int | float, *, closed_high: bool = True
) -> None:
    """``low <= field <= high`` (``< high`` when ``closed_high`` is False)."""
    value = _value(config, name)
    if value is None:
        return
    inside = low <= value <= high if closed_high else low <= value < high
    if not inside:
        bracket = "]" if closed_high else ")"
        raise ConfigError(
            f"{type(config).__name__}.{name} = {value!r}: expected a value in "
            f"[{low}, {high}{bracket}"
        )
