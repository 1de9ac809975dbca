"""The Gymnasium side of the generation: the dimensions of an environment, SAC's actions in
[-1, 1] mapped to its bounds, and the returns of whole episodes (SAC's evaluations, the
reference scores, the re-evaluation of snapshots in :mod:`~edp_ref.generation.quality`).
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch

from edp_ref.generation.sac import SquashedGaussianActor

__all__ = [
    "actor_policy",
    "environment_dims",
    "episode_returns",
    "random_policy",
    "to_env_action",
]

#: A policy for one environment: an observation [S] -> an action [A] in the env's bounds.
Policy = Callable[[np.ndarray], np.ndarray]


def to_env_action(a: np.ndarray, space: gym.spaces.Box) -> np.ndarray:
    """Map actions from [-1, 1] (SAC's tanh-squashed output) to the environment's bounds."""
    return (space.low + (a + 1.0) * 0.5 * (space.high - space.low)).astype(space.dtype)


def environment_dims(env_id: str) -> tuple[int, gym.spaces.Box]:
    """The observation width of ``env_id`` and its (box) action space."""
    env = gym.make(env_id)
    space, obs_space = env.action_space, env.observation_space
    env.close()
    if not isinstance(space, gym.spaces.Box) or obs_space.shape is None:
        raise ValueError(
            f"{env_id}: the D4RL-protocol generation needs a Box action space and a flat "
            f"observation, got {space} and {obs_space}"
        )
    return int(obs_space.shape[0]), space


def actor_policy(
    actor: SquashedGaussianActor,
    space: gym.spaces.Box,
    *,
    deterministic: bool,
    generator: torch.Generator | None = None,
) -> Callable[[np.ndarray], np.ndarray]:
    """``actor`` as a policy on observations [..., S] -> env actions [..., A]: the mean action
    (``deterministic``: SAC's evaluations) or a sample drawn with ``generator`` (the datasets:
    D4RL sampled its rollouts from the SAC policy's distribution, Farama-Foundation/D4RL,
    scripts/generation/mujoco/collect_data.py)."""

    def policy(obs: np.ndarray) -> np.ndarray:
        o = torch.as_tensor(obs, dtype=torch.float32)
        with torch.no_grad():
            a = actor.action(o.reshape(-1, o.shape[-1]), generator, deterministic)
        return to_env_action(a.reshape(*o.shape[:-1], -1).numpy(), space)

    return policy


def random_policy(space: gym.spaces.Box, seed: int) -> Policy:
    """Uniform random actions from a copy of ``space`` seeded with ``seed``."""
    box = gym.spaces.Box(space.low, space.high, dtype=space.dtype)
    box.seed(seed)
    return lambda _obs: box.sample()


def episode_returns(env_id: str, policy: Policy, episodes: int, seed: int) -> list[float]:
    """The undiscounted returns of ``episodes`` whole episodes of ``policy``; episode ``i``
    starts from ``env.reset(seed=seed + i)`` and runs until termination or the time limit."""
    env = gym.make(env_id)
    returns = []
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + ep)
        total, done = 0.0, False
        while not done:
            obs, r, term, trunc, _ = env.step(policy(obs))
            total += float(r)
            done = term or trunc
        returns.append(total)
    env.close()
    return returns
