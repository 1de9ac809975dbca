"""Render Figures 3-7 from finished runs: matplotlib PNGs with the plotted numbers as CSV.

* Figure 3 (Sec. 5.3): per task, RAT and OMS against training steps, mean over seeds.
* Figures 4-7 (Sec. 5.4, App. C.4): the score of the final checkpoints against the swept
  evaluation setting (EAS candidates, DPM-Solver steps, policy scale, initial noise scale).

The paper prints no numbers for these figures; each text states the paper's claim beside the
measured points (:data:`edp_ref.runner.paper_results.FIGURE_CLAIMS`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edp_ref.runner.paper_results import FIGURE_CLAIMS
from edp_ref.runner.presets import Preset
from edp_ref.runner.report_tables import measured_cell
from edp_ref.runner.spec import RunResult

__all__ = ["pyplot", "render_sweep_figure", "render_training_curves"]


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def render_training_curves(
    results: Sequence[RunResult], preset: Preset, path: Path
) -> tuple[str, str]:
    """Figure 3: per task, the mean over seeds of RAT and OMS against training steps.

    Writes the PNG to ``path``; returns (markdown summary, CSV of the plotted points)."""
    plt = pyplot()
    tasks = list(dict.fromkeys(r.spec.task for r in results))
    fig, axes = plt.subplots(1, max(1, len(tasks)), figsize=(5 * max(1, len(tasks)), 3.6))
    axes = np.atleast_1d(axes)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["task", "step", "score_mean", "rat_mean", "oms_mean", "seeds"])
    summary = [
        "| task | final RAT (measured) | final OMS (measured) | seeds |",
        "|---|---|---|---|",
    ]
    for ax, task in zip(axes, tasks, strict=False):
        runs = [r for r in results if r.spec.task == task]
        n = min(len(r.records) for r in runs)
        steps = [runs[0].records[i].step for i in range(n)]
        for metric, label in (("rat", "Average (RAT)"), ("oms", "Best (OMS)"), ("score", "eval")):
            vals = np.array([[getattr(r.records[i], metric) for i in range(n)] for r in runs])
            style = ":" if metric == "score" else "-"
            ax.plot(steps, vals.mean(0), style, label=label)
            if len(runs) > 1:
                ax.fill_between(
                    steps, vals.mean(0) - vals.std(0), vals.mean(0) + vals.std(0), alpha=0.2
                )
        for i in range(n):
            rec = [r.records[i] for r in runs]
            writer.writerow(
                [task, steps[i], np.mean([x.score for x in rec]), np.mean([x.rat for x in rec]),
                 np.mean([x.oms for x in rec]), len(rec)]
            )  # fmt: skip
        ax.set_title(task)
        ax.set_xlabel("training step")
        ax.set_ylabel("normalized score")
        ax.legend()
        rat = measured_cell([r.final_rat for r in runs])
        oms = measured_cell([r.final_oms for r in runs])
        summary.append(f"| {task} | {rat.text(len(runs))} | {oms.text(len(runs))} | {len(runs)} |")
    fig.suptitle(f"Figure 3 (edp_ref, preset {preset.name}): EDP + TD3, RAT vs OMS")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    md = "\n".join(summary) + f"\n\nPaper (Sec. 5.3, no numbers printed): {FIGURE_CLAIMS[3]}\n"
    return md, buf.getvalue()


def render_sweep_figure(
    number: int,
    parameter_label: str,
    points: Mapping[str, Mapping[float, Sequence[float]]],
    preset: Preset,
    path: Path,
) -> tuple[str, str]:
    """Figures 4-7: score (mean +- std over seeds) against the swept value, one line per task.

    ``points[task][value]`` holds one score per seed. Writes the PNG; returns (markdown, CSV).
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["task", parameter_label, "score_mean", "score_std", "seeds"])
    values = sorted({v for per in points.values() for v in per})
    md = ["| task | " + " | ".join(f"{v:g}" for v in values) + " |", "|---|" + "---|" * len(values)]
    for task, per in points.items():
        xs = sorted(per)
        means = [float(np.mean(per[x])) for x in xs]
        stds = [float(np.std(per[x])) for x in xs]
        ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=task)
        for x, m, s in zip(xs, means, stds, strict=True):
            writer.writerow([task, x, m, s, len(per[x])])
        cells = [f"{measured_cell(per[v]).text(len(per[v]))}" if v in per else "" for v in values]
        md.append(f"| {task} (measured) | " + " | ".join(cells) + " |")
    ax.set_xlabel(parameter_label)
    ax.set_ylabel("normalized score")
    if number == 4:
        ax.set_xscale("log")
    ax.legend()
    ax.set_title(f"Figure {number} (edp_ref, preset {preset.name})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    text = "\n".join(md) + f"\n\nPaper (no numbers printed): {FIGURE_CLAIMS[number]}\n"
    return text, buf.getvalue()
