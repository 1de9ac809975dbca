"""A run folder: its files, its one writer, its sealed checkpoint, and the errors that name a
damaged file (Sec. 5).

* ``config.json``: the :class:`~edp_ref.runner.spec.RunSpec`, the resolved algorithm config and
  the dataset's fingerprint (:func:`dataset_fingerprint`: a run never resumes on other data);
* ``checkpoint.safetensors``: the authority for everything else (:func:`save_checkpoint`);
* ``evaluations.jsonl`` / ``.csv`` (one line per evaluation, rewritten after each checkpoint),
  ``data.json`` (where the data came from), ``result.json`` once complete (:class:`RunResult`);
* ``sweeps/``: re-evaluations of the final checkpoint (Figs. 4-7, ``edp_ref.reproduce``);
* ``run.log`` and ``tensorboard/`` (:mod:`edp_ref.runner.monitoring`; not checked);
* ``.writer.lock`` / ``.writer.json``: one writer at a time (:func:`run_folder_writer`).

Every write is atomic (:mod:`edp_ref.atomic_files`); the temporaries of a killed writer are
removed when a run starts. Every file read is checked: the evaluation log against the protocol,
the logs and ``result.json`` against the checkpoint, the checkpoint against its checksum and the
configuration. A damaged or disagreeing file raises :class:`RunFolderError` or
:class:`CheckpointError` naming the file and what to do; a run never silently restarts.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import os
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import filelock
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor

from edp_ref.algorithms.config import AlgorithmConfig
from edp_ref.atomic_files import atomic_write, atomic_write_text, remove_stale_temporaries
from edp_ref.config_checks import check_real
from edp_ref.data.transitions import FIELDS, TransitionDataset
from edp_ref.runner.metrics import (
    RAT_WINDOW,
    EvaluationRecord,
    final_stretch_mean,
    online_model_selection,
    running_average_at_training,
)
from edp_ref.runner.spec import RunSpec, config_to_json

__all__ = [
    "CHECKPOINT_FILE",
    "CHECKPOINT_FORMAT",
    "CONFIG_FILE",
    "CONFIG_FORMAT",
    "RESULT_FILE",
    "Checkpoint",
    "CheckpointCorruptError",
    "CheckpointError",
    "CheckpointFormatError",
    "CheckpointMismatchError",
    "DatasetChangedError",
    "NonFiniteStateError",
    "RunFolderError",
    "RunLockedError",
    "RunMismatchError",
    "RunResult",
    "check_dataset",
    "check_logs",
    "config_diff",
    "configuration_document",
    "dataset_fingerprint",
    "extend_run_folder",
    "identity",
    "load_checkpoint",
    "load_finished_run",
    "nonfinite_tensors",
    "open_run_folder",
    "read_configuration_document",
    "read_json_file",
    "record_dataset",
    "run_folder_writer",
    "save_checkpoint",
    "sealed_records",
    "write_logs",
    "write_result",
]

CONFIG_FILE, CHECKPOINT_FILE, RESULT_FILE = "config.json", "checkpoint.safetensors", "result.json"
_LOGS = ("evaluations.jsonl", "evaluations.csv")
#: Format tag of ``config.json``. Format 2: ``RunSpec.algorithm`` is a registered algorithm.
CONFIG_FORMAT = "edp_ref.runner.config/2"
_LOCK, _HOLDER = ".writer.lock", ".writer.json"
#: Format tag of every checkpoint.
CHECKPOINT_FORMAT = "edp_ref.runner.checkpoint/4"
#: Earlier formats, recognised to say so, with what this version would miss in them.
OLDER_FORMATS: dict[str, str] = {
    "edp_ref.runner.checkpoint/1": "its checksum covers the tensors only, not the evaluation "
    "log and the configuration",
    "edp_ref.runner.checkpoint/2": "it lacks the training position inside an epoch, the "
    "widths and the data transforms a policy needs, and the resolved algorithm config",
    "edp_ref.runner.checkpoint/3": "its evaluation log's running RAT counts the untrained "
    "evaluation, and it lacks the dataset's fingerprint",
}


class RunFolderError(RuntimeError):
    """A file of a run folder is damaged, or disagrees with the run's checkpoint."""


