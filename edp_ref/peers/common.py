"""What every peer loader returns (:class:`PeerRun`: the peer's own objects, for differential
tests, and one training iteration exactly as the peer's loop runs it), and the synthetic
transitions of :mod:`edp_ref.data.synthetic` in the peers' layout, which every peer and edp_ref
index alike (speed measured without D4RL).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edp_ref.data.synthetic import synthetic_arrays

__all__ = ["PeerRun", "SyntheticTransitions", "synthetic_transitions"]


@dataclass(frozen=True, eq=False)
class SyntheticTransitions:
    """Random offline transitions, float32 NumPy arrays in D4RL's ``qlearning_dataset`` layout:
    s and s' ``[N, S]`` and r ``[N]`` standard normal, a ``[N, A]`` uniform in [-0.999, 0.999]
    (the official EDP's action clip), terminals ``[N]`` 1.0 for about 0.1 % of them."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_observations: np.ndarray
    terminals: np.ndarray

    @property
    def size(self) -> int:
        return int(self.observations.shape[0])

    @property
    def obs_dim(self) -> int:
        return int(self.observations.shape[1])

    @property
    def action_dim(self) -> int:
        return int(self.actions.shape[1])

    def d4rl_dict(self) -> dict[str, np.ndarray]:
        """The arrays under D4RL's ``qlearning_dataset`` keys (shared, not copied)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def synthetic_transitions(
    size: int, obs_dim: int = 17, action_dim: int = 6, seed: int = 0
) -> SyntheticTransitions:
    """``size`` random transitions (defaults: walker2d shapes) drawn from ``seed``, about 0.1 % of
    them terminal (:func:`edp_ref.data.synthetic.synthetic_arrays`)."""
    arrays = synthetic_arrays(size, obs_dim, action_dim, seed=seed, terminal_fraction=0.001)
    return SyntheticTransitions(**{k: v for k, v in arrays.items() if k != "timeouts"})


def _no_wait() -> None:
    return None


@dataclass(eq=False)
class PeerRun:
    """One peer agent on one dataset, ready to train.

    Attributes:
        key, label: identifier (e.g. ``"edp_official_td3"``) and description (diagnostic
            variants say so).
        framework: "jax" or "torch".
        diagnostic: True for a variant that is not the peer's official code path.
        agent: the peer's own agent (parameters and optimiser states live there: e.g. the
            official EDP's ``agent.train_states`` / ``agent._tgt_params``, Diffusion-QL's
            ``agent.actor``, CORL's ``trainer.actor``).
        draw_batch: one batch drawn by the peer's own sampler, in the peer's format.
        update: one update on such a batch (the peer draws its randomness itself); its metrics.
        step: one training iteration as the peer's loop runs it (draw a batch, then update).
        sync: waits until queued work is done (JAX dispatches asynchronously).
        hyperparameters: every value the loader set, with where it comes from.
        modules: the peer's imported modules by name.
    """

    key: str
    label: str
    framework: str
    diagnostic: bool
    agent: Any
    draw_batch: Callable[[], Any]
    update: Callable[[Any], Any]
    step: Callable[[], Any]
    sync: Callable[[], None] = _no_wait
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    modules: Any = None
