"""Online SAC training, the first step of the D4RL protocol: it yields the behaviour policies
(the untrained actor, the "medium" and "expert" snapshots) and the replay buffer.

The expert is the best-evaluated snapshot and the medium policy the first snapshot whose
evaluation reaches ``medium_fraction`` of the expert's: D4RL's "medium" policy was stopped at
about a third of the expert's return (Fu et al., 2020, the Gym-MuJoCo datasets); which snapshot
is this implementation's choice. Training is resumable: the whole state (networks, optimisers,
generator, replay buffer, snapshots) is saved every ``checkpoint_every`` steps to
``<work_dir>/train.pt`` (:mod:`~edp_ref.generation.checkpoint`); a resumed run starts a new
episode (the interrupted one is closed as truncated).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm  # type: ignore[import-untyped]

from edp_ref.atomic_files import remove_stale_temporaries
from edp_ref.generation.checkpoint import Progress, load_checkpoint, save_checkpoint
from edp_ref.generation.config import GenerationConfig
from edp_ref.generation.environment import (
    actor_policy,
    environment_dims,
    episode_returns,
    to_env_action,
)
from edp_ref.generation.replay import ReplayBuffer
from edp_ref.generation.sac import SAC

__all__ = ["TrainingResult", "choose_snapshots", "evaluation_seed", "train_behaviour"]


@dataclass
class TrainingResult:
    """What SAC training leaves for the datasets: snapshots and the replay buffer.

    ``evaluations`` are (step, mean deterministic return) pairs, ``evaluation_seconds`` the
    training seconds elapsed at each (summed over resumed sessions), ``seconds`` the total.
    """

    initial_actor: dict[str, Tensor]
    expert_actor: dict[str, Tensor]
    medium_actor: dict[str, Tensor]
    medium_step: int
    expert_step: int
    evaluations: list[tuple[int, float]]
    evaluation_seconds: list[float]
    buffer: ReplayBuffer
    seconds: float


def choose_snapshots(
    evaluations: list[tuple[int, float]], medium_fraction: float
) -> tuple[int, int]:
    """Indices (medium, expert) into ``evaluations``: the expert is the best evaluation (the
    first of equals), medium the first one reaching ``medium_fraction`` of the expert's return
    (when the best return is <= 0, the first one reaching the best)."""
    if not evaluations:
        raise ValueError("choose_snapshots: no evaluations to choose from")
    returns = [r for _, r in evaluations]
    expert = int(np.argmax(returns))
    best = returns[expert]
    target = medium_fraction * best if best > 0 else best
    medium = next(i for i, r in enumerate(returns) if r >= target)
    return medium, expert


def evaluation_seed(step: int) -> int:
    """The evaluation after ``step`` steps plays episodes from ``reset(seed=evaluation_seed + i)``
    (the same start states for any ``eval_episodes``: more episodes extend the same list)."""
    return 10_000 + step


def _evaluate(sac: SAC, env_id: str, space: gym.spaces.Box, episodes: int, seed: int) -> float:
    """Mean return of SAC's deterministic (mean) action over ``episodes`` episodes."""
    policy = actor_policy(sac.actor, space, deterministic=True)
    return float(np.mean(episode_returns(env_id, policy, episodes, seed)))


def train_behaviour(
    config: GenerationConfig, work_dir: str, *, progress: bool = True
) -> TrainingResult:
    """Train SAC online on ``config.env_id``; resumes from ``<work_dir>/train.pt`` if present.

    Raises:
        ValueError: ``train.pt`` is damaged or was written with other training settings (the
            message names the file and the differing settings; the file is left in place).
        WriteError: ``train.pt`` cannot be written (disk full, I/O error; the previous one is
            kept).
    """
    os.makedirs(work_dir, exist_ok=True)
    remove_stale_temporaries(work_dir)  # the writes a killed generation left
    ckpt = os.path.join(work_dir, "train.pt")
    s_dim, space = environment_dims(config.env_id)
    a_dim = int(space.shape[0])
    gen = torch.Generator().manual_seed(config.seed)
    sac = SAC(s_dim, a_dim, generator=gen, hidden=config.hidden, layers=config.layers)
    buffer = ReplayBuffer.empty(config.train_steps, s_dim, a_dim)
    if os.path.exists(ckpt):
        state = load_checkpoint(ckpt, config, sac, buffer)
        last = state.step - 1
        if state.step and not (buffer.terminals[last] or buffer.truncations[last]):
            buffer.truncations[last] = 1.0  # the interrupted episode ends here
    else:
        initial = {k: v.clone() for k, v in sac.actor.state_dict().items()}
        state = Progress(initial_actor=initial)
    env = gym.make(config.env_id)
    start = time.perf_counter() - state.seconds
    obs, _ = env.reset(seed=config.seed * 1_000_003 + state.episode)
    bar = tqdm(
        total=config.train_steps,
        initial=state.step,
        desc=f"SAC {config.env_id}",
        disable=not progress,
        unit="step",
    )
    while state.step < config.train_steps:
        if state.step < config.start_steps:
            a = torch.rand(a_dim, generator=gen) * 2 - 1
        else:
            a = sac.act(torch.as_tensor(obs, dtype=torch.float32)[None])[0]
        obs2, r, term, trunc, _ = env.step(to_env_action(a.numpy(), space))
        buffer.add(obs, a.numpy(), float(r), obs2, bool(term), bool(trunc))
        obs = obs2
        state.step += 1
        step = state.step
        if term or trunc:
            state.episode += 1
            obs, _ = env.reset(seed=config.seed * 1_000_003 + state.episode)
        if step >= config.start_steps:
            sac.update(*buffer.sample(config.batch_size, gen))
        if step % config.eval_every == 0 or step == config.train_steps:
            seed = evaluation_seed(step)
            ret = _evaluate(sac, config.env_id, space, config.eval_episodes, seed)
            state.evaluations.append((step, ret))
            state.evaluation_seconds.append(time.perf_counter() - start)
            state.snapshots.append({k: v.clone() for k, v in sac.actor.state_dict().items()})
            bar.set_postfix(eval_return=f"{ret:.1f}")
        if step % config.checkpoint_every == 0 or step == config.train_steps:
            state.seconds = time.perf_counter() - start
            save_checkpoint(ckpt, config, sac, buffer, state)
        bar.update(1)
    bar.close()
    env.close()
    medium, expert = choose_snapshots(state.evaluations, config.medium_fraction)
    return TrainingResult(
        initial_actor=state.initial_actor,
        expert_actor=state.snapshots[expert],
        medium_actor=state.snapshots[medium],
        medium_step=state.evaluations[medium][0],
        expert_step=state.evaluations[expert][0],
        evaluations=state.evaluations,
        evaluation_seconds=state.evaluation_seconds,
        buffer=buffer,
        seconds=time.perf_counter() - start,
    )