class RunMismatchError(RunFolderError):
    """A run folder holds another configuration than the one asked for."""


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used to resume a run."""


class CheckpointCorruptError(CheckpointError):
    """The file is unreadable, truncated, not a runner checkpoint, or fails its checksum."""


class CheckpointFormatError(CheckpointError):
    """The file is a runner checkpoint of an older format, which this version does not read."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint belongs to a run with another configuration or state layout."""


class RunLockedError(RunFolderError):
    """Another live process writes the run folder."""


class DatasetChangedError(RunMismatchError):
    """The dataset differs from the one the run started on (its fingerprint)."""


class NonFiniteStateError(ValueError):
    """A state holds NaN or inf (a diverged run); ``names`` lists the tensors."""

    def __init__(self, message: str, names: Sequence[str]) -> None:
        super().__init__(message)
        self.names = list(names)


def read_json_file(path: Path, remedy: str) -> Any:
    """The JSON in ``path``; :class:`RunFolderError` naming the file and ``remedy`` otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RunFolderError(
            f"{path} cannot be read ({type(exc).__name__}: {exc}); {remedy}"
        ) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunFolderError(f"{path} is damaged: not valid JSON ({exc}); {remedy}") from exc


def config_diff(
    first: object, second: object, labels: tuple[str, str] = ("stored", "asked"), where: str = ""
) -> list[str]:
    """The paths at which two JSON documents differ, each as ``path: stored X vs asked Y``."""
    if isinstance(first, Mapping) and isinstance(second, Mapping):
        out: list[str] = []
        for key in sorted(set(first) | set(second), key=str):
            path = f"{where}.{key}" if where else str(key)
            if key not in first:
                out.append(f"{path}: absent from the {labels[0]} configuration")
            elif key not in second:
                out.append(f"{path}: absent from the {labels[1]} configuration")
            else:
                out += config_diff(first[key], second[key], labels, path)
        return out
    if first != second:
        return [f"{where or 'value'}: {labels[0]} {first!r} vs {labels[1]} {second!r}"]
    return []


# ------------------------------------------------------------------------------------------
# One writer per run folder
# ------------------------------------------------------------------------------------------


def _holder(run_dir: Path) -> dict[str, Any] | None:
    try:
        found = json.loads((run_dir / _HOLDER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _describe_holder(holder: Mapping[str, Any] | None) -> str:
    if holder is None:
        return "another process (starting: its pid is not recorded yet)"
    return f"pid {holder.get('pid')} on host {holder.get('host')}, started {holder.get('started')}"


@contextlib.contextmanager
def run_folder_writer(run_dir: Path) -> Iterator[str | None]:
    """Hold ``run_dir``'s writer lock for the block (an OS lock, released by the kernel when its
    process dies, so a killed writer's is taken over; the holder in ``.writer.json``). Yields a
    note naming the killed writer whose lock was taken over, else None; raises
    :class:`RunLockedError` naming a live holder."""
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(run_dir / _LOCK, timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise RunLockedError(
            f"run folder {run_dir} is being written by {_describe_holder(_holder(run_dir))}; "
            "one process at a time trains a run: wait for it to end, or stop it (it checkpoints "
            "on SIGTERM) and start again"
        ) from None
    try:
        stale = _holder(run_dir)  # a record the holder did not remove: it was killed
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        }
        atomic_write_text(run_dir / _HOLDER, json.dumps(me))
        yield (
            None
            if stale is None
            else (
                f"took over the run folder from {_describe_holder(stale)}, which ended without "
                "releasing it (killed)"
            )
        )
    finally:
        (run_dir / _HOLDER).unlink(missing_ok=True)
        lock.release()


# ------------------------------------------------------------------------------------------
# config.json
# ------------------------------------------------------------------------------------------


def configuration_document(spec: RunSpec, config: AlgorithmConfig) -> dict[str, Any]:
    """``config.json``: the run spec and the resolved algorithm config (the run's identity)."""
    return {
        "format": CONFIG_FORMAT,
        "run": spec.to_json(),
        "algorithm": {
            "name": spec.algorithm,
            "title": spec.registered.title,
            "config": config_to_json(config),
        },
    }


def identity(document: Mapping[str, Any]) -> dict[str, Any]:
    """A configuration document without the dataset's fingerprint (:func:`record_dataset`)."""
    plain: dict[str, Any] = json.loads(
        json.dumps({k: v for k, v in document.items() if k != "dataset"})
    )
    return plain


def open_run_folder(run_dir: Path, document: Mapping[str, Any]) -> None:
    """Create ``run_dir``, remove killed writers' temporaries, write ``config.json`` or check it
    against ``document`` (:class:`RunMismatchError` naming the differing fields)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(run_dir)
    remove_stale_temporaries(run_dir / "sweeps")
    path = run_dir / CONFIG_FILE
    if not path.exists():
        atomic_write_text(path, json.dumps(identity(document), indent=2, sort_keys=True))
        return
    stored = identity(read_configuration_document(run_dir))
    if stored != identity(document):
        raise RunMismatchError(
            f"run folder {run_dir} holds a run with another configuration ("
            + "; ".join(config_diff(stored, identity(document)))
            + "); use another output folder or delete this run folder"
        )


def _data_part(document: Mapping[str, Any]) -> dict[str, Any]:
    return {"dataset": document["dataset"]} if "dataset" in document else {}


def _describe_data(fingerprint: Mapping[str, Any]) -> str:
    return f"{fingerprint.get('transitions')} transitions, SHA-256 {fingerprint.get('sha256')}"


def check_dataset(where: str, stored: object, found: Mapping[str, Any], run_dir: Path) -> None:
    """:class:`DatasetChangedError` when ``stored`` (None: none recorded) is not ``found``."""
    if stored is not None and stored != dict(found):
        stored_text = _describe_data(stored) if isinstance(stored, Mapping) else repr(stored)
        raise DatasetChangedError(
            f"the dataset changed since the run in {run_dir} started: {where} records "
            f"{stored_text}, the data loaded now has {_describe_data(found)}; a run resumes "
            "on the data it started on only: restore that dataset, or train in a new folder"
        )


def record_dataset(run_dir: Path, fingerprint: Mapping[str, Any]) -> dict[str, Any]:
    """Add the dataset's fingerprint to ``config.json`` (checked); return the document."""
    stored = read_configuration_document(run_dir)
    check_dataset(str(run_dir / CONFIG_FILE), stored.get("dataset"), fingerprint, run_dir)
    document = {**identity(stored), "dataset": dict(fingerprint)}
    if stored != document:
        atomic_write_text(run_dir / CONFIG_FILE, json.dumps(document, indent=2, sort_keys=True))
    return document


def read_configuration_document(run_dir: Path) -> dict[str, Any]:
    """``<run_dir>/config.json``; :class:`RunFolderError` if missing, damaged or older."""
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
    if stored.get("format") != CONFIG_FORMAT:
        raise RunFolderError(
            f"{path} is of format {stored.get('format')!r}, not {CONFIG_FORMAT!r}: the run was "
            "written by an older edp_ref; delete the run folder to train the run again"
        )
    return stored


# ------------------------------------------------------------------------------------------
# The checkpoint
# ------------------------------------------------------------------------------------------


def _hash_tensors(tensors: Mapping[str, Tensor], trailer: bytes = b"") -> str:
    """SHA-256 of every tensor's name, dtype, shape and bytes, in name order, then ``trailer``."""
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].detach().cpu().contiguous()
        h.update(key.encode("utf-8"))
        h.update(str(t.dtype).encode("utf-8"))
        h.update(str(tuple(t.shape)).encode("utf-8"))
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().data)
    h.update(trailer)
    return h.hexdigest()


