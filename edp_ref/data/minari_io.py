"""Minari datasets as transition datasets.

Minari (the Farama Foundation's successor of D4RL) stores whole episodes: T actions, rewards,
terminations and truncations, and T + 1 observations (the last one is the observation after the
final step). ``episodes_to_transitions`` turns every step t of every episode into the transition
(o_t, a_t, r_t, o_{t+1}, terminated_t, truncated_t); since o_{t+1} is stored, no transition is
lost at a truncation (unlike D4RL's HDF5 files, see ``d4rl_hdf5``). Dict observations (AntMaze,
Kitchen) are flattened in the order of Gymnasium's ``spaces.flatten``, so that the
``FlattenObservation`` wrapper gives the evaluation policy the same vector.

``load_minari`` reads a dataset by id from ``$MINARI_DATASETS_PATH``; it downloads only when asked.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import minari  # type: ignore[import-untyped]
import numpy as np
from gymnasium import spaces

from edp_ref.data.checks import check_finite, check_flags, check_numeric
from edp_ref.data.minari_reading import (
    eval_env_id,
    metadata_count,
    read_episodes,
    reference_scores,
)
from edp_ref.data.transitions import TransitionDataset

__all__ = [
    "DatasetNotFoundError",
    "environment_variables",
    "episodes_to_transitions",
    "flatten_batch",
    "load_minari",
    "minari_dataset_path",
    "minari_root",
]


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is not on this machine; the message says where it was looked for and how to
    download or generate it."""


