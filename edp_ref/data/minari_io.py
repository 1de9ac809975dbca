"""Minari datasets as transition datasets.

Minari (the Farama Foundation's successor of D4RL) stores whole episodes: T actions, rewards,
terminations and truncations, and T + 1 observations (the last one is the observation after the
final step). ``episodes_to_transitions`` turns every step t of every episode into the transition
(o_t, a_t, r_t, o_{t+1}, terminated_t, truncated_t); since o_{t+1} is stored, no transition is
lost at a truncation (unlike D4RL's HDF5 files, see ``d4rl_hdf5``). Dict observations (AntMaze,
Kitchen) are flattened in the order of Gymnasium's ``spaces.flatten``, so that the
``FlattenObservation`` wrapper gives the evaluation policy the same vector.

``load_minari`` reads a dataset by id from ``$MINARI_DATASETS_PATH`` with
``minari.load_dataset``; it downloads only when asked (``download=True``, which needs network
access and ``huggingface_hub``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import gymnasium as gym
import minari  # type: ignore[import-untyped]
import numpy as np
from gymnasium import spaces

from edp_ref.data.transitions import TransitionDataset

__all__ = [
    "DatasetNotFoundError",
    "episodes_to_transitions",
    "flatten_batch",
    "load_minari",
    "minari_dataset_path",
]


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is not on this machine; the message says where it was looked for and how to
    download or generate it."""


def minari_dataset_path(dataset_id: str) -> str:
    """Where Minari keeps ``dataset_id``: ``$MINARI_DATASETS_PATH/<id>`` (default ~/.minari)."""
    root = os.environ.get("MINARI_DATASETS_PATH") or os.path.join(
        os.path.expanduser("~"), ".minari", "datasets"
    )
    return os.path.join(root, dataset_id)


def flatten_batch(space: spaces.Space[Any], data: Any, source: str) -> np.ndarray:
    """Flatten a batch of observations of ``space`` to [T, D] as ``spaces.flatten`` would."""
    if isinstance(space, spaces.Box):
        arr = np.asarray(data)
        return arr.reshape(arr.shape[0], -1)
    if isinstance(space, spaces.Dict):
        if not isinstance(data, Mapping):
            raise ValueError(f"{source}: expected dict observations for {space}, got {type(data)}")
        parts = [flatten_batch(sub, data[key], source) for key, sub in space.spaces.items()]
        return np.concatenate(parts, axis=1)
    if isinstance(space, spaces.Tuple):
        parts = [flatten_batch(sub, d, source) for sub, d in zip(space.spaces, data, strict=True)]
        return np.concatenate(parts, axis=1)
    raise ValueError(f"{source}: unsupported observation space {space} (only Box, Dict, Tuple)")


