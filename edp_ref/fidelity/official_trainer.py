"""The official trainer's data pipeline and evaluation environment (sail-sg/edp,
diffusion/trainer.py), run as shipped on arrays and Gymnasium environments of this machine.

The official trainer loads D4RL through ``gym.make(task)`` and ``d4rl.qlearning_dataset(env)``
and evaluates in a gym (< 0.26) environment. Its modules are imported with stubs for those
packages (:mod:`edp_ref.peers.edp_official`); here the stubs answer with the caller's data and
environment, and the official functions do the rest:

* :func:`official_dataset`: ``DiffusionTrainer._setup_d4rl`` (its trajectory split and sort,
  ``norm_reward``'s 1000 / (max - min return), the reward scale and bias, the action clip, the
  AntMaze / Kitchen / Adroit reward transforms and ``obs_norm``) called on a stand-in for the
  trainer that holds its flags as attributes (``FLAGS_DEF`` defaults, overridden as the
  official run scripts do per task and algorithm).
* :class:`GymAPI`: a Gymnasium environment under the gym API ``utilities/sampler.py``'s
  ``TrajSampler`` calls (``reset() -> obs``, ``step(a) -> (obs, r, done, info)``) and D4RL's
  ``get_normalized_score``.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np

from edp_ref.fidelity.inputs import Root
from edp_ref.peers import load_official_edp

__all__ = ["GymAPI", "official_dataset"]


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
