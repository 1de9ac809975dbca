"""edp_ref's dataset preprocessing against the official trainer's, on the same raw transitions.

The official EDP prepares its data in ``DiffusionTrainer._setup_d4rl`` (sail-sg/edp,
diffusion/trainer.py, with utilities/traj_dataset.py): trajectories split at terminals and at
rows that do not continue the previous one, sorted by return, IQL's locomotion rewards scaled by
1000 / (max - min trajectory return), AntMaze rewards shifted, Kitchen and Adroit rewards
min-max scaled to [-1, 1], observations normalised by one scalar mean and std when asked, the
actions clipped to +-0.999; its evaluation applies the same observation statistics
(``TrajSampler.norm_obs``). edp_ref's counterpart is :func:`edp_ref.data.preprocessing.
official_preprocessing` and its observation transform (Appendix A; SPEC.md section 4).

:func:`preprocessing_check` feeds both the same trajectories (:func:`~edp_ref.fidelity.inputs.
trajectory_arrays`: about a sixth terminal and a sixth time-out rows) and compares every array,
row by row after sorting both by action (the official code reorders trajectories), and the
evaluation's observation transform on the raw observations.
"""

from __future__ import annotations

import numpy as np
import torch

from edp_ref.data.preprocessing import official_preprocessing
from edp_ref.data.transitions import TransitionDataset
from edp_ref.fidelity.compare import Comparison, compare_group
from edp_ref.fidelity.inputs import Root, trajectory_arrays
from edp_ref.fidelity.official_trainer import official_dataset
from edp_ref.paper import domain_of

__all__ = ["PREPROCESSING_TOLERANCE", "preprocessing_check"]

#: max |edp_ref - official| / max |official| per array: a few float32 operations per entry.
PREPROCESSING_TOLERANCE = 1e-5


def _sorted(rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    order = np.lexsort(rows["actions"].T[::-1])
    return {k: v[order] for k, v in rows.items()}


def preprocessing_check(
    task: str,
    algorithm: str,
    root: Root,
    obs_norm: bool = False,
    episodes: int = 40,
) -> list[Comparison]:
    """The official ``_setup_d4rl`` against ``official_preprocessing`` for ``task`` (its domain)
    and ``algorithm``, with the trainer's ``--obs_norm`` (edp_ref: ``normalize_obs="scalar"``
    where the official code applies it: Kitchen, Adroit, AntMaze)."""
    arrays = trajectory_arrays(episodes, 5, 3, seed=11)
    official, stats, sampler = official_dataset(arrays, task, algorithm, root, obs_norm=obs_norm)
    domain = domain_of(task)
    normalize = "scalar" if obs_norm and domain != "locomotion" else None
    raw = TransitionDataset.from_arrays(arrays, source=f"trajectory_arrays for {task}")
    pre = official_preprocessing(raw, domain, algorithm, normalize_obs=normalize)  # type: ignore[arg-type]
    ds = pre.dataset
    ours = {
        "observations": ds.observations.numpy(),
        "actions": ds.actions.numpy(),
        "rewards": ds.rewards.numpy(),
        "next_observations": ds.next_observations.numpy(),
        "terminals": ds.terminals.numpy(),
    }
    theirs = {k: np.asarray(official["dones" if k == "terminals" else k]) for k in ours}
    ours, theirs = _sorted(ours), _sorted(theirs)
    norm = "obs_norm" if obs_norm else "no obs_norm"
    label = f"preprocessing {task} {algorithm} ({norm})"
    out = [
        compare_group(f"{label} {k}", {k: ours[k]}, {k: theirs[k]}, PREPROCESSING_TOLERANCE)
        for k in theirs
    ]
    probe = arrays["observations"]
    transform = pre.observation_transform
    ours_eval = probe if transform is None else transform(torch.as_tensor(probe)).numpy()
    out.append(
        compare_group(
            f"{label} evaluation observation transform",
            {"o": ours_eval},
            {"o": sampler.norm_obs(probe, stats)},
            PREPROCESSING_TOLERANCE,
            note="official TrajSampler.norm_obs with the trainer's statistics",
        )
    )
    return out
