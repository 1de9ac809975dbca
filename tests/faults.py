"""Faults injected for real in the tests, and waits that do not race the clock.

* :func:`failing_disk`: the n-th write of a file fails as on a full (ENOSPC) or failing (EIO)
  disk: the flush to disk (``os.fsync``) of its temporary file raises, after its bytes were
  written, which is where a disk with delayed allocation reports a full disk. What the file held
  just before is recorded, so a test can show that it is intact afterwards.
* :func:`untimed`: a run's JSON without its wall times, to compare two runs of one run.
* :func:`wait_for`: poll for an event (a file, a log line, a process state) with a generous limit
  scaled by the machine's measured speed (:func:`slowdown`, measured when the wait starts and
  again when the limit is reached), never a fixed wall-clock deadline that load can exceed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

#: Seconds the work of :func:`slowdown` takes on the development machine at a quiet moment (the
#: least of several measurements, 0.09 s, rounded down: a low reference only lengthens limits).
REFERENCE_SECONDS = 0.08


def slowdown() -> float:
    """How many times slower than :data:`REFERENCE_SECONDS` a fixed piece of Python and torch
    work runs in this process now (at least 1), on one thread (torch's several threads spin
    against each other on a busy machine, which says nothing of the processes waited for)."""
    threads, start = torch.get_num_threads(), time.perf_counter()
    torch.set_num_threads(1)
    try:
        x = torch.full((96, 96), 0.5)
        for _ in range(600):
            x = torch.tanh(x @ x * 1e-2)
        sum(i * i for i in range(1_000_000))
    finally:
        torch.set_num_threads(threads)
    return max(1.0, (time.perf_counter() - start) / REFERENCE_SECONDS)


def wait_for(
    condition: Callable[[], bool],
    what: str,
    seconds: float,
    check: Callable[[], None] = lambda: None,
) -> None:
    """Poll ``condition`` until it holds. ``seconds`` is a generous limit on an idle machine; it
    is scaled by :func:`slowdown`, measured now and again whenever the limit is reached (a wait
    only fails if the machine did not get slower meanwhile). ``check`` runs at every poll (an
    assertion that the producer still runs)."""
    factor, start = slowdown(), time.monotonic()
    while not condition():
        check()
        if time.monotonic() - start > seconds * factor:
            now = slowdown()
            if now <= factor:
                raise AssertionError(
                    f"waited {time.monotonic() - start:.0f} s for {what}: longer than {seconds} s "
                    f"scaled by the machine's measured slowdown {factor:.1f}"
                )
            factor = now
        time.sleep(0.01)


@dataclass
class FailedWrite:
    """The write :func:`failing_disk` failed: its target and what the target held before (its
    bytes, or the bytes of each file of a folder; None: it did not exist)."""

    target: Path | None = None
    before: bytes | dict[str, bytes] | None = None
    writes: int = 0


def snapshot(path: Path) -> bytes | dict[str, bytes] | None:
    """A file's bytes, a folder's files' bytes by relative path, or None when absent."""
    if path.is_dir():
        return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}
    return path.read_bytes() if path.exists() else None


@contextlib.contextmanager
def failing_disk(name: str, nth: int = 1, code: int = errno.ENOSPC) -> Iterator[FailedWrite]:
    """Inside the block, the ``nth`` write of a file called ``name`` (or the first write of a
    folder called so) by :mod:`edp_ref.atomic_files` fails with ``OSError(code)`` at the flush
    of its temporary (of a folder's first file)."""
    temporary = re.compile(rf"^(.*)/\.{re.escape(name)}\.tmp-\d+(/.*)?$")
    failed, real = FailedWrite(), os.fsync

    def fsync(fd: int) -> None:
        match = temporary.match(os.readlink(f"/proc/self/fd/{fd}"))
        if match and failed.target is None:
            failed.writes += 1
            if failed.writes == nth or match.group(2):
                failed.target = Path(match.group(1)) / name
                failed.before = snapshot(failed.target)
                raise OSError(code, os.strerror(code))
        real(fd)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", fsync)
        yield failed
    assert failed.target is not None, f"{failed.writes} write(s) of {name}; write {nth} was to fail"


#: The fields of a run's files that are wall times: the only ones two runs of a run differ in.
TIMINGS = ("seconds", "eval_seconds", "train_seconds")


def untimed(value: Any) -> Any:
    """A run's JSON (``result.json``, an evaluation record) without its wall times."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def temporaries(folder: Path) -> list[Path]:
    """The temporary files and folders of :mod:`edp_ref.atomic_files` left below ``folder``."""
    return [p for p in folder.rglob("*") if re.match(r"^\..+\.tmp-\d+$", p.name)]
