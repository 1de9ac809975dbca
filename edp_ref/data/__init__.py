"""Offline RL data for edp_ref: transitions, batches, loaders, preprocessing, evaluation.

Sec. 5 of the paper trains on D4RL (Fu et al., 2020). The light modules, which need only the
core install (torch, numpy):

* :mod:`~edp_ref.data.batch`: :class:`Batch`, the minibatch every update consumes;
* :mod:`~edp_ref.data.transitions`: :class:`TransitionDataset` and :class:`UniformSampler`;
* :mod:`~edp_ref.data.preprocessing`: the official code's per-domain transforms;
* :mod:`~edp_ref.data.synthetic`: random datasets of a task's widths (tests, benchmarks).

The loaders and the environments, which need the ``train`` extra (h5py, Minari, Gymnasium),
import on first use: :mod:`~edp_ref.data.d4rl_hdf5`, :mod:`~edp_ref.data.minari_io`,
:mod:`~edp_ref.data.registry` (a paper task by name: :func:`load_dataset`) and
:mod:`~edp_ref.data.evaluation` (episodes in Gymnasium, normalized scores). A malformed file is
an error naming the file or dataset, the field, the position and the value, never a silent
conversion (:mod:`~edp_ref.data.checks`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from edp_ref.data.batch import Batch
from edp_ref.data.preprocessing import (
    ObservationNormalizer,
    Preprocessed,
    official_preprocessing,
)
from edp_ref.data.transitions import FIELDS, TransitionDataset, UniformSampler, sample_batch

if TYPE_CHECKING:
    from edp_ref.data.d4rl_hdf5 import load_d4rl_hdf5
    from edp_ref.data.minari_io import DatasetNotFoundError, load_minari
    from edp_ref.data.registry import load_dataset

__all__ = [
    "FIELDS",
    "Batch",
    "DatasetNotFoundError",
    "ObservationNormalizer",
    "Preprocessed",
    "TransitionDataset",
    "UniformSampler",
    "load_d4rl_hdf5",
    "load_dataset",
    "load_minari",
    "official_preprocessing",
    "sample_batch",
]

# Names of the loaders, imported on first use so that the core install (no h5py, Minari or
# Gymnasium) can import edp_ref.data.
_LAZY = {
    "load_d4rl_hdf5": "edp_ref.data.d4rl_hdf5",
    "DatasetNotFoundError": "edp_ref.data.minari_io",
    "load_minari": "edp_ref.data.minari_io",
    "load_dataset": "edp_ref.data.registry",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'edp_ref.data' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
