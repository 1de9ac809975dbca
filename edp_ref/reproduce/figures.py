"""The paper's figures reproduced: PNG and PDF, with the plotted numbers as CSV.

* :func:`render_learning_curves`, every table's: per dataset, each agent's score against updates
  (mean over seeds, the seeds' range as a band), the final stretch whose mean is the RAT shaded;
* Figure 2 (Sec. 5.1, :func:`render_figure2`): training and sampling speed, the paper's GPU
  numbers (:data:`edp_ref.paper.FIGURE2`) beside ``edp-benchmark``'s (:func:`read_benchmark`);
* Figure 3 (Sec. 5.3, :func:`render_training_curves`): running RAT and OMS of EDP + TD3;
* Figures 4-7 (Sec. 5.4, App. C.4, :func:`render_sweep_figure`): the score of the final
  checkpoints against the swept evaluation setting.

Every axis is labelled and every figure states how its scores are normalized; lines differ in
colour, marker and dash, and a sweep's points are dodged sideways so that no line hides another.
The paper prints no numbers for Figures 3-7: each text states its claim beside the measured
points (:data:`edp_ref.paper.FIGURES`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edp_ref.benchmark.report import FIGURE2_SOURCE, PAPER_COMPARISONS
from edp_ref.paper import FIGURE2, FIGURES
from edp_ref.reproduce.presets import Preset
from edp_ref.reproduce.tables import measured_cell, normalization_text
from edp_ref.runner.run_folder import RunResult

__all__ = [
    "FIGURE2_BENCHMARK_NAMES",
    "STYLES",
    "read_benchmark",
    "read_benchmark_json",
    "render_figure2",
    "render_learning_curves",
    "render_sweep_figure",
    "render_training_curves",
]

#: (colour, marker, dash) of the i-th line: colour-blind-safe colours (Okabe-Ito), each line
#: also told apart by marker and dash when printed in grey.
STYLES: tuple[tuple[str, str, str], ...] = (
    ("#0072B2", "o", "-"),
    ("#D55E00", "s", "--"),
    ("#009E73", "^", "-."),
    ("#CC79A7", "D", ":"),
    ("#E69F00", "v", "-"),
    ("#56B4E9", "P", "--"),
    ("#000000", "X", "-."),
    ("#F0E442", "*", ":"),
    ("#999999", "h", "-"),
)


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


#: Caption font size (points) and the characters of that font per inch of figure width (about
#: half an em per character, with a margin).
_CAPTION_POINTS, _CAPTION_CHARS_PER_INCH = 7, 17


def _save(fig: Any, png: Path, caption: str) -> tuple[Path, Path]:
    """Write the figure with ``caption`` under it as PNG (150 dpi) and PDF: the caption is
    wrapped to the figure's width and the axes are laid out above it (no text cut off)."""
    import textwrap

    width, height = fig.get_size_inches()
    lines = textwrap.wrap(caption, int(width * _CAPTION_CHARS_PER_INCH))
    caption_inches = (len(lines) * 1.35 * _CAPTION_POINTS + 10) / 72
    fig.tight_layout(rect=(0, min(0.5, caption_inches / height), 1, 1))
    fig.text(0.01, 0.01, "\n".join(lines), fontsize=_CAPTION_POINTS, va="bottom", ha="left")
    files = (png, png.with_suffix(".pdf"))
    for f in files:
        # No creation date in the PDF: the same runs give the same bytes (a grid reported from
        # Ray and from local processes is compared file by file).
        metadata = {"CreationDate": None} if f.suffix == ".pdf" else None
        fig.savefig(f, dpi=150, metadata=metadata)
    pyplot().close(fig)
    return files


def _normalization(results: Sequence[RunResult]) -> str:
    """How the plotted scores are normalized, once per distinct normalization."""
    tasks: dict[str, list[str]] = {}
    for r in results:
        names = tasks.setdefault(normalization_text(r), [])
        if r.spec.task not in names:
            names.append(r.spec.task)
    return "Scores " + "; ".join(f"{', '.join(t)}: {text}" for text, t in tasks.items()) + "."