def dataset_fingerprint(dataset: TransitionDataset) -> dict[str, Any]:
    """A dataset as loaded (before preprocessing): transitions, bytes, SHA-256 of its arrays."""
    tensors = {name: getattr(dataset, name) for name in FIELDS}
    return {
        "transitions": len(dataset),
        "bytes": sum(t.numel() * t.element_size() for t in tensors.values()),
        "sha256": _hash_tensors(tensors),
    }


def nonfinite_tensors(tensors: Mapping[str, Tensor]) -> list[str]:
    """The names of the floating-point tensors holding NaN or inf (one host sync)."""
    floats = {k: t for k, t in tensors.items() if t.is_floating_point() and t.numel()}
    if not floats:
        return []
    finite = torch.stack([torch.isfinite(t).all().cpu() for t in floats.values()]).tolist()
    return [k for k, ok in zip(floats, finite, strict=True) if not ok]


def _digest(tensors: Mapping[str, Tensor], metadata: Mapping[str, str]) -> str:
    """SHA-256 over the tensors and every metadata entry but the digest (canonical JSON)."""
    sealed = {k: v for k, v in metadata.items() if k != "sha256"}
    return _hash_tensors(tensors, b"metadata" + json.dumps(sealed, sort_keys=True).encode("utf-8"))


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint holds (:func:`save_checkpoint`). ``step`` may lie inside an epoch (a
    wall-clock checkpoint); ``records`` are the evaluation records as JSON; ``train_seconds``
    the training time since the last evaluation; ``data`` the observation normalizer and action
    bounds and ``environment`` the evaluation environment and score references (acting needs
    them, not the dataset)."""

    state: dict[str, Tensor]
    rng: dict[str, Tensor]
    config: dict[str, Any]
    epoch: int
    step: int
    records: list[dict[str, Any]]
    state_dim: int
    action_dim: int
    train_seconds: float = 0.0
    data: dict[str, Tensor] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` atomically as one safetensors file (it loads without executing
    code): ``state/``, ``rng/`` (every generator, torch's global one too) and ``data/`` tensors,
    and as metadata the format, the configuration document, the position, the widths, the
    environment, the evaluation records and one SHA-256 over all of it, so that an edited score
    or epoch fails the checksum like a flipped tensor byte. :class:`NonFiniteStateError` (nothing
    written) for a state holding NaN or inf; :class:`WriteError` for a full or failing disk."""
    c = checkpoint
    bad = nonfinite_tensors(c.state)
    if bad:
        raise NonFiniteStateError(
            f"{path} is not written: the state holds NaN or inf in {', '.join(bad)}", bad
        )
    tensors: dict[str, Tensor] = {}
    for prefix, group in (("state", c.state), ("rng", c.rng), ("data", c.data)):
        for key, t in group.items():
            tensors[f"{prefix}/{key}"] = t.detach().cpu().contiguous().clone()
    metadata = {
        "format": CHECKPOINT_FORMAT,
        "config": json.dumps(dict(c.config), sort_keys=True),
        "epoch": str(int(c.epoch)),
        "step": str(int(c.step)),
        "train_seconds": repr(float(c.train_seconds)),
        "widths": json.dumps({"state": int(c.state_dim), "action": int(c.action_dim)}),
        "environment": json.dumps(dict(c.environment), sort_keys=True),
        "records": json.dumps(c.records),
        "num_records": str(len(c.records)),
    }
    metadata["sha256"] = _digest(tensors, metadata)
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def checkpoint_epoch(path: Path) -> int:
    """The epoch in a checkpoint's header, unverified (for the dry run)."""
    with safe_open(str(path), "pt") as f:
        return int(f.metadata()["epoch"])


