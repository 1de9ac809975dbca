"""Online SAC training, the first step of the D4RL protocol: it yields the behaviour policies
(the untrained actor, the "medium" and "expert" snapshots) and the replay buffer.

The expert is the best-evaluated snapshot and the medium policy the first snapshot whose
evaluation reaches ``medium_fraction`` of the expert's: D4RL's "medium" policy was stopped at
about a third of the expert's return (Fu et al., 2020, the Gym-MuJoCo datasets); which snapshot
is this implementation's choice. Training is resumable: the whole state (networks, optimisers,
generator, replay buffer, snapshots) is saved every ``checkpoint_every`` steps to
``<work_dir>/train.pt``, atomically and as tensors only (``torch.load(weights_only=True)`` reads
it); a file that is damaged, comes from another version of edp_ref or was written with other
training settings is refused with an error naming it and what is wrong. A resumed run starts a
new episode (the interrupted one is closed as truncated).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm  # type: ignore[import-untyped]

from edp_ref.atomic_files import atomic_write, remove_stale_temporaries
from edp_ref.generation.config import GenerationConfig
from edp_ref.generation.environment import (
    actor_policy,
    environment_dims,
    episode_returns,
    to_env_action,
)
from edp_ref.generation.replay import ReplayBuffer
from edp_ref.generation.sac import SAC

__all__ = [
    "TRAINING_FIELDS",
    "Progress",
    "TrainingResult",
    "choose_snapshots",
    "evaluation_seed",
    "load_checkpoint",
    "read_checkpoint",
    "save_checkpoint",
    "train_behaviour",
    "training_key",
]


#: The settings a checkpoint must share to be resumed (dataset sizes and kinds may differ).
TRAINING_FIELDS = (
    "env",
    "train_steps",
    "start_steps",
    "batch_size",
    "eval_every",
    "eval_episodes",
    "hidden",
    "layers",
    "seed",
)


def training_key(config: GenerationConfig) -> str:
    """:data:`TRAINING_FIELDS` of ``config`` as sorted JSON (stored in the checkpoint)."""
    return json.dumps({k: getattr(config, k) for k in TRAINING_FIELDS}, sort_keys=True)


@dataclass
class Progress:
    """Where training stands: counters, the evaluations (step, mean return), the training
    seconds elapsed at each, and the actor snapshot taken at each (the medium/expert candidates).
    ``initial_actor`` is the untrained actor (the "random" dataset's policy)."""

    initial_actor: dict[str, Tensor]
    step: int = 0
    episode: int = 0
    seconds: float = 0.0
    evaluations: list[tuple[int, float]] = field(default_factory=list)
    evaluation_seconds: list[float] = field(default_factory=list)
    snapshots: list[dict[str, Tensor]] = field(default_factory=list)


def save_checkpoint(
    path: Path | str,
    config: GenerationConfig,
    sac: SAC,
    buffer: ReplayBuffer,
    progress: Progress,
) -> None:
    """Write the whole training state to ``path`` atomically."""
    payload = {
        "config": training_key(config),
        "sac": sac.state_dict(),
        "initial_actor": progress.initial_actor,
        "step": progress.step,
        "episode": progress.episode,
        "seconds": progress.seconds,
        "buffer": buffer.saved(),
        "evaluations": torch.tensor(progress.evaluations, dtype=torch.float64).reshape(-1, 2),
        "evaluation_seconds": torch.tensor(progress.evaluation_seconds, dtype=torch.float64),
        "snapshots": progress.snapshots,
    }
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def _damaged(path: Path | str, exc: Exception) -> str:
    """The one-line message of a damaged ``path`` (the first line of ``exc``'s: torch's run on)."""
    cause = (str(exc).splitlines() or [""])[0]
    return (
        f"the training checkpoint {path} is damaged or not a checkpoint of this version of "
        "edp_ref (an interrupted write, a truncated copy?); delete it to train from the "
        f"start, or use another work directory ({type(exc).__name__}: {cause})"
    )


def read_checkpoint(path: Path | str, config: GenerationConfig | None = None) -> dict[str, Any]:
    """The raw contents of ``path``; with ``config``, checked to come from the same training
    settings (:data:`TRAINING_FIELDS`): the error names each setting that differs.

    Raises:
        ValueError: the file cannot be read as a checkpoint (garbage, truncated, no ``config``)
            or was written with other training settings.
    """
    try:
        state = torch.load(path, weights_only=True)
        stored = json.loads(state["config"])
        if not isinstance(stored, dict):
            raise TypeError(f"config is {type(stored).__name__}, not a mapping")
    except Exception as exc:  # zip / unpickling errors, EOFError, a missing key, bad JSON
        raise ValueError(_damaged(path, exc)) from exc
    if config is not None:
        current = json.loads(training_key(config))
        differences = [
            f"{k}: stored {stored.get(k)!r}, now {current[k]!r}"
            for k in TRAINING_FIELDS
            if stored.get(k) != current[k]
        ]
        if differences:
            raise ValueError(
                f"{path} was written with other training settings ({'; '.join(differences)}); "
                "delete it to train with the new settings (its SAC training is lost), or use "
                "another work directory"
            )
    return dict(state)


def load_checkpoint(
    path: Path | str, config: GenerationConfig, sac: SAC, buffer: ReplayBuffer
) -> Progress:
    """Restore ``sac`` and ``buffer`` from ``path`` and return the progress it records.

    Raises:
        ValueError: as :func:`read_checkpoint`, or when a part is missing or inconsistent
            (wrong shapes, a step outside ``[0, train_steps]``, evaluations that do not match
            the step).
    """
    state = read_checkpoint(path, config)
    try:
        sac.load_state_dict(state["sac"])
        step = int(state["step"])
        if not 0 <= step <= config.train_steps:
            raise ValueError(f"step {step} is outside [0, {config.train_steps}]")
        buffer.restore(state["buffer"], step)
        evaluations = [(int(s), float(r)) for s, r in state["evaluations"].tolist()]
        progress = Progress(
            initial_actor=dict(state["initial_actor"]),
            step=step,
            episode=int(state["episode"]),
            seconds=float(state["seconds"]),
            evaluations=evaluations,
            evaluation_seconds=[float(s) for s in state["evaluation_seconds"].tolist()],
            snapshots=list(state["snapshots"]),
        )
        # One evaluation per eval_every steps, and one at the last step.
        n = step // config.eval_every
        n += step == config.train_steps and step % config.eval_every != 0
        counts = (len(evaluations), len(progress.evaluation_seconds), len(progress.snapshots))
        if counts != (n, n, n):
            raise ValueError(
                f"{counts} evaluations / evaluation times / snapshots after step {step}, "
                f"expected {n} of each"
            )
    except Exception as exc:  # missing keys, wrong shapes or types
        raise ValueError(_damaged(path, exc)) from exc
    return progress


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
