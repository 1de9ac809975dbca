"""How good a generation run's behaviour policies are, read from its training checkpoint: for
several training budgets, which snapshots a run of that budget would pick as "medium" and
"expert", and their returns re-measured over many episodes (training picks them from short
evaluations). docs/data.md's table comes from here::

    python -m edp_ref.generation.quality runs/datasets/hopper-seed0 --budgets 30000 60000 100000

Two facts make one checkpoint answer for other settings, exactly:

* a run with ``train_steps = B`` and otherwise the same training settings makes the first ``B``
  steps and evaluations of a longer run (nothing drawn before step ``B`` depends on
  ``train_steps``; tests/test_generation.py checks it), so one long run answers for every budget
  it passes through;
* training's evaluations use the mean action and start states ``evaluation_seed(step) + i``,
  and draw nothing from training's generator, so re-running them with more episodes
  (:func:`snapshot_evaluations`) gives what a run with a larger ``eval_episodes`` would have
  measured, and so the snapshots it would have picked (``selection_episodes``).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from edp_ref.generation.environment import actor_policy, environment_dims, episode_returns
from edp_ref.generation.sac import SquashedGaussianActor
from edp_ref.generation.training import choose_snapshots, evaluation_seed, read_checkpoint
from edp_ref.paper import LOCAL_ENVS

__all__ = [
    "BudgetQuality",
    "PolicyReturns",
    "budget_quality",
    "replay_episode_returns",
    "snapshot_evaluations",
]


@dataclass(frozen=True)
class PolicyReturns:
    """Returns of one snapshot over ``episodes`` episodes: its mean action (as training's
    evaluations) and actions sampled from it (as the datasets are collected);
    ``selection_evaluation``: the evaluation the snapshot was chosen by."""

    step: int
    selection_evaluation: float
    deterministic_mean: float
    deterministic_std: float
    sampled_mean: float
    sampled_std: float
    episodes: int


@dataclass(frozen=True)
class BudgetQuality:
    """The snapshots a ``budget``-step run picks, re-measured; ``ratio``: medium's sampled mean
    over expert's (D4RL: about 1/3); ``replay_*``: the medium-replay data (the replay buffer up
    to the medium snapshot); ``training_seconds``: training's clock at the budget's last
    evaluation (None for checkpoints that do not record it)."""

    budget: int
    medium: PolicyReturns
    expert: PolicyReturns
    ratio: float
    replay_transitions: int
    replay_episodes: int
    replay_mean_return: float
    training_seconds: float | None


def replay_episode_returns(rewards: Tensor, ends: Tensor, end: int) -> list[float]:
    """Returns of the replay buffer's episodes in steps ``[0, end)`` (``ends``: 1 where an
    episode terminated or was truncated; the last, possibly unfinished, one included)."""
    out, total = [], 0.0
    for r, e in zip(rewards[:end].tolist(), ends[:end].tolist(), strict=True):
        total += r
        if e:
            out.append(total)
            total = 0.0
    if ends[:end].numel() and not ends[end - 1]:
        out.append(total)
    return out


def _actor(
    snapshot: dict[str, Tensor], config: dict[str, Any]
) -> tuple[str, SquashedGaussianActor, Any]:
    env_id = LOCAL_ENVS[config["env"]]
    s_dim, space = environment_dims(env_id)
    actor = SquashedGaussianActor(s_dim, int(space.shape[0]), config["hidden"], config["layers"])
    actor.load_state_dict(snapshot)
    return env_id, actor, space


def snapshot_evaluations(
    checkpoint: str, episodes: int, *, up_to: int | None = None
) -> list[tuple[int, float]]:
    """Training's evaluations (step, mean return of the mean action) of every snapshot up to
    step ``up_to``, re-run with ``episodes`` episodes from the same start states: with the run's
    ``eval_episodes`` they equal the stored evaluations; with more, they are what a run with
    ``eval_episodes = episodes`` would have measured."""
    state = read_checkpoint(checkpoint)
    config = json.loads(state["config"])
    out = []
    for (step, _), snapshot in zip(state["evaluations"].tolist(), state["snapshots"], strict=True):
        if up_to is not None and step > up_to:
            break
        env_id, actor, space = _actor(snapshot, config)
        policy = actor_policy(actor, space, deterministic=True)
        returns = episode_returns(env_id, policy, episodes, evaluation_seed(int(step)))
        out.append((int(step), statistics.fmean(returns)))
    return out


def _returns(
    snapshot: dict[str, Tensor],
    config: dict[str, Any],
    step: int,
    selection_evaluation: float,
    episodes: int,
    seed: int,
) -> PolicyReturns:
    env_id, actor, space = _actor(snapshot, config)
    det = episode_returns(env_id, actor_policy(actor, space, deterministic=True), episodes, seed)
    gen = torch.Generator().manual_seed(seed)
    sampled_policy = actor_policy(actor, space, deterministic=False, generator=gen)
    sampled = episode_returns(env_id, sampled_policy, episodes, seed)
    return PolicyReturns(
        step=step,
        selection_evaluation=selection_evaluation,
        deterministic_mean=statistics.fmean(det),
        deterministic_std=statistics.pstdev(det),
        sampled_mean=statistics.fmean(sampled),
        sampled_std=statistics.pstdev(sampled),
        episodes=episodes,
    )


def budget_quality(
    checkpoint: str,
    budgets: Sequence[int],
    *,
    episodes: int = 20,
    seed: int = 123_456,
    medium_fraction: float = 1.0 / 3.0,
    selection_episodes: int | None = None,
) -> list[BudgetQuality]:
    """:class:`BudgetQuality` of each budget from the checkpoint ``checkpoint`` (train.pt).

    The snapshots are chosen as training chose them, from the stored evaluations, or with
    ``selection_episodes``, from :func:`snapshot_evaluations` with that many episodes (what a
    run with ``eval_episodes = selection_episodes`` picks). The chosen ones are then measured on
    the same ``episodes`` start states (``seed + i``).

    Raises:
        ValueError: a budget is not one of the checkpoint's evaluation steps (named with them).
    """
    state = read_checkpoint(checkpoint)
    config = json.loads(state["config"])
    evaluations = [(int(s), float(r)) for s, r in state["evaluations"].tolist()]
    steps = [s for s, _ in evaluations]
    if selection_episodes is not None and set(budgets) <= set(steps):
        evaluations = snapshot_evaluations(checkpoint, selection_episodes, up_to=max(budgets))
    clock = state.get("evaluation_seconds")
    buffer = state["buffer"]
    ends = (buffer["terminals"] + buffer["truncations"]) > 0
    out = []
    for budget in budgets:
        if budget not in steps:
            raise ValueError(
                f"budget {budget}: not an evaluation step of {checkpoint} (steps {steps[0]}, "
                f"{steps[1] if len(steps) > 1 else ''} ... {steps[-1]})"
            )
        n = steps.index(budget) + 1
        medium, expert = choose_snapshots(evaluations[:n], medium_fraction)
        snaps = state["snapshots"]
        m = _returns(snaps[medium], config, *evaluations[medium], episodes, seed)
        e = _returns(snaps[expert], config, *evaluations[expert], episodes, seed)
        replay = replay_episode_returns(buffer["rewards"], ends, m.step)
        out.append(
            BudgetQuality(
                budget=budget,
                medium=m,
                expert=e,
                ratio=m.sampled_mean / e.sampled_mean if e.sampled_mean else math.nan,
                replay_transitions=m.step,
                replay_episodes=len(replay),
                replay_mean_return=statistics.fmean(replay),
                training_seconds=None if clock is None else float(clock[n - 1]),
            )
        )
    return out


def main(argv: Sequence[str] | None = None) -> list[BudgetQuality]:
    p = argparse.ArgumentParser(description="Re-measure the medium and expert snapshots.")
    p.add_argument("work_dir", help="a generation run's folder (holding train.pt)")
    p.add_argument("--budgets", type=int, nargs="+", required=True)
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument(
        "--selection-episodes",
        type=int,
        help="choose the snapshots from evaluations re-run with this many episodes",
    )
    p.add_argument("--output", help="write the results as JSON here")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    results = budget_quality(
        f"{args.work_dir}/train.pt",
        args.budgets,
        episodes=args.episodes,
        selection_episodes=args.selection_episodes,
    )
    for q in results:
        print(
            f"budget {q.budget}: expert step {q.expert.step} "
            f"{q.expert.sampled_mean:.0f} +- {q.expert.sampled_std:.0f} (mean action "
            f"{q.expert.deterministic_mean:.0f}); medium step {q.medium.step} "
            f"{q.medium.sampled_mean:.0f} +- {q.medium.sampled_std:.0f} (mean action "
            f"{q.medium.deterministic_mean:.0f}); ratio {q.ratio:.2f}; medium-replay "
            f"{q.replay_transitions} transitions, {q.replay_episodes} episodes, mean return "
            f"{q.replay_mean_return:.0f}",
            flush=True,
        )
    if args.output:
        with open(args.output, "w") as f:
            json.dump([asdict(q) for q in results], f, indent=2)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
