"""A run's dataset: where it is loaded from and how it is prepared for training (Sec. 5).

A paper dataset comes from ``RunSpec.data_source`` (a D4RL file, the Minari port, or one generated
on this machine under ``RunSpec.local_root``, a ``$MINARI_DATASETS_PATH``); other datasets are a
D4RL HDF5 file or a Minari id (:mod:`edp_ref.runner.dataset_ref`). Before training, actions
are rescaled to [-1, 1] when the environment's bounds differ, and the official per-domain
preprocessing is applied (reward scaling or shifting, observation normalization, Appendix A;
sail-sg/edp, diffusion/trainer.py and utilities/traj_dataset.py).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from edp_ref.data.d4rl_hdf5 import load_d4rl_hdf5
from edp_ref.data.evaluation import reference_for
from edp_ref.data.minari_io import load_minari
from edp_ref.data.preprocessing import (
    ObservationNormalizer,
    official_preprocessing,
    rescale_actions,
)
from edp_ref.data.registry import load_dataset
from edp_ref.data.transitions import TransitionDataset
from edp_ref.paper import find_paper_dataset
from edp_ref.runner.dataset_ref import dataset_domain, dataset_kind
from edp_ref.runner.spec import RunSpec

__all__ = [
    "TrainingData",
    "describe_dataset",
    "load_run_dataset",
    "minari_root",
    "prepare_training_data",
]


@contextlib.contextmanager
def minari_root(path: str | None) -> Iterator[None]:
    """Point ``$MINARI_DATASETS_PATH`` at ``path`` for the block (None: leave it alone)."""
    if path is None:
        yield
        return
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = old


def describe_dataset(dataset: TransitionDataset) -> dict[str, Any]:
    """Where a dataset came from, for the tables: kind (D4RL file, Minari, locally generated),
    id or file, size, its evaluation environment, and the references of normalized scores."""
    if dataset.minari_id is None:
        kind = "D4RL file"
        ident = dataset.source
    elif dataset.minari_id.startswith("edp_ref/"):
        kind = "locally generated"
        ident = dataset.minari_id
    else:
        kind = "Minari"
        ident = dataset.minari_id
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
    }


def load_run_dataset(spec: RunSpec) -> TransitionDataset:
    """The run's dataset (inside ``minari_root(spec.local_root)``): a paper dataset from
    ``spec.data_source``, a D4RL HDF5 file, or a Minari dataset.

    Raises:
        DatasetNotFoundError: the dataset is not on this machine (the message says where it was
            looked for and how to get it); ``FileNotFoundError`` for a missing HDF5 file.
        ValueError: a damaged file, or an HDF5 file outside the paper's list without
            ``spec.env_id``.
    """
    kind = dataset_kind(spec.task)
    with minari_root(spec.local_root):
        if kind == "paper":
            return load_dataset(spec.task, source=spec.data_source)
        if kind == "minari":
            return load_minari(spec.task)
    entry = find_paper_dataset(spec.task)
    if entry is not None:  # a paper dataset's D4RL file, wherever it lies
        width_obs, width_act = entry.d4rl_widths
        return load_d4rl_hdf5(
            spec.task,
            name=entry.name,
            max_episode_steps=entry.max_episode_steps,
            observation_dim=width_obs,
            action_dim=width_act,
            environment=f"D4RL's environment for {entry.name}",
            env_id=entry.env_id,
            ref_min_score=entry.ref_min_score,
            ref_max_score=entry.ref_max_score,
        )
    if spec.env_id is None:
        raise ValueError(
            f"RunSpec.env_id: the HDF5 file {spec.task} is not one of the paper's D4RL files, so "
            "it names no evaluation environment; give its Gymnasium id (edp-train --run.env-id "
            "Hopper-v5)"
        )
    return load_d4rl_hdf5(spec.task, env_id=spec.env_id)


@dataclass(frozen=True)
class TrainingData:
    """A dataset prepared for training.

    Attributes:
        dataset: actions in [-1, 1], after the official per-domain preprocessing.
        rescaled: whether actions were rescaled (evaluation maps them back to the env's bounds).
        observation_transform: what evaluation applies to observations before the policy.
    """

    dataset: TransitionDataset
    rescaled: bool
    observation_transform: ObservationNormalizer | None


def prepare_training_data(dataset: TransitionDataset, spec: RunSpec) -> TrainingData:
    """Rescale actions to [-1, 1] if the environment's bounds differ, then apply the official
    per-domain preprocessing of the agent's family."""
    rescaled = False
    if dataset.action_low is not None and dataset.action_high is not None:
        bounds = torch.stack([dataset.action_low, dataset.action_high])
        if not torch.equal(bounds, torch.tensor([[-1.0], [1.0]]).expand_as(bounds)):
            dataset = rescale_actions(dataset)
            rescaled = True
    domain = dataset_domain(spec.task, spec.domain)
    pre = official_preprocessing(dataset, domain, spec.agent.family)
    return TrainingData(pre.dataset, rescaled, pre.observation_transform)