def _label_axes(ax: Any, task: str, runs: Sequence[RunResult]) -> None:
    """Title a dataset's axes, label them (updates; what the runs' ``score`` is, as
    ``metrics.EvaluationRecord.score``), add a grid and the legend."""
    normalized = [bool(r.data.get("normalized")) for r in runs]
    ax.set_title(task, fontsize=10)
    ax.set_xlabel("updates")
    ax.set_ylabel(
        "normalized score" if all(normalized) else "score" if any(normalized) else "return"
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")


def render_learning_curves(
    results: Sequence[RunResult],
    labels: Mapping[str, str],
    title: str,
    png: Path,
) -> tuple[tuple[Path, Path], str]:
    """Learning curves of a table's runs: per dataset, each agent's score against updates
    (mean over seeds, the seeds' range as a band) with the final stretch (the RAT) shaded.

    ``labels`` names each registered algorithm. Returns the (PNG, PDF) written and the CSV of
    the plotted points."""
    plt = pyplot()
    tasks = list(dict.fromkeys(r.spec.task for r in results))
    cols = min(3, len(tasks))
    rows = -(-len(tasks) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, 4.4 * rows + 0.9), squeeze=False)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["task", "agent", "update", "score_mean", "score_min", "score_max", "seeds"])
    for ax, task in zip(axes.flat, tasks, strict=False):
        runs = [r for r in results if r.spec.task == task]
        order = list(labels)
        agents = sorted(
            dict.fromkeys(r.spec.algorithm for r in runs),
            key=lambda a: order.index(a) if a in order else len(order),
        )
        stretch: tuple[int, int] | None = None
        for i, agent in enumerate(agents):
            mine = [r for r in runs if r.spec.algorithm == agent]
            n = min(len(r.records) for r in mine)
            steps = np.array([mine[0].records[j].step for j in range(n)])
            scores = np.array([[r.records[j].score for j in range(n)] for r in mine])
            mean = scores.mean(0)
            colour, marker, dash = STYLES[i % len(STYLES)]
            seeds = f"{len(mine)} seed" + ("s" if len(mine) > 1 else "")
            label = f"{labels.get(agent, agent)} ({seeds})"
            ax.plot(steps, mean, dash, color=colour, marker=marker, ms=4, lw=1.6, label=label)
            if len(mine) > 1:
                ax.fill_between(steps, scores.min(0), scores.max(0), color=colour, alpha=0.15)
            for j in range(n):
                col = scores[:, j]
                writer.writerow([task, label, int(steps[j]), float(col.mean()),
                                 float(col.min()), float(col.max()), len(mine)])  # fmt: skip
            stretch = mine[0].final_stretch_updates
        if stretch is not None:
            ax.axvspan(*stretch, color="0.85", zorder=0, label="final stretch: RAT")
        _label_axes(ax, task, runs)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=11)
    caption = (
        "Line: mean over seeds of each evaluation's score; band: the seeds' range. Shaded: the "
        "final stretch, whose evaluations the table's RAT averages. " + _normalization(results)
    )
    return _save(fig, png, caption), buf.getvalue()


