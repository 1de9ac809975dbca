"""Atomic, code-free checkpoints of a training run (resumable Sec. 5 training protocol).

A checkpoint is one safetensors file (it loads without executing code) holding

* ``state/<key>``: every tensor of the :class:`~edp_ref.algorithms.TrainState`
  (``state_tensors``: parameters, targets, EMA policy, Adam moments, step counter);
* ``rng/<name>``: the state of every ``torch.Generator`` of the run (batch indices, update
  randomness) and of torch's global generator, as uint8 tensors;
* ``data/<name>``: what acting needs from the training data (the observation normalizer's mean
  and std, the environment's action bounds when actions were rescaled), so that
  :func:`edp_ref.load_policy` needs no dataset;

and, as string metadata, the format tag, the run's configuration (JSON), the epoch and step it
was written at (a wall-clock checkpoint lies inside an epoch), the training seconds since the
last evaluation, the observation and action widths, the evaluation environment's id and score
references, the evaluation records logged so far (the
log position), and one SHA-256 that seals the tensors and all of that metadata together: an
edited evaluation log (scores, RAT, OMS), a dropped evaluation or a changed epoch fails the
checksum like a flipped tensor byte. It
is written to a temporary file in the same folder, flushed to disk and renamed over the old one
(:mod:`edp_ref.atomic_files`), so a process killed at any moment leaves either the previous or
the new checkpoint, never a partial one.

Loading checks, in this order, and raises an error that names the file and the problem:
unreadable or truncated file (:class:`CheckpointCorruptError`), a checkpoint of an older format
whose checksum does not cover its metadata (:class:`CheckpointFormatError`), a foreign format
tag or a failed checksum (:class:`CheckpointCorruptError`), a different run configuration
(:class:`CheckpointMismatchError`). A run never silently restarts over a bad checkpoint.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from edp_ref.atomic_files import atomic_write
from edp_ref.runner.config_json import config_diff

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointCorruptError",
    "CheckpointError",
    "CheckpointFormatError",
    "CheckpointMismatchError",
    "LoadedCheckpoint",
    "load_checkpoint",
    "save_checkpoint",
]

#: Format tag stored in every checkpoint's metadata. Format 2: the checksum covers the metadata.
#: Format 3: positions inside an epoch (wall-clock checkpoints), the widths and ``data/``
#: tensors that loading a policy needs, the resolved configuration document.
CHECKPOINT_FORMAT = "edp_ref.runner.checkpoint/3"
#: Earlier formats, recognised to say so, with what this version would miss in them.
OLDER_FORMATS: dict[str, str] = {
    "edp_ref.runner.checkpoint/1": "its checksum covers the tensors only, not the evaluation "
    "log and the configuration",
    "edp_ref.runner.checkpoint/2": "it lacks the training position inside an epoch, the "
    "widths and the data transforms a policy needs, and the resolved algorithm config",
}


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used to resume a run."""


class CheckpointCorruptError(CheckpointError):
    """The file is unreadable, truncated, not a runner checkpoint, or fails its checksum."""


class CheckpointFormatError(CheckpointError):
    """The file is a runner checkpoint of an older format, which this version does not read."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint belongs to a run with another configuration or state layout."""


def _digest(tensors: Mapping[str, Tensor], metadata: Mapping[str, str]) -> str:
    """SHA-256 over every tensor (name, dtype, shape, bytes) and every metadata entry but the
    digest itself (as one canonical JSON object)."""
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].detach().cpu().contiguous()
        h.update(key.encode("utf-8"))
        h.update(str(t.dtype).encode("utf-8"))
        h.update(str(tuple(t.shape)).encode("utf-8"))
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    sealed = {k: v for k, v in metadata.items() if k != "sha256"}
    h.update(b"metadata")
    h.update(json.dumps(sealed, sort_keys=True).encode("utf-8"))
    return h.hexdigest()


@dataclass(frozen=True)
class LoadedCheckpoint:
    """What :func:`load_checkpoint` returns.

    Attributes:
        state: the flat state tensors (keys of ``state_tensors``).
        rng: generator states by name.
        config: the run configuration stored at save time.
        epoch: whole epochs trained when it was written.
        step: updates trained when it was written (``epoch * iterations_per_epoch`` plus the
            updates of an unfinished epoch).
        records: the evaluation records (JSON dicts) logged up to this checkpoint.
        train_seconds: training wall time since the last evaluation.
        state_dim, action_dim: the widths of the networks' observations and actions.
        data: the ``data/`` tensors (observation normalizer, action bounds).
        environment: the evaluation environment's id and the score references (JSON).
    """

    state: dict[str, Tensor]
    rng: dict[str, Tensor]
    config: dict[str, Any]
    epoch: int
    step: int
    records: list[dict[str, Any]]
    train_seconds: float
    state_dim: int
    action_dim: int
    data: dict[str, Tensor]
    environment: dict[str, Any]


