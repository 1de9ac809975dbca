"""The learning-curve runs (:mod:`edp_ref.fidelity.curves`) as one figure and one table.

* :func:`load_runs`: every complete run's JSON in a folder.
* :func:`summarise`: per algorithm and implementation, each seed's final score (the mean of its
  last ``window`` evaluations' normalized scores, RAT-style: the paper's running average at
  training over the last evaluations) and their mean and standard deviation; per algorithm,
  whether the two implementations agree within the seed spread (|difference of means| at most
  the pooled standard deviation sqrt(s_a^2 + s_b^2)) and Welch's t-test p-value.
* :func:`plot`: one panel per algorithm, mean normalized score and the band between the lowest
  and highest seed at each evaluation, per implementation (matplotlib, PNG).
* :func:`table_markdown`: the summary as a Markdown table.
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

__all__ = ["Summary", "load_runs", "plot", "summarise", "table_markdown"]

_TITLES = {"td3": "EDP + TD3", "iql": "EDP + IQL"}
_SIDES = {"official": "official EDP (JAX)", "edp_ref": "edp_ref (PyTorch, compiled)"}


def load_runs(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every complete run record (``complete: true``) in ``folder``, sorted by file name.

    Raises:
        ValueError: when a JSON file is not a learning-curve record.
    """
    runs = []
    for path in sorted(Path(folder).glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("schema") != "edp_ref.fidelity.curves/1":
            raise ValueError(f"load_runs: {path} is not an edp_ref.fidelity.curves/1 record")
        if record.get("complete"):
            runs.append(record)
    return runs


def _scores(record: dict[str, Any]) -> tuple[list[int], list[float]]:
    evaluations = record["evaluations"]
    updates = [int(e["update"]) for e in evaluations]
    values = [
        float(e["mean_normalized"] if e["mean_normalized"] is not None else e["mean_return"])
        for e in evaluations
    ]
    return updates, values


@dataclass(frozen=True)
class Summary:
    """One algorithm x implementation: per-seed final scores and their mean and spread."""

    algorithm: str
    implementation: str
    seeds: tuple[int, ...]
    finals: tuple[float, ...]
    updates: int
    train_seconds: float

    @property
    def mean(self) -> float:
        """Mean of the seeds' final scores."""
        return statistics.fmean(self.finals)

    @property
    def std(self) -> float:
        """Sample standard deviation over seeds (0 for one seed)."""
        return statistics.stdev(self.finals) if len(self.finals) > 1 else 0.0


def summarise(runs: list[dict[str, Any]], window: int = 3) -> list[Summary]:
    """Per (algorithm, implementation): each seed's mean of its last ``window`` evaluations."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        s = r["settings"]
        groups[(s["algorithm"], s["implementation"])].append(r)
    out = []
    for (alg, impl), records in sorted(groups.items()):
        records.sort(key=lambda r: r["settings"]["seed"])
        finals = tuple(statistics.fmean(_scores(r)[1][-window:]) for r in records)
        out.append(
            Summary(
                alg,
                impl,
                tuple(r["settings"]["seed"] for r in records),
                finals,
                int(records[0]["settings"]["updates"]),
                sum(float(r["train_seconds"]) for r in records),
            )
        )
    return out


def agreement(a: Summary, b: Summary) -> tuple[float, float, float]:
    """(difference of means, pooled spread sqrt(s_a^2 + s_b^2), Welch's t-test p-value)."""
    from scipy import stats

    diff = a.mean - b.mean
    spread = math.sqrt(a.std**2 + b.std**2)
    if len(a.finals) < 2 or len(b.finals) < 2:
        return diff, spread, math.nan
    p = float(stats.ttest_ind(a.finals, b.finals, equal_var=False).pvalue)
    return diff, spread, p


def table_markdown(summaries: list[Summary], window: int = 3) -> str:
    """The per-seed final scores, mean ± std, and the agreement verdict per algorithm."""
    lines = [
        f"| algorithm | implementation | updates | final score per seed (mean of the last {window} "
        "evaluations, normalized) | mean ± std |",
        "|---|---|---|---|---|",
    ]
    for s in summaries:
        per_seed = ", ".join(f"s{seed}: {v:.1f}" for seed, v in zip(s.seeds, s.finals, strict=True))
        lines.append(
            f"| {_TITLES.get(s.algorithm, s.algorithm)} | {_SIDES.get(s.implementation)} | "
            f"{s.updates} | {per_seed} | {s.mean:.1f} ± {s.std:.1f} |"
        )
    lines.append("")
    by_alg: dict[str, dict[str, Summary]] = defaultdict(dict)
    for s in summaries:
        by_alg[s.algorithm][s.implementation] = s
    for alg, sides in sorted(by_alg.items()):
        if {"official", "edp_ref"} <= set(sides):
            diff, spread, p = agreement(sides["edp_ref"], sides["official"])
            verdict = "within" if abs(diff) <= spread else "outside"
            if min(len(sides["edp_ref"].finals), len(sides["official"].finals)) < 2:
                verdict = "no verdict with one seed on a side (no spread to compare with), not"
            lines.append(
                f"- {_TITLES.get(alg, alg)}: edp_ref - official = {diff:+.1f} points; pooled seed "
                f"spread sqrt(s_a^2 + s_b^2) = {spread:.1f}: {verdict} the seed spread; Welch's "
                f"t-test p = {p:.2f} ({len(sides['edp_ref'].finals)} vs "
                f"{len(sides['official'].finals)} seeds)."
            )
    return "\n".join(lines) + "\n"


def plot(runs: list[dict[str, Any]], path: str | os.PathLike[str], dataset: str = "") -> None:
    """One panel per algorithm: per implementation the mean over seeds and the min-max band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    algorithms = sorted({r["settings"]["algorithm"] for r in runs})
    fig, axes = plt.subplots(1, len(algorithms), figsize=(5.5 * len(algorithms), 4), squeeze=False)
    colours = {"official": "tab:blue", "edp_ref": "tab:orange"}
    for ax, alg in zip(axes[0], algorithms, strict=True):
        for impl in ("official", "edp_ref"):
            records = [
                r
                for r in runs
                if r["settings"]["algorithm"] == alg and r["settings"]["implementation"] == impl
            ]
            if not records:
                continue
            updates = _scores(records[0])[0]
            values = np.array([_scores(r)[1] for r in records])
            label = f"{_SIDES[impl]} ({len(records)} seeds)"
            ax.plot(updates, values.mean(axis=0), color=colours[impl], label=label)
            ax.fill_between(
                updates, values.min(axis=0), values.max(axis=0), color=colours[impl], alpha=0.2
            )
        ax.set_title(f"{_TITLES.get(alg, alg)} {dataset}".strip())
        ax.set_xlabel("training updates")
        ax.set_ylabel("normalized score (mean of 5 episodes)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
