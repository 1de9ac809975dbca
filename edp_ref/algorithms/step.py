"""One training step of Algorithm 1: a minibatch B ~ D, the update's randomness, one update.

Every loop of edp_ref runs exactly this step: the runner's training loop, the dry run's timing of
a grid, the speed benchmark, the benchmark against the official code and the learning curves. A
step draws the minibatch uniformly with replacement from the dataset's own generator (on the
dataset's device, :func:`edp_ref.data.transitions.sample_batch`), then every random tensor of the
update from the update's generator (``algorithm.draw``), then runs the pure update; two steps built
alike from generators in the same state do the same arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from edp_ref.algorithms.config import AlgorithmConfig
from edp_ref.algorithms.execution import Metrics
from edp_ref.algorithms.registry import Algorithm
from edp_ref.algorithms.state import TrainState
from edp_ref.data.batch import Batch
from edp_ref.data.transitions import TransitionDataset, sample_batch

__all__ = ["TrainingStep"]


@dataclass(frozen=True, eq=False)
class TrainingStep:
    """Algorithm 1's loop body for one algorithm, config and dataset D (on the device the update
    runs on), with minibatches of ``batch_size`` (Table 3: 256)."""

    algorithm: Algorithm
    config: AlgorithmConfig
    dataset: TransitionDataset
    batch_size: int
    # The generator of the minibatch indices, on the dataset's device.
    batches: torch.Generator
    # The generator of the update's random tensors (drawn there, then moved to the dataset's
    # device).
    randomness: torch.Generator

    def draw(self) -> tuple[Batch, Any]:
        """B ~ D and the update's randomness (None for an update that draws nothing)."""
        batch = sample_batch(self.dataset, self.batch_size, self.batches)
        randomness = self.algorithm.draw(
            self.config,
            self.batch_size,
            self.dataset.action_dim,
            self.randomness,
            self.dataset.device,
            self.dataset.observations.dtype,
        )
        return batch, randomness

    def __call__(self, state: TrainState) -> tuple[TrainState, Metrics]:
        """One step: draw, then ``algorithm.update(state, batch, randomness, config)``."""
        batch, randomness = self.draw()
        return self.algorithm.update(state, batch, randomness, self.config)
