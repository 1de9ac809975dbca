"""Local generation of D4RL-protocol datasets on Gymnasium MuJoCo v5 (``scripts/make_datasets.py``).

:mod:`~edp_ref.generation.sac` is the behaviour learner (SAC); :mod:`~edp_ref.generation.protocol`
trains it, collects the five D4RL kinds (random, medium, medium-replay, expert, medium-expert) and
writes them as Minari datasets with their reference scores.
"""

from edp_ref.generation.protocol import (
    KINDS,
    GenerationConfig,
    collect_episodes,
    describe_estimate,
    estimate_seconds,
    generate,
    small_preset,
    train_behaviour,
)

__all__ = [
    "KINDS",
    "GenerationConfig",
    "collect_episodes",
    "describe_estimate",
    "estimate_seconds",
    "generate",
    "small_preset",
    "train_behaviour",
]
