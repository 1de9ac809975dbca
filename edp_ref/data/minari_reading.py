"""Reading a Minari dataset's episodes and metadata, with every failure named.

Minari (the Farama Foundation's successor of D4RL, the paper's Sec. 5 data) opens a dataset
from its ``metadata.json`` alone; its episodes are read later, one by one, from
``main_data.hdf5`` (or Arrow files). A damaged file, a missing field or metadata that disagree
with the stored episodes then surface as raw h5py errors, ``KeyError`` or ``AssertionError``
inside Minari. ``read_episodes`` checks the stored episodes against the metadata first and
wraps each read, naming the dataset, the episode and the field; ``reference_scores``,
``eval_env_id`` and ``metadata_count`` read the metadata entries edp_ref uses, rejecting
malformed ones with the key and value.
"""

from __future__ import annotations

import json
import math
import pathlib
from collections.abc import Iterator, Mapping
from typing import Any

import h5py  # type: ignore[import-untyped]

__all__ = ["EPISODE_FIELDS", "eval_env_id", "metadata_count", "read_episodes", "reference_scores"]

#: The per-episode fields of Minari's HDF5 layout (``main_data.hdf5``: one group per episode).
EPISODE_FIELDS = ("observations", "actions", "rewards", "terminations", "truncations")


def read_episodes(ds: Any, source: str) -> Iterator[Any]:
    """The episodes of the ``minari.MinariDataset`` ``ds`` (module docstring)."""
    meta = ds.storage.metadata
    declared = metadata_count(meta, "total_episodes", source)
    hdf5_file = None
    if meta.get("data_format") == "hdf5":
        hdf5_file = pathlib.Path(ds.storage.data_path) / "main_data.hdf5"
        stored = _count_hdf5_episodes(hdf5_file, source)
        if stored != declared:
            raise ValueError(
                f"{source}: metadata 'total_episodes' is {declared} but {hdf5_file} holds "
                f"{stored} episode group(s)"
            )
    indices = [int(i) for i in ds.episode_indices]
    episodes = iter(ds.iterate_episodes())
    for index in indices:
        try:
            episode = next(episodes)
        except Exception as exc:  # h5py, KeyError, AssertionError inside Minari's reader
            detail = "" if hdf5_file is None else _diagnose_hdf5_episode(hdf5_file, index)
            raise ValueError(
                f"{source}: episode {index} cannot be read{detail} ({type(exc).__name__}: {exc})"
            ) from exc
        yield episode


def _count_hdf5_episodes(path: pathlib.Path, source: str) -> int:
    try:
        with h5py.File(path, "r") as f:
            return sum(1 for key in f if key.startswith("episode_"))
    except Exception as exc:  # OSError for truncated or non-HDF5 files
        raise ValueError(
            f"{source}: {path} is not a readable HDF5 file (truncated or corrupt?): {exc}; "
            "download or generate the dataset again"
        ) from exc


def _read_all(obj: Any) -> None:
    if isinstance(obj, h5py.Group):
        for key in obj:
            _read_all(obj[key])
    else:
        obj[()]


def _diagnose_hdf5_episode(path: pathlib.Path, index: int) -> str:
    """Which part of episode ``index`` in ``path`` is missing or unreadable ("" if none)."""
    name = f"episode_{index}"
    try:
        with h5py.File(path, "r") as f:
            if name not in f:
                return f": group '{name}' is missing from {path.name}"
            group = f[name]
            if not isinstance(group, h5py.Group):
                return f": '{name}' in {path.name} is not a group"
            for field in (*EPISODE_FIELDS, "infos"):
                if field not in group:
                    if field == "infos":
                        continue
                    return f": field '{field}' is missing (found {sorted(group.keys())})"
                try:
                    _read_all(group[field])
                except Exception as exc:
                    return f": field '{field}' cannot be read ({exc})"
    except Exception as exc:
        return f": {path.name} cannot be read ({exc})"
    return ""


def metadata_count(meta: Mapping[str, Any], key: str, source: str) -> int:
    value = meta.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"{source}: metadata '{key}' is {value!r}; expected a non-negative integer"
        )
    return value


def reference_scores(meta: Mapping[str, Any], source: str) -> tuple[float | None, float | None]:
    """``ref_min_score`` / ``ref_max_score`` of the metadata: both finite numbers, or None."""
    scores: list[float | None] = []
    for key in ("ref_min_score", "ref_max_score"):
        value = meta.get(key)
        if value is None:
            scores.append(None)
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{source}: metadata '{key}' is {value!r}; expected a number")
        if not math.isfinite(value):
            raise ValueError(f"{source}: metadata '{key}' is {value!r}; expected a finite number")
        scores.append(float(value))
    ref_min, ref_max = scores
    if (ref_min is None) != (ref_max is None):
        present, absent = (
            ("ref_min_score", "ref_max_score")
            if ref_max is None
            else ("ref_max_score", "ref_min_score")
        )
        raise ValueError(
            f"{source}: metadata has '{present}' but no '{absent}'; normalized scores need both"
        )
    if ref_min is not None and ref_min == ref_max:
        raise ValueError(
            f"{source}: metadata 'ref_min_score' equals 'ref_max_score' ({ref_min}); the "
            "normalized score 100 (R - min) / (max - min) is undefined"
        )
    return ref_min, ref_max


def eval_env_id(meta: Mapping[str, Any], source: str) -> str | None:
    """The id of the evaluation environment: ``eval_env_spec``'s, else ``env_spec``'s, else
    None (the spec's JSON, which Minari checked when loading)."""
    for key in ("eval_env_spec", "env_spec"):
        spec = meta.get(key)
        if spec is None:
            continue
        try:
            parsed = json.loads(spec) if isinstance(spec, str) else None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source}: metadata '{key}' is not valid JSON: {exc}") from exc
        env_id = parsed.get("id") if isinstance(parsed, dict) else None
        if not isinstance(env_id, str) or not env_id:
            raise ValueError(
                f"{source}: metadata '{key}' holds no environment id (expected a Gymnasium "
                f"EnvSpec as JSON, got {str(spec)[:80]!r})"
            )
        return env_id
    return None
