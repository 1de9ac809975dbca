"""How the crosscheck compares edp_ref with a peer: one line per group of tensors.

A *group* is what the crosscheck reports on one line, e.g. the new parameters of the policy, the
Adam second moments of Q1, or the losses of one update. Three measures, each at the scale of
what it judges (docs/fidelity.md, "Pass rules"):

* :func:`compare_change`: state after an update (parameters, targets, EMA parameters, Adam
  moments). Both sides start from the same state, so the deviation is
  max |edp_ref - peer| / max |peer - start|: the error as a fraction of the largest change the
  peer's update made in the group. A frozen target network, a skipped EMA step or a wrong 1 % of
  an update show in full, however small the update is next to the parameters.
* :func:`compare_values`: losses and metrics, each at its own scale, max over names of
  |edp_ref - peer| / |peer|.
* :func:`compare_group`: outputs (sampled actions, Q values, preprocessed arrays):
  max |edp_ref - peer| / max |peer| over the group.

Each :class:`Comparison` holds its tolerance and whether it decides the verdict: an INFO line
documents a known difference, a DIAGNOSTIC line runs the official code with a replaced function
(reported, never deciding).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Comparison",
    "Rules",
    "compare_change",
    "compare_group",
    "compare_values",
    "format_line",
    "summary_line",
]


@dataclass(frozen=True)
class Comparison:
    """One reported group: its measure (module docstring; ``inf`` on a shape mismatch, a
    missing key or a non-finite value), max |edp_ref - peer| and what it was divided by, the
    number of compared scalars, and whether it is an INFO or a DIAGNOSTIC line."""

    name: str
    deviation: float
    max_abs: float
    scale: float
    tolerance: float
    elements: int
    note: str = ""
    informational: bool = False
    diagnostic: bool = False

    @property
    def deciding(self) -> bool:
        return not (self.informational or self.diagnostic)

    @property
    def within(self) -> bool:
        return self.deviation <= self.tolerance

    @property
    def passed(self) -> bool:
        """Whether the line does not fail the crosscheck (always true when not deciding)."""
        return not self.deciding or self.within


def _as_array(value: object) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


def _key_problem(ours: Mapping[str, object], peer: Mapping[str, object]) -> str:
    missing = sorted(set(peer) - set(ours))
    extra = sorted(set(ours) - set(peer))
    if missing or extra:
        return f"keys differ: missing in edp_ref {missing[:4]}, extra in edp_ref {extra[:4]}"
    return ""


def _array_problem(key: str, a: np.ndarray, b: np.ndarray) -> str:
    if a.shape != b.shape:
        return f"{key}: edp_ref shape {a.shape} vs peer shape {b.shape}"
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return (
            f"{key}: non-finite values (edp_ref {int((~np.isfinite(a)).sum())}, "
            f"peer {int((~np.isfinite(b)).sum())})"
        )
    return ""


def _ratio(diff: float, scale: float) -> float:
    """diff / scale; a zero scale passes only a zero difference."""
    if scale > 0.0:
        return diff / scale
    return 0.0 if diff == 0.0 else math.inf


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def compare_group(
    name: str,
    ours: Mapping[str, object],
    peer: Mapping[str, object],
    tolerance: float,
    note: str = "",
    informational: bool = False,
    diagnostic: bool = False,
    start: Mapping[str, object] | None = None,
) -> Comparison:
    """Outputs compared as one group: max |ours - peer| / max |peer - start| (``start`` None:
    zero; same keys, same shapes; values anything ``np.asarray`` reads: NumPy, torch on CPU,
    JAX). Missing or extra keys, shape mismatches and non-finite values give an infinite
    deviation with a note naming them."""
    flags = {"informational": informational, "diagnostic": diagnostic}
    problem = _key_problem(ours, peer)
    if not problem and start is not None:
        problem = _key_problem(peer, start).replace("edp_ref", "the start")
    if problem:
        return Comparison(name, math.inf, math.inf, math.nan, tolerance, 0, problem, **flags)
    worst, scale, count, worst_key = 0.0, 0.0, 0, ""
    for key in sorted(peer):
        a, b = _as_array(ours[key]), _as_array(peer[key])
        r = np.zeros_like(b) if start is None else _as_array(start[key])
        problem = _array_problem(key, a, b) or _array_problem(f"{key} (start)", r, b)
        if problem:
            return Comparison(
                name, math.inf, math.inf, math.nan, tolerance, count, problem, **flags
            )
        count += a.size
        if a.size == 0:
            continue
        diff = float(np.max(np.abs(a - b)))
        scale = max(scale, float(np.max(np.abs(b - r))))
        if diff >= worst:
            worst, worst_key = diff, key
    where = f"largest at {worst_key}" if worst_key and worst > 0 else ""
    deviation = _ratio(worst, scale)
    return Comparison(name, deviation, worst, scale, tolerance, count, _join(where, note), **flags)


def compare_change(
    name: str,
    ours: Mapping[str, object],
    peer: Mapping[str, object],
    start: Mapping[str, object],
    tolerance: float,
    note: str = "",
    informational: bool = False,
    diagnostic: bool = False,
) -> Comparison:
    """State after one update, relative to what the update changed (:func:`compare_group` from
    ``start``, where both sides started). A group the peer's update left unchanged passes only
    when edp_ref's is equal to it."""
    note = _join("relative to the update's change", note)
    return compare_group(name, ours, peer, tolerance, note, informational, diagnostic, start)


