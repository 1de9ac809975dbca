"""Check a conformance kit against this edp_ref (``python -m edp_ref.golden check DIR``).

For every case of the manifest, in order: the archive's bytes are read from inside the kit's
folder and their sha256 compared with the manifest's (a differing file is reported as modified
and not used); the archive is parsed; its arrays are compared, by name, with the manifest's
description and with the inputs this edp_ref's case takes; the case is recomputed from the stored
inputs and every output is compared with edp_ref's own tolerances for the case
(:func:`~edp_ref.golden.case.case_tolerances`), never the manifest's. Each finding names the case
and the array (:data:`FindingKind` lists them: problems fail the check, notes, such as a case of
this edp_ref that an older kit lacks, do not). With a port's ``adapter``, the stored inputs go to
the port instead (:class:`PortCase`) and its outputs are judged by the same reader and
tolerances; a case or output it declines is a note.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import NDArray

from edp_ref.golden.archive import ArchiveError, read_archive, sha256_hex, to_numpy
from edp_ref.golden.case import GoldenCase
from edp_ref.golden.cases_updates import RENAMED_OUTPUTS
from edp_ref.golden.catalogue import golden_cases
from edp_ref.golden.manifest import ManifestEntry, read_manifest

__all__ = ["Adapter", "CheckReport", "Finding", "FindingKind", "PortCase", "check"]

FindingKind = Literal[
    # problems: they fail the check
    "mismatch",  # an output outside edp_ref's tolerance, or of another shape / dtype
    "modified",  # the archive's sha256 differs from the manifest's
    "unreadable",  # the archive is missing or not a readable .npz
    "missing_input",  # an input the manifest lists or the case takes is not in the archive
    "missing_output",  # an output the manifest lists is not in the archive
    "unexpected_input",  # an archive input the case does not take or the manifest does not list
    "unexpected_output",  # an archive output edp_ref does not compute or the manifest omits
    "unexpected_array",  # an archive member neither inputs/... nor outputs/...
    "wrong_input",  # an input of another shape or dtype than the case takes
    "manifest_disagrees",  # the manifest describes an array with another shape or dtype
    "compute_failed",  # edp_ref (or the port's adapter) raised on the stored inputs
    "unknown_case",  # a case this edp_ref does not have
    # notes: they do not
    "case_not_in_kit",  # a case of this edp_ref the kit lacks
    "output_not_in_kit",  # an output this edp_ref computes that the kit (and manifest) lack
    "unlisted_file",  # an .npz archive in the folder that no case names
    "not_implemented",  # a case, or an output, the port's adapter does not compute
]
_NOTE_KINDS = frozenset(
    {"case_not_in_kit", "output_not_in_kit", "unlisted_file", "not_implemented"}
)


@dataclass(frozen=True)
class PortCase:
    """What a port's adapter gets for one case: the manifest's description of it (name, e.g.
    ``corrupt_f32``, function, equation, dtype ``f64`` / ``f32``, non-tensor ``params``) and the
    stored inputs by name."""

    name: str
    function: str
    equation: str
    dtype: str
    params: Mapping[str, Any]
    inputs: Mapping[str, NDArray[Any]]


#: A port's computation of one case: its outputs by name, or None when the port does not
#: implement the case.
Adapter = Callable[[PortCase], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Finding:
    """One thing ``check`` found, naming the case and (``-`` for the whole case) the array."""

    case: str
    array: str
    kind: FindingKind
    detail: str
    max_abs_error: float | None = None

    @property
    def is_problem(self) -> bool:
        """Whether it fails the check (notes do not)."""
        return self.kind not in _NOTE_KINDS

    def line(self) -> str:
        """``KIND case [array]: detail`` (notes: ``NOTE ...``)."""
        label = self.kind.upper() if self.is_problem else f"NOTE {self.kind}"
        return f"{label} {self.case} [{self.array}]: {self.detail}"


@dataclass(frozen=True)
class CheckReport:
    """The outcome of :func:`check`: ``problems`` fail it, ``notes`` are for information."""

    directory: Path
    kit_cases: int
    problems: tuple[Finding, ...]
    notes: tuple[Finding, ...]

    @property
    def passed(self) -> bool:
        return not self.problems

    def failed_cases(self) -> list[str]:
        """The kit's cases with at least one problem, in the order found."""
        return list(dict.fromkeys(p.case for p in self.problems))

    def not_implemented(self) -> list[str]:
        """The kit's cases a port's adapter declined as a whole."""
        return [n.case for n in self.notes if n.kind == "not_implemented" and n.array == "-"]


def _shape_dtype(array: NDArray[Any]) -> tuple[tuple[int, ...], str]:
    return tuple(array.shape), str(array.dtype)


