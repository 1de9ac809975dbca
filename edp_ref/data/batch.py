"""The training batch every update of edp_ref.algorithms consumes: transitions (s, a, r, s', d).

A batch is a minibatch of the offline dataset D of Sec. 3.1 / Eq. 6: observations s [B, S],
actions a [B, A], rewards r [B], next observations s' [B, S] and terminal flags d [B] as floats
(1.0 where s' is terminal, so that the TD target of Eq. 6 / Eq. 14 is r + (1 - d) gamma Q').
The dataset module produces batches of this type; the algorithms only read them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from edp_ref.pytree import pytree_dataclass
from edp_ref.validation import check_finite, value_checks_enabled

__all__ = ["Batch"]

FIELDS = ("observations", "actions", "rewards", "next_observations", "terminals")


@pytree_dataclass
@dataclass(frozen=True, eq=False)
class Batch:
    """A minibatch of transitions, all on one device and of one dtype (module docstring).
    Timeouts are not terminal (D4RL's ``qlearning_dataset``, which sail-sg/edp,
    utilities/traj_dataset.py calls)."""

    observations: Float[Tensor, "batch state"]
    actions: Float[Tensor, "batch action"]
    rewards: Float[Tensor, " batch"]
    next_observations: Float[Tensor, "batch state"]
    terminals: Float[Tensor, " batch"]

    def __post_init__(self) -> None:
        # Metadata checks only (free): ranks, batch sizes, dtype and device agreement.
        tensors = self.tensors()
        ref = self.observations
        for name, t in tensors.items():
            if not isinstance(t, Tensor):
                raise ValueError(f"Batch: '{name}' must be a tensor, got {type(t).__name__}")
            if not t.is_floating_point():
                raise ValueError(f"Batch: '{name}' must be a floating tensor, got {t.dtype}")
            if t.dtype != ref.dtype or t.device != ref.device:
                raise ValueError(
                    f"Batch: '{name}' is {t.dtype} on {t.device} but 'observations' is "
                    f"{ref.dtype} on {ref.device}"
                )
            expected_rank = 1 if name in ("rewards", "terminals") else 2
            if t.ndim != expected_rank or t.shape[0] != ref.shape[0]:
                raise ValueError(
                    f"Batch: '{name}' must have rank {expected_rank} and batch size "
                    f"{ref.shape[0]}, got shape {tuple(t.shape)}"
                )
        if self.next_observations.shape != self.observations.shape:
            raise ValueError(
                f"Batch: 'next_observations' {tuple(self.next_observations.shape)} must match "
                f"'observations' {tuple(self.observations.shape)}"
            )

    @property
    def batch_size(self) -> int:
        return int(self.observations.shape[0])

    @property
    def state_dim(self) -> int:
        return int(self.observations.shape[1])

    @property
    def action_dim(self) -> int:
        return int(self.actions.shape[1])

    def tensors(self) -> dict[str, Tensor]:
        return {name: getattr(self, name) for name in FIELDS}

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> Batch:
        """The same batch on ``device`` (and cast to ``dtype`` if given)."""
        return Batch(**{n: t.to(device=device, dtype=dtype) for n, t in self.tensors().items()})

    def check_values(self, where: str, action_bound: float | None = None) -> None:
        """``ValueError`` naming the first tensor holding NaN or inf, a terminal flag other than
        0 or 1, or an action outside [-action_bound, action_bound] (None: no bound). One host
        synchronisation for the batch; skipped where value checks are off (compile, vmap)."""
        tensors = self.tensors()
        if not value_checks_enabled(*tensors.values()):
            return
        flags = self.terminals
        checks = [torch.isfinite(t).all() for t in tensors.values()]
        checks.append(((flags == 0) | (flags == 1)).all())
        bound = torch.inf if action_bound is None else action_bound
        checks.append((self.actions.abs() <= bound).all())
        if bool(torch.stack(checks).all()):
            return
        for name, t in tensors.items():
            check_finite(f"batch.{name}", t, where)
        outside = torch.nonzero(self.actions.abs() > bound)
        if len(outside):
            i, j = (int(k) for k in outside[0])
            raise ValueError(
                f"{where}: batch.actions[{i}, {j}] = {float(self.actions[i, j])!r} lies outside "
                f"[-{bound}, {bound}], the config's max_action ({len(outside)} value(s) outside); "
                "rescale the actions to it (edp_ref.data.preprocessing.rescale_actions) or raise "
                "max_action"
            )
        bad = int(torch.nonzero((flags != 0) & (flags != 1))[0, 0])
        raise ValueError(
            f"{where}: batch.terminals[{bad}] = {float(flags[bad])!r}; terminal flags must be "
            "exactly 0.0 or 1.0"
        )
