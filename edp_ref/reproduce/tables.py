"""The paper's tables reproduced from finished runs, beside the paper's numbers (Sec. 5, App. C).

* :func:`render_table`: Tables 1, 2, 4, 5, 6, 7 in the paper's rows and columns (Markdown and
  CSV): each ``paper ...`` column holds only the number printed in the paper
  (:data:`edp_ref.paper.PAPER_TABLES`), each ``measured RAT / OMS: <column>`` column
  (:data:`~edp_ref.reproduce.experiments.TABLE_LAYOUTS`) only mean +- std over seeds of the
  runs' final RAT and OMS (Sec. 5's metrics), beside the paper's.
* :func:`render_summary`: what ``edp-reproduce`` prints, the rows run only, within 100 columns.
  Each table compares columns in pairs (:data:`COMPARISONS`: Table 2 each algorithm's FF with
  its EDP; Tables 1 and 4 EDP with DQL; Table 6 TD3+Diff and TD3+EAS with TD3; Table 7 action
  approximation with DDPM): the paper's baseline, treatment and difference, then the measured
  means and difference with 95 % bootstrap intervals and a verdict
  (:mod:`edp_ref.reproduce.verdict`). Table 5 has no pairs: each EDP + algorithm gets its
  Average (RAT) and Best (OMS).
"""

from __future__ import annotations

import csv
import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edp_ref.paper import TABLE3, PaperRow, domain_of, paper_table
from edp_ref.reproduce.experiments import TABLE_LAYOUTS, ColumnGroup
from edp_ref.reproduce.presets import Preset
from edp_ref.reproduce.verdict import (
    BOOTSTRAP_RESAMPLES,
    VERDICT_RULE,
    difference_interval,
    seed_interval,
    verdict,
)
from edp_ref.runner.config import resolve_config
from edp_ref.runner.run_folder import RunResult
from edp_ref.runner.spec import evaluation_epochs

__all__ = [
    "COMPARISONS",
    "SUMMARY_WIDTH",
    "Cell",
    "Comparison",
    "RenderedTable",
    "budget_text",
    "measured_cell",
    "normalization_text",
    "render_summary",
    "render_table",
]


@dataclass(frozen=True)
class Cell:
    """A measured cell: mean and std over seeds (population std) and the number of seeds."""

    mean: float
    std: float
    n: int

    def text(self, seeds: int) -> str:
        if self.n == 1:
            return f"{self.mean:.1f} (n=1)"
        out = f"{self.mean:.1f} ± {self.std:.1f}"
        return out if self.n == seeds else f"{out} (n={self.n})"