def load_checkpoint(path: Path, expected_config: Mapping[str, Any] | None = None) -> Checkpoint:
    """Read and verify a checkpoint (against ``expected_config``, the loading run's document):
    :class:`CheckpointCorruptError`, :class:`CheckpointFormatError` (an older format) or
    :class:`CheckpointMismatchError` (another run's, the differences named)."""
    path = Path(path)
    hint = f"delete {path} to restart the run from scratch, or restore the file"
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
        # Fresh (aligned) copies of the file's tensors: MKL's float32 products round differently
        # with the operands' alignment, and a resumed run or a loaded policy computes bit for bit
        # as the process that wrote the file did.
        tensors = {
            k: v.clone(memory_format=torch.contiguous_format)
            for k, v in load_file(str(path)).items()
        }
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointCorruptError(
            f"checkpoint {path} is corrupt or unreadable ({type(exc).__name__}: {exc}); {hint}"
        ) from exc
    found = meta.get("format")
    if found in OLDER_FORMATS:
        raise CheckpointFormatError(
            f"checkpoint {path} is of an older format ({found!r}; this version reads "
            f"{CHECKPOINT_FORMAT!r}; {OLDER_FORMATS[found]}): it is not resumed. Delete the run "
            "folder to train the run again, or finish it with the edp_ref version that wrote it"
        )
    if found != CHECKPOINT_FORMAT:
        raise CheckpointCorruptError(
            f"checkpoint {path} is not an edp_ref runner checkpoint (format "
            f"{found!r}, expected {CHECKPOINT_FORMAT!r}); {hint}"
        )
    if "sha256" not in meta or _digest(tensors, meta) != meta["sha256"]:
        raise CheckpointCorruptError(
            f"checkpoint {path} is corrupt: the SHA-256 of its tensors and metadata "
            "(configuration, epoch, step, evaluation log) does not match the one recorded when "
            f"it was written, so the file was damaged or edited; {hint}"
        )
    try:
        config, environment = json.loads(meta["config"]), json.loads(meta["environment"])
        widths, records = json.loads(meta["widths"]), json.loads(meta["records"])
        epoch, step, num_records = int(meta["epoch"]), int(meta["step"]), int(meta["num_records"])
        state_dim, action_dim = int(widths["state"]), int(widths["action"])
        train_seconds = float(meta["train_seconds"])
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointCorruptError(
            f"checkpoint {path} has damaged metadata ({type(exc).__name__}: {exc}); {hint}"
        ) from exc
    if not isinstance(config, dict) or not isinstance(environment, dict):
        raise CheckpointCorruptError(f"checkpoint {path}: its configuration is damaged; {hint}")
    if not isinstance(records, list) or len(records) != num_records:
        raise CheckpointCorruptError(f"checkpoint {path}: its evaluation log is damaged; {hint}")
    if expected_config is not None and identity(config) != identity(expected_config):
        raise CheckpointMismatchError(
            f"checkpoint {path} belongs to a run with a different configuration ("
            + "; ".join(
                config_diff(identity(config), identity(expected_config), ("checkpoint", "this run"))
            )
            + "); use another output folder, or delete the run folder to start over"
        )
    groups: dict[str, dict[str, Tensor]] = {"state": {}, "rng": {}, "data": {}}
    for key, value in tensors.items():
        prefix, _, name = key.partition("/")
        if prefix not in groups:
            raise CheckpointCorruptError(f"checkpoint {path}: unexpected tensor {key!r}; {hint}")
        groups[prefix][name] = value
    bad = nonfinite_tensors(groups["state"])
    if bad:
        raise CheckpointCorruptError(
            f"checkpoint {path} holds a diverged state (NaN or inf in {', '.join(bad)}), which "
            f"cannot be resumed or evaluated; {hint}"
        )
    return Checkpoint(
        groups["state"],
        groups["rng"],
        config,
        epoch,
        step,
        records,
        state_dim,
        action_dim,
        train_seconds,
        groups["data"],
        environment,
    )


