"""Checks of configuration fields: each raises ``TypeError`` (wrong type) or ``ValueError``
(out of range) with a message naming the field, the value and what is expected.

Used by the run schema (:mod:`edp_ref.runner.spec`), the evaluation log
(:mod:`edp_ref.runner.metrics`) and the reproduction's arguments
(:mod:`edp_ref.runner.reproduce`), so that bad input fails before any work starts.
"""

from __future__ import annotations

import math

__all__ = ["check_choice", "check_int", "check_real", "check_text"]


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
        raise TypeError(f"{where} must be {expected}, got {value!r} ({type(value).__name__})")
    assert isinstance(value, int)
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{where} must be {expected}, got {value!r}")


def check_real(
    where: str,
    value: object,
    minimum: float | None = None,
    optional: bool = False,
    allow_nan: bool = False,
) -> None:
    """Raise unless ``value`` is a finite int or float (>= ``minimum`` when given; None allowed
    when ``optional``; NaN allowed when ``allow_nan``: the std of a single episode)."""
    if optional and value is None:
        return
    if allow_nan and isinstance(value, float) and math.isnan(value):
        return
    expected = "a finite number" + ("" if minimum is None else f" >= {minimum:g}")
    if optional:
        expected += " or None"
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"{where} must be {expected}, got {value!r} ({type(value).__name__})")
    if not math.isfinite(value) or (minimum is not None and value < minimum):
        raise ValueError(f"{where} must be {expected}, got {value!r}")


def check_choice(where: str, value: object, choices: tuple[str, ...]) -> None:
    """Raise unless ``value`` is one of the strings ``choices``."""
    expected = "one of " + ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise TypeError(f"{where} must be {expected}, got {value!r} ({type(value).__name__})")
    if value not in choices:
        raise ValueError(f"{where} must be {expected}, got {value!r}")


def check_text(where: str, value: object, optional: bool = False) -> None:
    """Raise unless ``value`` is a non-empty str (or None when ``optional``)."""
    if optional and value is None:
        return
    expected = "a non-empty str" + (" or None" if optional else "")
    if not isinstance(value, str):
        raise TypeError(f"{where} must be {expected}, got {value!r} ({type(value).__name__})")
    if not value:
        raise ValueError(f"{where} must be {expected}, got {value!r}")