def save_checkpoint(
    path: Path,
    *,
    state: Mapping[str, Tensor],
    rng: Mapping[str, Tensor],
    config: Mapping[str, Any],
    epoch: int,
    step: int,
    records: list[dict[str, Any]],
    state_dim: int,
    action_dim: int,
    train_seconds: float = 0.0,
    data: Mapping[str, Tensor] | None = None,
    environment: Mapping[str, Any] | None = None,
) -> None:
    """Write a checkpoint atomically (temporary file, fsync, rename)."""
    tensors: dict[str, Tensor] = {}
    for prefix, group in (("state", state), ("rng", rng), ("data", data or {})):
        for key, t in group.items():
            tensors[f"{prefix}/{key}"] = t.detach().cpu().contiguous().clone()
    metadata = {
        "format": CHECKPOINT_FORMAT,
        "config": json.dumps(dict(config), sort_keys=True),
        "epoch": str(int(epoch)),
        "step": str(int(step)),
        "train_seconds": repr(float(train_seconds)),
        "widths": json.dumps({"state": int(state_dim), "action": int(action_dim)}),
        "environment": json.dumps(dict(environment or {}), sort_keys=True),
        "records": json.dumps(records),
        "num_records": str(len(records)),
    }
    metadata["sha256"] = _digest(tensors, metadata)
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def _read_metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    return dict(meta or {})


def load_checkpoint(
    path: Path, expected_config: Mapping[str, Any] | None = None
) -> LoadedCheckpoint:
    """Read and verify a checkpoint.

    Args:
        path: the checkpoint file.
        expected_config: the configuration of the run that resumes; any difference raises
            :class:`CheckpointMismatchError` naming the fields.

    Raises:
        CheckpointCorruptError: unreadable, truncated, foreign or checksum-failing file.
        CheckpointFormatError: a checkpoint of an older format.
        CheckpointMismatchError: another run's checkpoint.
    """
    path = Path(path)
    hint = f"delete {path} to restart the run from scratch, or restore the file"
    try:
        meta = _read_metadata(path)
        tensors = load_file(str(path))
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
        config = json.loads(meta["config"])
        epoch, step = int(meta["epoch"]), int(meta["step"])
        train_seconds = float(meta["train_seconds"])
        widths = json.loads(meta["widths"])
        state_dim, action_dim = int(widths["state"]), int(widths["action"])
        environment = json.loads(meta["environment"])
        records = json.loads(meta["records"])
        num_records = int(meta["num_records"])
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointCorruptError(
            f"checkpoint {path} has damaged metadata ({type(exc).__name__}: {exc}); {hint}"
        ) from exc
    if not isinstance(config, dict) or not isinstance(environment, dict):
        raise CheckpointCorruptError(f"checkpoint {path}: its configuration is damaged; {hint}")
    if not isinstance(records, list) or len(records) != num_records:
        raise CheckpointCorruptError(f"checkpoint {path}: its evaluation log is damaged; {hint}")
    if expected_config is not None:
        expected = json.loads(json.dumps(dict(expected_config), sort_keys=True))
        if config != expected:
            diffs = config_diff(config, expected, ("checkpoint", "this run"))
            raise CheckpointMismatchError(
                f"checkpoint {path} belongs to a run with a different configuration ("
                + "; ".join(diffs)
                + "); use another output folder, or delete the run folder to start over"
            )
    groups: dict[str, dict[str, Tensor]] = {"state": {}, "rng": {}, "data": {}}
    for key, value in tensors.items():
        prefix, _, name = key.partition("/")
        if prefix not in groups:
            raise CheckpointCorruptError(f"checkpoint {path}: unexpected tensor {key!r}; {hint}")
        groups[prefix][name] = value
    return LoadedCheckpoint(
        groups["state"],
        groups["rng"],
        config,
        epoch,
        step,
        records,
        train_seconds,
        state_dim,
        action_dim,
        groups["data"],
        environment,
    )
