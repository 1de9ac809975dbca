"""What a reproduction reports: the final-stretch RAT (Sec. 5), the bootstrap intervals and the
verdict rule, the printed summary's width, and the learning-curve files (PNG and PDF, axes
labelled). Fast: hand-made run results, no training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edp_ref.reproduce import PRESETS, TABLE_LAYOUTS, figures
from edp_ref.reproduce.figures import render_learning_curves
from edp_ref.reproduce.tables import COMPARISONS, render_summary
from edp_ref.reproduce.verdict import (
    Interval,
    difference_interval,
    percentile_bootstrap,
    seed_interval,
    verdict,
)
from edp_ref.runner import (
    RAT_WINDOW,
    EvaluationRecord,
    RunResult,
    RunSpec,
    evaluation_epochs,
    final_stretch_mean,
    online_model_selection,
    running_average_at_training,
)

# -- RAT over the final stretch (Sec. 5) --------------------------------------------------------


def test_final_stretch_rat_by_hand() -> None:
    # Twelve evaluations: the untrained policy (epoch 0) and eleven after training began.
    epochs = list(range(12))
    scores = [100.0, 0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 5.0]
    # The last ten after epoch 0: 10, 20, ..., 90, 5 -> 455 / 10.
    assert final_stretch_mean(scores, epochs) == 45.5
    # Fewer than ten trained evaluations: all of them, never the untrained one.
    assert final_stretch_mean([100.0, 2.0, 4.0], [0, 1, 2]) == 3.0
    # A run evaluated only before training (0 epochs) has that one evaluation.
    assert final_stretch_mean([7.0], [0]) == 7.0
    assert final_stretch_mean([1.0, 4.0, 2.0], [0, 5, 10], window=1) == 2.0
    # The RAT logged at each evaluation is the same mean over the log so far.
    assert running_average_at_training(scores[:3], epochs[:3]) == [100.0, 0.0, 5.0]


@pytest.mark.parametrize(
    ("scores", "epochs", "words"),
    [
        ([1.0, float("nan")], [0, 1], r"final_stretch_mean: score 1 is nan"),
        ([1.0, 2.0], [0], r"one epoch per score.*2 score\(s\) and 1 epoch\(s\)"),
        ([], [], r"at least one score"),
        ([1.0, 2.0], [3, 3], r"epochs must increase, got \[3, 3\]"),
    ],
)
def test_final_stretch_rat_bad_input(scores: list[float], epochs: list[int], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        final_stretch_mean(scores, epochs)


def test_evaluation_schedule_with_a_dense_final_stretch() -> None:
    # The paper's schedule is unchanged: every 10 epochs, the last ten span epochs 1910-2000.
    assert evaluation_epochs(2000, 10) == evaluation_epochs(2000, 10, 10)
    assert evaluation_epochs(25, 10) == [0, 10, 20, 25]
    # Sparse every 10 epochs, then densely every epoch over the last ten.
    assert evaluation_epochs(40, 10, 1) == [0, 10, 20, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40]
    # Shorter than the stretch: epoch 0 stays the untrained evaluation, no negative epochs.
    assert evaluation_epochs(4, 2, 1) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="final_eval_every must be an int >= 1 or None, got 0"):
        evaluation_epochs(10, 1, 0)
    with pytest.raises(ValueError, match=r"RunSpec.final_eval_every must be <= RunSpec.eval_every"):
        RunSpec("hopper-medium-v2", "td3bc", eval_every=2, final_eval_every=3)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_measures_rat_over_the_final_five_percent(name: str) -> None:
    preset = PRESETS[name]
    spec = RunSpec(
        "hopper-medium-v2",
        "edp_td3",
        epochs=preset.epochs_for("hopper-medium-v2"),
        iterations_per_epoch=preset.iterations_per_epoch,
        eval_every=preset.eval_every,
        final_eval_every=preset.final_eval_every,
    )
    schedule = spec.evaluation_schedule
    records = [_record(i, e, e * spec.iterations_per_epoch, 1.0) for i, e in enumerate(schedule)]
    result = RunResult(spec, Path("/nonexistent"), records)
    stretch = result.final_stretch
    assert len(stretch) == RAT_WINDOW and all(r.epoch > 0 for r in stretch)
    start, end = result.final_stretch_updates
    assert end == spec.total_steps and (end - start) / end == pytest.approx(0.05)
    assert all(start < r.step <= end for r in stretch)


def _record(index: int, epoch: int, step: int, score: float) -> EvaluationRecord:
    return EvaluationRecord(index, epoch, step, 10, score, 0.0, score, 0.0, score, score, score)


def _fake(task: str, algorithm: str, seed: int, scores: list[float]) -> RunResult:
    """A finished run evaluated at epochs 0, 1, ... with ``scores`` on locally generated data."""
    spec = RunSpec(task, algorithm, seed=seed, epochs=len(scores) - 1, eval_every=1)
    epochs = list(range(len(scores)))
    rat, oms = running_average_at_training(scores, epochs), online_model_selection(scores)
    records = [
        EvaluationRecord(i, i, i * 1000, 10, s, 0.0, s, 0.0, s, rat[i], oms[i])
        for i, s in enumerate(scores)
    ]
    data: dict[str, Any] = {
        "kind": "locally generated",
        "id": "edp_ref/hopper/medium-replay-v0",
        "transitions": 15000,
        "normalized": True,
        "ref_min_score": 12.5,
        "ref_max_score": 1080.1,
    }
    return RunResult(spec, Path("/nonexistent"), records, data)


def test_run_result_rat_is_the_final_stretch_mean() -> None:
    r = _fake("hopper-medium-v2", "edp_td3", 0, [50.0, *[float(i) for i in range(1, 13)]])
    # Evaluations at epochs 1..12 scored 1..12: the last ten are 3..12, mean 7.5.
    assert r.final_rat == 7.5 and r.final_oms == 50.0
    assert [x.epoch for x in r.final_stretch] == list(range(3, 13))
    assert r.to_json()["final_rat"] == 7.5


# -- intervals and the verdict rule ------------------------------------------------------------


def test_seed_and_difference_intervals() -> None:
    one = seed_interval([36.0, 38.0, 34.5])
    assert one.mean == pytest.approx(36.1666667) and one.n == 3
    assert one.low is not None and one.high is not None
    assert 34.5 <= one.low < one.mean < one.high <= 38.0
    assert seed_interval([1.0]) == Interval(1.0, None, None, 1)
    assert seed_interval([2.0, 2.0]) == Interval(2.0, 2.0, 2.0, 2)
    diff = difference_interval([45.0, 46.0, 47.0], [35.0, 36.0, 37.0])
    assert diff.mean == pytest.approx(10.0) and diff.low is not None and diff.low > 0
    assert difference_interval([45.0], [35.0, 36.0]) == Interval(9.5, None, None, 1)
    assert diff.text(signed=True).startswith("+10.0 [+")
    assert seed_interval([1.0]).text() == "1.0 (n=1)"
    # The same numbers give the same interval (a fixed bootstrap generator).
    assert difference_interval([45.0, 46.0, 47.0], [35.0, 36.0, 37.0]) == diff
    with pytest.raises(ValueError, match=r"seed_interval: per-seed scores must be finite"):
        seed_interval([1.0, float("inf")])
    with pytest.raises(ValueError, match=r"difference_interval: baseline: expected a non-empty"):
        difference_interval([1.0], [])


@pytest.mark.parametrize(
    ("samples", "paired_statistic"),
    [
        ([[36.0, 38.0, 34.5]], False),
        ([[36.0, 38.0, 34.5, 40.0, 29.0]], False),
        ([[45.0, 46.0, 51.0], [35.0, 36.0, 30.0]], True),
        ([[45.0, 46.0], [35.0, 36.0, 30.0, 44.0]], True),
    ],
)
def test_percentile_bootstrap_matches_scipy(
    samples: list[list[float]], paired_statistic: bool
) -> None:
    """The hand-written bootstrap (the runner does not depend on scipy) against
    scipy.stats.bootstrap's percentile method: equal up to Monte-Carlo error."""
    stats = pytest.importorskip("scipy.stats")
    arrays = tuple(np.asarray(s) for s in samples)

    def statistic(*xs: np.ndarray, axis: int = -1) -> np.ndarray:
        out: np.ndarray = np.mean(xs[0], axis=axis)
        return out - np.mean(xs[1], axis=axis) if paired_statistic else out

    ours = percentile_bootstrap(arrays, statistic, resamples=50_000)
    ref = stats.bootstrap(
        arrays,
        statistic,
        n_resamples=50_000,
        method="percentile",
        paired=False,
        vectorized=True,
        rng=np.random.default_rng(1),
    ).confidence_interval
    spread = float(np.ptp(np.concatenate(arrays)))
    assert ours[0] == pytest.approx(ref.low, abs=0.02 * spread)
    assert ours[1] == pytest.approx(ref.high, abs=0.02 * spread)
    assert ours[0] < ours[1]