def render_training_curves(
    results: Sequence[RunResult], preset: Preset, png: Path
) -> tuple[str, str, tuple[Path, Path]]:
    """Figure 3: per dataset, the mean over seeds of running RAT, OMS and each evaluation's
    score against updates. Returns (markdown summary, CSV of the plotted points, files)."""
    plt = pyplot()
    tasks = list(dict.fromkeys(r.spec.task for r in results))
    fig, axes = plt.subplots(1, len(tasks), figsize=(6.4 * len(tasks), 5.0), squeeze=False)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["task", "update", "score_mean", "rat_mean", "oms_mean", "seeds"])
    summary = [
        "| task | final RAT (measured) | final OMS (measured) | seeds |",
        "|---|---|---|---|",
    ]
    for ax, task in zip(axes.flat, tasks, strict=False):
        runs = [r for r in results if r.spec.task == task]
        n = min(len(r.records) for r in runs)
        steps = [runs[0].records[i].step for i in range(n)]
        lines = (
            ("oms", "Best (OMS): best evaluation so far", 0),
            ("rat", "Average (RAT): last 10 evaluations after epoch 0", 1),
            ("score", "each evaluation", 2),
        )
        for metric, label, k in lines:
            vals = np.array([[getattr(r.records[i], metric) for i in range(n)] for r in runs])
            colour, marker, dash = STYLES[k]
            lw, alpha = (1.0, 0.7) if metric == "score" else (1.8, 1.0)
            ax.plot(steps, vals.mean(0), dash, color=colour, marker=marker, ms=3, lw=lw,
                    alpha=alpha, label=label)  # fmt: skip
            if len(runs) > 1 and metric != "score":
                ax.fill_between(steps, vals.min(0), vals.max(0), color=colour, alpha=0.12)
        for i in range(n):
            rec = [r.records[i] for r in runs]
            writer.writerow(
                [task, steps[i], np.mean([x.score for x in rec]), np.mean([x.rat for x in rec]),
                 np.mean([x.oms for x in rec]), len(rec)]
            )  # fmt: skip
        _label_axes(ax, task, runs)
        rat = measured_cell([r.final_rat for r in runs])
        oms = measured_cell([r.final_oms for r in runs])
        summary.append(f"| {task} | {rat.text(len(runs))} | {oms.text(len(runs))} | {len(runs)} |")
    fig.suptitle(f"Figure 3 (edp_ref, preset {preset.name}): EDP + TD3, RAT vs OMS", fontsize=11)
    caption = "Mean over seeds; bands: the seeds' range. " + _normalization(results)
    files = _save(fig, png, caption)
    md = "\n".join(summary) + f"\n\nPaper (Sec. 5.3, no numbers printed): {FIGURES[3].claim}\n"
    return md, buf.getvalue(), files


def _dodged(xs: Sequence[float], i: int, count: int, log: bool) -> np.ndarray:
    """``xs`` shifted sideways for line ``i`` of ``count`` (a fraction of the spacing), so that
    equal points of different lines stay visible."""
    arr = np.asarray(xs, dtype=np.float64)
    shift = (i - (count - 1) / 2) * 0.025
    if log:
        factor = float(np.exp(shift * np.log(max(arr.max() / arr.min(), 2.0))))
        return arr * factor
    span = float(arr.max() - arr.min()) or 1.0
    return arr + shift * span