# ------------------------------------------------------------------------------------------
# The evaluation logs
# ------------------------------------------------------------------------------------------


def sealed_records(
    checkpoint: Checkpoint, path: Path, spec: RunSpec, remedy: str
) -> list[EvaluationRecord]:
    """The evaluation records of ``checkpoint`` (read from ``path``), checked against the protocol
    (Sec. 5): evaluation i at epoch ``spec.evaluation_schedule[i]``, its step, episodes and score,
    RAT and OMS recomputed. :class:`CheckpointCorruptError` naming the first fault and ``remedy``
    (what to do, which differs between resuming and a finished run) otherwise."""

    def corrupt(what: str) -> CheckpointCorruptError:
        return CheckpointCorruptError(f"checkpoint {path}: {what}; {remedy}")

    records = []
    for i, item in enumerate(checkpoint.records):
        try:
            records.append(EvaluationRecord.from_json(item))
        except (TypeError, ValueError) as exc:
            raise corrupt(f"evaluation {i}: {exc}") from exc
    epochs = spec.evaluation_schedule
    if len(records) > len(epochs):
        raise corrupt(f"{len(records)} evaluations, but the run evaluates {len(epochs)} times")
    scores = [r.score for r in records]
    rat = running_average_at_training(scores, epochs[: len(records)])
    oms = online_model_selection(scores)
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
                raise corrupt(
                    f"its evaluation log breaks the protocol (evaluation {i} has {name} "
                    f"{getattr(r, name)!r}, expected {value!r})"
                )
    return records


def _first_difference(a: Sequence[object], b: Sequence[object]) -> int:
    """The first index at which ``a`` and ``b`` differ."""
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


def _jsonl(records: Sequence[EvaluationRecord]) -> str:
    return "".join(json.dumps(r.to_json()) + "\n" for r in records)