def episodes_to_transitions(
    episodes: Iterable[Any],
    *,
    observation_space: spaces.Space[Any],
    action_space: spaces.Space[Any],
    source: str,
    **provenance: Any,
) -> TransitionDataset:
    """Transitions (o_t, a_t, r_t, o_{t+1}, terminated_t, truncated_t) of Minari episodes.

    ``episodes`` yields objects with ``observations`` (T + 1 rows), ``actions``, ``rewards``,
    ``terminations`` and ``truncations`` (T rows each), as ``minari.EpisodeData`` does. Episodes
    of length 0 carry no transition and are counted in ``dropped["empty_episode"]``.
    """
    if not isinstance(action_space, spaces.Box):
        raise ValueError(f"{source}: only Box action spaces are supported, got {action_space}")
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("o", "a", "r", "o2", "d", "t")}
    empty = 0
    for ep in episodes:
        where = f"{source} (episode {getattr(ep, 'id', '?')})"
        obs = flatten_batch(observation_space, ep.observations, where)
        act = np.asarray(ep.actions).reshape(len(ep.actions), -1)
        rew = np.asarray(ep.rewards, dtype=np.float64).reshape(-1)
        term = np.asarray(ep.terminations).reshape(-1)
        trunc = np.asarray(ep.truncations).reshape(-1)
        steps = len(rew)
        for name, arr in (("actions", act), ("terminations", term), ("truncations", trunc)):
            if len(arr) != steps:
                raise ValueError(
                    f"{where}: length mismatch: field '{name}' has {len(arr)} rows but "
                    f"'rewards' has {steps}"
                )
        if len(obs) != steps + 1:
            raise ValueError(
                f"{where}: field 'observations' has {len(obs)} rows; a Minari episode of "
                f"{steps} steps must hold {steps + 1}"
            )
        if steps == 0:
            empty += 1
            continue
        cols["o"].append(obs[:-1])
        cols["o2"].append(obs[1:])
        cols["a"].append(act)
        cols["r"].append(rew)
        cols["d"].append(term.astype(np.float32))
        cols["t"].append(trunc.astype(np.float32))
    if not cols["r"]:
        raise ValueError(f"{source}: the dataset is empty (no episode with at least one step)")
    arrays = {
        "observations": np.concatenate(cols["o"]),
        "actions": np.concatenate(cols["a"]),
        "rewards": np.concatenate(cols["r"]),
        "next_observations": np.concatenate(cols["o2"]),
        "terminals": np.concatenate(cols["d"]),
        "timeouts": np.concatenate(cols["t"]),
    }
    dropped = {"empty_episode": empty} if empty else {}
    return TransitionDataset.from_arrays(
        arrays,
        source=source,
        action_low=action_space.low,
        action_high=action_space.high,
        dropped=dropped,
        **provenance,
    )


def load_minari(dataset_id: str, *, download: bool = False) -> TransitionDataset:
    """Load the Minari dataset ``dataset_id`` as transitions.

    Reference scores (``ref_min_score`` / ``ref_max_score``) and the evaluation environment's id
    are taken from the dataset's metadata when it has them. Raises ``DatasetNotFoundError`` when
    the dataset is not local and ``download`` is False (or the download fails).
    """
    path = minari_dataset_path(dataset_id)
    local = os.path.exists(os.path.join(path, "data"))
    if not local and not download:
        raise DatasetNotFoundError(
            f"Minari dataset '{dataset_id}' is not on this machine (looked in {path}, from "
            "$MINARI_DATASETS_PATH or ~/.minari/datasets). Download it with "
            f"`minari download {dataset_id}` (needs network access and huggingface_hub), or "
            "pass download=True."
        )
    try:
        ds = minari.load_dataset(dataset_id, download=download)
    except Exception as exc:
        if local:
            raise ValueError(
                f"Minari dataset '{dataset_id}' at {path} could not be read: {exc}"
            ) from exc
        raise DatasetNotFoundError(
            f"Minari dataset '{dataset_id}' could not be downloaded to {path}: {exc}. "
            f"Run `minari download {dataset_id}` on a machine with network access and copy "
            "the folder into $MINARI_DATASETS_PATH."
        ) from exc
    meta = ds.storage.metadata
    env_id = _eval_env_id(meta)
    source = f"minari:{dataset_id} ({path})"
    result = episodes_to_transitions(
        ds.iterate_episodes(),
        observation_space=ds.observation_space,
        action_space=ds.action_space,
        source=source,
        env_id=env_id,
        minari_id=dataset_id,
        ref_min_score=_float_or_none(meta.get("ref_min_score")),
        ref_max_score=_float_or_none(meta.get("ref_max_score")),
    )
    if result.num_dropped == 0 and len(result) != ds.total_steps:
        raise ValueError(
            f"{source}: {len(result)} transitions built from {ds.total_steps} stored steps"
        )
    return result


def _float_or_none(x: Any) -> float | None:
    return None if x is None else float(x)


def _eval_env_id(meta: Mapping[str, Any]) -> str | None:
    for key in ("eval_env_spec", "env_spec"):
        spec = meta.get(key)
        if spec:
            try:
                return str(gym.envs.registration.EnvSpec.from_json(spec).id)
            except Exception:
                continue
    return None
