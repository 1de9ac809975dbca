"""Offline RL data for edp_ref (Sec. 5 trains on D4RL, Fu et al., 2020).

Core install (torch, numpy): :mod:`~edp_ref.data.batch` (:class:`Batch`, what every update
consumes), :mod:`~edp_ref.data.transitions` (:class:`TransitionDataset`, sampling),
:mod:`~edp_ref.data.preprocessing` (the official per-domain transforms),
:mod:`~edp_ref.data.synthetic`. With the ``train`` extra (h5py, Minari, Gymnasium), imported on
first use: :mod:`~edp_ref.data.d4rl_hdf5`, :mod:`~edp_ref.data.minari_io`,
:mod:`~edp_ref.data.registry` (:func:`load_dataset`: a paper task by name) and
:mod:`~edp_ref.data.evaluation`. A malformed file is an error naming the file, the field, the
position and the value (:mod:`~edp_ref.data.checks`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edp_ref.data.batch import Batch
from edp_ref.data.preprocessing import (
    ObservationNormalizer,
    Preprocessed,
    official_preprocessing,
)
from edp_ref.data.transitions import FIELDS, TransitionDataset, UniformSampler, sample_batch
from edp_ref.lazy_imports import lazy_exports

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

# The loaders import on first use, so that the core install (no h5py, Minari or Gymnasium) can
# import edp_ref.data.
__getattr__ = lazy_exports(__name__, __file__)
