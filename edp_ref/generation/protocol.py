"""Local generation of D4RL-protocol datasets on Gymnasium MuJoCo v5 (the paper's Sec. 5 data):
:func:`generate` runs the steps of the other modules of this package in order.

D4RL (Fu et al., 2020) built its Gym-MuJoCo datasets thus: train SAC online; "random": rollouts
of a randomly initialised policy; "medium": rollouts of a policy stopped early at about a third
of the expert's return; "medium-replay": the replay buffer of training until that point
(Farama-Foundation/D4RL, scripts/generation/mujoco/convert_buffer.py); "expert": rollouts of the
fully trained policy; "medium-expert": medium followed by expert (ibid., stitch_dataset.py).
Default sizes are D4RL's (1M transitions each; medium-expert 2M). Steps:

1. :func:`~edp_ref.generation.training.train_behaviour`: SAC, snapshots, replay buffer;
2. :mod:`~edp_ref.generation.collection`: the episodes of each kind;
3. :mod:`~edp_ref.generation.writing`: Minari datasets ``edp_ref/<env>/<kind>-v0`` under
   ``$MINARI_DATASETS_PATH`` with ``ref_min_score`` / ``ref_max_score``;
4. ``<work_dir>/generation.json``: a record of the run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any

from edp_ref.atomic_files import atomic_write_text
from edp_ref.generation.collection import buffer_episodes, collect_episodes, snapshot_policy
from edp_ref.generation.config import KINDS, GenerationConfig
from edp_ref.generation.environment import environment_dims, episode_returns, random_policy
from edp_ref.generation.training import train_behaviour
from edp_ref.generation.writing import check_not_written, expert_reference, write_dataset
from edp_ref.paper import local_dataset_id

__all__ = ["generate"]


def generate(
    config: GenerationConfig,
    work_dir: str,
    *,
    force: bool = False,
    progress: bool = True,
) -> dict[str, str]:
    """Train the behaviour policy and write the datasets; returns {kind: Minari id}.

    A JSON record of the run (configuration, seeds, evaluations, chosen snapshots, reference
    scores, timings) is written to ``<work_dir>/generation.json``.

    Raises:
        FileExistsError: a dataset of ``config.kinds`` exists and not ``force`` (checked before
            training starts).
        ValueError: ``<work_dir>/train.pt`` is damaged or from other training settings.
    """
    check_not_written(config, force)
    result = train_behaviour(config, work_dir, progress=progress)
    s_dim, space = environment_dims(config.env_id)
    t0 = time.perf_counter()
    min_seed = config.seed + 777
    ref_min = (
        sum(
            episode_returns(
                config.env_id, random_policy(space, min_seed), config.reference_episodes, min_seed
            )
        )
        / config.reference_episodes
    )
    # The collection seed of each kind, also its policy-sampling generator's.
    seeds = {k: config.seed * 100 + i for i, k in enumerate(KINDS)}
    # The expert's episodes are always collected: REF_MAX is their mean return, so a dataset's
    # references do not depend on which other kinds are written (the expert's are not written
    # unless asked for).
    needed = set(config.kinds) | {"expert"}
    if "medium-expert" in needed:
        needed |= {"medium", "expert"}
    rollouts: dict[str, list[Any]] = {}
    cut: dict[str, int] = {}
    actors = {
        "random": result.initial_actor,
        "medium": result.medium_actor,
        "expert": result.expert_actor,
    }
    collection_seconds: dict[str, float] = {}
    for kind in ("random", "medium", "expert"):
        if kind in needed:
            t_kind = time.perf_counter()
            policy = snapshot_policy(
                actors[kind],
                space,
                s_dim,
                hidden=config.hidden,
                layers=config.layers,
                seed=seeds[kind],
            )
            rollouts[kind], cut[kind] = collect_episodes(
                config.env_id,
                policy,
                config.size,
                seed=seeds[kind],
                num_envs=config.collect_envs,
                progress=progress,
                desc=f"{config.env} {kind}",
            )
            collection_seconds[kind] = time.perf_counter() - t_kind
    ref_max = expert_reference(rollouts.get("expert", []), cut.get("expert", 0), result.evaluations)
    if "medium-replay" in needed:
        rollouts["medium-replay"] = buffer_episodes(result.buffer, result.medium_step, space)
    if "medium-expert" in needed:
        me = [*rollouts["medium"], *rollouts["expert"]]
        rollouts["medium-expert"] = [dataclasses.replace(e, id=i) for i, e in enumerate(me)]
    written = {}
    for kind in config.kinds:
        dataset_id = local_dataset_id(config.env, kind)
        write_dataset(dataset_id, rollouts[kind], config, kind, ref_min, ref_max, force=force)
        written[kind] = dataset_id
    record = {
        "config": dataclasses.asdict(config),
        "seeds": {"training": config.seed, "random_reference": min_seed, **seeds},
        "evaluations": result.evaluations,
        "evaluation_seconds": result.evaluation_seconds,
        "medium_step": result.medium_step,
        "expert_step": result.expert_step,
        "ref_min_score": ref_min,
        "ref_max_score": ref_max,
        "training_seconds": result.seconds,
        "collection_seconds_by_kind": collection_seconds,
        "collection_seconds": time.perf_counter() - t0,
        "datasets": written,
        "episodes_cut_by_size": cut,
    }
    atomic_write_text(os.path.join(work_dir, "generation.json"), json.dumps(record, indent=2))
    return written
