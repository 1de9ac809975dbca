"""The learning-curve study's verdict (:mod:`edp_ref.fidelity.curves`): tests, table, figure.

The protocol (docs/fidelity.md, section 5, fixed before the runs): each run's *final score* is
the mean normalized score of its last ``window`` evaluations; the sides are compared on their
seeds' final scores with Welch's t statistics.

* :func:`tost`: the two one-sided tests of equivalence (Schuirmann's TOST) of edp_ref and the
  official agent within the margin +-delta: equivalent when both one-sided tests reject at
  ``alpha`` (equivalently: the 1 - 2 alpha confidence interval of the difference lies inside the
  margin).
* :func:`power_check`: the mutant against the official agent: told apart when Welch's two-sided
  test rejects equality at ``alpha``.
* :func:`load_runs`, :func:`summarise`, :func:`report_markdown`, :func:`plot`.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edp_ref.fidelity.curves import SCHEMA, CurveSettings

__all__ = [
    "Summary",
    "WelchTest",
    "load_runs",
    "plot",
    "power_check",
    "report_markdown",
    "summarise",
    "tost",
]

_SIDES = {"official": "official EDP (JAX)", "edp_ref": "edp_ref (PyTorch, compiled)"}


def load_runs(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every complete run record (``complete: true``) in ``folder``, sorted by file name."""
    runs = []
    for path in sorted(Path(folder).glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("schema") != SCHEMA:
            raise ValueError(f"load_runs: {path} is not an {SCHEMA} record")
        if record.get("complete"):
            runs.append(record)
    return runs


def _side(record: dict[str, Any]) -> str:
    return CurveSettings(**record["settings"]).side


def _scores(record: dict[str, Any]) -> tuple[list[int], list[float]]:
    evaluations = record["evaluations"]
    return [int(e["update"]) for e in evaluations], [
        float(e["mean_normalized"]) for e in evaluations
    ]


@dataclass(frozen=True)
class Summary:
    """One side (algorithm x implementation [+ mutant]): per-seed final scores."""

    algorithm: str
    side: str
    seeds: tuple[int, ...]
    finals: tuple[float, ...]
    updates: int

    @property
    def mean(self) -> float:
        return statistics.fmean(self.finals)

    @property
    def std(self) -> float:
        """Sample standard deviation over seeds (0 for one seed)."""
        return statistics.stdev(self.finals) if len(self.finals) > 1 else 0.0


def summarise(runs: list[dict[str, Any]], window: int) -> list[Summary]:
    """Per (algorithm, side): each seed's mean of its last ``window`` evaluations."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        groups[(r["settings"]["algorithm"], _side(r))].append(r)
    out = []
    for (alg, side), records in sorted(groups.items()):
        records.sort(key=lambda r: r["settings"]["seed"])
        finals = tuple(statistics.fmean(_scores(r)[1][-window:]) for r in records)
        seeds = tuple(int(r["settings"]["seed"]) for r in records)
        out.append(Summary(alg, side, seeds, finals, int(records[0]["settings"]["updates"])))
    return out


@dataclass(frozen=True)
class WelchTest:
    """Welch's statistics of ``a - b`` on the seeds' final scores: the difference of the means,
    its standard error sqrt(s_a^2 / n_a + s_b^2 / n_b), the Welch-Satterthwaite degrees of
    freedom, the 1 - 2 alpha confidence interval (TOST's), the p-value (TOST: the larger
    one-sided p; power check: two-sided) and whether the test rejects (TOST: equivalent; power
    check: told apart)."""

    difference: float
    se: float
    df: float
    interval: tuple[float, float]
    p: float
    verdict: bool


def _welch(a: Summary, b: Summary, alpha: float) -> tuple[float, float, float, tuple[float, float]]:
    from scipy import stats

    na, nb = len(a.finals), len(b.finals)
    if na < 2 or nb < 2:
        raise ValueError("curves_report: Welch's test needs at least 2 seeds on each side")
    va, vb = a.std**2 / na, b.std**2 / nb
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1)) if se > 0 else math.inf
    diff = a.mean - b.mean
    half = float(stats.t.ppf(1 - alpha, df)) * se
    return diff, se, df, (diff - half, diff + half)


def tost(a: Summary, b: Summary, margin: float, alpha: float = 0.05) -> WelchTest:
    """Schuirmann's two one-sided Welch tests of |mean(a) - mean(b)| < ``margin``."""
    from scipy import stats

    diff, se, df, interval = _welch(a, b, alpha)
    if se == 0:
        p = 0.0 if abs(diff) < margin else 1.0
    else:
        p_low = float(stats.t.sf((diff + margin) / se, df))  # H0: diff <= -margin
        p_high = float(stats.t.cdf((diff - margin) / se, df))  # H0: diff >= +margin
        p = max(p_low, p_high)
    return WelchTest(diff, se, df, interval, p, p < alpha)


def power_check(mutant: Summary, official: Summary, alpha: float = 0.05) -> WelchTest:
    """Welch's two-sided test of mean(mutant) = mean(official)."""
    from scipy import stats

    diff, se, df, interval = _welch(mutant, official, alpha)
    p = (0.0 if diff != 0 else 1.0) if se == 0 else float(2 * stats.t.sf(abs(diff) / se, df))
    return WelchTest(diff, se, df, interval, p, p < alpha)


def report_markdown(summaries: list[Summary], window: int, margin: float) -> str:
    """Per-seed final scores per side, the TOST of edp_ref against the official agent and the
    power check of each mutant against it."""
    lines = [
        f"| algorithm | side | updates | final score per seed (mean of the last {window} "
        "evaluations, normalized) | mean ± std |",
        "|---|---|---|---|---|",
    ]
    for s in summaries:
        per_seed = ", ".join(f"s{seed}: {v:.1f}" for seed, v in zip(s.seeds, s.finals, strict=True))
        lines.append(
            f"| {s.algorithm} | {_SIDES.get(s.side, s.side)} | {s.updates} | {per_seed} | "
            f"{s.mean:.1f} ± {s.std:.1f} |"
        )
    lines.append("")
    by_alg: dict[str, dict[str, Summary]] = defaultdict(dict)
    for s in summaries:
        by_alg[s.algorithm][s.side] = s
    for alg, sides in sorted(by_alg.items()):
        official = sides.get("official")
        if official is None:
            continue
        if "edp_ref" in sides:
            c = tost(sides["edp_ref"], official, margin)
            verdict = "equivalent" if c.verdict else "equivalence NOT shown"
            lines.append(
                f"- {alg}: TOST of edp_ref - official within +-{margin:g}: difference "
                f"{c.difference:+.1f} (90 % interval {c.interval[0]:+.1f} to "
                f"{c.interval[1]:+.1f}), p = {c.p:.3f}: {verdict}."
            )
        for side, s in sorted(sides.items()):
            if "+" not in side:
                continue
            c = power_check(s, official)
            verdict = "told apart" if c.verdict else "NOT told apart"
            beyond = c.interval[0] > margin or c.interval[1] < -margin
            lines.append(
                f"- {alg}: power check, {side} - official: difference {c.difference:+.1f} "
                f"(90 % interval {c.interval[0]:+.1f} to {c.interval[1]:+.1f}), Welch's "
                f"two-sided p = {c.p:.4f}: {verdict}"
                + ("; the interval lies beyond the margin." if beyond else ".")
            )
    return "\n".join(lines) + "\n"


def plot(runs: list[dict[str, Any]], path: str | os.PathLike[str], dataset: str = "") -> None:
    """One panel per algorithm: per side the mean over seeds and the min-max band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    algorithms = sorted({r["settings"]["algorithm"] for r in runs})
    fig, axes = plt.subplots(1, len(algorithms), figsize=(6 * len(algorithms), 4), squeeze=False)
    for ax, alg in zip(axes[0], algorithms, strict=True):
        sides = sorted({_side(r) for r in runs if r["settings"]["algorithm"] == alg})
        for side in sides:
            records = [r for r in runs if r["settings"]["algorithm"] == alg and _side(r) == side]
            updates = _scores(records[0])[0]
            values = np.array([_scores(r)[1] for r in records])
            label = f"{_SIDES.get(side, side)} ({len(records)} seeds)"
            (line,) = ax.plot(updates, values.mean(axis=0), label=label)
            ax.fill_between(
                updates, values.min(axis=0), values.max(axis=0), color=line.get_color(), alpha=0.2
            )
        episodes = runs[0]["settings"]["eval_episodes"]
        ax.set_title(f"EDP + {alg.upper()} {dataset}".strip())
        ax.set_xlabel("training updates")
        ax.set_ylabel(f"normalized score (mean of {episodes} episodes)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
