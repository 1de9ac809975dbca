"""Random transitions of a task's widths: the one synthetic dataset of edp_ref.

Speed does not depend on the data's values, and comparing two implementations needs only the same
data on both sides, so the benchmarks, the dry run, the peer benchmark, the crosscheck and the
tests train on these. The defaults are walker2d-medium-expert-v2's widths, the task of Fig. 2 /
App. C.5. Observations and rewards are standard normal, actions uniform in [-0.999, 0.999] (the
official clip); fractions of terminals (Eq. 6 stops bootstrapping there) and time-outs exercise
both. Everything is drawn from ``numpy.random.default_rng(seed)``: the same bytes everywhere.
"""

from __future__ import annotations

import numpy as np
import torch

from edp_ref.data.transitions import TransitionDataset

__all__ = ["synthetic_arrays", "synthetic_dataset"]


def synthetic_arrays(
    size: int,
    state_dim: int = 17,
    action_dim: int = 6,
    *,
    seed: int = 0,
    terminal_fraction: float = 0.0,
    timeout_fraction: float = 0.0,
) -> dict[str, np.ndarray]:
    """``size`` random float32 transitions as D4RL's ``qlearning_dataset`` arrays (module
    docstring); ``timeout_fraction`` counts among the non-terminal ones."""
    for name, value in (("size", size), ("state_dim", state_dim), ("action_dim", action_dim)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"synthetic_arrays: {name} must be a positive int, got {value!r}")
    for name, fraction in (
        ("terminal_fraction", terminal_fraction),
        ("timeout_fraction", timeout_fraction),
    ):
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"synthetic_arrays: {name} must be in [0, 1], got {fraction!r}")
    rng = np.random.default_rng(seed)
    f32 = np.float32
    observations = rng.standard_normal((size, state_dim), dtype=f32)
    actions = rng.uniform(-0.999, 0.999, (size, action_dim)).astype(f32)
    rewards = rng.standard_normal(size, dtype=f32)
    next_observations = rng.standard_normal((size, state_dim), dtype=f32)
    ends = rng.random(size)
    terminals = ends < terminal_fraction
    timeouts = ~terminals & (ends < terminal_fraction + timeout_fraction * (1 - terminal_fraction))
    return {
        "observations": observations,
        "actions": actions,
        "rewards": rewards,
        "next_observations": next_observations,
        "terminals": terminals.astype(f32),
        "timeouts": timeouts.astype(f32),
    }


def synthetic_dataset(
    size: int,
    state_dim: int = 17,
    action_dim: int = 6,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> TransitionDataset:
    """:func:`synthetic_arrays` as a :class:`TransitionDataset` on ``device`` in ``dtype``."""
    return TransitionDataset.from_arrays(
        synthetic_arrays(size, state_dim, action_dim, seed=seed),
        source=f"synthetic transitions ({state_dim}/{action_dim} wide, seed {seed})",
        device=device,
        dtype=dtype,
    )
