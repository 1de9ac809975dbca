"""The kit's ``manifest.json``: what it says about each case, how it is written, and how it is
read and validated before anything else is read.

Each entry names the case, its archive (``file``, relative to the kit's folder) and the
archive's ``sha256``, the function and the equation it checks, the non-tensor ``params``, the
names, shapes and dtypes of its ``inputs`` and ``outputs``, and ``rtol`` / ``atol``: edp_ref's
tolerances when the kit was made, for a port's information (``check`` uses the tolerances in
edp_ref's code).
"""

from __future__ import annotations

import importlib.metadata
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from numpy.typing import NDArray

from edp_ref.golden.case import SEED, GoldenCase

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "GoldenKitError",
    "ManifestEntry",
    "describe",
    "manifest_document",
    "manifest_entry",
    "manifest_text",
    "read_manifest",
]

#: The kit's format; fields added since (``algorithm``, ``title``, ``tolerances``,
#: ``integrity``) are informational and absent from older kits, which still check.
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"

CONVENTIONS = (
    "timesteps are 0-based (k in 0..K-1 is the paper's k+1); eps_fn(a, t) gets the "
    "model-time index as floats (DDPM: k; DPM-Solver: N t - 1); a case passes when "
    "|ours - golden| <= atol + rtol |golden| elementwise (integers: exactly equal)"
)
TOLERANCES = (
    "each case's rtol and atol are informational: edp_ref's tolerances for the case when this "
    "kit was made, for a port to use; `python -m edp_ref.golden check` compares with the "
    "tolerances in edp_ref's own code (edp_ref.golden.case.case_tolerances), never with the "
    "numbers written here"
)
INTEGRITY = (
    "`check` verifies every archive's sha256 before reading it (a file whose bytes differ is "
    "reported as modified), reads only files inside this folder, and reports a missing, extra or "
    "unlisted input or output array and a case it does not know by name"
)

#: The fields of every manifest entry: their Python types once parsed and the JSON type's name.
_STRING, _OBJECT, _NUMBER = ((str,), "string"), ((dict,), "object"), ((int, float), "number")
_ENTRY_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    **dict.fromkeys(("name", "file", "sha256", "function", "equation", "dtype"), _STRING),
    **dict.fromkeys(("params", "inputs", "outputs"), _OBJECT),
    **dict.fromkeys(("rtol", "atol"), _NUMBER),
    "notes": _STRING,
}
_SHA256 = re.compile(r"[0-9a-f]{64}")


class GoldenKitError(ValueError):
    """A kit that cannot be checked: its manifest is unreadable, malformed or unsafe."""


@dataclass(frozen=True)
class ManifestEntry:
    """One validated manifest entry: what ``check`` needs of it (``inputs`` / ``outputs``: name ->
    ``(shape, dtype)`` as the manifest describes them)."""

    name: str
    file: str
    path: Path
    sha256: str
    inputs: dict[str, tuple[tuple[int, ...], str]]
    outputs: dict[str, tuple[tuple[int, ...], str]]


def describe(arrays: Mapping[str, NDArray[Any]]) -> dict[str, Any]:
    """Name -> ``{"shape": [...], "dtype": "..."}``, sorted by name."""
    return {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in sorted(arrays.items())}


def manifest_entry(
    case: GoldenCase,
    file: str,
    sha256: str,
    inputs: Mapping[str, NDArray[Any]],
    outputs: Mapping[str, NDArray[Any]],
) -> dict[str, Any]:
    """The manifest entry of ``case`` exported to ``file`` with digest ``sha256``."""
    return {
        "name": case.name,
        "file": file,
        "sha256": sha256,
        "function": case.function,
        "equation": case.equation,
        "dtype": case.dtype,
        "params": dict(case.params),
        "inputs": describe(inputs),
        "outputs": describe(outputs),
        "rtol": case.rtol,
        "atol": case.atol,
        "notes": case.notes,
        **case.extra,
    }


