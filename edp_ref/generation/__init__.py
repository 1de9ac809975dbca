"""Local generation of D4RL-protocol datasets on Gymnasium MuJoCo v5 (``scripts/make_datasets.py``).

One module per step:

* :mod:`~edp_ref.generation.config`: :class:`GenerationConfig` (validated), :data:`KINDS`,
  :func:`small_preset`;
* :mod:`~edp_ref.generation.sac`: the behaviour learner (SAC);
* :mod:`~edp_ref.generation.environment`: action scaling, episode returns;
* :mod:`~edp_ref.generation.replay`: SAC's replay buffer (the medium-replay data);
* :mod:`~edp_ref.generation.checkpoint`: the resumable training state ``train.pt``;
* :mod:`~edp_ref.generation.training`: SAC training, the medium and expert snapshots;
* :mod:`~edp_ref.generation.collection`: rollouts and buffer episodes as Minari buffers;
* :mod:`~edp_ref.generation.writing`: Minari datasets with reference scores;
* :mod:`~edp_ref.generation.protocol`: :func:`generate`, the steps in order;
* :mod:`~edp_ref.generation.estimate`: the time estimate printed first;
* :mod:`~edp_ref.generation.quality`: re-evaluating a run's snapshots (docs/data.md's table).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edp_ref.lazy_imports import lazy_exports

if TYPE_CHECKING:  # imported on first use: the command's --help needs no torch
    from edp_ref.generation.config import KINDS, GenerationConfig, quick_preset, small_preset
    from edp_ref.generation.estimate import describe_estimate, estimate_seconds
    from edp_ref.generation.protocol import generate
    from edp_ref.generation.training import choose_snapshots, train_behaviour

__getattr__ = lazy_exports(__name__, __file__)

__all__ = [
    "KINDS",
    "GenerationConfig",
    "choose_snapshots",
    "describe_estimate",
    "estimate_seconds",
    "generate",
    "quick_preset",
    "small_preset",
    "train_behaviour",
]