def _fmt(shape_dtype: tuple[tuple[int, ...], str]) -> str:
    return f"{shape_dtype[1]}{list(shape_dtype[0])}"


def _compare(
    case: GoldenCase, name: str, got: NDArray[Any], golden: NDArray[Any]
) -> Finding | None:
    """A mismatch of output ``name``, with edp_ref's tolerances for ``case``; None if it passes."""
    if _shape_dtype(got) != _shape_dtype(golden):
        detail = f"got {_fmt(_shape_dtype(got))}, golden {_fmt(_shape_dtype(golden))}"
        return Finding(case.name, name, "mismatch", detail, float("inf"))
    err = np.abs(got.astype(np.float64) - golden.astype(np.float64))
    if np.issubdtype(golden.dtype, np.integer):
        bound = np.zeros_like(err)
        rule = "integers must be equal"
    else:
        bound = case.atol + case.rtol * np.abs(golden.astype(np.float64))
        rule = f"edp_ref's tolerance atol={case.atol:g} + rtol={case.rtol:g} |golden|"
    outside = ~(err <= bound)  # NaN errors count as outside
    if not outside.any():
        return None
    nan = np.isnan(err)
    max_err = float("nan") if nan.all() else float(np.nanmax(err))
    detail = f"max abs error {max_err:.3e}, {int(outside.sum())} values outside {rule}"
    if nan.any():
        detail += f" ({int(nan.sum())} NaN in ours or the golden value)"
    return Finding(case.name, name, "mismatch", detail, max_err)


def _split(
    arrays: Mapping[str, NDArray[Any]], case: str
) -> tuple[dict[str, NDArray[Any]], dict[str, NDArray[Any]], list[Finding]]:
    """An archive's arrays as (inputs, outputs) by name, and its members that are neither."""
    inputs: dict[str, NDArray[Any]] = {}
    outputs: dict[str, NDArray[Any]] = {}
    findings = []
    for member, array in arrays.items():
        if member.startswith("inputs/"):
            inputs[member.removeprefix("inputs/")] = array
        elif member.startswith("outputs/"):
            outputs[member.removeprefix("outputs/")] = array
        else:
            detail = "the archive member is neither inputs/<name> nor outputs/<name>"
            findings.append(Finding(case, member, "unexpected_array", detail))
    return inputs, outputs, findings


def _check_inputs(
    entry: ManifestEntry, case: GoldenCase, stored: dict[str, NDArray[Any]]
) -> list[Finding]:
    """Stored inputs against the manifest's list and the inputs edp_ref's case takes."""
    findings = []
    for name in sorted((set(entry.inputs) | set(case.inputs)) - set(stored)):
        reasons = ["the manifest lists it"] if name in entry.inputs else []
        reasons += ["edp_ref's case takes it"] if name in case.inputs else []
        detail = f"the archive has no input {name!r} ({' and '.join(reasons)})"
        findings.append(Finding(case.name, name, "missing_input", detail))
    for name, array in sorted(stored.items()):
        if name not in case.inputs:
            detail = f"edp_ref's case {case.name} takes no input {name!r}"
            findings.append(Finding(case.name, name, "unexpected_input", detail))
            continue
        if name not in entry.inputs:
            detail = "the archive holds an input the manifest does not list"
            findings.append(Finding(case.name, name, "unexpected_input", detail))
        expected = _shape_dtype(to_numpy(case.inputs[name]))
        if _shape_dtype(array) != expected:
            detail = f"the archive's input is {_fmt(_shape_dtype(array))}; the case takes "
            detail += _fmt(expected)
            findings.append(Finding(case.name, name, "wrong_input", detail))
    return findings


def _check_descriptions(
    entry: ManifestEntry, kind: Literal["input", "output"], stored: dict[str, NDArray[Any]]
) -> list[Finding]:
    """Stored arrays against the shapes and dtypes the manifest gives for them."""
    listed = entry.inputs if kind == "input" else entry.outputs
    findings = []
    for name, described in sorted(listed.items()):
        if name in stored and _shape_dtype(stored[name]) != described:
            detail = f"the manifest describes the {kind} as {_fmt(described)}, the archive "
            detail += f"holds {_fmt(_shape_dtype(stored[name]))}"
            findings.append(Finding(entry.name, name, "manifest_disagrees", detail))
    return findings


