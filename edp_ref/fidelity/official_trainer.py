"""The official trainer's data pipeline and evaluation environment (sail-sg/edp,
diffusion/trainer.py), run as shipped on arrays and Gymnasium environments of this machine, and
edp_ref's preprocessing checked against that pipeline.

The official trainer loads D4RL through ``gym.make(task)`` and ``d4rl.qlearning_dataset(env)``
and evaluates in a gym (< 0.26) environment. Its modules are imported with stubs for those
packages (:mod:`edp_ref.peers.edp_official`); here the stubs answer with the caller's data and
environment, and the official functions do the rest:

* :func:`official_dataset`: ``DiffusionTrainer._setup_d4rl`` (with utilities/traj_dataset.py:
  trajectories split at terminals and at rows that do not continue the previous one, sorted by
  return; IQL's locomotion rewards scaled by 1000 / (max - min trajectory return), the reward
  scale and bias, AntMaze rewards shifted, Kitchen and Adroit rewards min-max scaled to
  [-1, 1], the actions clipped to +-0.999, observations normalised by one scalar mean and std
  with ``obs_norm``, which its evaluation applies too) called on a stand-in for the trainer that
  holds its flags as attributes (``FLAGS_DEF`` defaults, overridden as the official run scripts
  do per task and algorithm).
* :class:`GymAPI`: a Gymnasium environment under the gym API ``utilities/sampler.py``'s
  ``TrajSampler`` calls (``reset() -> obs``, ``step(a) -> (obs, r, done, info)``) and D4RL's
  ``get_normalized_score``.
* :func:`preprocessing_check`: edp_ref's counterpart, :func:`edp_ref.data.preprocessing.
  official_preprocessing` and its observation transform (Appendix A; SPEC.md section 4), fed
  the same trajectories (:func:`~edp_ref.fidelity.inputs.trajectory_arrays`: about a sixth
  terminal and a sixth time-out rows): every array compared row by row after sorting both by
  action (the official code reorders trajectories), and the evaluation's observation transform
  (the official ``TrajSampler.norm_obs``) on the raw observations.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from edp_ref.data.preprocessing import official_preprocessing
from edp_ref.data.transitions import TransitionDataset
from edp_ref.fidelity.compare import Comparison, compare_group
from edp_ref.fidelity.inputs import Root, trajectory_arrays
from edp_ref.paper import domain_of
from edp_ref.peers import load_official_edp

__all__ = ["PREPROCESSING_TOLERANCE", "GymAPI", "official_dataset", "preprocessing_check"]


class GymAPI:
    """A Gymnasium environment as the old gym API and D4RL's ``get_normalized_score``; the first
    ``reset()`` is seeded with ``seed``, later ones continue the environment's generator, as
    gym's did."""

    def __init__(self, env: Any, ref_min: float, ref_max: float, seed: int) -> None:
        self.env, self.ref_min, self.ref_max = env, ref_min, ref_max
        self._seed: int | None = seed
        self.observation_space = env.observation_space
        self.action_space = env.action_space

    def reset(self) -> np.ndarray:
        obs, _ = self.env.reset(seed=self._seed)
        self._seed = None
        return np.asarray(obs)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return np.asarray(obs), float(reward), bool(terminated or truncated), info

    def get_normalized_score(self, score: float) -> float:
        return (score - self.ref_min) / (self.ref_max - self.ref_min)


@contextlib.contextmanager
def _stubbed_loading(modules: Any, arrays: dict[str, np.ndarray], env: Any) -> Iterator[None]:
    """Inside the block the official modules' ``gym.make`` returns ``env`` and
    ``d4rl.qlearning_dataset`` a copy of ``arrays`` (D4RL's keys)."""
    trainer = modules["diffusion.trainer"]
    d4rl = modules["utilities.traj_dataset"].d4rl
    keys = ("observations", "actions", "next_observations", "rewards", "terminals")
    trainer.gym.make = lambda *_a, **_k: env
    d4rl.qlearning_dataset = lambda *_a, **_k: {k: np.array(arrays[k]) for k in keys}
    try:
        yield
    finally:
        del trainer.gym.make, d4rl.qlearning_dataset


def _environment(modules: Any, task: str) -> Any:
    """The trainer's ``self._env``: the first ``ENV_MAP`` scenario named in the task."""
    constants = modules["diffusion.constants"]
    for scenario, env in constants.ENV_MAP.items():
        if scenario in task:
            return env
    raise ValueError(f"official_dataset: no scenario of diffusion/constants.py in {task!r}")


def official_dataset(
    arrays: dict[str, np.ndarray],
    task: str,
    algorithm: str,
    root: Root = None,
    *,
    obs_norm: bool = False,
    env: Any = None,
) -> tuple[dict[str, np.ndarray], tuple[Any, Any, Any], Any]:
    """The dataset the official trainer trains on, made by its own ``_setup_d4rl`` from D4RL
    ``qlearning_dataset`` ``arrays``, for the trainer's ``--env task`` and ``algo_cfg.loss_type``
    (IQL on locomotion sets ``norm_reward`` as the official runs do) and ``--obs_norm`` (acts
    on Kitchen, Adroit and AntMaze only); ``env`` is what ``gym.make(task)`` returns.

    Returns:
        The dataset dict (its keys plus ``dones``, ``dones_float``), the observation statistics
        ``(mean, std, clip)`` its evaluation applies, and the trainer's ``TrajSampler``.
    """
    modules = load_official_edp(root)
    trainer = modules["diffusion.trainer"]
    kind = _environment(modules, task)
    locomotion = kind == modules["diffusion.constants"].ENV.Mujoco
    flags = dict(trainer.FLAGS_DEF)
    flags.update(
        env=task,
        obs_norm=obs_norm,
        norm_reward=algorithm == "iql" and locomotion,
        algo_cfg=trainer.DiffusionQL.get_default_config({"loss_type": algorithm.upper()}),
    )
    stand_in = SimpleNamespace(
        _cfgs=SimpleNamespace(**flags), _env=kind, _obs_mean=0, _obs_std=1, _obs_clip=np.inf
    )
    with _stubbed_loading(modules, arrays, env), contextlib.redirect_stderr(io.StringIO()):
        dataset, sampler = trainer.DiffusionTrainer._setup_d4rl(stand_in)  # tqdm bars: muted
    stats = (stand_in._obs_mean, stand_in._obs_std, stand_in._obs_clip)
    return dataset.data, stats, sampler


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