#: (paper difference, measured interval (low, high) or None for n = 1, verdict).
VERDICT_CASES: list[tuple[float | None, tuple[float, float] | None, str]] = [
    (40.1, (6.1, 13.0), "agrees"),  # excludes 0 on the paper's side; the size need not match
    (-3.2, (-9.0, -1.0), "agrees"),
    (40.1, (-13.0, -6.1), "disagrees"),
    (-3.2, (0.5, 4.0), "disagrees"),
    (40.1, (-2.0, 15.0), "inconclusive"),  # the interval holds 0
    (40.1, (0.0, 15.0), "inconclusive"),  # touching 0 is not excluding it
    (40.1, None, "inconclusive"),  # one seed: no interval
    (0.0, (1.0, 2.0), "inconclusive"),  # the paper shows no difference to agree with
    (None, (1.0, 2.0), "inconclusive"),  # a paper cell printed as "-"
]


@pytest.mark.parametrize(("paper", "interval", "expected"), VERDICT_CASES)
def test_verdict_rule(
    paper: float | None, interval: tuple[float, float] | None, expected: str
) -> None:
    low, high = interval if interval is not None else (None, None)
    measured = Interval(0.0 if low is None else (low + high) / 2, low, high, 3 if interval else 1)  # type: ignore[operator]
    assert verdict(paper, measured) == expected


