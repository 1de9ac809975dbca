"""Offline RL data for edp_ref: transition datasets, their loaders and preprocessing.

Sec. 5 of the paper trains on D4RL (Fu et al., 2020). ``transitions`` holds the typed dataset
and sampler, ``minari_io`` and ``d4rl_hdf5`` the two on-disk formats, ``registry`` the paper's
dataset names, ``preprocessing`` the official code's per-domain transforms. Datasets generated
on this machine with the D4RL protocol come from ``edp_ref.generation``. ``checks`` and
``minari_reading`` hold the input checks the loaders share: a malformed file is an error naming
the file or dataset, the field, the position and the value, never a silent conversion.
"""

from edp_ref.data.d4rl_hdf5 import load_d4rl_hdf5, qlearning_arrays
from edp_ref.data.minari_io import (
    DatasetNotFoundError,
    episodes_to_transitions,
    load_minari,
    minari_dataset_path,
)
from edp_ref.data.preprocessing import (
    ObservationNormalizer,
    Preprocessed,
    antmaze_rewards,
    clip_actions,
    domain_of,
    iql_locomotion_reward_scale,
    min_max_rewards,
    normalize_observations,
    official_preprocessing,
    rescale_actions,
    scale_rewards,
)
from edp_ref.data.registry import (
    D4RL_REFERENCE_SCORES,
    D4RL_SPACE_WIDTHS,
    LOCAL_ENVS,
    PAPER_DATASETS,
    PaperDataset,
    d4rl_dataset_dir,
    load_dataset,
    local_dataset_id,
    resolve,
)
from edp_ref.data.transitions import FIELDS, TransitionDataset, UniformSampler, sample_batch

__all__ = [
    "D4RL_REFERENCE_SCORES",
    "D4RL_SPACE_WIDTHS",
    "FIELDS",
    "LOCAL_ENVS",
    "PAPER_DATASETS",
    "DatasetNotFoundError",
    "ObservationNormalizer",
    "PaperDataset",
    "Preprocessed",
    "TransitionDataset",
    "UniformSampler",
    "antmaze_rewards",
    "clip_actions",
    "d4rl_dataset_dir",
    "domain_of",
    "episodes_to_transitions",
    "iql_locomotion_reward_scale",
    "load_d4rl_hdf5",
    "load_dataset",
    "load_minari",
    "local_dataset_id",
    "min_max_rewards",
    "minari_dataset_path",
    "normalize_observations",
    "official_preprocessing",
    "qlearning_arrays",
    "rescale_actions",
    "resolve",
    "sample_batch",
    "scale_rewards",
]
