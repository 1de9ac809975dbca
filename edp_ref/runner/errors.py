"""Errors of a run folder, and the one reader of its JSON files (Sec. 5's resumable runs).

A run folder (:mod:`edp_ref.runner.run_folder`) holds ``spec.json``, ``evaluations.jsonl``,
``evaluations.csv``, ``checkpoint.safetensors`` and, once complete, ``result.json``. The
checkpoint is the authority: its checksum seals the training state together with the evaluation
log (:mod:`edp_ref.runner.checkpoint`). Every other file is checked against it, and a file that
is damaged or disagrees raises :class:`RunFolderError` naming the file, the problem and what to
do, never a bare traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["RunFolderError", "RunMismatchError", "read_json_file"]


class RunFolderError(RuntimeError):
    """A file of a run folder is damaged, or disagrees with the run's checkpoint."""


class RunMismatchError(RunFolderError):
    """A run folder holds another configuration than the one asked for."""


def read_json_file(path: Path, remedy: str) -> Any:
    """The JSON document in ``path``; :class:`RunFolderError` naming the file, why it cannot be
    read and ``remedy`` (what to do) when it is unreadable or not JSON."""
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
