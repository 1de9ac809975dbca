"""Local generation of D4RL-protocol datasets on Gymnasium MuJoCo v5 (the paper's Sec. 5 data):
:func:`generate` runs the steps of the other modules of this package in order, then writes the
datasets.

D4RL (Fu et al., 2020) built its Gym-MuJoCo datasets thus: train SAC online; "random": rollouts
of a randomly initialised policy; "medium": rollouts of a policy stopped early at about a third
of the expert's return; "medium-replay": the replay buffer of training until that point
(Farama-Foundation/D4RL, scripts/generation/mujoco/convert_buffer.py); "expert": rollouts of the
fully trained policy; "medium-expert": medium followed by expert (ibid., stitch_dataset.py).
Default sizes are D4RL's (1M transitions each; medium-expert 2M). Steps:

1. :func:`~edp_ref.generation.training.train_behaviour`: SAC, snapshots, replay buffer;
2. :mod:`~edp_ref.generation.collection`: the episodes of each kind;
3. :func:`write_dataset`: Minari datasets ``edp_ref/<env>/<kind>-v0`` under
   ``$MINARI_DATASETS_PATH`` (Minari's own ``create_dataset_from_buffers``), each written whole
   or not at all (:func:`edp_ref.atomic_files.atomic_write_folder`: a full disk leaves the old
   dataset, a kill a temporary folder that the next write removes), with the ends of D4RL's
   normalized score: ``ref_min_score``, the mean return of uniform random actions, as D4RL
   computed its REF_MIN (100 episodes of ``action_space.sample()``: Farama-Foundation/D4RL,
   scripts/reference_scores/generate_ref_min_score.py), and ``ref_max_score``, the mean return
   of this run's expert episodes (D4RL's REF_MAX is its expert's return, e.g. 3234.3 for Hopper:
   d4rl/gym_mujoco/__init__.py). A normalized score of 100 therefore means "as good as this
   run's expert", which is weak when SAC was trained briefly (docs/data.md measures how weak);
4. ``<work_dir>/generation.json``: a record of the run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from edp_ref.atomic_files import atomic_write_folder, atomic_write_text, remove_stale_temporaries
from edp_ref.data.minari_io import minari_dataset_path, minari_root
from edp_ref.generation.collection import buffer_episodes, collect_episodes, snapshot_policy
from edp_ref.generation.config import KINDS, GenerationConfig, collected_policies
from edp_ref.generation.environment import environment_dims, episode_returns, random_policy
from edp_ref.generation.training import train_behaviour
from edp_ref.paper import local_dataset_id

__all__ = ["check_not_written", "expert_reference", "generate", "write_dataset"]


def check_not_written(config: GenerationConfig, force: bool) -> None:
    """Refuse, before any training, to overwrite an existing dataset of ``config.kinds``.

    Raises:
        FileExistsError: naming the datasets and their folders (unless ``force``).
    """
    if force:
        return
    existing = {
        local_dataset_id(config.env, k): minari_dataset_path(local_dataset_id(config.env, k))
        for k in config.kinds
    }
    existing = {i: p for i, p in existing.items() if os.path.exists(p)}
    if existing:
        where = ", ".join(f"{i} at {p}" for i, p in existing.items())
        raise FileExistsError(
            f"{where} already exist(s); pass force=True (edp-datasets --force) to overwrite"
        )


def expert_reference(
    expert_episodes: list[Any], cut: int, evaluations: list[tuple[int, float]]
) -> float:
    """REF_MAX: the mean return of the expert's episodes that the environment ended (the last
    ``cut`` were cut by the dataset size); without any, the best evaluation return."""
    complete = expert_episodes[: len(expert_episodes) - cut]
    if complete:
        return float(np.mean([np.sum(e.rewards) for e in complete]))
    return max(r for _, r in evaluations)


def write_dataset(
    dataset_id: str,
    episodes: list[Any],
    config: GenerationConfig,
    kind: str,
    ref_min: float,
    ref_max: float,
    *,
    force: bool,
) -> None:
    """Write ``episodes`` (Minari ``EpisodeBuffer``s) as ``dataset_id``, whole or not at all; an
    existing dataset is replaced when ``force``, otherwise it is a ``FileExistsError``.

    Raises:
        WriteError: the disk is full or failing (naming the folder and the free space; an
            existing dataset is kept).
    """
    import minari  # type: ignore[import-untyped]

    path = Path(minari_dataset_path(dataset_id))
    remove_stale_temporaries(path.parent)
    if path.exists() and not force:
        raise FileExistsError(f"{dataset_id} already exists at {path}; pass force=True")

    def write(root: Path) -> Path:
        with minari_root(str(root)), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            minari.create_dataset_from_buffers(
                dataset_id,
                episodes,
                env=config.env_id,
                eval_env=config.env_id,
                algorithm_name="SAC (edp_ref.generation.sac), D4RL protocol",
                author="edp_ref",
                author_email="edp_ref@users.noreply.github.com",
                code_permalink="edp_ref/generation/protocol.py",
                description=(
                    f"D4RL-protocol '{kind}' dataset for {config.env_id} generated by edp_ref; "
                    f"config: {json.dumps(dataclasses.asdict(config), sort_keys=True)}"
                ),
                ref_min_score=ref_min,
                ref_max_score=ref_max,
                num_episodes_average_score=config.reference_episodes,
            )
        return root / dataset_id

    atomic_write_folder(path, write)


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
    rollouts: dict[str, list[Any]] = {}
    cut: dict[str, int] = {}
    actors = {
        "random": result.initial_actor,
        "medium": result.medium_actor,
        "expert": result.expert_actor,
    }
    collection_seconds: dict[str, float] = {}
    for kind in collected_policies(config.kinds):
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
    if "medium-replay" in config.kinds:
        rollouts["medium-replay"] = buffer_episodes(result.buffer, result.medium_step, space)
    if "medium-expert" in config.kinds:
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
