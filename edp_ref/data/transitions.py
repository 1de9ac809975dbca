"""The transition dataset of offline RL and its uniform batch sampler.

A dataset D = {(s, a, r, s', terminal, timeout)} is what every algorithm of the paper trains on
(Sec. 3.1, Algorithm 1: "sample a mini-batch B ~ D"). ``TransitionDataset`` holds it as tensors
on one device, validated when built: a NaN, a length mismatch or an action outside the declared
bounds is an error naming the source and the field. Terminals (which cut the TD bootstrap) and
timeouts (time-limit truncations, which do not) are kept apart, as D4RL and Minari store them.

:func:`sample_batch` draws indices uniformly with replacement (as the official code's
``np.random.randint``) from an explicit generator and gathers the rows: the dataset is never
copied.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from jaxtyping import Float
from torch import Generator, Tensor

from edp_ref.data.batch import FIELDS as BATCH_FIELDS
from edp_ref.data.batch import Batch
from edp_ref.data.checks import check_flags, check_numeric, check_representable

__all__ = ["FIELDS", "TransitionDataset", "UniformSampler", "sample_batch"]

#: The six fields of a transition, in the order D4RL's ``qlearning_dataset`` returns them.
FIELDS = ("observations", "actions", "rewards", "next_observations", "terminals", "timeouts")

#: Slack allowed when checking actions against declared bounds (float32 round-off of stored data).
_BOUND_TOLERANCE = 1e-6


def _as_numpy(source: str, name: str, value: object) -> np.ndarray:
    if isinstance(value, Tensor):
        t = value.detach().cpu()
        # NumPy has no bfloat16; float32 holds every bfloat16 value exactly.
        return (t.float() if t.dtype == torch.bfloat16 else t).numpy()
    try:
        return np.asarray(value)
    except Exception as exc:  # numpy raises ValueError or TypeError for ragged input
        raise ValueError(f"{source}: field '{name}' cannot be read as an array: {exc}") from exc


@dataclass(frozen=True, eq=False)
class TransitionDataset:
    """A validated set of N transitions on one device.

    Fields (float32 tensors): ``observations`` [N, S], ``actions`` [N, A], ``rewards`` [N],
    ``next_observations`` [N, S], ``terminals`` [N] and ``timeouts`` [N] (both 0/1).

    Provenance, carried through every transform: ``source`` (the file or dataset id, used in
    every error message), ``action_low`` / ``action_high`` (declared bounds, [A], or None),
    ``env_id`` (Gymnasium id of the evaluation environment, if known), ``minari_id``,
    ``ref_min_score`` / ``ref_max_score`` (normalized-score references), ``dropped`` (how many
    rows the loading protocol dropped, by reason) and ``notes`` (what was done to the data).
    """

    observations: Tensor
    actions: Tensor
    rewards: Tensor
    next_observations: Tensor
    terminals: Tensor
    timeouts: Tensor
    source: str = "<memory>"
    action_low: Tensor | None = None
    action_high: Tensor | None = None
    env_id: str | None = None
    minari_id: str | None = None
    ref_min_score: float | None = None
    ref_max_score: float | None = None
    dropped: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        src = self.source
        for name in FIELDS:
            value = getattr(self, name)
            if not isinstance(value, Tensor):
                raise ValueError(f"{src}: field '{name}' must be a torch.Tensor, got {type(value)}")
            if not value.is_floating_point():
                raise ValueError(f"{src}: field '{name}' must be floating point, got {value.dtype}")
        n = self.rewards.shape[0] if self.rewards.ndim >= 1 else -1
        for name in FIELDS:
            value = getattr(self, name)
            rank = 1 if name in ("rewards", "terminals", "timeouts") else 2
            if value.ndim != rank:
                raise ValueError(
                    f"{src}: field '{name}' must have rank {rank}, got shape {tuple(value.shape)}"
                )
            if value.shape[0] != n:
                raise ValueError(
                    f"{src}: length mismatch: field '{name}' has {value.shape[0]} rows but "
                    f"'rewards' has {n}"
                )
        if n == 0:
            raise ValueError(f"{src}: the dataset is empty (0 transitions in field 'rewards')")
        if self.next_observations.shape[1] != self.observations.shape[1]:
            raise ValueError(
                f"{src}: field 'next_observations' has {self.next_observations.shape[1]} "
                f"dimensions but 'observations' has {self.observations.shape[1]}"
            )
        device, dtype = self.observations.device, self.observations.dtype
        for name in FIELDS:
            value = getattr(self, name)
            if value.device != device or value.dtype != dtype:
                raise ValueError(
                    f"{src}: field '{name}' is {value.dtype} on {value.device} but "
                    f"'observations' is {dtype} on {device}"
                )
            finite = torch.isfinite(value)
            if not bool(finite.all()):
                bad = (~finite).nonzero()[0].tolist()
                raise ValueError(
                    f"{src}: field '{name}' contains {int((~finite).sum())} non-finite value(s) "
                    f"(NaN or inf), first at index {bad}"
                )
        for name in ("terminals", "timeouts"):
            value = getattr(self, name)
            bad = (value != 0) & (value != 1)
            if bool(bad.any()):
                at = int(bad.nonzero()[0, 0])
                raise ValueError(
                    f"{src}: field '{name}' must hold only 0 and 1; {int(bad.sum())} value(s) "
                    f"differ, first at index {at}: {float(value[at])!r}"
                )
        self._check_bounds()

    def _check_bounds(self) -> None:
        src = self.source
        if (self.action_low is None) != (self.action_high is None):
            raise ValueError(f"{src}: give both 'action_low' and 'action_high' or neither")
        if self.action_low is None or self.action_high is None:
            return
        a_dim = self.actions.shape[1]
        for name, b in (("action_low", self.action_low), ("action_high", self.action_high)):
            if b.shape != (a_dim,):
                raise ValueError(
                    f"{src}: '{name}' must have shape ({a_dim},), got {tuple(b.shape)}"
                )
            if bool(b.isnan().any()):
                raise ValueError(f"{src}: '{name}' contains NaN; bounds must be numbers or +-inf")
        low = self.action_low.to(self.actions)
        high = self.action_high.to(self.actions)
        if bool((low > high).any()):
            col = int((low > high).nonzero()[0, 0])
            raise ValueError(
                f"{src}: 'action_low' exceeds 'action_high' in dimension {col}: "
                f"{float(low[col])} > {float(high[col])}"
            )
        outside = (self.actions < low - _BOUND_TOLERANCE) | (self.actions > high + _BOUND_TOLERANCE)
        if bool(outside.any()):
            row, col = (int(i) for i in outside.nonzero()[0])
            raise ValueError(
                f"{src}: field 'actions' has {int(outside.sum())} value(s) outside the declared "
                f"bounds; first at row {row}, dimension {col}: {float(self.actions[row, col])} "
                f"not in [{float(low[col])}, {float(high[col])}]"
            )

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def from_arrays(
        cls,
        arrays: Mapping[str, Any],
        *,
        source: str,
        action_low: Any = None,
        action_high: Any = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        **provenance: Any,
    ) -> TransitionDataset:
        """Build a dataset from NumPy arrays (or tensors) keyed by ``FIELDS`` (``timeouts`` may
        be missing: all zero; no other key), checked before conversion (:mod:`~.checks`).
        Observations and actions of shape [N] are one dimension, rewards and flags [N, 1] [N]."""
        missing = [k for k in FIELDS if k != "timeouts" and k not in arrays]
        if missing:
            raise ValueError(
                f"{source}: missing key(s) {missing}; a transition dataset needs {list(FIELDS)}"
            )
        unknown = sorted(str(k) for k in arrays if k not in FIELDS)
        if unknown:
            raise ValueError(
                f"{source}: unknown key(s) {unknown}; a transition dataset takes {list(FIELDS)}"
            )
        np_arrays = {k: _as_numpy(source, k, arrays[k]) for k in FIELDS if k in arrays}
        n = len(np_arrays["rewards"]) if np_arrays["rewards"].ndim else -1
        for k, v in np_arrays.items():
            if v.ndim == 0 or len(v) != n:
                raise ValueError(
                    f"{source}: length mismatch: field '{k}' has shape {v.shape} but 'rewards' "
                    f"has {n} rows"
                )
        if "timeouts" not in np_arrays:
            np_arrays["timeouts"] = np.zeros(n, dtype=np.float32)
        for k, v in np_arrays.items():
            check_numeric(source, k, v)
            check_representable(source, k, v, dtype)
        for k in ("terminals", "timeouts"):
            check_flags(source, k, np_arrays[k])
        for k in ("rewards", "terminals", "timeouts"):
            if np_arrays[k].ndim == 2 and np_arrays[k].shape[1] == 1:
                np_arrays[k] = np_arrays[k][:, 0]
        for k in ("observations", "next_observations", "actions"):
            if np_arrays[k].ndim == 1:
                np_arrays[k] = np_arrays[k][:, None]
        for k, b in (("action_low", action_low), ("action_high", action_high)):
            if b is not None:
                np_arrays[k] = _as_numpy(source, k, b)
                check_numeric(source, k, np_arrays[k])
        tensors: dict[str, Any] = {
            k: torch.as_tensor(np.asarray(v, dtype=np.float64), dtype=dtype, device=device)
            for k, v in np_arrays.items()
        }
        return cls(**tensors, source=source, **provenance)

    # -- views -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self.rewards.shape[0])

    @property
    def state_dim(self) -> int:
        return int(self.observations.shape[1])

    @property
    def action_dim(self) -> int:
        return int(self.actions.shape[1])

    @property
    def device(self) -> torch.device:
        return self.observations.device

    def with_note(self, note: str, **changes: Any) -> TransitionDataset:
        """``replace`` that also appends ``note`` to the dataset's processing notes."""
        return dataclasses.replace(self, notes=(*self.notes, note), **changes)

    def to(self, device: torch.device | str) -> TransitionDataset:
        """The dataset on ``device`` (one copy; sampling afterwards copies nothing)."""
        moved = {k: getattr(self, k).to(device) for k in FIELDS}
        for k in ("action_low", "action_high"):
            b = getattr(self, k)
            moved[k] = None if b is None else b.to(device)
        return dataclasses.replace(self, **moved)

    def episode_ends(self) -> Tensor:
        """Bool [N]: whether transition i ends a trajectory, as the official code's
        ``split_into_trajectories`` cuts them: at a terminal, a timeout, a row the next does not
        continue (by more than 1e-6: a dropped timeout row), and the last row."""
        ends = (self.terminals > 0) | (self.timeouts > 0)
        if len(self) > 1:
            gap = torch.linalg.vector_norm(
                self.observations[1:] - self.next_observations[:-1], dim=1
            )
            ends[:-1] |= gap > 1e-6
        ends[-1] = True
        return ends

    def episode_returns(self) -> Float[Tensor, " episodes"]:
        """Undiscounted return of every trajectory, in dataset order (see ``episode_ends``)."""
        ends = self.episode_ends()
        episode = torch.cumsum(ends.long(), 0) - ends.long()
        out = torch.zeros(int(ends.sum()), dtype=self.rewards.dtype, device=self.device)
        return out.index_add_(0, episode, self.rewards)


