"""Original D4RL HDF5 files read with h5py, with D4RL's ``qlearning_dataset`` semantics.

D4RL (Fu et al., 2020) stores a dataset as flat arrays ``observations``, ``actions``,
``rewards``, ``terminals`` and ``timeouts`` (episodes back to back). The official EDP code loads
them with ``d4rl.qlearning_dataset(env)``, which builds transition i as
(o_i, a_i, r_i, o_{i+1}, terminal_i) for i = 0..N-2 and skips every i with ``timeouts[i]`` set
(o_{i+1} starts the next episode; ``terminate_on_end=True`` keeps it) and the last row.
``import d4rl`` needs the retired MuJoCo 2.1 binaries, so this module reimplements that function
on h5py; the skipped rows are counted in ``TransitionDataset.dropped`` and logged. Files without
``timeouts`` (early v0 files) fall back to D4RL's rule: an episode is cut after
``max_episode_steps`` steps since the last terminal or cut.

The file is checked before anything is converted (``edp_ref.data.checks``), each error naming
the file, the key, the row and the value. Integer or boolean observations, actions or rewards
are accepted when float32 holds them exactly, but with a ``UserWarning`` and a note in the
dataset's ``notes``: where D4RL has floats they usually mean a file of another kind.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping
from typing import Any

import h5py  # type: ignore[import-untyped]
import numpy as np

from edp_ref.data.checks import check_finite, check_flags, check_numeric
from edp_ref.data.transitions import TransitionDataset

__all__ = ["REQUIRED_KEYS", "check_widths", "load_d4rl_hdf5"]

_log = logging.getLogger(__name__)

#: Keys every D4RL file must hold; ``timeouts`` is required unless ``max_episode_steps`` is given.
REQUIRED_KEYS = ("observations", "actions", "rewards", "terminals")

#: Rank of each key in a D4RL file and the shape expected, for messages. D4RL's own loader
#: (``OfflineEnv.get_dataset``, Farama-Foundation/D4RL, d4rl/offline_env.py) also accepts
#: rewards and terminals of shape [N, 1] and squeezes them; edp_ref does the same (timeouts too).
_SHAPES = {
    "observations": "[N, observation_dim]",
    "actions": "[N, action_dim]",
    "rewards": "[N] (or [N, 1])",
    "terminals": "[N] (or [N, 1])",
    "timeouts": "[N] (or [N, 1])",
}


def _check_path(path: str, source: str) -> None:
    if not os.path.exists(path):
        raise FileNotFoundError(f"{source} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"{source} is a directory, not an HDF5 file")
    if os.path.getsize(path) == 0:
        raise ValueError(
            f"{source} is empty (0 bytes), probably an interrupted download; delete it and "
            "download it again"
        )


def _read_arrays(path: str, source: str, max_episode_steps: int | None) -> dict[str, np.ndarray]:
    _check_path(path, source)
    try:
        f = h5py.File(path, "r")
    except Exception as exc:  # h5py raises OSError, and others for some damaged headers
        raise ValueError(
            f"{source} is not a readable HDF5 file (truncated or corrupt?): {exc}"
        ) from exc
    with f:
        try:
            keys = set(f.keys())
        except Exception as exc:
            raise ValueError(f"{source}: the file's key list cannot be read: {exc}") from exc
        missing = [k for k in REQUIRED_KEYS if k not in keys]
        if "timeouts" not in keys and max_episode_steps is None:
            missing.append("timeouts")
        if missing:
            raise ValueError(f"{source}: missing key(s) {missing} (found {sorted(keys)})")
        out = {}
        for k in (*REQUIRED_KEYS, "timeouts"):
            if k not in keys:
                continue
            try:
                obj = f[k]
            except Exception as exc:  # a dangling link or a damaged object header
                raise ValueError(f"{source}: key '{k}' cannot be opened: {exc}") from exc
            if not isinstance(obj, h5py.Dataset):
                raise ValueError(
                    f"{source}: key '{k}' is an HDF5 {type(obj).__name__.lower()}, expected a "
                    f"dataset (an array of shape {_SHAPES[k]})"
                )
            check_numeric(source, k, np.empty(0, dtype=obj.dtype))
            try:
                out[k] = np.asarray(obj[()])
            except Exception as exc:
                raise ValueError(
                    f"{source}: key '{k}' cannot be read (truncated or corrupt file?): {exc}"
                ) from exc
        return out


def _check_shapes(data: Mapping[str, np.ndarray], source: str) -> int:
    """Check ranks, numeric dtypes and lengths; returns N (the rows of ``rewards``)."""
    for k, v in data.items():
        check_numeric(source, k, v)
        expected_rank = (2,) if k in ("observations", "actions") else (1, 2)
        if v.ndim not in expected_rank or (
            v.ndim == 2 and k not in ("observations", "actions") and v.shape[1] != 1
        ):
            raise ValueError(f"{source}: key '{k}' has shape {v.shape}, expected {_SHAPES[k]}")
    n = len(data["rewards"])
    for k, v in data.items():
        if len(v) != n:
            raise ValueError(
                f"{source}: length mismatch: field '{k}' has {len(v)} rows but 'rewards' has {n}"
            )
    return n


def _check_max_episode_steps(max_episode_steps: object, source: str) -> None:
    if max_episode_steps is not None and (
        isinstance(max_episode_steps, bool)
        or not isinstance(max_episode_steps, int)
        or max_episode_steps < 1
    ):
        raise ValueError(
            f"{source}: max_episode_steps must be a positive integer, got {max_episode_steps!r}"
        )


def _qlearning_arrays(
    data: Mapping[str, np.ndarray],
    source: str,
    terminate_on_end: bool,
    max_episode_steps: int | None,
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """D4RL's ``qlearning_dataset`` on the arrays :func:`_read_arrays` read: (arrays keyed by
    ``FIELDS``, {reason: dropped rows}); the result's ``timeouts`` are non-zero only with
    ``terminate_on_end=True``. Every input row is checked, the dropped ones too (a NaN there
    still says the file is damaged)."""
    n = _check_shapes(data, source)
    if n < 2:
        raise ValueError(
            f"{source}: the dataset is empty ({n} row(s) in field 'rewards'; "
            "at least 2 are needed to form one transition)"
        )
    for k in ("observations", "actions", "rewards"):
        check_finite(source, k, data[k], offset="row")
    rewards = data["rewards"].reshape(n)
    terminals = check_flags(source, "terminals", data["terminals"].reshape(n), offset="row")
    if "timeouts" in data:
        timeouts = check_flags(source, "timeouts", data["timeouts"].reshape(n), offset="row")
    else:
        assert max_episode_steps is not None
        timeouts = np.zeros(n, dtype=bool)
        step = 0
        for i in range(n):
            if step == max_episode_steps - 1:
                timeouts[i] = True
            step = 0 if terminals[i] or timeouts[i] else step + 1
    idx = np.arange(n - 1)
    keep = np.ones(n - 1, dtype=bool) if terminate_on_end else ~timeouts[:-1]
    kept = idx[keep]
    arrays = {
        "observations": data["observations"][kept],
        "actions": data["actions"][kept],
        "rewards": rewards[kept],
        "next_observations": data["observations"][kept + 1],
        "terminals": terminals[kept].astype(np.float32),
        "timeouts": timeouts[kept].astype(np.float32),
    }
    dropped = {"final_row": 1}
    if not terminate_on_end and int((~keep).sum()):
        dropped["timeout"] = int((~keep).sum())
    return arrays, dropped


def check_widths(
    data: Mapping[str, np.ndarray], source: str, expected: Mapping[str, int], environment: str
) -> None:
    """``ValueError`` if a field's width differs from ``expected`` (``environment``'s)."""
    for k, width in expected.items():
        found = int(data[k].shape[1]) if data[k].ndim == 2 else 1
        if found != width:
            raise ValueError(
                f"{source}: field '{k}' has width {found} but {environment} has {width}"
            )


def load_d4rl_hdf5(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    terminate_on_end: bool = False,
    max_episode_steps: int | None = None,
    action_bounds: tuple[float, float] | None = (-1.0, 1.0),
    observation_dim: int | None = None,
    action_dim: int | None = None,
    environment: str = "the environment",
    **provenance: Any,
) -> TransitionDataset:
    """Load a D4RL HDF5 file as ``qlearning_dataset`` would (module docstring).

    Args:
        name: the D4RL dataset name, for messages.
        action_bounds: declared action bounds checked on every action (None: no check).
        observation_dim, action_dim: the widths of ``environment``'s spaces (None: no check).
        provenance: further ``TransitionDataset`` fields (env_id, ref scores).
    """
    path = os.fspath(path)
    source = f"D4RL file {path}" + (f" ({name})" if name else "")
    _check_max_episode_steps(max_episode_steps, source)
    raw = _read_arrays(path, source, max_episode_steps)
    arrays, dropped = _qlearning_arrays(raw, source, terminate_on_end, max_episode_steps)
    widths = {"observations": observation_dim, "actions": action_dim}
    check_widths(raw, source, {k: w for k, w in widths.items() if w is not None}, environment)
    _log.info(
        "%s: %d transitions from %d rows; dropped %s (qlearning_dataset protocol)",
        source,
        len(arrays["rewards"]),
        len(raw["rewards"]),
        dropped,
    )
    integers = {k: str(raw[k].dtype) for k in ("observations", "actions", "rewards")}
    fields = ", ".join(f"'{k}' ({v})" for k, v in integers.items() if raw[k].dtype.kind in "biu")
    notes = (f"{source}: {fields} stored as integers, converted exactly to float32",)
    a_dim = arrays["actions"].shape[1] if arrays["actions"].ndim == 2 else 1
    low = high = None
    if action_bounds is not None:
        low = np.full(a_dim, action_bounds[0])
        high = np.full(a_dim, action_bounds[1])
    dataset = TransitionDataset.from_arrays(
        arrays,
        source=source,
        action_low=low,
        action_high=high,
        dropped=dropped,
        notes=notes if fields else (),
        **provenance,
    )
    if fields:  # accepted (float32 holds them exactly), but said
        message = f"{notes[0]}; D4RL stores them as float32: check that this is the file meant"
        warnings.warn(message, UserWarning, stacklevel=2)
    return dataset
