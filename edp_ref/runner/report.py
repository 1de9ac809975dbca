"""Render the paper's tables and figures from finished runs, beside the paper's numbers.

Tables (Tables 1, 2, 4, 5, 6, 7 of Sec. 5 and Appendix C) keep the paper's rows and columns.
Every paper column is labelled ``paper ...`` and holds only the number printed in the paper
(:mod:`edp_ref.runner.paper_results`); each agent edp_ref trains gets ``measured RAT: <column>`` and
``measured OMS: <column>`` beside it, holding only mean +- std over seeds of the final RAT and
OMS of the runs (Sec. 5's metrics). A ``data`` column says which data each row used (D4RL file,
Minari, locally generated) and a footer states the preset's budget against the paper's.
Figures 3-7 are matplotlib PNGs with the plotted numbers as CSV; Figure 2 reads the JSON of
``scripts/benchmark.py``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edp_ref.runner.grid import Preset
from edp_ref.runner.paper_results import FIGURE2_PAPER, FIGURE_CLAIMS, PaperRow, paper_table
from edp_ref.runner.train import RunResult, evaluation_epochs

__all__ = [
    "FIGURE2_BENCHMARK_NAMES",
    "TABLE_LAYOUTS",
    "Cell",
    "ColumnGroup",
    "RenderedTable",
    "budget_text",
    "read_benchmark",
    "render_figure2",
    "render_sweep_figure",
    "render_table",
    "render_training_curves",
]


@dataclass(frozen=True)
class ColumnGroup:
    """A measured agent and the paper columns it stands beside.

    Attributes:
        label: the paper's column label (``TD3+BC EDP``).
        agent: (algorithm, policy) of the runs.
        paper_rat: the paper column holding RAT numbers for it (or None).
        paper_oms: the paper column holding OMS numbers for it (or None).
    """

    label: str
    agent: tuple[str, str]
    paper_rat: str | None = None
    paper_oms: str | None = None


TABLE_LAYOUTS: dict[int, tuple[ColumnGroup, ...]] = {
    1: (
        ColumnGroup("DQL (JAX)", ("dql", "diffusion"), paper_oms="DQL (JAX)"),
        ColumnGroup("EDP", ("td3", "edp"), paper_oms="EDP"),
    ),
    2: tuple(
        ColumnGroup(f"{name} {cls}", (algo, pol), paper_rat=f"{name} {cls}")
        for name, algo in (("TD3+BC", "td3"), ("CRR", "crr"), ("IQL", "iql"))
        for cls, pol in (("FF", "ff"), ("EDP", "edp"))
    ),
    4: (
        ColumnGroup("DQL (JAX)", ("dql", "diffusion"), paper_oms="DQL (JAX)"),
        ColumnGroup("EDP", ("td3", "edp"), paper_oms="EDP"),
    ),
    5: tuple(
        ColumnGroup(f"EDP + {n}", (a, "edp"), f"EDP + {n} Average", f"EDP + {n} Best")
        for n, a in (("TD3", "td3"), ("CRR", "crr"), ("IQL", "iql"))
    ),
    6: (
        ColumnGroup("TD3+Diff", ("td3", "edp"), paper_rat="TD3+Diff"),
        ColumnGroup("TD3+EAS", ("td3-eas", "ff"), paper_rat="TD3+EAS"),
        ColumnGroup("TD3", ("td3", "ff"), paper_rat="TD3"),
    ),
    7: (
        ColumnGroup("DDPM", ("td3-k100", "diffusion"), paper_oms="DDPM"),
        ColumnGroup("Action Approx", ("td3-k100", "edp"), paper_oms="Action Approx"),
    ),
}


@dataclass(frozen=True)
class Cell:
    """A measured cell: mean and std over seeds (population std) and the number of seeds."""

    mean: float
    std: float
    n: int
    tasks: int = 1
    of_tasks: int = 1

    def text(self, seeds: int) -> str:
        if self.n == 1:
            out = f"{self.mean:.1f} (n=1)"
        else:
            out = f"{self.mean:.1f} ± {self.std:.1f}"
            if self.n != seeds:
                out += f" (n={self.n})"
        if self.of_tasks != 1:
            out += f" [{self.tasks}/{self.of_tasks} tasks]"
        return out


def _cell(values: Sequence[float], tasks: int = 1, of_tasks: int = 1) -> Cell:
    arr = np.asarray(values, dtype=np.float64)
    return Cell(float(arr.mean()), float(arr.std()), len(arr), tasks, of_tasks)


def _fmt_paper(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def _data_text(results: Sequence[RunResult]) -> str:
    texts = []
    for r in results:
        d = r.data
        t = f"{d.get('kind')} {d.get('id')} ({d.get('transitions', 0):,} transitions"
        if d.get("kind") == "locally generated":
            t += "; scores vs its own random/expert returns"
        if not d.get("normalized"):
            t += "; raw returns: no reference scores"
        texts.append(t + ")")
    return "; ".join(dict.fromkeys(texts))


def budget_text(preset: Preset, runs: Sequence[RunResult], tasks: Sequence[str]) -> str:
    """What the preset ran against the paper's protocol (Sec. 5, Table 3)."""
    if not runs:
        return f"Preset {preset.name}: no finished runs."
    lines = [f"Preset `{preset.name}`; tasks: {', '.join(tasks)}."]
    seen = set()
    for r in runs:
        s = r.spec
        key = (s.epochs, s.iterations_per_epoch, s.batch_size, s.eval_every, s.eval_episodes)
        if key in seen:
            continue
        seen.add(key)
        from edp_ref.algorithms import DOMAIN_PRESETS
        from edp_ref.data import domain_of

        paper_epochs = DOMAIN_PRESETS[domain_of(s.task)].epochs
        paper_updates = paper_epochs * 1000
        n_eval = len(evaluation_epochs(s.epochs, s.eval_every))
        paper_evals = len(evaluation_epochs(paper_epochs, 10))
        lines.append(
            f"Per run: {s.epochs} epochs x {s.iterations_per_epoch} iterations = "
            f"{s.total_steps:,} updates, batch {s.batch_size} (paper: {paper_epochs} x 1000 = "
            f"{paper_updates:,}, batch 256): {100 * s.total_steps / paper_updates:.3g}% of the "
            f"paper's updates; {n_eval} evaluations x {s.eval_episodes} episodes (paper: "
            f"{paper_evals} x 10); EAS N = {s.eas_candidates} (paper 10, official code 50); "
            f"network width {s.hidden or 256} (paper 256)."
        )
    seeds = sorted({r.spec.seed for r in runs})
    lines.append(f"Seeds: {', '.join(map(str, seeds))} (paper: 5 seeds).")
    lines.append(
        "RAT = mean of the last 10 evaluations at the end of training; OMS = best evaluation "
        "(Sec. 5). Measured cells: mean ± std over seeds of the final RAT / OMS."
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class RenderedTable:
    """A rendered table: header, rows of cells (as text) and the numeric CSV rows."""

    number: int
    markdown: str
    csv: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _by_task(results: Sequence[RunResult]) -> dict[tuple[str, tuple[str, str]], list[RunResult]]:
    out: dict[tuple[str, tuple[str, str]], list[RunResult]] = {}
    for r in results:
        out.setdefault((r.spec.task, (r.spec.algorithm, r.spec.policy)), []).append(r)
    return out


def render_table(
    number: int,
    results: Sequence[RunResult],
    preset: Preset,
    tasks: Sequence[str],
) -> RenderedTable:
    """Table ``number`` in the paper's layout with the measured columns beside the paper's."""
    table = paper_table(number)
    groups = TABLE_LAYOUTS[number]
    grouped = _by_task(results)
    seeds = max((len(v) for v in grouped.values()), default=0)
    paper_cols = {c for g in groups for c in (g.paper_rat, g.paper_oms) if c}
    header: list[str] = ["Dataset"]
    plan: list[tuple[str, Any]] = []
    for col in table.columns:
        if col not in paper_cols:
            header.append(f"paper: {col}")
            plan.append(("paper", col))
    for g in groups:
        if g.paper_rat:
            header.append(f"paper RAT: {g.paper_rat}")
            plan.append(("paper", g.paper_rat))
        if g.paper_oms:
            header.append(f"paper OMS: {g.paper_oms}")
            plan.append(("paper", g.paper_oms))
        header.append(f"measured RAT: {g.label}")
        plan.append(("rat", g))
        header.append(f"measured OMS: {g.label}")
        plan.append(("oms", g))
    header.append("data")
    per_domain_tasks: dict[str, list[str]] = {}
    source_rows = paper_table(4).task_rows() if number == 1 else table.task_rows()
    for row in source_rows:
        per_domain_tasks.setdefault(row.domain, []).append(row.label)

    def measured(row: PaperRow, metric: str, g: ColumnGroup) -> Cell | None:
        def final(r: RunResult) -> float:
            return r.final_rat if metric == "rat" else r.final_oms

        if not row.is_average:
            runs = grouped.get((row.label, g.agent), [])
            return _cell([final(r) for r in runs]) if runs else None
        domain_tasks = per_domain_tasks.get(row.domain, [])
        means = [
            float(np.mean([final(r) for r in grouped[(t, g.agent)]]))
            for t in domain_tasks
            if grouped.get((t, g.agent))
        ]
        if not means:
            return None
        if number == 1:  # domain rows: average over the tasks measured, counted
            return Cell(float(np.mean(means)), float("nan"), 0, len(means), len(domain_tasks))
        if len(means) < len(domain_tasks):
            return None  # an average over a subset would not be the paper's average
        return Cell(float(np.mean(means)), float("nan"), 0, len(means), len(domain_tasks))

    md_rows: list[tuple[str, ...]] = []
    csv_rows: list[list[str]] = []
    csv_header = ["Dataset", "domain", "average row"]
    for name, what in zip(header[1:-1], plan, strict=True):
        if what[0] == "paper":
            csv_header.append(name)
        else:
            csv_header += [name, f"{name} (std)", f"{name} (seeds)", f"{name} (tasks)"]
    csv_header.append("data")
    for row in table.rows:
        md = [row.label + (f" ({row.domain})" if row.is_average and number != 1 else "")]
        cr = [row.label, row.domain, str(row.is_average)]
        for what in plan:
            if what[0] == "paper":
                v = table.value(row.label, what[1], row.domain)
                md.append(_fmt_paper(v))
                cr.append("" if v is None else repr(v))
                continue
            c = measured(row, what[0], what[1])
            if c is None:
                md.append("")
                cr += ["", "", "", ""]
            elif c.n == 0:  # an average of per-task means
                text = f"{c.mean:.1f}"
                if c.of_tasks != c.tasks or number == 1:
                    text += f" [{c.tasks}/{c.of_tasks} tasks]"
                md.append(text)
                cr += [repr(c.mean), "", "", str(c.tasks)]
            else:
                md.append(c.text(seeds))
                cr += [repr(c.mean), repr(c.std), str(c.n), "1"]
        runs = (
            [r for g in groups for r in grouped.get((row.label, g.agent), [])]
            if not row.is_average
            else []
        )
        if number == 1:
            runs = [
                r
                for g in groups
                for t in per_domain_tasks.get(row.domain, [])
                for r in grouped.get((t, g.agent), [])
            ]
        data = _data_text(runs)
        md.append(data)
        cr.append(data)
        md_rows.append(tuple(md))
        csv_rows.append(cr)
    title = f"Table {number} (metric: {table.metric}). Paper caption: {table.caption}"
    lines = [f"### {title}", ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for r in md_rows:
        lines.append("| " + " | ".join(x.replace("|", "/") for x in r) + " |")
    lines.append("")
    lines.append(
        "Columns `paper ...` hold the numbers printed in the paper (never measured here); "
        "columns `measured ...` hold only numbers measured by this run of edp_ref. Empty: not run."
    )
    if number != 1:
        lines.append(
            "Average rows are measured only when every dataset of the domain was run, as the "
            "mean of the per-dataset means."
        )
    else:
        lines.append("Measured domain rows average the datasets run, counted as [run/total].")
    lines += [f"Paper note: {n}" for n in table.notes]
    lines += ["", budget_text(preset, results, tasks)]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(csv_header)
    writer.writerows(csv_rows)
    return RenderedTable(
        number, "\n".join(lines) + "\n", buf.getvalue(), tuple(header), tuple(md_rows)
    )


# ------------------------------------------------------------------------------------------
# Figures
# ------------------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def render_training_curves(
    results: Sequence[RunResult], preset: Preset, path: Path
) -> tuple[str, str]:
    """Figure 3: per task, the mean over seeds of RAT and OMS against training steps.

    Writes the PNG to ``path``; returns (markdown summary, CSV of the plotted points)."""
    plt = _pyplot()
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
        ax.set_ylabel("normalised score")
        ax.legend()
        rat = _cell([r.final_rat for r in runs])
        oms = _cell([r.final_oms for r in runs])
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
    plt = _pyplot()
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
        cells = [f"{_cell(per[v]).text(len(per[v]))}" if v in per else "" for v in values]
        md.append(f"| {task} (measured) | " + " | ".join(cells) + " |")
    ax.set_xlabel(parameter_label)
    ax.set_ylabel("normalised score")
    if number == 4:
        ax.set_xscale("log")
    ax.legend()
    ax.set_title(f"Figure {number} (edp_ref, preset {preset.name})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    text = "\n".join(md) + f"\n\nPaper (no numbers printed): {FIGURE_CLAIMS[number]}\n"
    return text, buf.getvalue()


def _norm_name(name: str) -> str:
    s = name.lower().replace("without", "wo").replace("w/o", "wo")
    return re.sub(r"[^a-z0-9]", "", s)


#: Figure 2's variants and the ``scripts/benchmark.py`` records that measure them: training
#: record name, and sampler of the sampling record (DPM-Solver for EDP's sampling, DDPM for the
#: others). Diffusion-QL's row is the official PyTorch code, which edp_ref does not contain.
FIGURE2_BENCHMARK_NAMES: dict[str, tuple[str | None, str | None]] = {
    "Diffusion-QL": (None, None),
    "DQL (JAX)": ("dql_k5", "ddpm"),
    "EDP w/o DPM": ("edp_without_dpm", "ddpm"),
    "EDP w/o AP": ("edp_without_ap", "dpm_solver"),
    "EDP": ("edp_td3", "dpm_solver"),
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


def read_benchmark(path: Path) -> dict[str, dict[str, Any]]:
    """Read ``scripts/benchmark.py``'s JSON into Figure 2's rows.

    An ``edp_ref.benchmark/1`` document (``training`` and ``sampling`` records) is mapped by
    :data:`FIGURE2_BENCHMARK_NAMES`. Other shapes are accepted too: ``{"results": {name:
    {...}}}``, ``{"results": [{"variant"|"name": ..., ...}]}`` or the mapping itself, where a key
    containing ``ips`` is the training speed and one containing ``sps`` the sampling speed.
    Returns {variant: {"train_ips", "sample_sps", and where each came from}}.
    Raises ``FileNotFoundError`` naming the file and the command that writes it.
    """
    if not Path(path).exists():
        raise FileNotFoundError(
            f"Figure 2 needs the speed measurements of scripts/benchmark.py, but {path} does "
            "not exist. Run `python scripts/benchmark.py` first (or pass --benchmark PATH)."
        )
    raw = json.loads(Path(path).read_text())
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


def render_figure2(measured: Mapping[str, Mapping[str, Any]], path: Path) -> str:
    """Figure 2: paper's GPU speeds (labelled paper) beside the measured ones; PNG + markdown."""
    plt = _pyplot()
    by_norm = {_norm_name(k): (k, v) for k, v in measured.items()}
    rows = ["| variant | paper train IPS (GPU) | measured train IPS | paper sampling SPS (GPU) "
            "| measured sampling per s | measured as |", "|---|---|---|---|---|---|"]  # fmt: skip
    names = list(FIGURE2_PAPER)
    meas_ips: list[float] = []
    meas_sps: list[float] = []
    for name in names:
        found = by_norm.get(_norm_name(name))
        m = found[1] if found else {}
        meas_ips.append(m.get("train_ips", float("nan")))
        meas_sps.append(m.get("sample_sps", float("nan")))
        p = FIGURE2_PAPER[name]
        rows.append(
            f"| {name} | {p['train_ips']:.2f} | {_fmt_speed(meas_ips[-1])} | "
            f"{p['sample_sps']:.2f} | {_fmt_speed(meas_sps[-1])} | "
            f"{_measured_as(found)} |"
        )
    extra = [k for k in measured if _norm_name(k) not in {_norm_name(n) for n in names}]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    x = np.arange(len(names))
    for ax, key, meas, title in (
        (axes[0], "train_ips", meas_ips, "training iterations / s"),
        (axes[1], "sample_sps", meas_sps, "sampling steps / s"),
    ):
        ax.bar(x - 0.2, [FIGURE2_PAPER[n][key] for n in names], 0.4, label="paper (GPU)")
        ax.bar(x + 0.2, np.nan_to_num(meas), 0.4, label="measured (edp_ref)")
        ax.set_xticks(x, names, rotation=20)
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    note = (
        f"\nOther measured variants (no paper counterpart): {', '.join(extra)}\n" if extra else ""
    )
    return "\n".join(rows) + "\n" + note
