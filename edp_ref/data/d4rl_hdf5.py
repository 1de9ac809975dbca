"""Original D4RL HDF5 files read with h5py, with D4RL's ``qlearning_dataset`` semantics.

D4RL (Fu et al., 2020) stores a dataset as flat arrays ``observations``, ``actions``,
``rewards``, ``terminals`` and ``timeouts`` (episodes back to back). The official EDP code loads
them with ``d4rl.qlearning_dataset(env)``, which builds transition i as
(o_i, a_i, r_i, o_{i+1}, terminal_i) for i = 0..N-2 and skips every i with ``timeouts[i]`` set:
there o_{i+1} is the first observation of the next episode, so the pair is not a real transition
(with ``terminate_on_end=True`` it is kept instead). The last row is always skipped (it has no
successor). ``import d4rl`` needs the retired MuJoCo 2.1 binaries, so this module reimplements
that function on h5py; the skipped rows are counted in ``TransitionDataset.dropped`` and
logged, never dropped silently.

Files without ``timeouts`` (early v0 files) fall back to D4RL's rule: an episode is cut after
``max_episode_steps`` steps counted since the last terminal or cut.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import h5py  # type: ignore[import-untyped]
import numpy as np

from edp_ref.data.transitions import TransitionDataset

__all__ = ["REQUIRED_KEYS", "load_d4rl_hdf5", "qlearning_arrays"]

_log = logging.getLogger(__name__)

#: Keys every D4RL file must hold; ``timeouts`` is required unless ``max_episode_steps`` is given.
REQUIRED_KEYS = ("observations", "actions", "rewards", "terminals")


def _read_arrays(path: str, max_episode_steps: int | None) -> dict[str, np.ndarray]:
    if not os.path.exists(path):
        raise FileNotFoundError(f"D4RL file {path} does not exist")
    try:
        with h5py.File(path, "r") as f:
            keys = set(f.keys())
            missing = [k for k in REQUIRED_KEYS if k not in keys]
            if "timeouts" not in keys and max_episode_steps is None:
                missing.append("timeouts")
            if missing:
                raise ValueError(
                    f"D4RL file {path}: missing key(s) {missing} (found {sorted(keys)})"
                )
            wanted = [*REQUIRED_KEYS, "timeouts"]
            return {k: np.asarray(f[k][()]) for k in wanted if k in keys}
    except ValueError:
        raise
    except (OSError, KeyError, RuntimeError) as exc:
        raise ValueError(
            f"D4RL file {path} is not a readable HDF5 file (truncated or corrupt?): {exc}"
        ) from exc


def qlearning_arrays(
    data: dict[str, np.ndarray],
    *,
    source: str,
    terminate_on_end: bool = False,
    max_episode_steps: int | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """D4RL's ``qlearning_dataset`` on arrays: the transition arrays and the dropped-row counts.

    Returns (arrays keyed by ``FIELDS``, {reason: count}). ``timeouts`` of the result marks the
    kept rows that ended at a time limit (only non-zero with ``terminate_on_end=True``).
    """
    n = len(data["rewards"])
    for k, v in data.items():
        if len(v) != n:
            raise ValueError(
                f"{source}: length mismatch: field '{k}' has {len(v)} rows but 'rewards' has {n}"
            )
    if n < 2:
        raise ValueError(
            f"{source}: the dataset is empty ({n} row(s) in field 'rewards'; "
            "at least 2 are needed to form one transition)"
        )
    rewards = data["rewards"].reshape(n)
    terminals = data["terminals"].reshape(n).astype(bool)
    if "timeouts" in data:
        timeouts = data["timeouts"].reshape(n).astype(bool)
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


def load_d4rl_hdf5(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    terminate_on_end: bool = False,
    max_episode_steps: int | None = None,
    action_bounds: tuple[float, float] | None = (-1.0, 1.0),
    **provenance: Any,
) -> TransitionDataset:
    """Load a D4RL HDF5 file as ``qlearning_dataset`` would.

    Args:
        path: the .hdf5 file (D4RL keeps them in ``$D4RL_DATASET_DIR``, default
            ~/.d4rl/datasets).
        name: the D4RL dataset name, for messages.
        terminate_on_end: keep the rows at timeouts (D4RL's flag; default False drops them).
        max_episode_steps: episode limit for files without ``timeouts``.
        action_bounds: declared action bounds checked on every action (D4RL: [-1, 1]);
            None skips the check.
        provenance: further ``TransitionDataset`` fields (env_id, ref scores).

    Raises ``ValueError`` naming the file and field for missing keys, length mismatches,
    non-finite values, out-of-bounds actions, empty data and unreadable files.
    """
    path = os.fspath(path)
    source = f"D4RL file {path}" + (f" ({name})" if name else "")
    raw = _read_arrays(path, max_episode_steps)
    arrays, dropped = qlearning_arrays(
        raw,
        source=source,
        terminate_on_end=terminate_on_end,
        max_episode_steps=max_episode_steps,
    )
    _log.info(
        "%s: %d transitions from %d rows; dropped %s (qlearning_dataset protocol)",
        source,
        len(arrays["rewards"]),
        len(raw["rewards"]),
        dropped,
    )
    a_dim = arrays["actions"].shape[1] if arrays["actions"].ndim == 2 else 1
    low = high = None
    if action_bounds is not None:
        low = np.full(a_dim, action_bounds[0])
        high = np.full(a_dim, action_bounds[1])
    return TransitionDataset.from_arrays(
        arrays,
        source=source,
        action_low=low,
        action_high=high,
        dropped=dropped,
        **provenance,
    )
