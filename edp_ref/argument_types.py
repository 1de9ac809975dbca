"""Argument types for ``argparse``'s ``type=`` shared by edp_ref's command lines (``edp-reproduce``,
``edp-datasets``, ``edp-benchmark``).

Each rejects a bad value with :class:`argparse.ArgumentTypeError`, so ``argparse`` exits with
status 2 before any work starts and names the argument
(``argument --jobs: expected an integer >= 1, got '0'``).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["integer_in", "number_at_least"]


def integer_in(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An integer in [``minimum``, ``maximum``] (no upper bound when ``maximum`` is None)."""
    bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"expected an integer {bound}, got {text!r}")
        return value

    parse.__name__ = f"integer {bound}"  # argparse names the type by it in some messages
    return parse


def number_at_least(minimum: float, *, strict: bool = False) -> Callable[[str], float]:
    """A finite number >= ``minimum`` (> ``minimum`` when ``strict``)."""
    expected = f"a finite number {'>' if strict else '>='} {minimum:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not math.isfinite(value) or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    parse.__name__ = expected
    return parse
