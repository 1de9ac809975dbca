"""The files of a run folder, kept consistent with the run's checkpoint (Sec. 5 protocol).

A run folder holds

* ``config.json``: the run's resolved configuration: the :class:`~edp_ref.runner.spec.RunSpec`
  and the algorithm config it trains with
  (:func:`~edp_ref.runner.run_config.configuration_document`);
* ``evaluations.jsonl`` and ``evaluations.csv``: one line per evaluation (step, returns, RAT,
  OMS), rewritten atomically after each checkpoint;
* ``checkpoint.safetensors``: the training state, generator states and the evaluation log,
  sealed by one checksum (:mod:`edp_ref.runner.checkpoint`); the authority for everything else;
* ``data.json``: where the dataset came from; ``result.json`` once the run is complete;
* ``sweeps/``: re-evaluations of the final checkpoint (Figs. 4-7);
* ``run.log`` (what happened, appended) and ``tensorboard/`` (event files), written by
  :mod:`edp_ref.runner.monitoring`; they are not checked (a log may hold a killed attempt).

Every write is atomic (:mod:`edp_ref.atomic_files`). When a run starts, the temporary files a
killed writer left (``.<name>.tmp-<pid>``) are removed, and every file it reads is checked: the
evaluation log against the paper's protocol (indices, epochs, steps, RAT and OMS recomputed from
the scores), the logs and ``result.json`` against the checkpoint. A damaged or disagreeing file
raises :class:`~edp_ref.runner.errors.RunFolderError` naming the file and what to do.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edp_ref.atomic_files import atomic_write_text, remove_stale_temporaries
from edp_ref.runner.checkpoint import LoadedCheckpoint, load_checkpoint
from edp_ref.runner.config_json import config_diff
from edp_ref.runner.errors import RunFolderError, RunMismatchError, read_json_file
from edp_ref.runner.metrics import (
    EvaluationRecord,
    online_model_selection,
    running_average_at_training,
)
from edp_ref.runner.spec import RunResult, RunSpec

__all__ = [
    "CHECKPOINT_FILE",
    "CONFIG_FILE",
    "FinishedRun",
    "check_logs",
    "evaluation_log_problem",
    "load_finished_run",
    "open_run_folder",
    "read_configuration_document",
    "records_from_json",
    "write_logs",
    "write_result",
]

CHECKPOINT_FILE = "checkpoint.safetensors"
CONFIG_FILE = "config.json"
_LOGS = ("evaluations.jsonl", "evaluations.csv")


def open_run_folder(run_dir: Path, document: Mapping[str, Any]) -> None:
    """Create ``run_dir`` if needed, remove the temporary files of killed writers, and check
    ``config.json`` against ``document`` (writing it if absent).

    Raises:
        RunMismatchError: the folder holds another configuration (the differing fields named).
        RunFolderError: ``config.json`` is damaged.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(run_dir)
    remove_stale_temporaries(run_dir / "sweeps")
    path = run_dir / CONFIG_FILE
    wanted = json.loads(json.dumps(dict(document)))
    if not path.exists():
        atomic_write_text(path, json.dumps(wanted, indent=2, sort_keys=True))
        return
    stored = read_configuration_document(run_dir)
    if stored != wanted:
        diffs = config_diff(stored, wanted)
        raise RunMismatchError(
            f"run folder {run_dir} holds a run with another configuration ("
            + "; ".join(diffs)
            + "); use another output folder or delete this run folder"
        )


