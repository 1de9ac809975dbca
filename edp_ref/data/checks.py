"""Checks of raw dataset arrays shared by the loaders, before anything is converted.

The checks run on the arrays as read from a file, so that a bad value is reported as stored and
before a conversion could hide it (``astype(bool)`` turns NaN into True; ``np.asarray(x,
dtype=float)`` turns the string "1.0" into 1.0). Each failure raises ``ValueError`` naming the
source, the field, the first bad index and its value, and what was expected.

Accepted without error (documented choices):

* integer and boolean arrays where floats belong (observations, actions, rewards), when every
  value is exactly representable in the float type the data is converted to (|x| <= 2**24 for
  float32): environments with integer rewards exist, and the conversion loses nothing;
* flags (``terminals``, ``timeouts``, ``terminations``, ``truncations``) stored as booleans or as
  numbers that are exactly 0 or 1 (D4RL stores them as bool, some writers as float 0.0 / 1.0).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "NUMERIC_KINDS",
    "check_finite",
    "check_flags",
    "check_numeric",
    "check_representable",
    "first_index",
]

#: NumPy dtype kinds accepted as numbers: bool, signed and unsigned integers, floats.
NUMERIC_KINDS = "biuf"

_KIND_NAMES = {
    "c": "complex numbers",
    "S": "byte strings",
    "U": "strings",
    "O": "Python objects",
    "V": "compound records",
    "M": "dates",
    "m": "time deltas",
}


def first_index(mask: np.ndarray) -> int | tuple[int, ...]:
    """The first True position of ``mask`` (an int for 1-D masks, a tuple otherwise)."""
    where = np.argwhere(mask)[0]
    return int(where[0]) if mask.ndim == 1 else tuple(int(i) for i in where)


def check_numeric(source: str, field: str, arr: np.ndarray) -> None:
    """Reject arrays that do not hold numbers (strings, objects, records, complex numbers)."""
    kind = arr.dtype.kind
    if kind not in NUMERIC_KINDS:
        what = _KIND_NAMES.get(kind, f"dtype kind {kind!r}")
        raise ValueError(
            f"{source}: field '{field}' holds {what} (dtype {arr.dtype}); expected numbers "
            "(float, integer or bool)"
        )


def check_flags(source: str, field: str, arr: np.ndarray, *, offset: str = "index") -> np.ndarray:
    """The 0/1 flags of ``arr`` as a bool array; ``ValueError`` if a number is not exactly 0 or
    1 (a cast would make NaN or 0.5 True). ``offset`` names what the position counts ("row")."""
    check_numeric(source, field, arr)
    if arr.dtype.kind == "b":
        return arr
    with np.errstate(invalid="ignore"):
        bad = ~((arr == 0) | (arr == 1))
    if bool(bad.any()):
        at = first_index(bad)
        raise ValueError(
            f"{source}: field '{field}' must hold only 0 and 1 (or booleans); "
            f"{int(bad.sum())} value(s) differ, first at {offset} {at}: {arr[at].item()!r}"
        )
    return np.asarray(arr != 0)


def check_finite(source: str, field: str, arr: np.ndarray, *, offset: str = "index") -> None:
    """Reject NaN and inf in a float array, naming the first position and its value."""
    if arr.dtype.kind != "f":
        return
    finite = np.isfinite(arr)
    if not bool(finite.all()):
        at = first_index(~finite)
        raise ValueError(
            f"{source}: field '{field}' contains {int((~finite).sum())} non-finite value(s) "
            f"(NaN or inf), first at {offset} {at}: {arr[at].item()!r}"
        )


def check_representable(source: str, field: str, arr: np.ndarray, dtype: torch.dtype) -> None:
    """Reject integers beyond ``dtype``'s exact range and finite floats beyond its largest."""
    if not dtype.is_floating_point or arr.size == 0:
        return
    info = torch.finfo(dtype)
    if arr.dtype.kind in "iu":
        exact = round(2.0 / info.eps)  # 2 ** (mantissa bits + 1): 2**24 for float32
        with np.errstate(over="ignore"):
            bad = (arr > exact) | (arr < -exact)
        if bool(bad.any()):
            at = first_index(bad)
            raise ValueError(
                f"{source}: field '{field}' holds integer {arr[at].item()} at index {at}, which "
                f"{dtype} cannot represent exactly (integers are accepted up to |x| <= {exact})"
            )
    elif arr.dtype.kind == "f" and np.finfo(arr.dtype).max > info.max:
        with np.errstate(invalid="ignore"):
            bad = np.isfinite(arr) & (np.abs(arr) > info.max)
        if bool(bad.any()):
            at = first_index(bad)
            raise ValueError(
                f"{source}: field '{field}' holds {arr[at].item()!r} at index {at}, beyond the "
                f"range of {dtype} (largest {info.max:.6g}); it would become inf"
            )