def _csv(records: Sequence[EvaluationRecord]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(EvaluationRecord.csv_columns())
    for r in records:
        writer.writerow(r.csv_row())
    return buf.getvalue()


def write_logs(run_dir: Path, records: Sequence[EvaluationRecord]) -> None:
    """Rewrite ``evaluations.jsonl`` and ``evaluations.csv`` atomically from ``records``."""
    atomic_write_text(run_dir / _LOGS[0], _jsonl(records))
    atomic_write_text(run_dir / _LOGS[1], _csv(records))


def check_logs(run_dir: Path, records: Sequence[EvaluationRecord], *, finished: bool) -> bool:
    """Check the logs present against the checkpoint's ``records``; return whether both exist.
    Logs one evaluation behind (killed between checkpoint and logs) pass unless ``finished``;
    anything else is a :class:`RunFolderError` naming the file."""
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
            first = _first_difference(lines, want)
            raise RunFolderError(
                f"{path} disagrees with the evaluation log sealed in {run_dir / CHECKPOINT_FILE} "
                f"({len(lines)} lines vs {len(want)} expected; first difference at line "
                f"{first + 1}): it was damaged or edited; {remedy}"
            )
    return both


# ------------------------------------------------------------------------------------------
# The result of a finished run
# ------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    """A finished (or reused) run. ``phases``: where the finishing process's wall time went
    (seconds by phase; empty for a reused run, not in ``result.json``)."""

    spec: RunSpec
    run_dir: Path
    records: list[EvaluationRecord]
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def final_stretch(self) -> list[EvaluationRecord]:
        """The evaluations the run's RAT averages (:func:`final_stretch_mean`)."""
        trained = [r for r in self.records if r.epoch > 0] or self.records[-1:]
        return trained[-RAT_WINDOW:]

    @property
    def final_stretch_updates(self) -> tuple[int, int]:
        """The updates the final stretch covers: from one evaluation interval before its first
        evaluation to the end of training (the paper: 1,900,000 to 2,000,000, the final 5 %)."""
        spacing = self.spec.final_eval_every or self.spec.eval_every
        first = self.final_stretch[0].epoch
        start = max(0, first - spacing) if first > 0 else 0
        return start * self.spec.iterations_per_epoch, self.spec.total_steps

    @property
    def final_rat(self) -> float:
        """RAT (Sec. 5): the mean score over the final stretch of training."""
        return final_stretch_mean([r.score for r in self.records], [r.epoch for r in self.records])

    @property
    def final_oms(self) -> float:
        return self.records[-1].oms

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": self.spec.to_json(),
            "final_rat": self.final_rat,
            "final_oms": self.final_oms,
            "num_evaluations": len(self.records),
            "data": self.data,
            "seconds": self.seconds,
            "records": [r.to_json() for r in self.records],
        }

    @classmethod
    def from_json(cls, data: object, run_dir: Path) -> RunResult:
        """Inverse of :meth:`to_json`; errors name what is wrong (the redundant fields too)."""
        if not isinstance(data, dict):
            raise TypeError(f"expected a JSON object, got {type(data).__name__}")
        missing = sorted({"spec", "records", "data", "seconds"} - set(data))
        if missing:
            raise ValueError(f"missing field(s) {missing}")
        records = data["records"]
        if not isinstance(records, list) or not records:
            raise ValueError("'records' must be a non-empty list of evaluation records")
        if not isinstance(data["data"], dict):
            raise TypeError(f"'data' must be an object, got {type(data['data']).__name__}")
        check_real("'seconds'", data["seconds"], 0.0)
        result = cls(
            RunSpec.from_json(data["spec"]),
            Path(run_dir),
            [EvaluationRecord.from_json(r) for r in records],
            data["data"],
            float(data["seconds"]),
        )
        stored = {k: data.get(k) for k in ("final_rat", "final_oms", "num_evaluations")}
        expected = {k: result.to_json()[k] for k in stored}
        if stored != expected:
            raise ValueError(f"{stored} disagree with its records, which give {expected}")
        return result


def write_result(result: RunResult) -> None:
    """Write ``result.json`` atomically (the last file a run writes)."""
    atomic_write_text(result.run_dir / RESULT_FILE, json.dumps(result.to_json(), indent=2))


