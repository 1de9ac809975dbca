"""SAC's replay buffer: every transition of online training, in order. It feeds SAC's updates,
is saved in the training checkpoint, and its first ``medium_step`` transitions become the
"medium-replay" dataset (D4RL converted the replay buffer of its SAC run the same way:
Farama-Foundation/D4RL, scripts/generation/mujoco/convert_buffer.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

__all__ = ["BUFFER_FIELDS", "ReplayBuffer"]

#: The buffer's tensors, in the order they are saved.
BUFFER_FIELDS = ("obs", "actions", "rewards", "next_obs", "terminals", "truncations")


@dataclass
class ReplayBuffer:
    """Transitions ``0 .. size - 1`` of training (actions in SAC's [-1, 1]); ``terminals`` and
    ``truncations`` are 0/1 flags (an environment's termination / its time limit or the point
    where a resumed run closed the interrupted episode)."""

    obs: Float[Tensor, "capacity state"]
    actions: Float[Tensor, "capacity action"]
    rewards: Float[Tensor, " capacity"]
    next_obs: Float[Tensor, "capacity state"]
    terminals: Float[Tensor, " capacity"]
    truncations: Float[Tensor, " capacity"]
    size: int = 0

    @classmethod
    def empty(cls, capacity: int, state_dim: int, action_dim: int) -> ReplayBuffer:
        z = torch.zeros
        return cls(
            z(capacity, state_dim),
            z(capacity, action_dim),
            z(capacity),
            z(capacity, state_dim),
            z(capacity),
            z(capacity),
        )

    def add(
        self,
        obs: np.ndarray,
        action: np.ndarray,
        reward: float,
        next_obs: np.ndarray,
        terminal: bool,
        truncation: bool,
    ) -> None:
        i = self.size
        self.obs[i] = torch.as_tensor(obs)
        self.actions[i] = torch.as_tensor(action)
        self.rewards[i] = reward
        self.next_obs[i] = torch.as_tensor(next_obs)
        self.terminals[i] = float(terminal)
        self.truncations[i] = float(truncation)
        self.size += 1

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[Tensor, ...]:
        """A uniform minibatch (with replacement): obs, actions, rewards, next_obs, terminals."""
        idx = torch.randint(self.size, (batch_size,), generator=generator)
        return (
            self.obs[idx],
            self.actions[idx],
            self.rewards[idx],
            self.next_obs[idx],
            self.terminals[idx],
        )

    def saved(self) -> dict[str, Tensor]:
        """The filled part of every field (copies), for the checkpoint."""
        return {k: getattr(self, k)[: self.size].clone() for k in BUFFER_FIELDS}

    def restore(self, saved: dict[str, Tensor], size: int) -> None:
        """Put back :meth:`saved`'s tensors of ``size`` transitions (a shape mismatch raises)."""
        for k in BUFFER_FIELDS:
            value = saved[k]
            target = getattr(self, k)[:size]
            if tuple(value.shape) != tuple(target.shape):
                raise ValueError(
                    f"buffer field {k!r} has shape {tuple(value.shape)}, expected "
                    f"{tuple(target.shape)}"
                )
            target.copy_(value)
        self.size = size
