"""Validation of configuration values where they enter edp_ref: every config dataclass checks its
fields in ``__post_init__``, and functions their option arguments, with these helpers, in one
message style ("``<where>`` must be <expected>, got <value> (<type>)"):

* per value: :func:`check_int`, :func:`check_real`, :func:`check_choice`, :func:`check_text`;
* per dataclass: :func:`check_field_types` (each field against its annotation, with beartype's
  ``is_bearable``: a misspelled option or a string or bool where a number belongs fails at
  construction), :func:`check_positive`, :func:`check_at_least`, :func:`check_interval`.

A wrong type raises :class:`ConfigTypeError` (a ``TypeError``), a value out of range
:class:`ConfigError` (a ``ValueError``). Not pydantic or attrs: beartype is a core dependency
already, and a validating library would re-declare every config class for a few range checks.
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
    "ConfigTypeError",
    "check_at_least",
    "check_choice",
    "check_field_types",
    "check_int",
    "check_interval",
    "check_positive",
    "check_real",
    "check_text",
]

# int is accepted where float is annotated (PEP 484's numeric tower): learning_rate=1 is fine.
_CONF = BeartypeConf(is_pep484_tower=True)


class ConfigError(ValueError):
    """A configuration value is outside its range (or, as :class:`ConfigTypeError`, of the wrong
    type)."""


class ConfigTypeError(ConfigError, TypeError):
    """A configuration value is of the wrong type."""


def _got(value: object) -> str:
    return f"{value!r} ({type(value).__name__})"


# ------------------------------------------------------------------------------------------
# Per value
# ------------------------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    # bool is a subclass of int; ``True`` where an int belongs is a mistake, not the number 1.
    return isinstance(value, int) and not isinstance(value, bool)


def check_int(
    where: str, value: object, minimum: int, maximum: int | None = None, optional: bool = False
) -> None:
    """Raise unless ``value`` is an int in [minimum, maximum] (or None when ``optional``)."""
    if optional and value is None:
        return
    expected = f"an int >= {minimum}" if maximum is None else f"an int in [{minimum}, {maximum}]"
    if optional:
        expected += " or None"
    if not _is_int(value):
        raise ConfigTypeError(f"{where} must be {expected}, got {_got(value)}")
    assert isinstance(value, int)
    if value < minimum or (maximum is not None and value > maximum):
        raise ConfigError(f"{where} must be {expected}, got {value!r}")


def check_real(
    where: str,
    value: object,
    minimum: float | None = None,
    optional: bool = False,
) -> None:
    """Raise unless ``value`` is a finite int or float (>= ``minimum`` when given; None allowed
    when ``optional``)."""
    if optional and value is None:
        return
    expected = "a finite number" + ("" if minimum is None else f" >= {minimum:g}")
    if optional:
        expected += " or None"
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ConfigTypeError(f"{where} must be {expected}, got {_got(value)}")
    if not math.isfinite(value) or (minimum is not None and value < minimum):
        raise ConfigError(f"{where} must be {expected}, got {value!r}")


def check_choice(where: str, value: object, choices: tuple[str, ...]) -> None:
    """Raise unless ``value`` is one of the strings ``choices``."""
    expected = "one of " + ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise ConfigTypeError(f"{where} must be {expected}, got {_got(value)}")
    if value not in choices:
        raise ConfigError(f"{where} must be {expected}, got {value!r}")


def check_text(where: str, value: object, optional: bool = False) -> None:
    """Raise unless ``value`` is a non-empty str (or None when ``optional``)."""
    if optional and value is None:
        return
    expected = "a non-empty str" + (" or None" if optional else "")
    if not isinstance(value, str):
        raise ConfigTypeError(f"{where} must be {expected}, got {_got(value)}")
    if not value:
        raise ConfigError(f"{where} must be {expected}, got {value!r}")


# ------------------------------------------------------------------------------------------
# Per dataclass
# ------------------------------------------------------------------------------------------

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
    if hint is int:
        return "an int"
    if hint is float:
        return "a number"
    if hint is str:
        return "a str"
    if hint is bool:
        return "a bool"
    return f"a {getattr(hint, '__name__', str(hint))}"


def _mentions(hint: Any, kind: type) -> bool:
    return hint is kind or any(_mentions(a, kind) for a in typing.get_args(hint))


def check_field_types(config: Any) -> None:
    """Check every field of the dataclass ``config`` against its type annotation (a bool is no
    number here) and that floats are finite; errors name ``Class.field``."""
    cls = type(config)
    hints = _hints(cls)
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        hint = hints[f.name]
        where = f"{cls.__name__}.{f.name}"
        if isinstance(value, bool) and not _mentions(hint, bool):
            raise ConfigTypeError(f"{where} must be {_describe(hint)}, got {_got(value)}")
        if not is_bearable(value, hint, conf=_CONF):
            raise ConfigTypeError(f"{where} must be {_describe(hint)}, got {_got(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{where} must be a finite number, got {value!r}")


def check_positive(config: Any, *names: str) -> None:
    """Each named field is > 0 (None is allowed where the annotation allows it)."""
    for name in names:
        value = getattr(config, name)
        if value is not None and not value > 0:
            raise ConfigError(f"{type(config).__name__}.{name} must be > 0, got {value!r}")


def check_at_least(config: Any, minimum: int | float, *names: str) -> None:
    """Each named field is >= ``minimum`` (None is allowed where the annotation allows it)."""
    for name in names:
        value = getattr(config, name)
        if value is not None and not value >= minimum:
            raise ConfigError(f"{type(config).__name__}.{name} must be >= {minimum}, got {value!r}")


def check_interval(
    config: Any, name: str, low: int | float, high: int | float, *, closed_high: bool = True
) -> None:
    """``low <= field <= high`` (``< high`` when ``closed_high`` is False)."""
    value = getattr(config, name)
    if value is None:
        return
    inside = low <= value <= high if closed_high else low <= value < high
    if not inside:
        bracket = "]" if closed_high else ")"
        raise ConfigError(
            f"{type(config).__name__}.{name} must be in [{low}, {high}{bracket}, got {value!r}"
        )