@contextlib.contextmanager
def environment_variables(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set the environment variables ``values`` for the block (None: leave one alone)."""
    given = {k: v for k, v in values.items() if v is not None}
    old = {k: os.environ.get(k) for k in given}
    os.environ.update(given)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def minari_root(path: str | None) -> contextlib.AbstractContextManager[None]:
    """Point ``$MINARI_DATASETS_PATH`` at ``path`` for the block (None: leave it alone)."""
    return environment_variables({"MINARI_DATASETS_PATH": path})


def minari_dataset_path(dataset_id: str) -> str:
    """Where Minari keeps ``dataset_id``: ``$MINARI_DATASETS_PATH/<id>`` (default ~/.minari)."""
    root = os.environ.get("MINARI_DATASETS_PATH") or os.path.join(
        os.path.expanduser("~"), ".minari", "datasets"
    )
    return os.path.join(root, dataset_id)


def _rows(space_shape: tuple[int, ...]) -> str:
    return f"[T, {', '.join(str(d) for d in space_shape)}]" if space_shape else "[T]"


def flatten_batch(
    space: spaces.Space[Any], data: Any, source: str, field: str = "observations"
) -> np.ndarray:
    """Flatten a batch of observations of ``space`` to [T, D] as ``spaces.flatten`` would; a leaf
    that does not fit its space is a ``ValueError`` naming it (``field/key``, ``field/i``)."""
    if isinstance(space, spaces.Box):
        arr = _steps_array(source, field, data, space.shape, finite=False)
        return arr.reshape(arr.shape[0], -1)
    if isinstance(space, spaces.Dict):
        if not isinstance(data, Mapping):
            raise ValueError(
                f"{source}: field '{field}' must hold dict observations for {space}, got "
                f"{type(data).__name__}"
            )
        missing = [key for key in space.spaces if key not in data]
        if missing:
            raise ValueError(
                f"{source}: field '{field}' lacks key(s) {missing} of its space (found "
                f"{sorted(data)})"
            )
        entries = [(key, sub, data[key]) for key, sub in space.spaces.items()]
    elif isinstance(space, spaces.Tuple):
        if not isinstance(data, (tuple, list)) or len(data) != len(space.spaces):
            found = len(data) if isinstance(data, (tuple, list)) else type(data).__name__
            raise ValueError(
                f"{source}: field '{field}' must hold {len(space.spaces)} entries for {space}, "
                f"got {found}"
            )
        entries = [(str(i), sub, data[i]) for i, sub in enumerate(space.spaces)]
    else:
        raise ValueError(f"{source}: unsupported observation space {space} (only Box, Dict, Tuple)")
    parts = [flatten_batch(sub, d, source, f"{field}/{key}") for key, sub, d in entries]
    if len({len(p) for p in parts}) > 1:
        raise ValueError(
            f"{source}: the entries of field '{field}' have different numbers of rows "
            f"{sorted({len(p) for p in parts})}"
        )
    return np.concatenate(parts, axis=1)


def _steps_array(
    where: str, field: str, value: Any, shape: tuple[int, ...], *, finite: bool = True
) -> np.ndarray:
    """An episode's per-step field as rows of ``shape``, checked (finite unless ``finite`` is
    False: flags, which ``check_flags`` checks)."""
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists
        raise ValueError(f"{where}: field '{field}' cannot be read as an array: {exc}") from exc
    check_numeric(where, field, arr)
    if shape == () and arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]  # [T, 1] rewards / flags, as D4RL's loader accepts
    if arr.ndim == 0 or arr.shape[1:] != shape:
        raise ValueError(f"{where}: field '{field}' has shape {arr.shape}, expected {_rows(shape)}")
    if finite:
        check_finite(where, field, arr, offset="step")
    return arr


def episodes_to_transitions(
    episodes: Iterable[Any],
    *,
    observation_space: spaces.Space[Any],
    action_space: spaces.Space[Any],
    source: str,
    **provenance: Any,
) -> TransitionDataset:
    """Transitions (o_t, a_t, r_t, o_{t+1}, terminated_t, truncated_t) of Minari episodes (as
    ``minari.EpisodeData``: T + 1 observations, T of the rest); empty episodes are counted in
    ``dropped["empty_episode"]``. Each episode is checked against the spaces; ``ValueError``
    names ``source``, the episode, the field and the step."""
    if not isinstance(action_space, spaces.Box):
        raise ValueError(f"{source}: only Box action spaces are supported, got {action_space}")
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("o", "a", "r", "o2", "d", "t")}
    empty = 0
    for ep in episodes:
        where = f"{source} (episode {getattr(ep, 'id', '?')})"
        obs = flatten_batch(observation_space, ep.observations, where)
        check_finite(where, "observations", obs, offset="step")
        act = _steps_array(where, "actions", ep.actions, action_space.shape)
        act = act.reshape(len(act), -1)
        rew = _steps_array(where, "rewards", ep.rewards, ())
        flags = {
            name: check_flags(
                where, name, _steps_array(where, name, value, (), finite=False), offset="step"
            )
            for name, value in (("terminations", ep.terminations), ("truncations", ep.truncations))
        }
        steps = len(rew)
        for name, arr in (("actions", act), *flags.items()):
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
        cols["d"].append(flags["terminations"].astype(np.float32))
        cols["t"].append(flags["truncations"].astype(np.float32))
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
    """Load the Minari dataset ``dataset_id`` as transitions, with the reference scores and
    evaluation environment of its metadata. ``DatasetNotFoundError`` when it is not local (and
    not downloaded); ``ValueError`` naming the dataset (and the episode and field, or the
    metadata key) when it is damaged or its metadata disagree with it."""
    if not isinstance(dataset_id, str) or not dataset_id.strip():
        raise ValueError(f"load_minari: dataset_id must be a non-empty string, got {dataset_id!r}")
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
                f"Minari dataset '{dataset_id}' at {path} could not be read "
                f"({type(exc).__name__}: {exc}); check {os.path.join(path, 'data')} "
                "(metadata.json and the episode data), or download or generate it again"
            ) from exc
        raise DatasetNotFoundError(
            f"Minari dataset '{dataset_id}' could not be downloaded to {path}: {exc}. "
            f"Run `minari download {dataset_id}` on a machine with network access and copy "
            "the folder into $MINARI_DATASETS_PATH."
        ) from exc
    meta = ds.storage.metadata
    source = f"minari:{dataset_id} ({path})"
    env_id = eval_env_id(meta, source)
    ref_min, ref_max = reference_scores(meta, source)
    result = episodes_to_transitions(
        read_episodes(ds, source),
        observation_space=ds.observation_space,
        action_space=ds.action_space,
        source=source,
        env_id=env_id,
        minari_id=dataset_id,
        ref_min_score=ref_min,
        ref_max_score=ref_max,
    )
    total_steps = metadata_count(meta, "total_steps", source)
    if len(result) != total_steps:
        raise ValueError(
            f"{source}: metadata 'total_steps' is {total_steps} but the stored episodes hold "
            f"{len(result)} steps"
        )
    return result
