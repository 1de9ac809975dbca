"""Whether a measured difference agrees with the paper's: 95 % bootstrap intervals over seeds and
a verdict in words (``edp-reproduce``'s summary, :func:`edp_ref.reproduce.tables.render_summary`).

:func:`seed_interval` is the mean of one agent's per-seed scores (each seed's RAT or OMS, Sec. 5),
:func:`difference_interval` ``mean(treatment) - mean(baseline)`` (e.g. EDP - FF), the two
agents' seeds resampled independently (seed k of one agent shares nothing with seed k of the
other but the dataset: unpaired); :func:`verdict` reads the interval against the paper's
difference (:data:`VERDICT_RULE`).

The intervals are percentile-bootstrap intervals (Efron & Tibshirani 1993, ch. 13) from a NumPy
generator with a fixed seed, so that a table is reproducible. Hand-written rather than a
library's: ``rliable`` 1.2.0 (Agarwal et al. 2021) caps ``arch`` below 8, whose 7.2 fails to
import under pandas 3 (checked 2026-12), and for one task its stratified bootstrap reduces to
this one; ``scipy.stats.bootstrap`` is only a test dependency, and
``tests/test_reproduction_report.py`` checks that it gives the same intervals. With three seeds
the percentile bootstrap under-covers, so the verdict is "agrees at this budget", not a
significance test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "CONFIDENCE",
    "VERDICT_RULE",
    "Interval",
    "Verdict",
    "difference_interval",
    "percentile_bootstrap",
    "seed_interval",
    "verdict",
]

#: Resamples of every bootstrap interval.
BOOTSTRAP_RESAMPLES = 10_000
#: Confidence level of the intervals.
CONFIDENCE = 0.95
#: The seed of the bootstrap's generator (the same numbers give the same interval).
_BOOTSTRAP_SEED = 20230

Verdict = Literal["agrees", "disagrees", "inconclusive"]

#: The rule of :func:`verdict`, as the tables print it.
VERDICT_RULE = (
    "Verdict: 'agrees' when the 95 % interval of the measured difference excludes 0 on the side "
    "of the paper's difference (its size need not match), 'disagrees' when it excludes 0 on the "
    "other side, 'inconclusive' otherwise (the interval holds 0, fewer than 2 seeds of either "
    "agent, or the paper's difference is 0)."
)


@dataclass(frozen=True)
class Interval:
    """A mean over seeds and its 95 % bootstrap interval (None with fewer than 2 seeds); ``n``:
    the seeds behind it (for a difference: the smaller of the two agents' counts)."""

    mean: float
    low: float | None
    high: float | None
    n: int

    def text(self, signed: bool = False) -> str:
        """``36.2 [34.1, 38.0]``; ``36.2 (n=1)`` without an interval; ``+`` signs if ``signed``."""
        f = "{:+.1f}" if signed else "{:.1f}"
        if self.low is None or self.high is None:
            return f"{f.format(self.mean)} (n={self.n})"
        return f"{f.format(self.mean)} [{f.format(self.low)}, {f.format(self.high)}]"


def _finite(values: Sequence[float], where: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{where}: expected a non-empty list of per-seed scores, got {values!r}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{where}: per-seed scores must be finite, got {list(values)}")
    return arr


def percentile_bootstrap(
    samples: Sequence[np.ndarray],
    statistic: Callable[..., Any],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = _BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """The percentile-bootstrap interval of ``statistic`` over independent ``samples``.

    Each sample is resampled with replacement ``resamples`` times (independently of the others:
    unpaired); ``statistic(*resampled, axis=-1)`` gives one value per resample; the interval is
    the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of those values (NumPy's
    linear interpolation, as ``scipy.stats.bootstrap(method="percentile")``).
    """
    rng = np.random.default_rng(seed)
    resampled = [s[rng.integers(0, s.size, size=(resamples, s.size))] for s in samples]
    values = statistic(*resampled, axis=-1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def _interval(
    samples: tuple[np.ndarray, ...], statistic: Callable[..., Any], point: float
) -> Interval:
    """``point`` (``statistic`` on ``samples``) and its interval: none with fewer than 2 seeds,
    no width when no sample has any spread."""
    n = min(s.size for s in samples)
    if n < 2:
        return Interval(point, None, None, n)
    if all(np.all(s == s[0]) for s in samples):
        return Interval(point, point, point, n)
    return Interval(point, *percentile_bootstrap(samples, statistic), n)


def seed_interval(values: Sequence[float]) -> Interval:
    """The mean of per-seed scores and its 95 % percentile-bootstrap interval."""
    arr = _finite(values, "seed_interval")
    return _interval((arr,), np.mean, float(arr.mean()))


def difference_interval(treatment: Sequence[float], baseline: Sequence[float]) -> Interval:
    """``mean(treatment) - mean(baseline)`` and its 95 % bootstrap interval, each agent's seeds
    resampled independently (unpaired)."""
    t = _finite(treatment, "difference_interval: treatment")
    b = _finite(baseline, "difference_interval: baseline")
    return _interval(
        (t, b),
        lambda t, b, axis: np.mean(t, axis=axis) - np.mean(b, axis=axis),
        float(t.mean() - b.mean()),
    )


def verdict(paper_difference: float | None, measured: Interval) -> Verdict:
    """:data:`VERDICT_RULE` applied to the paper's difference and the measured interval."""
    if paper_difference is None or not math.isfinite(paper_difference):
        return "inconclusive"
    if paper_difference == 0 or measured.low is None or measured.high is None:
        return "inconclusive"
    if measured.low > 0:
        return "agrees" if paper_difference > 0 else "disagrees"
    if measured.high < 0:
        return "agrees" if paper_difference < 0 else "disagrees"
    return "inconclusive"
