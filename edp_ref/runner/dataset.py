"""A run's dataset: what its name refers to, where it is loaded from, how it is prepared (Sec. 5).

``RunSpec.task`` (``edp-train --dataset``) is

* a dataset name of the paper's tables (``hopper-medium-v2``): loaded from the D4RL file, the
  Minari port or a locally generated dataset (``RunSpec.data_source``), with D4RL's references;
* a D4RL-format HDF5 file (``*.hdf5``, ``*.h5``): a file named like a paper dataset's D4RL file
  gets that dataset's environment, widths and references; another file needs
  ``RunSpec.env_id`` for evaluation and reports raw returns;
* a Minari dataset id (``mujoco/hopper/medium-v0``, or ``edp_ref/hopper/medium-v0`` for one
  generated here), read from ``$MINARI_DATASETS_PATH`` (``RunSpec.local_root``).

The domain (Table 3's values and the official preprocessing, Appendix A) is the paper's for its
datasets and is read from the name otherwise (``RunSpec.domain`` overrides). Before training,
actions are rescaled to [-1, 1] when the environment's bounds differ, and the official
per-domain preprocessing is applied (:mod:`edp_ref.data.preprocessing`).
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from typing import Any, Literal

import torch

from edp_ref.data.d4rl_hdf5 import load_d4rl_hdf5
from edp_ref.data.evaluation import reference_for
from edp_ref.data.minari_io import environment_variables, load_minari, minari_root
from edp_ref.data.preprocessing import Preprocessed, official_preprocessing, rescale_actions
from edp_ref.data.registry import load_dataset
from edp_ref.data.transitions import TransitionDataset
from edp_ref.paper import DOMAINS, PAPER_DATASETS, DataSource, Domain, domain_of, find_paper_dataset

__all__ = [
    "DOMAIN_CHOICES",
    "DatasetKind",
    "dataset_domain",
    "dataset_kind",
    "dataset_slug",
    "describe_dataset",
    "environment_variables",
    "load_run_dataset",
    "minari_root",
    "prepare_training_data",
]

DatasetKind = Literal["paper", "hdf5", "minari"]
#: The values of ``RunSpec.domain``: ``auto`` (the paper's, or read from the name) or a domain.
DOMAIN_CHOICES: tuple[str, ...] = ("auto", *DOMAINS)

_HDF5_SUFFIXES = (".hdf5", ".h5")
# Minari's ids: (namespace/)*name-vN.
_MINARI_ID = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*-v\d+$")


def dataset_kind(name: str) -> DatasetKind:
    """Which kind of dataset ``name`` refers to (module docstring)."""
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
    """The domain of a run on ``name`` (``domain``: ``auto`` or an explicit domain, which must
    agree with a paper dataset's)."""
    entry = find_paper_dataset(name)
    if entry is not None:
        if domain not in ("auto", entry.domain):
            raise ValueError(f"'{name}' is a {entry.domain} dataset of the paper, not {domain}")
        return entry.domain
    if domain != "auto":
        return domain_of(domain)
    try:
        return domain_of(name)
    except ValueError:
        raise ValueError(
            f"cannot tell the domain of dataset '{name}' from its name; set it to one of "
            f"{', '.join(DOMAINS)} (it picks Table 3's values and the official preprocessing)"
        ) from None


def dataset_slug(name: str) -> str:
    """A folder name for a dataset: the paper name, the file's stem or the Minari id with ``/``
    replaced by ``_``."""
    if name.lower().endswith(_HDF5_SUFFIXES):
        return os.path.splitext(os.path.basename(name))[0]
    return name.replace("/", "_")


def load_run_dataset(
    task: str, source: DataSource = "auto", local_root: str | None = None, env_id: str | None = None
) -> TransitionDataset:
    """The dataset ``task`` names (module docstring), inside ``minari_root(local_root)``;
    ``DatasetNotFoundError`` says where it was looked for and how to get it."""
    kind = dataset_kind(task)
    with minari_root(local_root):
        if kind == "paper":
            return load_dataset(task, source=source)
        if kind == "minari":
            return load_minari(task)
    entry = find_paper_dataset(task)
    if entry is not None:  # a paper dataset's D4RL file, wherever it lies
        return load_dataset(entry.name, source="d4rl", d4rl_dir=os.path.dirname(task) or ".")
    if env_id is None:
        raise ValueError(
            f"RunSpec.env_id: the HDF5 file {task} is not one of the paper's D4RL files, so it "
            "names no evaluation environment; give its Gymnasium id (edp-train --run.env-id "
            "Hopper-v5)"
        )
    return load_d4rl_hdf5(task, env_id=env_id)


def describe_dataset(dataset: TransitionDataset) -> dict[str, Any]:
    """Where a dataset came from, for the tables (``data.json``)."""
    if dataset.minari_id is None:
        kind, ident = "D4RL file", dataset.source
    elif dataset.minari_id.startswith("edp_ref/"):
        kind, ident = "locally generated", dataset.minari_id
    else:
        kind, ident = "Minari", dataset.minari_id
    reference = reference_for(dataset)
    return {
        "kind": kind,
        "id": ident,
        "transitions": len(dataset),
        "env_id": dataset.env_id,
        "reference": None if reference is None else reference.source,
        "ref_min_score": None if reference is None else reference.ref_min,
        "ref_max_score": None if reference is None else reference.ref_max,
        "normalized": reference is not None,
        "notes": list(dataset.notes),
    }


def prepare_training_data(
    dataset: TransitionDataset, domain: Domain, family: Literal["td3", "crr", "iql"]
) -> Preprocessed:
    """Rescale actions to [-1, 1] if the environment's bounds differ, then apply the official
    preprocessing of ``domain`` for the algorithm's critic ``family``."""
    rescaled = False
    if dataset.action_low is not None and dataset.action_high is not None:
        bounds = torch.stack([dataset.action_low, dataset.action_high])
        if not torch.equal(bounds, torch.tensor([[-1.0], [1.0]]).expand_as(bounds)):
            dataset = rescale_actions(dataset)
            rescaled = True
    return replace(official_preprocessing(dataset, domain, family), rescaled=rescaled)
