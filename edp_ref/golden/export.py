"""Export the conformance kit: every case's archive and ``manifest.json`` (``python -m
edp_ref.golden export DIR``). Two exports on CPU are identical to the byte."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from edp_ref.golden.archive import to_numpy, write_archive
from edp_ref.golden.catalogue import golden_cases
from edp_ref.golden.manifest import manifest_document, manifest_entry, write_manifest

__all__ = ["export"]


def export(directory: Path) -> dict[str, Any]:
    """Compute every golden case, write its archive ``<name>.npz`` and the manifest into
    ``directory`` (created if needed); return the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    for case in golden_cases():
        with torch.no_grad():
            outputs = case.compute(case.inputs)
        inputs_np = {k: to_numpy(v) for k, v in case.inputs.items()}
        outputs_np = {k: to_numpy(v) for k, v in outputs.items()}
        arrays = {f"inputs/{k}": v for k, v in inputs_np.items()}
        arrays.update({f"outputs/{k}": v for k, v in outputs_np.items()})
        file = f"{case.name}.npz"
        digest = write_archive(directory / file, arrays)
        entries.append(manifest_entry(case, file, digest, inputs_np, outputs_np))
    manifest = manifest_document(entries)
    write_manifest(directory, manifest)
    return manifest