def compare_values(
    name: str,
    ours: Mapping[str, object],
    peer: Mapping[str, object],
    tolerance: float,
    note: str = "",
    informational: bool = False,
    diagnostic: bool = False,
) -> Comparison:
    """Scalars (losses, metrics, counts), each at its own scale: max over names of
    |ours - peer| / |peer| (a peer value of exactly 0 passes only an exact 0)."""
    flags = {"informational": informational, "diagnostic": diagnostic}
    problem = _key_problem(ours, peer)
    if problem:
        return Comparison(name, math.inf, math.inf, math.nan, tolerance, 0, problem, **flags)
    worst, worst_abs, worst_scale, worst_key = -1.0, 0.0, 0.0, ""
    for key in sorted(peer):
        a, b = _as_array(ours[key]), _as_array(peer[key])
        problem = _array_problem(key, a, b)
        if problem:
            return Comparison(name, math.inf, math.inf, math.nan, tolerance, 0, problem, **flags)
        diff, scale = float(np.max(np.abs(a - b))), float(np.max(np.abs(b)))
        if _ratio(diff, scale) > worst:
            worst, worst_abs, worst_scale, worst_key = _ratio(diff, scale), diff, scale, key
    where = f"largest at {worst_key}" if worst_abs > 0 else ""
    text = _join("each value at its own scale", where, note)
    return Comparison(
        name, max(worst, 0.0), worst_abs, worst_scale, tolerance, len(peer), text, **flags
    )


def format_line(c: Comparison) -> str:
    """One report line: verdict, name, deviation and tolerance, absolute difference and scale.

    Verdicts: PASS / FAIL (deciding lines), INFO (not checked), DIAG (a DIAGNOSTIC line, with
    what its tolerance would say)."""
    if c.informational:
        verdict, bound = "INFO", "not checked"
    elif c.diagnostic:
        would = "within" if c.within else "outside"
        verdict, bound = "DIAG", f"tolerance {c.tolerance:.0e}, {would}; not deciding"
    else:
        verdict, bound = ("PASS" if c.passed else "FAIL"), f"tolerance {c.tolerance:.0e}"
    line = (
        f"{verdict}  {c.name}: max deviation {c.deviation:.2e} ({bound}); "
        f"max |diff| {c.max_abs:.2e} at scale {c.scale:.2e} over {c.elements} values"
    )
    return f"{line} [{c.note}]" if c.note else line


def summary_line(comparisons: Iterable[Comparison]) -> str:
    """``crosscheck: N passed, M failed`` (INFO and DIAGNOSTIC lines are not counted)."""
    results = [c.passed for c in comparisons if c.deciding]
    return f"crosscheck: {sum(results)} passed, {len(results) - sum(results)} failed"


@dataclass(frozen=True)
class Rules:
    """The tolerances of one precision (docs/fidelity.md, "Pass rules") for
    :func:`compare_change`, :func:`compare_values` and :func:`compare_group`."""

    change: float
    values: float
    outputs: float
