"""How the crosscheck compares edp_ref with a peer: one line per group of tensors.

A *group* is what the crosscheck reports on one line, e.g. the new parameters of the policy, the
Adam second moments of Q1, or the losses of one update. Its deviation is the largest absolute
difference over the group's elements divided by the largest magnitude of the peer's values in
the group (a relative deviation that is meaningful for parameters, moments and losses alike and
does not blow up on the many exact zeros of a fresh Adam state). Each group has a tolerance on
that number; :class:`Comparison` records both and whether the group passed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["Comparison", "compare_group", "format_line", "summary_line"]


@dataclass(frozen=True)
class Comparison:
    """One reported group.

    Attributes:
        name: what was compared, e.g. ``"edp_td3 f32 one-update params/policy"``.
        deviation: max |ours - peer| / max |peer| over the group (``inf`` on a shape mismatch or
            a non-finite value, ``nan`` never).
        max_abs: max |ours - peer| over the group.
        scale: max |peer| over the group.
        tolerance: the largest deviation that passes.
        elements: number of compared scalars.
        note: extra context (e.g. which tensor holds the largest deviation).
        informational: a line that documents a known difference (printed as INFO, never a
            failure; e.g. CORL's IQL as shipped, whose update order differs from IQL's).
    """

    name: str
    deviation: float
    max_abs: float
    scale: float
    tolerance: float
    elements: int
    note: str = ""
    informational: bool = False

    @property
    def passed(self) -> bool:
        """Whether the deviation is within the tolerance (always true for an INFO line)."""
        return self.informational or self.deviation <= self.tolerance


def _as_array(value: object) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    return array


def compare_group(
    name: str,
    ours: Mapping[str, object],
    peer: Mapping[str, object],
    tolerance: float,
    note: str = "",
    informational: bool = False,
) -> Comparison:
    """Compare two dicts of arrays (same keys, same shapes) as one group.

    Args:
        name: the group's name for the report.
        ours: edp_ref's values by key (anything ``np.asarray`` reads: NumPy, torch on CPU, JAX).
        peer: the peer's values under the same keys.
        tolerance: the largest relative deviation that passes.
        note: appended to the line.
        informational: an INFO line (see :class:`Comparison`).

    Returns:
        The :class:`Comparison`; missing or extra keys, shape mismatches and non-finite values
        give an infinite deviation with a note that names them.
    """
    missing = sorted(set(peer) - set(ours))
    extra = sorted(set(ours) - set(peer))
    if missing or extra:
        why = f"keys differ: missing in edp_ref {missing[:4]}, extra in edp_ref {extra[:4]}"
        return Comparison(name, math.inf, math.inf, math.nan, tolerance, 0, why, informational)
    worst_abs, scale, count, worst_key = 0.0, 0.0, 0, ""
    for key in sorted(peer):
        a, b = _as_array(ours[key]), _as_array(peer[key])
        if a.shape != b.shape:
            why = f"{key}: edp_ref shape {a.shape} vs peer shape {b.shape}"
            return Comparison(
                name, math.inf, math.inf, math.nan, tolerance, count, why, informational
            )
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            why = (
                f"{key}: non-finite values (edp_ref {int((~np.isfinite(a)).sum())}, "
                f"peer {int((~np.isfinite(b)).sum())})"
            )
            return Comparison(
                name, math.inf, math.inf, math.nan, tolerance, count, why, informational
            )
        count += a.size
        if a.size == 0:
            continue
        diff = float(np.max(np.abs(a - b)))
        scale = max(scale, float(np.max(np.abs(b))))
        if diff >= worst_abs:
            worst_abs, worst_key = diff, key
    # A group of exact zeros on the peer's side passes only if edp_ref's are zeros too.
    deviation = worst_abs / scale if scale > 0.0 else (0.0 if worst_abs == 0.0 else math.inf)
    where = f"largest at {worst_key}" if worst_key and worst_abs > 0 else ""
    text = "; ".join(x for x in (where, note) if x)
    return Comparison(name, deviation, worst_abs, scale, tolerance, count, text, informational)


def format_line(c: Comparison) -> str:
    """One report line: verdict, name, deviation and tolerance, absolute difference and scale."""
    verdict = "INFO" if c.informational else ("PASS" if c.passed else "FAIL")
    bound = "not checked" if c.informational else f"tolerance {c.tolerance:.0e}"
    line = (
        f"{verdict}  {c.name}: max deviation {c.deviation:.2e} ({bound}); "
        f"max |diff| {c.max_abs:.2e} at scale {c.scale:.2e} over {c.elements} values"
    )
    return f"{line} [{c.note}]" if c.note else line


def summary_line(comparisons: Iterable[Comparison]) -> str:
    """``crosscheck: N passed, M failed`` (INFO lines are not counted)."""
    results = [c.passed for c in comparisons if not c.informational]
    return f"crosscheck: {sum(results)} passed, {len(results) - sum(results)} failed"
