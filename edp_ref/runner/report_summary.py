"""The summary of a reproduced table that ``edp-reproduce`` prints: only the rows that were run,
the paper's numbers beside the measured ones, and a verdict per comparison (Sec. 5, App. C).

Each table compares agents in pairs (:data:`COMPARISONS`): Table 2 each algorithm's
feed-forward policy (FF) with its efficient diffusion policy (EDP); Tables 1 and 4 EDP with DQL;
Table 6 TD3+Diff and TD3+EAS with TD3; Table 7 action approximation with DDPM. For each dataset
run and each pair, two lines: the paper's baseline, treatment and difference as printed, then
the measured means with their 95 % bootstrap intervals over seeds and the measured difference
with its interval and verdict (:mod:`edp_ref.runner.verdict`). Table 5 has no pairs: each
EDP + algorithm gets its Average (RAT) and Best (OMS). The summary fits in 100 columns; the
full paper table goes to the Markdown file (:mod:`edp_ref.runner.report_tables`).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from edp_ref.paper import paper_table
from edp_ref.runner.report_tables import TABLE_LAYOUTS, ColumnGroup
from edp_ref.runner.spec import RunResult
from edp_ref.runner.verdict import (
    BOOTSTRAP_RESAMPLES,
    VERDICT_RULE,
    difference_interval,
    seed_interval,
    verdict,
)

__all__ = ["COMPARISONS", "SUMMARY_WIDTH", "Comparison", "normalization_text", "render_summary"]

#: The widest line of a summary (a 100-column terminal).
SUMMARY_WIDTH = 100


@dataclass(frozen=True)
class Comparison:
    """Two columns of a table compared (``treatment - baseline``), by their labels in
    :data:`edp_ref.runner.report_tables.TABLE_LAYOUTS`; ``label`` names the row block and
    ``names`` the two columns in the summary's header."""

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
    runs = [
        r
        for r in results
        if r.spec.task == task and (r.spec.algorithm, r.spec.policy) == group.agent
    ]
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


def _interval_note(results: Sequence[RunResult]) -> str:
    seeds = sorted({r.spec.seed for r in results})
    return (
        f"Rows 'here': measured, mean over seeds ({', '.join(map(str, seeds))}) [95 % "
        f"percentile-bootstrap interval, {BOOTSTRAP_RESAMPLES:,} seeded "
        "resamples; a difference resamples the two agents' seeds independently]. Rows 'paper': "
        "as printed (D4RL, 5 seeds)."
    )


def render_summary(number: int, results: Sequence[RunResult], tasks: Sequence[str]) -> str:
    """The summary of Table ``number`` for the datasets run (lines of at most 100 columns)."""
    metric = paper_table(number).metric
    lines = [f"Table {number}: {metric}, rows run only (the full table: the Markdown file)."]
    lines += textwrap.wrap(_interval_note(results), SUMMARY_WIDTH)
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