def load_finished_run(
    spec: RunSpec, run_dir: Path, document: Mapping[str, Any] | None = None
) -> RunResult:
    """Read a finished run's ``result.json`` and check it against the checkpoint (configuration,
    last epoch, records; logs rewritten when deleted). ``document``: the run's configuration
    (None: ``config.json``'s). Raises :class:`RunMismatchError`, :class:`RunFolderError` or
    :class:`CheckpointError` naming the file."""
    path = run_dir / RESULT_FILE
    remedy = "the next start of the run rewrites it from the checkpoint without training again"
    try:
        result = RunResult.from_json(read_json_file(path, f"delete it: {remedy}"), run_dir)
    except (TypeError, ValueError) as exc:
        raise RunFolderError(f"{path} is damaged: {exc}; delete it: {remedy}") from exc
    if result.spec != spec:
        raise RunMismatchError(f"{path} belongs to another configuration than the one asked for")
    ckpt_path = run_dir / CHECKPOINT_FILE
    if not ckpt_path.exists():
        raise RunFolderError(
            f"{path} cannot be checked: {ckpt_path} is missing; restore the checkpoint, or delete "
            f"the run folder {run_dir} to train the run again"
        )
    ckpt = load_checkpoint(ckpt_path, document or read_configuration_document(run_dir))
    sealed = sealed_records(
        ckpt, ckpt_path, spec, f"delete the run folder {run_dir} to train the run again"
    )
    if ckpt.step != spec.total_steps or len(sealed) != len(spec.evaluation_schedule):
        raise RunFolderError(
            f"{path} says the run is complete, but its checkpoint is at epoch {ckpt.epoch} of "
            f"{spec.epochs} with {len(sealed)} evaluations; delete result.json to resume the "
            "run from its checkpoint"
        )
    stored, expected = [r.to_json() for r in result.records], [r.to_json() for r in sealed]
    if stored != expected:
        i = _first_difference(stored, expected)
        if i < min(len(stored), len(expected)):
            what = ", ".join(k for k in expected[i] if stored[i][k] != expected[i][k])
        else:
            what = f"{len(stored)} evaluations vs {len(expected)}"
        raise RunFolderError(
            f"{path} disagrees with the evaluation log sealed in {ckpt_path} (evaluation {i}: "
            f"{what}): it was damaged or edited; delete result.json: {remedy}"
        )
    if not check_logs(run_dir, sealed, finished=True):
        write_logs(run_dir, sealed)
    return result


# ------------------------------------------------------------------------------------------
# Extending a run
# ------------------------------------------------------------------------------------------


def _extension_problem(old: Mapping[str, Any], new: Mapping[str, Any]) -> str | None:
    """Why the run of ``old`` cannot go on as the run of ``new`` (None: it can)."""
    if identity(old) == identity(new):
        return None
    before, after = RunSpec.from_json(old["run"]), RunSpec.from_json(new["run"])
    if after.epochs < before.epochs:
        return f"a run is extended, never shortened ({before.epochs} epochs asked {after.epochs})"
    changes = [d for d in config_diff(identity(old), identity(new)) if "run.epochs:" not in d]
    if changes:  # algorithm.config.compile: RunSpec.compile 'auto' decides by the updates
        return "more than the epochs would change (" + "; ".join(changes) + ")"
    shared = [e for e in after.evaluation_schedule if e <= before.epochs]
    extra = sorted(set(before.evaluation_schedule) - set(shared))
    if extra:
        return (
            f"the run evaluated at epochs {extra}, which a {after.epochs}-epoch run does not "
            "(its last epoch or its denser final stretch), so the extension would not be that "
            "run"
        )
    return None


def extend_run_folder(run_dir: Path, document: Mapping[str, Any]) -> None:
    """Make the run in ``run_dir`` the run of ``document``, which has more epochs and no other
    change, so that training on is bit-identical to asking for them from the start (each step
    atomic; :class:`RunMismatchError` otherwise)."""
    stored = read_configuration_document(run_dir)
    ckpt_path = run_dir / CHECKPOINT_FILE
    ckpt = load_checkpoint(ckpt_path) if ckpt_path.exists() else None
    for old in (stored, *([ckpt.config] if ckpt else [])):
        problem = _extension_problem(old, document)
        if problem is not None:
            raise RunMismatchError(
                f"{run_dir} cannot be extended to the configuration asked for: {problem}; "
                "train the longer run in a new folder"
            )
    if ckpt is not None and identity(ckpt.config) != identity(document):
        (run_dir / RESULT_FILE).unlink(missing_ok=True)
        sealed = {**identity(document), **_data_part(ckpt.config)}
        save_checkpoint(ckpt_path, dataclasses.replace(ckpt, config=sealed))
    if identity(stored) != identity(document):
        (run_dir / RESULT_FILE).unlink(missing_ok=True)
        renewed = {**identity(document), **_data_part(stored)}
        atomic_write_text(run_dir / CONFIG_FILE, json.dumps(renewed, indent=2, sort_keys=True))
