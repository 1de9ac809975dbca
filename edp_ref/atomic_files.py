"""Crash-safe file writes: every file edp_ref writes for later reuse goes through here.

A write goes to a temporary file in the same folder (``.<name>.tmp-<pid>``), is flushed to disk
and renamed over the target, then the folder entry is flushed too, so a process killed at any
moment leaves either the previous file or the new one. A write that fails (any ``OSError``: a
full disk, an I/O error) removes its temporary file and raises :class:`WriteError`, naming the
file, the cause and the free space; the previous file is as it was. A kill between the write and
the rename leaves the temporary behind: :func:`remove_stale_temporaries` deletes those of
processes that no longer run (folders call it when they are opened).

:func:`atomic_write_many` writes several files all or none (a golden kit: its archives and its
manifest); :func:`atomic_write_folder` writes a whole folder (a Minari dataset) the same way.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = [
    "WriteError",
    "atomic_write",
    "atomic_write_folder",
    "atomic_write_many",
    "atomic_write_text",
    "remove_stale_temporaries",
    "temporary_path",
]

_TEMPORARY = re.compile(r"^\..+\.tmp-(\d+)$")


class WriteError(OSError):
    """A file could not be written (disk full, I/O error); ``errno`` is the cause's."""


def temporary_path(path: Path) -> Path:
    """The temporary file a write of ``path`` goes through: ``.<name>.tmp-<pid>`` beside it."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _free_space(path: Path) -> str:
    """``"1.2 GB free"`` on the file system holding ``path`` (its nearest existing folder)."""
    folder = path
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = float(shutil.disk_usage(folder).free)
    except OSError:
        return "free space unknown"
    for unit in ("B", "KB", "MB", "GB"):
        if free < 1000 or unit == "GB":
            return f"{free:.1f} {unit} free" if unit != "B" else f"{free:.0f} B free"
        free /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def _write_error(path: Path, exc: OSError, existed: bool) -> WriteError:
    kept = f"the previous {path.name} is intact" if existed else f"no {path.name} was written"
    error = WriteError(
        f"cannot write {path}: {exc.strerror or exc} ({_free_space(path.parent)} on the disk "
        f"that holds {path.parent}); {kept}; free space or fix the disk, then run again"
    )
    error.errno = exc.errno
    return error


def _fsync(path: Path) -> None:
    """Flush a file, or every file of a folder and the folder entries, to disk."""
    if path.is_dir():
        for entry in path.iterdir():
            _fsync(entry)
        fd = os.open(path, os.O_RDONLY)
    else:
        fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def atomic_write(path: Path | str, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` (a writer that takes a file name, ``torch.save``) to produce the file
    at a temporary path, then move it to ``path``."""
    atomic_write_many({Path(path): write})


def atomic_write_text(path: Path | str, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_many({Path(path): text.encode("utf-8")})


def atomic_write_many(files: Mapping[Path, Callable[[Path], object] | bytes]) -> None:
    """Write several files (a writer ``write(tmp)`` or the bytes of each), all or none: every
    temporary is written and flushed before the first rename, then they are renamed in order
    (put the file that indexes the others last). :class:`WriteError` as :func:`atomic_write`."""
    temporaries = {Path(path): temporary_path(Path(path)) for path in files}
    current = next(iter(temporaries))
    try:
        for current, tmp in temporaries.items():
            content = files[current]
            if isinstance(content, bytes):
                tmp.write_bytes(content)
            else:
                content(tmp)
            _fsync(tmp)
        for current, tmp in temporaries.items():
            os.replace(tmp, current)
    except OSError as exc:
        existed = current.exists()
        for tmp in temporaries.values():
            _remove(tmp)
        raise _write_error(current, exc, existed) from exc
    except BaseException:
        for tmp in temporaries.values():
            _remove(tmp)
        raise
    for folder in {path.parent for path in temporaries}:
        _fsync_dir(folder)


def atomic_write_folder(path: Path | str, write: Callable[[Path], Path]) -> None:
    """Write a whole folder: ``write(tmp)`` fills the new folder under the empty temporary folder
    ``tmp`` and returns it (``tmp`` itself or a folder below it); it is flushed and moved to
    ``path``, replacing the folder there. A failure leaves ``path`` as it was (:class:`WriteError`
    for an ``OSError``). An existing ``path`` is moved aside before the new folder is moved in and
    deleted after: a kill between those two renames leaves ``path`` missing."""
    path = Path(path)
    tmp, old = temporary_path(path), path.with_name(f".{path.name}.old.tmp-{os.getpid()}")
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove(tmp)
    tmp.mkdir()
    try:
        made = write(tmp)
        _fsync(made)
        if path.exists():
            os.replace(path, old)
        os.replace(made, path)
    except OSError as exc:
        if old.exists() and not path.exists():
            os.replace(old, path)
        _remove(tmp)
        raise _write_error(path, exc, path.exists()) from exc
    except BaseException:
        _remove(tmp)
        raise
    _remove(tmp)
    _remove(old)
    _fsync_dir(path.parent)


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
    """Delete (and return) the temporaries ``.<name>.tmp-<pid>`` in ``folder`` whose process no
    longer runs."""
    removed: list[Path] = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        match = _TEMPORARY.match(entry.name)
        if match and not _alive(int(match.group(1))):
            _remove(entry)
            removed.append(entry)
    return removed
