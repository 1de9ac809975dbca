"""What every peer loader returns, and the synthetic transitions every peer trains on.

A :class:`PeerRun` is one peer agent ready to train, with its own objects exposed so that a
differential test can reach them (the peer's agent with its parameters and optimiser states, an
``update(batch)`` on a batch in the peer's own format) and a :meth:`PeerRun.step` that is one
training iteration exactly as the peer's own training loop does it: a batch drawn by the peer's
sampler, the update's randomness drawn by the peer's own code, one update.

:func:`synthetic_transitions` holds the random transitions of :mod:`edp_ref.data.synthetic` in the
peers' layout (walker2d-medium-expert's shapes by default: observation 17, action 6) so that
speed can be measured without D4RL; every peer and edp_ref index the same arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edp_ref.data.synthetic import synthetic_arrays

__all__ = ["PeerRun", "SyntheticTransitions", "synthetic_transitions"]


@dataclass(frozen=True, eq=False)
class SyntheticTransitions:
    """Random offline transitions, float32 NumPy arrays in D4RL's ``qlearning_dataset`` layout.

    Attributes:
        observations: s, ``[N, S]`` standard normal.
        actions: a, ``[N, A]`` uniform in [-0.999, 0.999] (the official EDP's action clip).
        rewards: r, ``[N]`` standard normal.
        next_observations: s', ``[N, S]`` standard normal.
        terminals: 1.0 for about 0.1 % of transitions, else 0.0, ``[N]``.
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_observations: np.ndarray
    terminals: np.ndarray

    @property
    def size(self) -> int:
        """N, the number of transitions."""
        return int(self.observations.shape[0])

    @property
    def obs_dim(self) -> int:
        """S."""
        return int(self.observations.shape[1])

    @property
    def action_dim(self) -> int:
        """A."""
        return int(self.actions.shape[1])

    def d4rl_dict(self) -> dict[str, np.ndarray]:
        """The arrays under D4RL's ``qlearning_dataset`` keys (shared, not copied)."""
        return {
            "observations": self.observations,
            "actions": self.actions,
            "next_observations": self.next_observations,
            "rewards": self.rewards,
            "terminals": self.terminals,
        }


def synthetic_transitions(
    size: int, obs_dim: int = 17, action_dim: int = 6, seed: int = 0
) -> SyntheticTransitions:
    """``size`` random transitions (defaults: walker2d shapes) drawn from ``seed``, about 0.1 % of
    them terminal (:func:`edp_ref.data.synthetic.synthetic_arrays`)."""
    arrays = synthetic_arrays(size, obs_dim, action_dim, seed=seed, terminal_fraction=0.001)
    return SyntheticTransitions(**{k: v for k, v in arrays.items() if k != "timeouts"})


@dataclass(eq=False)
class PeerRun:
    """One peer agent on one dataset, ready to train.

    Attributes:
        key: stable identifier, e.g. ``"edp_official_td3"``.
        label: what it is, for tables (diagnostic variants say so).
        framework: "jax" or "torch".
        diagnostic: True for a variant that is not the peer's official code path.
        agent: the peer's own agent object (parameters and optimiser states live there: e.g. the
            official EDP's ``agent.train_states`` / ``agent._tgt_params``, Diffusion-QL's
            ``agent.actor`` / ``agent.actor_optimizer``, CORL's ``trainer.actor`` ...).
        draw_batch: draws one batch with the peer's own sampler, in the peer's format.
        update: one training update on a batch in the peer's format (the peer draws the update's
            randomness itself, as in its loop); returns the peer's metrics.
        step: one training iteration as the peer's loop runs it (draw a batch, then update).
        sync: waits until all queued work is done (JAX dispatches asynchronously).
        hyperparameters: every value the loader set, with where it comes from.
        modules: the peer's imported modules by name (for callers that need more of its code).
    """

    key: str
    label: str
    framework: str
    diagnostic: bool
    agent: Any
    draw_batch: Callable[[], Any]
    update: Callable[[Any], Any]
    step: Callable[[], Any]
    sync: Callable[[], None]
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    modules: Any = None