def measured_cell(values: Sequence[float]) -> Cell:
    """Mean and population std over seeds of ``values`` (one number per seed)."""
    arr = np.asarray(values, dtype=np.float64)
    return Cell(float(arr.mean()), float(arr.std()), len(arr))


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
    """What the preset ran against the paper's protocol (Sec. 5, Table 3), one paragraph a
    line."""
    if not runs:
        return f"Preset {preset.name}: no finished runs."
    lines = [f"Preset `{preset.name}`; datasets: {', '.join(tasks)}."]
    seen = set()
    for r in runs:
        s, width = r.spec, resolve_config(r.spec).network.hidden
        key = (s.epochs, s.iterations_per_epoch, s.batch_size, s.eval_every, s.final_eval_every,
               s.eval_episodes, s.eas_candidates, width)  # fmt: skip
        if key in seen:
            continue
        seen.add(key)
        paper_epochs = TABLE3[domain_of(s.task)].epochs
        paper_updates = paper_epochs * 1000
        n_eval = len(s.evaluation_schedule)
        paper_evals = len(evaluation_epochs(paper_epochs, 10))
        start, end = r.final_stretch_updates
        stretch = len(r.final_stretch)
        lines.append(
            f"Per run: {s.epochs} epochs x {s.iterations_per_epoch} iterations = "
            f"{s.total_steps:,} updates, batch {s.batch_size} (paper: {paper_epochs} x 1000 = "
            f"{paper_updates:,}, batch 256): {100 * s.total_steps / paper_updates:.3g}% of the "
            f"paper's updates; {n_eval} evaluations x {s.eval_episodes} episodes (paper: "
            f"{paper_evals} x 10); EAS N = {s.eas_candidates} (paper 10, official code 50); "
            f"network width {width} (paper 256). RAT = mean of the {stretch} "
            f"evaluations of the final stretch, updates {start:,}-{end:,} (the final "
            f"{100 * (end - start) / end:.3g}%; paper: the last 10 of 201 evaluations, the final "
            "5%); OMS = the best evaluation (Sec. 5)."
        )
    seeds = sorted({r.spec.seed for r in runs})
    lines.append(
        f"Seeds: {', '.join(map(str, seeds))} (paper: 5 seeds). Full-table cells: mean ± std "
        "over seeds of each run's RAT / OMS."
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


def render_table(
    number: int,
    results: Sequence[RunResult],
    preset: Preset,
    tasks: Sequence[str],
) -> RenderedTable:
    """Table ``number`` in the paper's layout with the measured columns beside the paper's."""
    table = paper_table(number)
    groups = TABLE_LAYOUTS[number]
    grouped: dict[tuple[str, str], list[RunResult]] = {}
    for r in results:
        grouped.setdefault((r.spec.task, r.spec.algorithm), []).append(r)
    seeds = max((len(v) for v in grouped.values()), default=0)
    beside = {c for g in groups for c in (g.paper_rat, g.paper_oms) if c}
    # (header, what): a paper column's name, or the metric and group of a measured column.
    plan: list[tuple[str, str | tuple[str, ColumnGroup]]] = [
        (f"paper: {c}", c) for c in table.columns if c not in beside
    ]
    for g in groups:
        plan += [(f"paper RAT: {g.paper_rat}", g.paper_rat)] if g.paper_rat else []
        plan += [(f"paper OMS: {g.paper_oms}", g.paper_oms)] if g.paper_oms else []
        plan += [(f"measured RAT: {g.label}", ("rat", g)), (f"measured OMS: {g.label}", ("oms", g))]
    header = ["Dataset", *(h for h, _ in plan), "data"]
    domain_tasks: dict[str, list[str]] = {}
    for task_row in paper_table(4 if number == 1 else number).task_rows():
        domain_tasks.setdefault(task_row.domain, []).append(task_row.label)

    def runs(task: str, g: ColumnGroup) -> list[RunResult]:
        return grouped.get((task, g.column.algorithm), [])

    def measured(row: PaperRow, metric: str, g: ColumnGroup) -> tuple[str, list[str]]:
        """The Markdown text and the CSV cells (mean, std, seeds, tasks); empty: not run."""

        def final(r: RunResult) -> float:
            return r.final_rat if metric == "rat" else r.final_oms

        if not row.is_average:
            if not runs(row.label, g):
                return "", ["", "", "", ""]
            c = measured_cell([final(r) for r in runs(row.label, g)])
            return c.text(seeds), [repr(c.mean), repr(c.std), str(c.n), "1"]
        of = domain_tasks.get(row.domain, [])
        means = [float(np.mean([final(r) for r in runs(t, g)])) for t in of if runs(t, g)]
        # Table 1's domain rows average the datasets run, counted; another table's average rows
        # need every dataset of the domain, or they would not be the paper's average.
        if not means or (number != 1 and len(means) < len(of)):
            return "", ["", "", "", ""]
        mean = float(np.mean(means))
        text = f"{mean:.1f} [{len(means)}/{len(of)} tasks]" if number == 1 else f"{mean:.1f}"
        return text, [repr(mean), "", "", str(len(means))]

    md_rows: list[tuple[str, ...]] = []
    csv_rows: list[list[str]] = []
    csv_header = ["Dataset", "domain", "average row"]
    for name, what in plan:
        csv_header += (
            [name]
            if isinstance(what, str)
            else [name, *(f"{name} ({x})" for x in ("std", "seeds", "tasks"))]
        )
    csv_header.append("data")
    for row in table.rows:
        md = [row.label + (f" ({row.domain})" if row.is_average and number != 1 else "")]
        cr = [row.label, row.domain, str(row.is_average)]
        for _, what in plan:
            if isinstance(what, str):
                v = table.value(row.label, what, row.domain)
                md.append(_fmt(v))
                cr.append("" if v is None else repr(v))
            else:
                text, cells = measured(row, *what)
                md.append(text)
                cr += cells
        if number == 1:
            row_runs = [
                r for g in groups for t in domain_tasks.get(row.domain, []) for r in runs(t, g)
            ]
        else:
            row_runs = [] if row.is_average else [r for g in groups for r in runs(row.label, g)]
        md.append(_data_text(row_runs))
        cr.append(md[-1])
        md_rows.append(tuple(md))
        csv_rows.append(cr)
    title = f"Table {number} (metric: {table.metric}). Paper caption: {table.caption}"
    lines = [f"### {title}", ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for md_row in md_rows:
        lines.append("| " + " | ".join(x.replace("|", "/") for x in md_row) + " |")
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


# -- The printed summary ----------------------------------------------------------------------

#: The widest line of a summary (a 100-column terminal).
SUMMARY_WIDTH = 100


@dataclass(frozen=True)
class Comparison:
    """Two columns of a table compared (``treatment - baseline``, labels of
    :data:`~edp_ref.reproduce.experiments.TABLE_LAYOUTS`) in the row block ``label``, headed
    ``names``."""

    label: str
    baseline: str
    treatment: str
    names: tuple[str, str]


COMPARISONS: dict[int, tuple[Comparison, ...]] = {
    1: (Comparison("EDP/DQL", "DQL (JAX)", "EDP", ("DQL (JAX)", "EDP")),),
    2: tuple(
        Comparison(name, f"{name} FF", f"{name} EDP", ("FF", "EDP"))
        for name in ("TD3+BC", "CRR", "IQL")
    ),
    4: (Comparison("EDP/DQL", "DQL (JAX)", "EDP", ("DQL (JAX)", "EDP")),),
    5: (),
    6: (
        Comparison("Diff", "TD3", "TD3+Diff", ("TD3", "TD3+Diff")),
        Comparison("EAS", "TD3", "TD3+EAS", ("TD3", "TD3+EAS")),
    ),
    7: (Comparison("K=100", "DDPM", "Action Approx", ("DDPM", "Action Approx")),),
}

_LABEL, _KIND, _CELL = 8, 6, 22


def _group(number: int, label: str) -> ColumnGroup:
    return next(g for g in TABLE_LAYOUTS[number] if g.label == label)


def _per_seed(
    results: Sequence[RunResult], task: str, group: ColumnGroup, metric: str
) -> list[float]:
    runs = [r for r in results if (r.spec.task, r.spec.algorithm) == (task, group.column.algorithm)]
    runs.sort(key=lambda r: r.spec.seed)
    return [r.final_rat if metric == "rat" else r.final_oms for r in runs]


def _paper_value(number: int, task: str, group: ColumnGroup) -> tuple[float | None, str]:
    """The paper's number for ``group`` on ``task`` and the metric it is (rat or oms)."""
    column, metric = (group.paper_rat, "rat") if group.paper_rat else (group.paper_oms, "oms")
    assert column is not None
    table = paper_table(4 if number == 1 else number)  # Table 1's rows are domain averages
    try:
        return table.value(task, column), metric
    except KeyError:
        return None, metric


def _fmt(value: float | None, signed: bool = False) -> str:
    """A paper or measured number (``-``: none)."""
    if value is None:
        return "-"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def _row(label: str, kind: str, cells: Sequence[str], tail: str = "") -> str:
    text = f"{label:<{_LABEL}}{kind:<{_KIND}}" + "".join(f"{c:<{_CELL}}" for c in cells) + tail
    return text.rstrip()


def normalization_text(result: RunResult) -> str:
    """How a run's scores are normalized, for tables and figures."""
    d = result.data
    if not d.get("normalized"):
        return "raw returns (the dataset has no reference scores)"
    lo, hi = d.get("ref_min_score"), d.get("ref_max_score")
    refs = (
        f" (returns {lo:.1f} and {hi:.1f})"
        if isinstance(lo, float) and isinstance(hi, float)
        else ""
    )
    if d.get("kind") == "locally generated":
        return (
            "normalized by the local dataset's own references: 0 = uniform random actions, "
            f"100 = the local SAC expert{refs}, not D4RL's constants"
        )
    if d.get("kind") == "D4RL file":
        return f"D4RL normalized score (D4RL's reference returns{refs})"
    return f"normalized by the Minari dataset's reference scores{refs}"


def _data_line(task: str, results: Sequence[RunResult]) -> list[str]:
    run = next(r for r in results if r.spec.task == task)
    d = run.data
    head = f"{task}: {d.get('kind')} {d.get('id')}, {d.get('transitions', 0):,} transitions; "
    return textwrap.wrap(head + normalization_text(run) + ".", SUMMARY_WIDTH)


def _pair_lines(number: int, task: str, results: Sequence[RunResult]) -> list[str]:
    lines: list[str] = []
    header: tuple[str, str] | None = None
    for c in COMPARISONS[number]:
        base, treat = _group(number, c.baseline), _group(number, c.treatment)
        paper_b, metric = _paper_value(number, task, base)
        paper_t, _ = _paper_value(number, task, treat)
        b = _per_seed(results, task, base, metric)
        t = _per_seed(results, task, treat, metric)
        if not b and not t:
            continue
        if c.names != header:
            header = c.names
            diff = f"{c.names[1]} - {c.names[0]}"
            lines.append(_row("", "", [c.names[0], c.names[1], diff], "verdict"))
        paper_diff = None if paper_b is None or paper_t is None else paper_t - paper_b
        lines.append(_row(c.label, "paper", [_fmt(paper_b), _fmt(paper_t), _fmt(paper_diff, True)]))
        b_cell = seed_interval(b).text() if b else "not run"
        t_cell = seed_interval(t).text() if t else "not run"
        if b and t:
            d = difference_interval(t, b)
            word = verdict(paper_diff, d)
            lines.append(_row("", "here", [b_cell, t_cell, d.text(signed=True)], word))
        else:
            lines.append(_row("", "here", [b_cell, t_cell, "-"], "inconclusive"))
    return lines


def _single_lines(number: int, task: str, results: Sequence[RunResult]) -> list[str]:
    """Table 5: each EDP + algorithm's Average (RAT) and Best (OMS), no verdict."""
    lines = [_row("", "", ["Average (RAT)", "Best (OMS)"])]
    table = paper_table(number)
    for g in TABLE_LAYOUTS[number]:
        rat, oms = _per_seed(results, task, g, "rat"), _per_seed(results, task, g, "oms")
        if not rat:
            continue
        paper = [table.value(task, c) if c else None for c in (g.paper_rat, g.paper_oms)]
        lines.append(_row(g.label.replace("EDP + ", "EDP+"), "paper", [_fmt(v) for v in paper]))
        lines.append(_row("", "here", [seed_interval(rat).text(), seed_interval(oms).text()]))
    return lines


def render_summary(number: int, results: Sequence[RunResult], tasks: Sequence[str]) -> str:
    """The summary of Table ``number`` for the datasets run (lines of at most 100 columns)."""
    metric = paper_table(number).metric
    lines = [f"Table {number}: {metric}, rows run only (the full table: the Markdown file)."]
    seeds = ", ".join(map(str, sorted({r.spec.seed for r in results})))
    note = (
        f"Rows 'here': measured, mean over seeds ({seeds}) [95 % percentile-bootstrap interval, "
        f"{BOOTSTRAP_RESAMPLES:,} seeded resamples; a difference resamples the two agents' seeds "
        "independently]. Rows 'paper': as printed (D4RL, 5 seeds)."
    )
    lines += textwrap.wrap(note, SUMMARY_WIDTH)
    for task in tasks:
        if not any(r.spec.task == task for r in results):
            continue
        lines.append("")
        lines += _data_line(task, results)
        lines += (
            _pair_lines(number, task, results)
            if COMPARISONS[number]
            else _single_lines(number, task, results)
        )
    if COMPARISONS[number]:
        lines.append("")
        lines += textwrap.wrap(VERDICT_RULE, SUMMARY_WIDTH)
    return "\n".join(lines) + "\n"