def manifest_document(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole manifest: format, versions, conventions and the case entries."""
    return {
        "format_version": FORMAT_VERSION,
        "edp_ref_version": importlib.metadata.version("edp_ref"),
        "seed": SEED,
        "conventions": CONVENTIONS,
        "tolerances": TOLERANCES,
        "integrity": INTEGRITY,
        "cases": entries,
    }


def manifest_text(document: Mapping[str, Any]) -> str:
    """``manifest.json``'s text for ``document`` (sorted keys)."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _safe_path(directory: Path, file: str, where: str) -> Path:
    """``directory/file``, or :class:`GoldenKitError` when it would leave ``directory``."""
    posix, windows = PurePosixPath(file), PureWindowsPath(file)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or windows.root:
        raise GoldenKitError(
            f"{where}: file {file!r} is absolute; a case file must be relative to the kit's folder"
        )
    if ".." in posix.parts or ".." in windows.parts:
        raise GoldenKitError(
            f"{where}: file {file!r} contains '..'; check reads only inside the kit's folder"
        )
    root = directory.resolve()
    path = (root / file).resolve()
    if path == root or not path.is_relative_to(root):
        raise GoldenKitError(
            f"{where}: file {file!r} resolves to {path}, outside the kit's folder {root}"
        )
    return path


def _descriptions(value: dict[str, Any], where: str) -> dict[str, tuple[tuple[int, ...], str]]:
    out: dict[str, tuple[tuple[int, ...], str]] = {}
    for name, item in value.items():
        shape = item.get("shape") if isinstance(item, dict) else None
        dtype = item.get("dtype") if isinstance(item, dict) else None
        if not (
            isinstance(shape, list)
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
            and isinstance(dtype, str)
        ):
            raise GoldenKitError(
                f"{where}[{name!r}] is {item!r}; expected {{'shape': [sizes], 'dtype': name}}"
            )
        out[name] = (tuple(shape), dtype)
    return out


def _entry(directory: Path, raw: Any, index: int, manifest_path: Path) -> ManifestEntry:
    where = f"{manifest_path}: case #{index}"
    if not isinstance(raw, dict):
        raise GoldenKitError(f"{where} is a {type(raw).__name__}; expected an object")
    if isinstance(raw.get("name"), str):
        where = f"{manifest_path}: case #{index} ({raw['name']!r})"
    for field, (types, json_type) in _ENTRY_FIELDS.items():
        if field not in raw:
            raise GoldenKitError(f"{where} lacks the field {field!r}")
        value = raw[field]
        if not isinstance(value, types) or isinstance(value, bool):
            raise GoldenKitError(
                f"{where}: field {field!r} is {value!r}; expected a JSON {json_type}"
            )
    if not _SHA256.fullmatch(raw["sha256"]):
        raise GoldenKitError(
            f"{where}: field 'sha256' is {raw['sha256']!r}; expected 64 lowercase hex digits"
        )
    return ManifestEntry(
        name=raw["name"],
        file=raw["file"],
        path=_safe_path(directory, raw["file"], where),
        sha256=raw["sha256"],
        inputs=_descriptions(raw["inputs"], f"{where}: inputs"),
        outputs=_descriptions(raw["outputs"], f"{where}: outputs"),
    )


def read_manifest(directory: Path) -> list[ManifestEntry]:
    """The validated entries of ``directory/manifest.json``.

    Raises:
        GoldenKitError: naming the manifest (and the case and field) when it cannot be read, is
            not JSON, has another ``format_version``, lacks a field or has one of the wrong type,
            repeats a case name, or points a case file outside ``directory`` (an absolute
            ``file``, one with ``..``, or one that resolves elsewhere, through a symbolic link
            say).
    """
    path = directory / MANIFEST_NAME
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: JSONDecodeError, UnicodeDecodeError
        raise GoldenKitError(f"cannot read the golden manifest {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise GoldenKitError(
            f"{path}: the manifest is a JSON {type(document).__name__}, not an object"
        )
    for field in ("format_version", "cases"):
        if field not in document:
            raise GoldenKitError(f"{path}: the manifest lacks the field {field!r}")
    if document["format_version"] != FORMAT_VERSION:
        raise GoldenKitError(
            f"{path}: format_version {document['format_version']!r}, this edp_ref reads "
            f"{FORMAT_VERSION}"
        )
    if not isinstance(document["cases"], list):
        raise GoldenKitError(f"{path}: field 'cases' is not a list")
    entries = [_entry(directory, raw, i, path) for i, raw in enumerate(document["cases"])]
    names = [e.name for e in entries]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise GoldenKitError(f"{path}: cases {repeated} appear more than once")
    return entries
