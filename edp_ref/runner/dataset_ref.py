"""What a run's dataset name refers to: a paper dataset, a D4RL HDF5 file or a Minari dataset.

``RunSpec.task`` (``edp-train --dataset``) accepts

* a dataset name of the paper's tables (``hopper-medium-v2``): loaded from the D4RL file, the
  Minari port or a locally generated dataset (``RunSpec.data_source``), with D4RL's references;
* a D4RL-format HDF5 file (``/data/hopper-medium-v2.hdf5``, ``*.hdf5`` or ``*.h5``): a file named
  like a paper dataset's D4RL file gets that dataset's environment, widths and references;
  another file needs ``RunSpec.env_id`` for evaluation and reports raw returns;
* a Minari dataset id (``mujoco/hopper/medium-v0``, or ``edp_ref/hopper/medium-v0`` for one
  generated here), read from ``$MINARI_DATASETS_PATH`` (``RunSpec.local_root``).

The domain (Table 3's per-domain preset and the official preprocessing, Appendix A) is the
paper's for paper datasets and is read from the name otherwise (``RunSpec.domain`` overrides).
"""

from __future__ import annotations

import os
import re
from typing import Literal

from edp_ref.paper import DOMAINS, PAPER_DATASETS, Domain, domain_of, find_paper_dataset

__all__ = [
    "DOMAIN_CHOICES",
    "DatasetKind",
    "dataset_domain",
    "dataset_kind",
    "dataset_slug",
]

DatasetKind = Literal["paper", "hdf5", "minari"]
#: The values of ``RunSpec.domain``: ``auto`` (the paper's or read from the name) or a domain.
DOMAIN_CHOICES: tuple[str, ...] = ("auto", *DOMAINS)

_HDF5_SUFFIXES = (".hdf5", ".h5")
# Minari's ids: (namespace/)*name-vN.
_MINARI_ID = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*-v\d+$")


def dataset_kind(name: str) -> DatasetKind:
    """Which kind of dataset ``name`` refers to; ``ValueError`` naming the three forms."""
    if name in PAPER_DATASETS:
        return "paper"
    if name.lower().endswith(_HDF5_SUFFIXES):
        return "hdf5"
    if "/" in name and _MINARI_ID.match(name):
        return "minari"
    raise ValueError(
        f"unknown dataset name '{name}'; expected one of the paper's datasets "
        f"({', '.join(sorted(PAPER_DATASETS))}), a D4RL HDF5 file (*.hdf5, *.h5) or a Minari "
        "dataset id (namespace/name-vN, e.g. mujoco/hopper/medium-v0)"
    )


def dataset_domain(name: str, domain: str = "auto") -> Domain:
    """The domain of a run on ``name`` (``domain``: ``auto`` or an explicit domain).

    Raises:
        ValueError: ``domain`` contradicts a paper dataset's domain, or ``auto`` cannot tell the
            domain of a dataset outside the paper's list.
    """
    entry = find_paper_dataset(name)
    if entry is not None:
        if domain not in ("auto", entry.domain):
            raise ValueError(f"'{name}' is a {entry.domain} dataset of the paper, not {domain}")
        return entry.domain
    if domain != "auto":
        if domain not in DOMAINS:
            raise ValueError(f"unknown domain {domain!r}; domains: {', '.join(DOMAINS)}")
        return domain_of(domain)
    try:
        return domain_of(name)
    except ValueError:
        raise ValueError(
            f"cannot tell the domain of dataset '{name}' from its name; set it to one of "
            f"{', '.join(DOMAINS)} (it picks Table 3's preset and the official preprocessing)"
        ) from None


def dataset_slug(name: str) -> str:
    """A folder name for a dataset: the paper name, the file's stem or the Minari id with
    ``/`` replaced by ``_``."""
    if name.lower().endswith(_HDF5_SUFFIXES):
        return os.path.splitext(os.path.basename(name))[0]
    return name.replace("/", "_")