def read_configuration_document(run_dir: Path) -> dict[str, Any]:
    """The JSON object in ``<run_dir>/config.json``; :class:`RunFolderError` naming the file when
    it is missing or damaged."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.exists():
        raise RunFolderError(
            f"{path} is missing: {run_dir} is not a run folder of this edp_ref version (a run "
            "folder holds config.json, checkpoint.safetensors and the evaluation logs)"
        )
    remedy = (
        "delete it to have it rewritten from the configuration asked for (the checkpoint still "
        "checks its own copy of the configuration)"
    )
    stored = read_json_file(path, remedy)
    if not isinstance(stored, dict):
        raise RunFolderError(
            f"{path} is damaged: expected a JSON object, got {type(stored).__name__}; {remedy}"
        )
    if not isinstance(stored.get("run"), dict) or not isinstance(stored.get("algorithm"), dict):
        raise RunFolderError(f"{path} is damaged: it lacks its 'run' or 'algorithm' part; {remedy}")
    return stored


# ------------------------------------------------------------------------------------------
# The evaluation log
# ------------------------------------------------------------------------------------------


def records_from_json(raw: Sequence[Any], where: str) -> list[EvaluationRecord]:
    """Parse evaluation records; ``ValueError`` naming ``where`` and the record at fault."""
    out = []
    for i, item in enumerate(raw):
        try:
            out.append(EvaluationRecord.from_json(item))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: evaluation {i}: {exc}") from exc
    return out


def evaluation_log_problem(records: Sequence[EvaluationRecord], spec: RunSpec) -> str | None:
    """What is wrong with an evaluation log of ``spec``'s run, or None.

    The log must follow the protocol: evaluation i at epoch ``spec.evaluation_schedule[i]`` and
    step epoch x iterations, ``spec.eval_episodes`` episodes, score = the normalized mean (else
    the mean return), RAT and OMS recomputed from the scores (Sec. 5).
    """
    epochs = spec.evaluation_schedule
    if len(records) > len(epochs):
        return f"{len(records)} evaluations, but the run evaluates {len(epochs)} times"
    scores = [r.score for r in records]
    rat, oms = running_average_at_training(scores), online_model_selection(scores)
    for i, r in enumerate(records):
        expected: dict[str, Any] = {
            "index": i,
            "epoch": epochs[i],
            "step": epochs[i] * spec.iterations_per_epoch,
            "episodes": spec.eval_episodes,
            "score": r.normalized_mean if r.normalized_mean is not None else r.return_mean,
            "rat": rat[i],
            "oms": oms[i],
        }
        for name, value in expected.items():
            if getattr(r, name) != value:
                return f"evaluation {i} has {name} {getattr(r, name)!r}, expected {value!r}"
    return None


def _jsonl(records: Sequence[EvaluationRecord]) -> str:
    return "".join(json.dumps(r.to_json()) + "\n" for r in records)


def _csv(records: Sequence[EvaluationRecord]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(EvaluationRecord.CSV_COLUMNS)
    for r in records:
        writer.writerow(r.csv_row())
    return buf.getvalue()


def write_logs(run_dir: Path, records: Sequence[EvaluationRecord]) -> None:
    """Rewrite ``evaluations.jsonl`` and ``evaluations.csv`` atomically from ``records``."""
    atomic_write_text(run_dir / _LOGS[0], _jsonl(records))
    atomic_write_text(run_dir / _LOGS[1], _csv(records))


def check_logs(run_dir: Path, records: Sequence[EvaluationRecord], *, finished: bool) -> bool:
    """Check the logs present against the checkpoint's ``records``; return whether both exist.

    A run killed after writing a checkpoint and before its logs leaves logs one evaluation
    behind; that is accepted unless the run is ``finished`` (its logs are written before
    ``result.json``). Anything else raises :class:`RunFolderError` naming the file.
    """
    remedy = (
        "delete evaluations.jsonl and evaluations.csv to have them rewritten from the "
        "checkpoint at the next start of the run"
    )
    both = True
    for name, render in zip(_LOGS, (_jsonl, _csv), strict=True):
        path = run_dir / name
        if not path.exists():
            both = False
            continue
        try:
            # Bytes, not read_text: the CSV's "\r\n" line ends must not be translated.
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RunFolderError(f"{path} cannot be read ({exc}); {remedy}") from exc
        allowed = [render(records)]
        if not finished and records:
            allowed.append(render(records[:-1]))
        if text not in allowed:
            lines, want = text.splitlines(), allowed[0].splitlines()
            first = next(
                (i for i, (a, b) in enumerate(zip(lines, want, strict=False)) if a != b),
                min(len(lines), len(want)),
            )
            raise RunFolderError(
                f"{path} disagrees with the evaluation log sealed in {run_dir / CHECKPOINT_FILE} "
                f"({len(lines)} lines vs {len(want)} expected; first difference at line "
                f"{first + 1}): it was damaged or edited; {remedy}"
            )
    return both


# ------------------------------------------------------------------------------------------
# A finished run
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FinishedRun:
    """A complete run folder whose ``result.json`` agrees with its checkpoint."""

    result: RunResult
    checkpoint: LoadedCheckpoint


def write_result(result: RunResult) -> None:
    """Write ``result.json`` atomically (the last file a run writes)."""
    atomic_write_text(result.run_dir / "result.json", json.dumps(result.to_json(), indent=2))


def _canonical(value: Any) -> str:
    # Text, not ==: a NaN (the std of one episode) is unequal to itself.
    return json.dumps(value, sort_keys=True)


def load_finished_run(
    spec: RunSpec, run_dir: Path, document: Mapping[str, Any] | None = None
) -> FinishedRun:
    """Read a finished run's ``result.json`` and check it against the checkpoint: the same
    configuration, a checkpoint at the last epoch, the same evaluation records, logs that agree.
    ``document`` is the run's configuration document (None: the one in ``config.json``).

    Raises:
        RunMismatchError: ``result.json`` belongs to another configuration.
        RunFolderError: ``result.json`` or a log is damaged, or disagrees with the checkpoint.
        CheckpointError: the checkpoint is missing its seal, damaged or of an older format.
    """
    path = run_dir / "result.json"
    result = RunResult.load(run_dir)
    if result.spec != spec:
        raise RunMismatchError(f"{path} belongs to another configuration than the one asked for")
    ckpt_path = run_dir / CHECKPOINT_FILE
    if not ckpt_path.exists():
        raise RunFolderError(
            f"{path} cannot be checked: {ckpt_path} is missing; restore the checkpoint, or delete "
            f"the run folder {run_dir} to train the run again"
        )
    if document is None:
        document = read_configuration_document(run_dir)
    ckpt = load_checkpoint(ckpt_path, document)
    remedy = (
        "delete result.json: the next start of the run rewrites it from the checkpoint without "
        "training again"
    )
    try:
        sealed = records_from_json(ckpt.records, f"checkpoint {ckpt_path}")
    except ValueError as exc:
        raise RunFolderError(f"{exc}; delete the run folder {run_dir} to train again") from exc
    if ckpt.step != spec.total_steps or len(sealed) != len(spec.evaluation_schedule):
        raise RunFolderError(
            f"{path} says the run is complete, but its checkpoint is at epoch {ckpt.epoch} of "
            f"{spec.epochs} with {len(sealed)} evaluations; delete result.json to resume the "
            "run from its checkpoint"
        )
    problem = evaluation_log_problem(sealed, spec)
    if problem is not None:
        raise RunFolderError(
            f"the evaluation log sealed in {ckpt_path} breaks the protocol ({problem}); delete "
            f"the run folder {run_dir} to train the run again"
        )
    stored = [_canonical(r.to_json()) for r in result.records]
    expected = [_canonical(r.to_json()) for r in sealed]
    if stored != expected:
        i = next(
            (i for i, (a, b) in enumerate(zip(stored, expected, strict=False)) if a != b),
            min(len(stored), len(expected)),
        )
        if i < min(len(stored), len(expected)):
            a, b = result.records[i].to_json(), sealed[i].to_json()
            what = ", ".join(k for k in b if _canonical(a[k]) != _canonical(b[k]))
        else:
            what = f"{len(stored)} evaluations vs {len(expected)}"
        raise RunFolderError(
            f"{path} disagrees with the evaluation log sealed in {ckpt_path} (evaluation {i}: "
            f"{what}): it was damaged or edited; {remedy}"
        )
    if not check_logs(run_dir, sealed, finished=True):
        write_logs(run_dir, sealed)
    return FinishedRun(result, ckpt)