def _check_outputs(
    entry: ManifestEntry,
    case: GoldenCase,
    stored: dict[str, NDArray[Any]],
    computed: Mapping[str, NDArray[Any]],
    port: bool = False,
) -> list[Finding]:
    # A kit made before an output was renamed holds it under its old name.
    renamed = {old: new for old, new in RENAMED_OUTPUTS.items() if new in computed}
    stored = {renamed.get(name, name): array for name, array in stored.items()}
    listed = {renamed.get(name, name) for name in entry.outputs}
    findings = []
    for name in sorted(listed - set(stored)):
        detail = f"the manifest lists output {name!r}, the archive has none"
        findings.append(Finding(case.name, name, "missing_output", detail))
    for name, golden in sorted(stored.items()):
        if name not in computed:
            if port:
                detail = "the port's adapter does not compute this output"
                findings.append(Finding(case.name, name, "not_implemented", detail))
                continue
            detail = f"edp_ref's case {case.name} does not compute an output {name!r}"
            findings.append(Finding(case.name, name, "unexpected_output", detail))
            continue
        if name not in listed:
            detail = "the archive holds an output the manifest does not list"
            findings.append(Finding(case.name, name, "unexpected_output", detail))
        mismatch = _compare(case, name, np.asarray(computed[name]), golden)
        if mismatch is not None:
            findings.append(mismatch)
    for name in sorted(set(computed) - set(stored) - listed):
        who = "the port" if port else "this edp_ref"
        detail = f"{who} also computes this output; the kit has none"
        findings.append(Finding(case.name, name, "output_not_in_kit", detail))
    return findings


def _check_case(
    entry: ManifestEntry, case: GoldenCase, adapter: Adapter | None = None
) -> list[Finding]:
    """Every finding of one known case (see the module docstring for the order)."""
    try:
        data = entry.path.read_bytes()
    except OSError as exc:
        return [Finding(entry.name, "-", "unreadable", f"cannot read {entry.path}: {exc}")]
    digest = sha256_hex(data)
    if digest != entry.sha256:
        detail = (
            f"{entry.file} has sha256 {digest}, the manifest records {entry.sha256}: the file "
            "is corrupt or was modified after export"
        )
        return [Finding(entry.name, "-", "modified", detail)]
    try:
        arrays = read_archive(data, str(entry.path))
    except ArchiveError as exc:
        return [Finding(entry.name, "-", "unreadable", str(exc))]
    inputs, outputs, findings = _split(arrays, entry.name)
    findings += _check_descriptions(entry, "input", inputs)
    findings += _check_descriptions(entry, "output", outputs)
    input_findings = _check_inputs(entry, case, inputs)
    findings += input_findings
    if any(f.kind in ("missing_input", "wrong_input") for f in input_findings):
        return findings  # the case cannot be recomputed from these inputs
    who = "edp_ref" if adapter is None else "the port's adapter"
    try:
        if adapter is None:
            tensors = {k: torch.from_numpy(v.copy()) for k, v in inputs.items() if k in case.inputs}
            with torch.no_grad():
                computed = {k: to_numpy(v) for k, v in case.compute(tensors).items()}
        else:
            port = adapter(
                PortCase(case.name, case.function, case.equation, case.dtype, case.params, inputs)
            )
            if port is None:
                detail = "the port's adapter does not implement this case"
                return [*findings, Finding(entry.name, "-", "not_implemented", detail)]
            computed = {k: np.asarray(v) for k, v in port.items()}
    except Exception as exc:  # reported as this case's problem, so that the others still check
        detail = f"{who} raised on the stored inputs: {type(exc).__name__}: {exc}"
        return [*findings, Finding(entry.name, "-", "compute_failed", detail)]
    return findings + _check_outputs(entry, case, outputs, computed, port=adapter is not None)


def check(directory: Path, adapter: Adapter | None = None) -> CheckReport:
    """Check every case of the kit in ``directory`` against this edp_ref, or against a port
    through its ``adapter`` (module docstring); :func:`~edp_ref.golden.manifest.read_manifest`
    raises on a manifest that cannot be checked."""
    entries = read_manifest(directory)
    cases = {case.name: case for case in golden_cases()}
    findings: list[Finding] = []
    for entry in entries:
        case = cases.get(entry.name)
        if case is None:
            detail = "this edp_ref has no case of that name (a kit from a newer edp_ref?)"
            findings.append(Finding(entry.name, "-", "unknown_case", detail))
            continue
        findings += _check_case(entry, case, adapter)
    in_kit = {entry.name for entry in entries}
    for name in cases if adapter is None else ():
        if name not in in_kit:
            detail = "this edp_ref has this case; the kit lacks it (an older kit?)"
            findings.append(Finding(name, "-", "case_not_in_kit", detail))
    listed = {entry.path for entry in entries}
    for file in sorted(directory.glob("*.npz")):
        if file.resolve() not in listed:
            detail = f"{file.name} is in the kit's folder but no manifest entry names it"
            findings.append(Finding(file.stem, "-", "unlisted_file", detail))
    return CheckReport(
        directory,
        len(entries),
        tuple(f for f in findings if f.is_problem),
        tuple(f for f in findings if not f.is_problem),
    )
