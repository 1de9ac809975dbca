"""Local generation of D4RL-protocol datasets on Gymnasium MuJoCo v5 (``edp-datasets``).

:func:`generate` (:mod:`~edp_ref.generation.protocol`) runs the steps in order: SAC
(:mod:`~edp_ref.generation.sac`) trained online, resumably, with its replay buffer
(:mod:`~edp_ref.generation.training`, :mod:`~edp_ref.generation.replay`), the episodes of each
kind (:mod:`~edp_ref.generation.collection`, :mod:`~edp_ref.generation.environment`), then the
Minari datasets with their reference scores. Settings: :mod:`~edp_ref.generation.config`; the
time estimate printed first: :mod:`~edp_ref.generation.estimate`; re-measuring a run's
snapshots (docs/data.md's table): :mod:`~edp_ref.generation.quality`.
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
