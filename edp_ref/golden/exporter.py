"""Export the conformance kit: every case's archive and ``manifest.json`` (``python -m
edp_ref.golden export DIR``). Two exports on CPU are identical to the byte. The kit is written
all or nothing (:func:`edp_ref.atomic_files.atomic_write_many`, the manifest last): a full disk
leaves the previous kit as it was and names the file and the free space."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from edp_ref.atomic_files import atomic_write_many, remove_stale_temporaries
from edp_ref.golden.archive import archive_bytes, sha256_hex, to_numpy
from edp_ref.golden.catalogue import golden_cases
from edp_ref.golden.manifest import MANIFEST_NAME, manifest_document, manifest_entry, manifest_text

__all__ = ["export"]


def export(directory: Path) -> dict[str, Any]:
    """Compute every golden case, write its archive ``<name>.npz`` and the manifest into
    ``directory`` (created if needed); return the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(directory)
    entries, files = [], {}
    for case in golden_cases():
        with torch.no_grad():
            outputs = case.compute(case.inputs)
        inputs_np = {k: to_numpy(v) for k, v in case.inputs.items()}
        outputs_np = {k: to_numpy(v) for k, v in outputs.items()}
        arrays = {f"inputs/{k}": v for k, v in inputs_np.items()}
        arrays.update({f"outputs/{k}": v for k, v in outputs_np.items()})
        file = f"{case.name}.npz"
        files[directory / file] = data = archive_bytes(arrays)
        entries.append(manifest_entry(case, file, sha256_hex(data), inputs_np, outputs_np))
    manifest = manifest_document(entries)
    files[directory / MANIFEST_NAME] = manifest_text(manifest).encode("utf-8")
    atomic_write_many(files)
    return manifest
