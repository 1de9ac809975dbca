"""Render the paper's tables from finished runs, beside the paper's numbers (Sec. 5, App. C).

Tables 1, 2, 4, 5, 6, 7 keep the paper's rows and columns. Every paper column is labelled
``paper ...`` and holds only the number printed in the paper
(:mod:`edp_ref.runner.paper_results`); each agent edp_ref trains gets ``measured RAT: <column>``
and ``measured OMS: <column>`` beside it, holding only mean +- std over seeds of the final RAT
and OMS of the runs (Sec. 5's metrics). A ``data`` column says which data each row used (D4RL
file, Minari, locally generated) and a footer states the preset's budget against the paper's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edp_ref.paper import TABLE3, PaperRow, domain_of, paper_table
from edp_ref.runner.presets import Preset
from edp_ref.runner.spec import RunResult, evaluation_epochs

__all__ = [
    "TABLE_LAYOUTS",
    "Cell",
    "ColumnGroup",
    "RenderedTable",
    "budget_text",
    "measured_cell",
    "render_table",
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


def measured_cell(values: Sequence[float], tasks: int = 1, of_tasks: int = 1) -> Cell:
    """Mean and population std over seeds of ``values`` (one number per seed)."""
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
    """What the preset ran against the paper's protocol (Sec. 5, Table 3), one paragraph a
    line."""
    if not runs:
        return f"Preset {preset.name}: no finished runs."
    lines = [f"Preset `{preset.name}`; datasets: {', '.join(tasks)}."]
    seen = set()
    for r in runs:
        s = r.spec
        key = (s.epochs, s.iterations_per_epoch, s.batch_size, s.eval_every, s.final_eval_every,
               s.eval_episodes, s.eas_candidates, s.hidden)  # fmt: skip
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
            f"network width {s.hidden or 256} (paper 256). RAT = mean of the {stretch} "
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


def _by_task(
    results: Sequence[RunResult],
) -> dict[tuple[str, tuple[str, str | None]], list[RunResult]]:
    out: dict[tuple[str, tuple[str, str | None]], list[RunResult]] = {}
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
            return measured_cell([final(r) for r in runs]) if runs else None
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