# -- the printed summary -----------------------------------------------------------------------


def _grid(number: int, task: str, seeds: int, spread: float) -> list[RunResult]:
    out = []
    for j, group in enumerate(TABLE_LAYOUTS[number]):
        for seed in range(seeds):
            base = 104.5 - 30.0 * j + spread * seed
            out.append(
                _fake(task, group.column.algorithm, seed, [0.0, base - 3.0, base, base + 1.0])
            )
    return out


@pytest.mark.parametrize("number", sorted(COMPARISONS))
def test_summary_fits_100_columns_and_holds_only_the_rows_run(number: int) -> None:
    task = "walker2d-medium-v2" if number == 7 else "hopper-medium-replay-v2"
    results = _grid(number, task, 3, -12.25)
    text = render_summary(number, results, [task])
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100, max(lines, key=len)
    assert task in text and "halfcheetah" not in text and "antmaze" not in text
    assert "local SAC expert (returns 12.5 and 1080.1)" in " ".join(text.split())
    if COMPARISONS[number]:
        assert sum(line.lstrip().startswith("here") for line in lines) == len(COMPARISONS[number])
        assert "Verdict: 'agrees'" in text
    else:
        assert "Average (RAT)" in text


def test_table2_summary_numbers() -> None:
    # TD3+BC FF: seeds' RAT 30, 32, 34 (each run scores 0 at epoch 0, then RAT-ish values).
    runs = [
        _fake("hopper-medium-replay-v2", "td3bc", s, [90.0, 30.0 + 2 * s]) for s in range(3)
    ] + [_fake("hopper-medium-replay-v2", "edp_td3", s, [90.0, 40.0 + 2 * s]) for s in range(3)]
    text = render_summary(2, runs, ["hopper-medium-replay-v2"])
    paper = next(line for line in text.splitlines() if line.startswith("TD3+BC  paper"))
    assert paper.split() == ["TD3+BC", "paper", "60.9", "101.0", "+40.1"]
    here = next(line for line in text.splitlines() if line.lstrip().startswith("here"))
    assert here.split()[:2] == ["here", "32.0"] and "42.0" in here
    assert here.split()[-1] == "agrees" and "+10.0 [+" in here
    assert "CRR" not in text and "IQL" not in text  # not run: no rows


# -- learning curves ---------------------------------------------------------------------------


def test_learning_curves_are_written_as_png_and_pdf_with_labelled_axes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []
    original = figures._save

    def spy(fig: Any, png: Path, caption: str) -> tuple[Path, Path]:
        axes = [a for a in fig.axes if a.get_visible()]
        seen.append(
            {
                "x": [a.get_xlabel() for a in axes],
                "y": [a.get_ylabel() for a in axes],
                "legend": [t.get_text() for a in axes for t in a.get_legend().get_texts()],
                "caption": caption,
            }
        )
        return original(fig, png, caption)

    monkeypatch.setattr(figures, "_save", spy)
    results = _grid(2, "hopper-medium-replay-v2", 2, 1.0)[:4]  # TD3+BC FF and EDP, 2 seeds
    labels = {g.column.algorithm: g.label for g in TABLE_LAYOUTS[2]}
    (png, pdf), csv_text = render_learning_curves(results, labels, "Table 2", tmp_path / "c.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and pdf.read_bytes()[:5] == b"%PDF-"
    (info,) = seen
    assert info["x"] == ["updates"] and info["y"] == ["normalized score"]
    assert info["legend"] == ["TD3+BC FF (2 seeds)", "TD3+BC EDP (2 seeds)", "final stretch: RAT"]
    assert "local dataset's own references" in info["caption"]
    assert csv_text.splitlines()[0] == "task,agent,update,score_mean,score_min,score_max,seeds"
