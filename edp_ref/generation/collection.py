"""Collecting the datasets' episodes as Minari ``EpisodeBuffer``s (T + 1 observations): rollouts
of a policy in synchronous environment copies (random, medium, expert), and the replay buffer
cut into its episodes (medium-replay).

As in D4RL's collection (Farama-Foundation/D4RL, scripts/generation/mujoco/collect_data.py),
actions are sampled from the SAC policy's distribution and a dataset holds exactly ``size``
steps; episodes still running when ``size`` is reached end there, flagged as truncated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm  # type: ignore[import-untyped]

from edp_ref.generation.environment import actor_policy, to_env_action
from edp_ref.generation.replay import ReplayBuffer
from edp_ref.generation.sac import SquashedGaussianActor

__all__ = ["buffer_episodes", "collect_episodes", "episode_buffer", "snapshot_policy"]


def episode_buffer(ep_id: int, obs: Any, acts: Any, rews: Any, terms: Any, truncs: Any) -> Any:
    """One Minari ``EpisodeBuffer`` (observations [T + 1, S], the rest [T] or [T, A])."""
    from minari.data_collector import EpisodeBuffer  # type: ignore[import-untyped]

    return EpisodeBuffer(
        id=ep_id,
        observations=np.asarray(obs),
        actions=np.asarray(acts),
        rewards=np.asarray(rews, dtype=np.float64),
        terminations=np.asarray(terms, dtype=bool),
        truncations=np.asarray(truncs, dtype=bool),
    )


def snapshot_policy(
    state: dict[str, Tensor],
    space: gym.spaces.Box,
    state_dim: int,
    *,
    hidden: int,
    layers: int,
    seed: int,
) -> Callable[[np.ndarray], np.ndarray]:
    """The stochastic policy of an actor snapshot (its state dict), sampling with a generator
    seeded with ``seed``: observations [n, S] -> env actions [n, A]."""
    actor = SquashedGaussianActor(state_dim, int(space.shape[0]), hidden, layers)
    actor.load_state_dict(state)
    generator = torch.Generator().manual_seed(seed)
    return actor_policy(actor, space, deterministic=False, generator=generator)


def collect_episodes(
    env_id: str,
    policy: Callable[[np.ndarray], np.ndarray],
    size: int,
    *,
    seed: int,
    num_envs: int = 10,
    progress: bool = True,
    desc: str = "collect",
) -> tuple[list[Any], int]:
    """Exactly ``size`` steps of ``policy`` (observations [n, S] -> env actions [n, A]) in
    ``num_envs`` synchronous copies of ``env_id``, as Minari ``EpisodeBuffer``s, and how many of
    them (the last ones) were cut by ``size`` rather than ended by the environment."""
    envs = gym.make_vec(env_id, num_envs, vectorization_mode="sync")
    obs, _ = envs.reset(seed=seed)

    def fresh(o: np.ndarray) -> dict[str, list[Any]]:
        return {"o": [o], "a": [], "r": [], "d": [], "t": []}

    cur: list[dict[str, list[Any]] | None] = [fresh(obs[i]) for i in range(num_envs)]
    resetting = np.zeros(num_envs, dtype=bool)
    episodes: list[Any] = []
    steps = 0
    bar = tqdm(total=size, desc=desc, disable=not progress, unit="step")
    while steps < size:
        actions = policy(np.asarray(obs))
        obs, rew, term, trunc, _ = envs.step(actions)
        for i in range(num_envs):
            if resetting[i]:  # NEXT_STEP autoreset: this step only reset sub-environment i
                cur[i] = fresh(obs[i])
                continue
            c = cur[i]
            if steps >= size or c is None:
                continue
            c["o"].append(obs[i])
            c["a"].append(actions[i])
            c["r"].append(float(rew[i]))
            c["d"].append(bool(term[i]))
            c["t"].append(bool(trunc[i]))
            steps += 1
            bar.update(1)
            if term[i] or trunc[i]:
                episodes.append(
                    episode_buffer(len(episodes), c["o"], c["a"], c["r"], c["d"], c["t"])
                )
                cur[i] = None
        resetting = np.logical_or(term, trunc)
    cut = 0
    for c in cur:
        if c is not None and c["a"]:
            c["t"][-1] = True
            episodes.append(episode_buffer(len(episodes), c["o"], c["a"], c["r"], c["d"], c["t"]))
            cut += 1
    bar.close()
    envs.close()
    return episodes, cut


def buffer_episodes(buffer: ReplayBuffer, end: int, space: gym.spaces.Box) -> list[Any]:
    """The replay buffer's first ``end`` steps as episodes (medium-replay), actions mapped to the
    environment's bounds; the last one is flagged truncated if it was still running."""
    if not 1 <= end <= buffer.size:
        raise ValueError(f"buffer_episodes: end = {end} is outside [1, {buffer.size}]")
    episodes: list[Any] = []
    start = 0
    ends = (buffer.terminals[:end] + buffer.truncations[:end]) > 0
    ends[end - 1] = True
    for e in torch.nonzero(ends).flatten().tolist():
        sl = slice(start, e + 1)
        obs = torch.cat([buffer.obs[sl], buffer.next_obs[e : e + 1]]).numpy()
        truncs = buffer.truncations[sl].bool().numpy().copy()
        terms = buffer.terminals[sl].bool().numpy()
        if not (terms[-1] or truncs[-1]):
            truncs[-1] = True
        acts = to_env_action(buffer.actions[sl].numpy(), space)
        episodes.append(
            episode_buffer(
                len(episodes),
                list(obs),
                list(acts),
                buffer.rewards[sl].tolist(),
                list(terms),
                list(truncs),
            )
        )
        start = e + 1
    return episodes
