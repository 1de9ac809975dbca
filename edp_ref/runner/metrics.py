"""The paper's two evaluation metrics, RAT and OMS (Sec. 5, "Evaluation Protocol").

* RAT, running average at training (the paper's metric): "the running average of evaluation
  performance for ten consecutive checkpoints" at the end of training; the paper evaluates every
  10 of 2000 epochs, so its RAT averages the final 5 % of training. Everywhere here RAT is the
  mean of the last ten evaluations after epoch 0 (:func:`final_stretch_mean`; the untrained
  policy's only when it is the only one), and the RAT of evaluation ``i`` in a log is that of the
  log up to ``i``, so a run's last logged RAT is its RAT.
* OMS, online model selection (Diffusion-QL's metric): the best evaluation of the run.

An :class:`EvaluationRecord` is one line of a run's JSONL log.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from edp_ref.config_checks import check_int, check_real

__all__ = [
    "RAT_WINDOW",
    "EvaluationRecord",
    "final_stretch_mean",
    "online_model_selection",
    "running_average_at_training",
]

#: Sec. 5: "the running average of evaluation performance for ten consecutive checkpoints".
RAT_WINDOW = 10


def _check_scores(scores: Sequence[float], where: str) -> None:
    for i, s in enumerate(scores):
        if not math.isfinite(s):
            raise ValueError(f"{where}: score {i} is {s}; scores must be finite")


def running_average_at_training(
    scores: Sequence[float], epochs: Sequence[int], window: int = RAT_WINDOW
) -> list[float]:
    """The RAT after every evaluation: :func:`final_stretch_mean` of the evaluations up to it."""
    n = len(scores)
    return [final_stretch_mean(scores[: i + 1], epochs[: i + 1], window) for i in range(n)]


def final_stretch_mean(
    scores: Sequence[float], epochs: Sequence[int], window: int = RAT_WINDOW
) -> float:
    """A run's RAT: the mean of the last ``window`` scores of evaluations after epoch 0 (the
    epoch-0 one counts only when it is the only one); ``epochs`` ascending."""
    if window < 1:
        raise ValueError(f"final_stretch_mean: window must be >= 1, got {window}")
    if len(scores) != len(epochs) or not scores:
        raise ValueError(
            f"final_stretch_mean: expected one epoch per score and at least one score, got "
            f"{len(scores)} score(s) and {len(epochs)} epoch(s)"
        )
    _check_scores(scores, "final_stretch_mean")
    if any(b <= a for a, b in itertools.pairwise(epochs)):
        raise ValueError(f"final_stretch_mean: epochs must increase, got {list(epochs)}")
    trained = [s for s, e in zip(scores, epochs, strict=True) if e > 0] or list(scores[-1:])
    chunk = trained[-window:]
    return math.fsum(chunk) / len(chunk)


def online_model_selection(scores: Sequence[float]) -> list[float]:
    """OMS after every evaluation: the best score so far (running maximum)."""
    _check_scores(scores, "online_model_selection")
    out: list[float] = []
    for s in scores:
        out.append(s if not out else max(out[-1], s))
    return out


@dataclass(frozen=True)
class EvaluationRecord:
    """One evaluation of a run (one JSONL line and one CSV row): the returns as
    :class:`edp_ref.runner.policy.PolicyEvaluation` has them, ``score`` (what RAT and OMS use),
    the run's RAT and OMS up to it, the wall time of the evaluation and of the training since the
    previous one (in this process), and the training metrics of the last update before it."""

    index: int
    epoch: int
    step: int
    episodes: int
    return_mean: float
    return_std: float
    normalized_mean: float | None
    normalized_std: float | None
    score: float
    rat: float
    oms: float
    eval_seconds: float = 0.0
    train_seconds: float = 0.0
    losses: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: object) -> EvaluationRecord:
        """Inverse of :meth:`to_json`; ``ValueError`` / ``TypeError`` naming a missing, unknown
        or ill-typed field."""
        if not isinstance(data, dict):
            raise TypeError(f"EvaluationRecord: expected a JSON object, got {data!r}")
        names = {f.name for f in fields(cls)}
        optional = {"eval_seconds", "train_seconds", "losses"}
        missing = sorted(names - optional - set(data))
        unknown = sorted(set(data) - names)
        if missing or unknown:
            raise ValueError(
                f"EvaluationRecord: missing field(s) {missing}, unknown field(s) {unknown} "
                f"in {data}"
            )
        for name in ("index", "epoch", "step"):
            check_int(f"EvaluationRecord.{name}", data[name], 0)
        check_int("EvaluationRecord.episodes", data["episodes"], 1)
        for name in ("return_mean", "score", "rat", "oms"):
            check_real(f"EvaluationRecord.{name}", data[name])
        check_real("EvaluationRecord.normalized_mean", data["normalized_mean"], optional=True)
        check_real("EvaluationRecord.return_std", data["return_std"], 0.0)
        check_real("EvaluationRecord.normalized_std", data["normalized_std"], 0.0, optional=True)
        for name in ("eval_seconds", "train_seconds"):
            check_real(f"EvaluationRecord.{name}", data.get(name, 0.0), 0.0)
        losses = data.get("losses", {})
        if not isinstance(losses, dict) or not all(
            isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
            for k, v in losses.items()
        ):
            raise TypeError(f"EvaluationRecord.losses must map names to numbers, got {losses!r}")
        return cls(**data)

    @classmethod
    def csv_columns(cls) -> list[str]:
        """The columns of the CSV log: every field but ``losses``."""
        return [f.name for f in fields(cls) if f.name != "losses"]

    def csv_row(self) -> list[str]:
        """The CSV row (empty cells for None)."""
        data = self.to_json()
        return ["" if data[c] is None else str(data[c]) for c in self.csv_columns()]