def render_sweep_figure(
    number: int,
    points: Mapping[str, Mapping[float, Sequence[float]]],
    preset: Preset,
    png: Path,
    results: Sequence[RunResult],
) -> tuple[str, str, tuple[Path, Path]]:
    """Figures 4-7: score (mean over seeds, error bars the seeds' range) against the swept
    value, one line per dataset. ``points[task][value]`` holds one score per seed of the final
    checkpoints of ``results``. Returns (markdown, CSV, files)."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.4, 5.0))
    buf = io.StringIO()
    writer = csv.writer(buf)
    parameter_label = FIGURES[number].label
    writer.writerow(["task", parameter_label, "score_mean", "score_std", "seeds"])
    values = sorted({v for per in points.values() for v in per})
    md = ["| task | " + " | ".join(f"{v:g}" for v in values) + " |", "|---|" + "---|" * len(values)]
    log = number == 4
    for i, (task, per) in enumerate(points.items()):
        xs = sorted(per)
        means = np.array([float(np.mean(per[x])) for x in xs])
        lows = means - np.array([float(np.min(per[x])) for x in xs])
        highs = np.array([float(np.max(per[x])) for x in xs]) - means
        colour, marker, dash = STYLES[i % len(STYLES)]
        ax.errorbar(_dodged(xs, i, len(points), log), means, yerr=[lows, highs], color=colour,
                    marker=marker, ls=dash, ms=5, capsize=3, label=task)  # fmt: skip
        for x in xs:
            writer.writerow([task, x, float(np.mean(per[x])), float(np.std(per[x])), len(per[x])])
        cells = [f"{measured_cell(per[v]).text(len(per[v]))}" if v in per else "" for v in values]
        md.append(f"| {task} (measured) | " + " | ".join(cells) + " |")
    if log:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(values)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.set_xlabel(parameter_label)
    ax.set_ylabel("normalized score")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.set_title(f"Figure {number} (edp_ref, preset {preset.name})", fontsize=11)
    caption = (
        "Mean over seeds; error bars: the seeds' range; points dodged sideways so that equal "
        "values of different datasets stay visible. " + _normalization(results)
    )
    files = _save(fig, png, caption)
    text = "\n".join(md) + f"\n\nPaper (no numbers printed): {FIGURES[number].claim}\n"
    text += (
        f"\nEach point: the final checkpoint of the training runs evaluated with "
        f"{preset.sweep_episodes} episodes per value and seed."
    )
    return text, buf.getvalue(), files


# -- Figure 2 ----------------------------------------------------------------------------------


def _norm_name(name: str) -> str:
    s = name.lower().replace("without", "wo").replace("w/o", "wo")
    return re.sub(r"[^a-z0-9]", "", s)


#: Sampler of the sampling record beside each Figure 2 training record: DPM-Solver where the
#: variant samples with it (EDP, EDP w/o AP), DDPM for the others.
_FIGURE2_SAMPLERS = {
    "dql_k5": "ddpm",
    "edp_without_dpm": "ddpm",
    "edp_without_ap": "dpm_solver",
    "edp_td3": "dpm_solver",
}
#: Figure 2's variants -> (training record, sampler) of ``scripts/benchmark.py`` that measure
#: them, from the benchmark's one map (:data:`edp_ref.benchmark.report.PAPER_COMPARISONS`);
#: (None, None) for a variant edp_ref does not contain (Diffusion-QL's official PyTorch code).
FIGURE2_BENCHMARK_NAMES: dict[str, tuple[str | None, str | None]] = {
    label: next(
        (
            (record, _FIGURE2_SAMPLERS[record])
            for record, figures in PAPER_COMPARISONS.items()
            if (FIGURE2_SOURCE, label) in figures
        ),
        (None, None),
    )
    for label in FIGURE2
}


def _speed(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and math.isfinite(v) else None


def _from_schema(raw: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Figure 2's rows from an ``edp_ref.benchmark/1`` document (eager records)."""
    training = [r for r in raw.get("training", []) if isinstance(r, dict)]
    sampling = [r for r in raw.get("sampling", []) if isinstance(r, dict)]
    out: dict[str, dict[str, Any]] = {}
    for variant, (train_name, sampler) in FIGURE2_BENCHMARK_NAMES.items():
        row: dict[str, Any] = {}
        for r in training:
            ips = _speed(r.get("iterations_per_second"))
            if r.get("name") == train_name and r.get("mode") == "eager" and ips is not None:
                row["train_ips"] = ips
                row["train_source"] = f"training '{train_name}' (eager)"
        samples = [
            r
            for r in sampling
            if r.get("sampler") == sampler
            and r.get("mode") == "eager"
            and _speed(r.get("actions_per_second")) is not None
        ]
        if samples:
            best = min(samples, key=lambda r: abs(int(r.get("candidates") or 0) - 10))
            row["sample_sps"] = float(best["actions_per_second"])
            row["sample_source"] = (
                f"sampling {sampler}, N = {best.get('candidates')}, {best.get('states')} states "
                "(EAS actions per second, no environment)"
            )
        if row:
            out[variant] = row
    return out


def read_benchmark_json(path: Path) -> Any:
    """``edp-benchmark``'s JSON document at ``path``; ``FileNotFoundError`` or ``ValueError``
    naming the file and the command that writes it."""
    if not Path(path).exists():
        raise FileNotFoundError(
            f"benchmark JSON {path} does not exist: run `python scripts/benchmark.py` first"
        )
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"benchmark JSON {path} is not readable JSON ({type(exc).__name__}: {exc}); run "
            "`python scripts/benchmark.py` again to rewrite it"
        ) from exc