def _check_sampling(where: str, dataset: TransitionDataset, batch_size: int, g: Generator) -> None:
    if batch_size <= 0:
        raise ValueError(f"{where}: batch_size must be positive, got {batch_size}")
    if g.device != dataset.device:
        raise ValueError(
            f"{where}: the generator is on {g.device} but the dataset ({dataset.source}) is on "
            f"{dataset.device}; create the generator on the dataset's device "
            "(torch.Generator(device=...))"
        )


def sample_batch(dataset: TransitionDataset, batch_size: int, generator: Generator) -> Batch:
    """Draw ``batch_size`` transitions uniformly with replacement: indices drawn on the dataset's
    device with ``generator`` (which must live there), rows gathered with ``index_select``."""
    _check_sampling("sample_batch", dataset, batch_size, generator)
    idx = torch.randint(len(dataset), (batch_size,), generator=generator, device=dataset.device)
    return Batch(**{name: getattr(dataset, name).index_select(0, idx) for name in BATCH_FIELDS})


@dataclass
class UniformSampler:
    """Endless :func:`sample_batch` draws: ``next(UniformSampler(dataset, 256, generator))``."""

    dataset: TransitionDataset
    batch_size: int
    generator: Generator

    def __post_init__(self) -> None:
        _check_sampling("UniformSampler", self.dataset, self.batch_size, self.generator)

    def sample(self) -> Batch:
        return sample_batch(self.dataset, self.batch_size, self.generator)

    def __iter__(self) -> UniformSampler:
        return self

    def __next__(self) -> Batch:
        return self.sample()
