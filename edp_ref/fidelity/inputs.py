"""The inputs every crosscheck feeds both sides: synthetic data and batches with power.

A check can only see a bug that its inputs exercise: a batch without terminals cannot tell a
TD target with (1 - d) from one without it (Eq. 6). The data every check trains and compares on
is :func:`check_arrays`: standard-normal observations and rewards (real spread), uniform actions
in [-0.999, 0.999], a quarter of the transitions terminal and a quarter time-outs (which do not
stop the bootstrap; :mod:`edp_ref.data.synthetic`). The compared batch of a one-update check is
:func:`powered_rows`: a quarter terminal rows and a quarter time-out rows by construction, and
:func:`input_power` refuses a batch with less than :data:`MIN_FRACTION` of either. The
preprocessing check needs trajectories (the official reward scale of IQL divides by the spread
of trajectory returns): :func:`trajectory_arrays`.
"""

from __future__ import annotations

import os

import numpy as np

from edp_ref.data.synthetic import synthetic_arrays
from edp_ref.peers import SyntheticTransitions

__all__ = [
    "MIN_FRACTION",
    "Root",
    "check_arrays",
    "check_data",
    "input_power",
    "powered_rows",
    "trajectory_arrays",
]

#: A peer's folder (None: its environment variable).
Root = str | os.PathLike[str] | None
#: The least fraction of terminal and of time-out transitions a compared batch must hold.
MIN_FRACTION = 0.1
# Expected fractions of the data: a quarter terminal; a third of the rest (a quarter) time-outs.
_TERMINALS, _TIMEOUTS_OF_REST = 0.25, 1.0 / 3.0


def check_arrays(size: int, obs_dim: int, action_dim: int, seed: int) -> dict[str, np.ndarray]:
    """``size`` synthetic transitions (float32, D4RL's keys plus ``timeouts``), about a quarter
    terminal and a quarter time-outs."""
    return synthetic_arrays(
        size,
        obs_dim,
        action_dim,
        seed=seed,
        terminal_fraction=_TERMINALS,
        timeout_fraction=_TIMEOUTS_OF_REST,
    )


def check_data(size: int, obs_dim: int, action_dim: int, seed: int) -> SyntheticTransitions:
    """:func:`check_arrays` in the peers' layout."""
    arrays = check_arrays(size, obs_dim, action_dim, seed)
    return SyntheticTransitions(**{k: v for k, v in arrays.items() if k != "timeouts"})


def powered_rows(
    arrays: dict[str, np.ndarray], batch_size: int, seed: int, where: str
) -> tuple[np.ndarray, str]:
    """Row indices of a compared batch: ``ceil(B / 4)`` terminal rows, as many time-out rows,
    the rest neither, shuffled (drawn without replacement from ``numpy.random.default_rng(seed)``);
    and :func:`input_power`'s note on them."""
    rng = np.random.default_rng(seed)
    quarter = -(-batch_size // 4)
    terminal = np.flatnonzero(arrays["terminals"] > 0)
    timeout = np.flatnonzero(arrays["timeouts"] > 0)
    other = np.flatnonzero((arrays["terminals"] == 0) & (arrays["timeouts"] == 0))
    kinds = [
        ("terminal", terminal, quarter),
        ("time-out", timeout, quarter),
        ("other", other, batch_size - 2 * quarter),
    ]
    chosen = []
    for name, rows, count in kinds:
        if len(rows) < count:
            raise ValueError(
                f"powered_rows: the data hold {len(rows)} {name} rows, a batch of {batch_size} "
                f"needs {count}"
            )
        chosen.append(rng.choice(rows, count, replace=False))
    rows = rng.permutation(np.concatenate(chosen))
    return rows, input_power(arrays["terminals"][rows], arrays["timeouts"][rows], where)


def input_power(terminals: np.ndarray, timeouts: np.ndarray, where: str) -> str:
    """The compared batch's fractions of terminals and time-outs, as a report note."""
    t, o = float(np.mean(terminals > 0)), float(np.mean(timeouts > 0))
    if t < MIN_FRACTION or o < MIN_FRACTION:
        raise ValueError(
            f"{where}: the compared batch holds {t:.0%} terminals and {o:.0%} time-outs; "
            f"a check needs at least {MIN_FRACTION:.0%} of each"
        )
    return f"batch: {t:.0%} terminals, {o:.0%} time-outs"


def trajectory_arrays(
    episodes: int, obs_dim: int, action_dim: int, seed: int
) -> dict[str, np.ndarray]:
    """``episodes`` synthetic trajectories of 1 to 5 transitions as D4RL ``qlearning_dataset``
    rows plus ``timeouts``: within an episode ``next_observations[i] == observations[i + 1]``;
    an episode ends terminal or by a time-out with probability 1/2 each, so that about a sixth
    of the rows are terminal and a sixth are time-outs. Rewards are normal with a per-episode
    offset (trajectory returns spread)."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ("o", "a", "r", "o2", "d", "t")}
    for _ in range(episodes):
        length = int(rng.integers(1, 6))
        obs = rng.standard_normal((length + 1, obs_dim))
        terminal = bool(rng.random() < 0.5)
        rows["o"].append(obs[:-1])
        rows["o2"].append(obs[1:])
        rows["a"].append(rng.uniform(-0.999, 0.999, (length, action_dim)))
        rows["r"].append(rng.standard_normal(length) + rng.standard_normal())
        end = np.zeros(length)
        end[-1] = 1.0
        rows["d"].append(end * terminal)
        rows["t"].append(end * (not terminal))
    f32 = np.float32
    arrays = {
        "observations": np.concatenate(rows["o"]).astype(f32),
        "actions": np.concatenate(rows["a"]).astype(f32),
        "rewards": np.concatenate(rows["r"]).astype(f32),
        "next_observations": np.concatenate(rows["o2"]).astype(f32),
        "terminals": np.concatenate(rows["d"]).astype(f32),
        "timeouts": np.concatenate(rows["t"]).astype(f32),
    }
    input_power(arrays["terminals"], arrays["timeouts"], "trajectory_arrays")
    return arrays