def read_benchmark(path: Path) -> dict[str, dict[str, Any]]:
    """Read ``scripts/benchmark.py``'s JSON into Figure 2's rows.

    An ``edp_ref.benchmark/1`` document (``training`` and ``sampling`` records) is mapped by
    :data:`FIGURE2_BENCHMARK_NAMES`. Other shapes are accepted too: ``{"results": {name:
    {...}}}``, ``{"results": [{"variant"|"name": ..., ...}]}`` or the mapping itself, where a key
    containing ``ips`` is the training speed and one containing ``sps`` the sampling speed.
    Returns {variant: {"train_ips", "sample_sps", and where each came from}}; errors as
    :func:`read_benchmark_json`.
    """
    raw = read_benchmark_json(path)
    if isinstance(raw, dict) and str(raw.get("schema", "")).startswith("edp_ref.benchmark/"):
        out = _from_schema(raw)
        if not out:
            raise ValueError(f"{path}: no eager training or sampling record of Figure 2's variants")
        return out
    body = raw.get("results", raw.get("variants", raw)) if isinstance(raw, dict) else raw
    items: list[tuple[str, Mapping[str, Any]]] = []
    if isinstance(body, dict):
        items = [(k, v) for k, v in body.items() if isinstance(v, dict)]
    elif isinstance(body, list):
        items = [(str(e.get("variant", e.get("name"))), e) for e in body if isinstance(e, dict)]
    generic: dict[str, dict[str, Any]] = {}
    for name, entry in items:
        row: dict[str, Any] = {}
        for k, v in entry.items():
            speed = _speed(v) if not isinstance(v, bool) else None
            if speed is None:
                continue
            if "ips" in k.lower() and "train_ips" not in row:
                row["train_ips"] = speed
            elif "sps" in k.lower() and "sample_sps" not in row:
                row["sample_sps"] = speed
        if row:
            row["train_source"] = row["sample_source"] = name
            generic[name] = row
    if not generic:
        raise ValueError(f"{path}: no variant with a training (ips) or sampling (sps) speed")
    return generic


def _fmt_speed(x: float) -> str:
    return "" if not math.isfinite(x) else f"{x:.2f}"


def _measured_as(found: tuple[str, Mapping[str, Any]] | None) -> str:
    if found is None:
        return "not measured"
    srcs = dict.fromkeys(
        str(found[1][k]) for k in ("train_source", "sample_source") if k in found[1]
    )
    return "; ".join(srcs) or found[0]


def render_figure2(benchmark: Path, path: Path) -> str:
    """Figure 2 from ``edp-benchmark``'s JSON ``benchmark``: the paper's GPU speeds (labelled
    paper) beside the measured ones; writes the PNG at ``path`` and returns the Markdown."""
    plt = pyplot()
    measured = read_benchmark(benchmark)
    by_norm = {_norm_name(k): (k, v) for k, v in measured.items()}
    rows = ["| variant | paper train IPS (GPU) | measured train IPS | paper sampling SPS (GPU) "
            "| measured sampling per s | measured as |", "|---|---|---|---|---|---|"]  # fmt: skip
    names = list(FIGURE2)
    meas_ips: list[float] = []
    meas_sps: list[float] = []
    for name in names:
        found = by_norm.get(_norm_name(name))
        m = found[1] if found else {}
        meas_ips.append(m.get("train_ips", float("nan")))
        meas_sps.append(m.get("sample_sps", float("nan")))
        p = FIGURE2[name]
        rows.append(
            f"| {name} | {p.train_ips:.2f} | {_fmt_speed(meas_ips[-1])} | "
            f"{p.sample_sps:.2f} | {_fmt_speed(meas_sps[-1])} | "
            f"{_measured_as(found)} |"
        )
    extra = [k for k in measured if _norm_name(k) not in {_norm_name(n) for n in names}]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    x = np.arange(len(names))
    for ax, key, meas, title in (
        (axes[0], "train_ips", meas_ips, "training iterations / s"),
        (axes[1], "sample_sps", meas_sps, "sampling steps / s"),
    ):
        ax.bar(x - 0.2, [getattr(FIGURE2[n], key) for n in names], 0.4, label="paper (GPU)")
        ax.bar(x + 0.2, np.nan_to_num(meas), 0.4, label="measured (edp_ref)")
        ax.set_xticks(x, names, rotation=20)
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    md = "### Figure 2: training and sampling speed\n\n" + "\n".join(rows) + "\n"
    if extra:
        md += f"\nOther measured variants (no paper counterpart): {', '.join(extra)}\n"
    md += f"\nMeasured values read from {benchmark} (scripts/benchmark.py)."
    raw = read_benchmark_json(benchmark)
    machine = raw.get("machine") if isinstance(raw, dict) else None
    if isinstance(machine, dict):
        md += (
            f" Machine: {machine.get('device_name') or machine.get('device')}, "
            f"{machine.get('torch_threads')} torch threads, load average "
            f"{machine.get('loadavg_start')} -> {machine.get('loadavg_end')}; the paper's "
            "numbers are from a GPU."
        )
    return md + "\n"
