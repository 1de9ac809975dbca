"""The kit's archive format: one ``.npz`` file per case, written byte-for-byte deterministically
and read back without pickles.

An archive is an uncompressed zip of ``.npy`` members named ``inputs/<name>.npy`` and
``outputs/<name>.npy``, in sorted order, each stamped 1980-01-01 00:00:00 with mode 0644. It is
an ordinary ``.npz`` (``numpy.load(path, allow_pickle=False)`` reads it), but it is not written
with ``numpy.savez``, which stamps the current time into the zip and so never gives the same
bytes twice. Reading goes through :mod:`zipfile` and ``numpy.lib.format.read_array`` rather than
``numpy.load``, because ``numpy.load`` also accepts a bare ``.npy`` file and collapses two members
of one name into one without a word; both are errors here.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray
from torch import Tensor

__all__ = [
    "ArchiveError",
    "archive_bytes",
    "read_archive",
    "sha256_hex",
    "to_numpy",
]

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_MEMBER_SUFFIX = ".npy"


class ArchiveError(ValueError):
    """An archive that is not a readable ``.npz`` of plain arrays (the message names the file)."""


def to_numpy(x: Tensor) -> NDArray[Any]:
    """A tensor as a C-contiguous NumPy array on the host."""
    return x.detach().cpu().contiguous().numpy()


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` as 64 lowercase hex digits (the manifest's ``sha256``)."""
    return hashlib.sha256(data).hexdigest()


def archive_bytes(arrays: Mapping[str, NDArray[Any]]) -> bytes:
    """The archive of ``arrays`` (member ``<name>.npy`` per array), deterministic to the byte."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            member = io.BytesIO()
            # np.require keeps 0-d arrays 0-d (np.ascontiguousarray would make them 1-d)
            np.lib.format.write_array(
                member, np.require(arrays[name], requirements="C"), allow_pickle=False
            )
            info = zipfile.ZipInfo(f"{name}{_MEMBER_SUFFIX}", date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def read_archive(data: bytes, label: str) -> dict[str, NDArray[Any]]:
    """The arrays of an archive's bytes (already checked against the manifest's sha256), by
    member name without ``.npy``.

    Raises:
        ArchiveError: naming ``label`` (the file) when the bytes are not a zip, a member is not a
            ``.npy`` array (or needs pickles), a member name repeats, or a member fails its CRC.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ArchiveError(f"{label}: the archive holds members {repeated} twice")
            arrays: dict[str, NDArray[Any]] = {}
            for member in names:
                if not member.endswith(_MEMBER_SUFFIX):
                    raise ArchiveError(f"{label}: member {member!r} is not a .npy array")
                with archive.open(member) as stream:
                    arrays[member.removesuffix(_MEMBER_SUFFIX)] = np.lib.format.read_array(
                        stream, allow_pickle=False
                    )
            return arrays
    except ArchiveError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        raise ArchiveError(f"{label} is not a readable .npz archive: {exc}") from exc
