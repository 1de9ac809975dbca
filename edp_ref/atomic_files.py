"""Crash-safe file writes: every file edp_ref writes for later reuse (checkpoints, run logs,
results, golden archives, dataset-generation state) goes through here.

A write goes to a temporary file in the same folder (``.<name>.tmp-<pid>``), is flushed to disk
and renamed over the target, then the folder entry is flushed too, so a process killed at any
moment leaves either the previous file or the new one, never a partial one. A kill between the
write and the rename leaves the temporary file behind: :func:`remove_stale_temporaries` deletes
those of processes that no longer run (a run folder calls it when it starts).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "remove_stale_temporaries",
    "temporary_path",
]

_TEMPORARY = re.compile(r"^\..+\.tmp-(\d+)$")


def temporary_path(path: Path) -> Path:
    """The temporary file a write of ``path`` goes through: ``.<name>.tmp-<pid>`` beside it."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path | str, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` to produce the file at a temporary path, then move it to ``path``.

    For writers that take a file name (``safetensors.torch.save_file``, ``torch.save``).
    """
    path = Path(path)
    tmp = temporary_path(path)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename)."""
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: Path | str, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another user's live process
        return True
    return True


def remove_stale_temporaries(folder: Path | str) -> list[Path]:
    """Delete the temporary files that killed writers left in ``folder``; return them.

    Only names of the form ``.<name>.tmp-<pid>`` whose process no longer runs are removed, so a
    writer still at work in another process keeps its file.
    """
    removed: list[Path] = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        match = _TEMPORARY.match(entry.name)
        if match and entry.is_file() and not _alive(int(match.group(1))):
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed
