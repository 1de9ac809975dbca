"""Whether a measured difference agrees with the paper's: 95 % bootstrap intervals over seeds and
a verdict in words (``edp-reproduce``'s summary, :func:`edp_ref.reproduce.tables.render_summary`).

* :func:`seed_interval`: the mean of one agent's per-seed scores (each seed's RAT or OMS, Sec. 5)
  and its 95 % percentile-bootstrap interval.
* :func:`difference_interval`: ``mean(treatment) - mean(baseline)`` (e.g. EDP - FF) and its
  interval, the two agents' seeds resampled independently: seed k of one agent shares nothing
  with seed k of the other but the dataset, so the samples are not paired.
* :func:`verdict`: the rule that reads the interval against the paper's difference
  (:data:`VERDICT_RULE`).

The intervals are percentile-bootstrap intervals (Efron & Tibshirani 1993, ch. 13):
:data:`BOOTSTRAP_RESAMPLES` resamples with replacement of each agent's seeds from a NumPy
generator with a fixed seed, so that a table is reproducible. Hand-written (a dozen lines of
NumPy) rather than a library's: ``rliable`` 1.2.0 (Agarwal et al. 2021, the field's standard)
caps ``arch`` below 8, whose 7.2 fails to import under pandas 3, the version pip installs (checked
2026-12), and its stratified bootstrap draws from NumPy's global generator and reduces to this one
for one task; ``scipy.stats.bootstrap`` (percentile method) is only a test dependency, and
``tests/test_reproduction_report.py`` checks that it gives the same intervals as
:func:`percentile_bootstrap`. With three seeds the percentile bootstrap
under-covers (its interval is the spread of means of resampled triples); the verdict is
therefore "agrees at this budget", not a significance test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

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
    """A mean over seeds and its 95 % bootstrap interval (None with fewer than 2 seeds).

    Attributes:
        mean: the point estimate.
        low, high: the interval's bounds, or None.
        n: seeds behind it (for a difference: the smaller of the two agents' counts).
    """

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
    statistic: Callable[..., np.ndarray],
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


def _bootstrap(
    samples: tuple[np.ndarray, ...], statistic: Callable[..., np.ndarray], point: float
) -> tuple[float, float]:
    """The interval of ``statistic`` (``point``: its value on ``samples``); no spread, no
    interval width."""
    if all(np.all(s == s[0]) for s in samples):
        return point, point
    return percentile_bootstrap(samples, statistic)


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    out: np.ndarray = np.mean(x, axis=axis)
    return out


def _mean_difference(t: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    out: np.ndarray = np.mean(t, axis=axis) - np.mean(b, axis=axis)
    return out


def seed_interval(values: Sequence[float]) -> Interval:
    """The mean of per-seed scores and its 95 % percentile-bootstrap interval."""
    arr = _finite(values, "seed_interval")
    if arr.size < 2:
        return Interval(float(arr.mean()), None, None, int(arr.size))
    low, high = _bootstrap((arr,), _mean, float(arr.mean()))
    return Interval(float(arr.mean()), low, high, int(arr.size))


def difference_interval(treatment: Sequence[float], baseline: Sequence[float]) -> Interval:
    """``mean(treatment) - mean(baseline)`` and its 95 % bootstrap interval, each agent's seeds
    resampled independently (unpaired)."""
    t = _finite(treatment, "difference_interval: treatment")
    b = _finite(baseline, "difference_interval: baseline")
    mean = float(t.mean() - b.mean())
    n = int(min(t.size, b.size))
    if n < 2:
        return Interval(mean, None, None, n)
    low, high = _bootstrap((t, b), _mean_difference, mean)
    return Interval(mean, low, high, n)


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
