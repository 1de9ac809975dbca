"""The settings of one environment's D4RL-protocol generation: :class:`GenerationConfig`, the
five dataset kinds and the small preset. Every field is checked when a config is built, so a
wrong value fails at once (naming ``GenerationConfig.<field>``), not hours into SAC training.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from edp_ref.config_checks import (
    ConfigError,
    check_at_least,
    check_choice,
    check_field_types,
    check_interval,
    check_positive,
)
from edp_ref.paper import LOCAL_ENVS

__all__ = ["KINDS", "GenerationConfig", "collected_policies", "quick_preset", "small_preset"]

#: The five D4RL dataset kinds, in the order they are written.
KINDS: tuple[str, ...] = ("random", "medium", "medium-replay", "expert", "medium-expert")


def collected_policies(kinds: tuple[str, ...]) -> tuple[str, ...]:
    """The policies (random, medium, expert) whose episodes a generation of ``kinds`` collects.

    The expert's always: REF_MAX is their mean return, so a dataset's references do not depend on
    which other kinds are written; medium-expert stitches the medium's and the expert's.
    """
    needed = set(kinds) | {"expert"}
    if "medium-expert" in needed:
        needed |= {"medium", "expert"}
    return tuple(k for k in ("random", "medium", "expert") if k in needed)


@dataclass(frozen=True)
class GenerationConfig:
    """Settings of one environment's generation; the defaults are D4RL's sizes.

    Attributes:
        env: a key of ``edp_ref.data.registry.LOCAL_ENVS`` (hopper, halfcheetah, walker2d,
            invertedpendulum); the Gymnasium v5 environment is :attr:`env_id`.
        size: transitions of the random, medium and expert datasets (medium-expert holds
            ``2 * size``; medium-replay holds the replay buffer up to the medium snapshot,
            whatever its length).
        train_steps: SAC environment steps.
        start_steps: steps of uniform random actions before the first SAC update
            (``< train_steps``: otherwise SAC never learns).
        batch_size: SAC minibatch size.
        eval_every: SAC is evaluated (and its actor snapshotted) every ``eval_every`` steps and
            at the last step; the snapshots are the candidates for "medium" and "expert".
        eval_episodes: deterministic episodes per evaluation.
        reference_episodes: episodes of uniform random actions for ``ref_min_score``.
        medium_fraction: "medium" is the first snapshot whose evaluation reaches this fraction
            of the best snapshot's (D4RL: about a third); in (0, 1].
        checkpoint_every: steps between training checkpoints (``<work_dir>/train.pt``).
        collect_envs: synchronous environment copies that collect the rollouts.
        hidden, layers: width and depth of SAC's MLPs (D4RL's SAC: 256 x 2).
        seed: seed of training, evaluation and collection (>= 0).
        kinds: the datasets to write, a non-empty tuple of distinct :data:`KINDS`.
    """

    env: str
    size: int = 1_000_000
    train_steps: int = 1_000_000
    start_steps: int = 10_000
    batch_size: int = 256
    eval_every: int = 10_000
    eval_episodes: int = 5
    reference_episodes: int = 100
    medium_fraction: float = 1.0 / 3.0
    checkpoint_every: int = 50_000
    collect_envs: int = 10
    hidden: int = 256
    layers: int = 2
    seed: int = 0
    kinds: tuple[str, ...] = KINDS

    def __post_init__(self) -> None:
        check_field_types(self)
        check_choice("GenerationConfig.env", self.env, tuple(sorted(LOCAL_ENVS)))
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown or not self.kinds:
            raise ConfigError(
                f"GenerationConfig.kinds must be a non-empty tuple of {list(KINDS)}, got "
                f"{self.kinds!r}" + (f" (unknown: {unknown})" if unknown else "")
            )
        repeated = [k for k, n in Counter(self.kinds).items() if n > 1]
        if repeated:
            raise ConfigError(
                f"GenerationConfig.kinds must name each kind once, got {self.kinds!r} "
                f"(repeated: {repeated})"
            )
        check_at_least(
            self,
            1,
            "size",
            "train_steps",
            "batch_size",
            "eval_every",
            "eval_episodes",
            "reference_episodes",
            "checkpoint_every",
            "collect_envs",
            "hidden",
            "layers",
        )
        check_at_least(self, 0, "start_steps", "seed")
        if self.start_steps >= self.train_steps:
            raise ConfigError(
                f"GenerationConfig.start_steps must be < train_steps = {self.train_steps}, got "
                f"{self.start_steps} (SAC would never be updated)"
            )
        check_positive(self, "medium_fraction")
        check_interval(self, "medium_fraction", 0.0, 1.0)

    @property
    def env_id(self) -> str:
        """The Gymnasium v5 environment, e.g. ``Hopper-v5``."""
        return LOCAL_ENVS[self.env]


def small_preset(env: str = "invertedpendulum", seed: int = 0) -> GenerationConfig:
    """A few hundred SAC steps and 500-transition datasets: seconds, for tests and smoke runs."""
    return GenerationConfig(
        env=env,
        size=500,
        train_steps=300,
        start_steps=100,
        batch_size=64,
        eval_every=100,
        eval_episodes=2,
        reference_episodes=5,
        checkpoint_every=150,
        collect_envs=4,
        hidden=64,
        seed=seed,
    )


def quick_preset(env: str, seed: int = 0) -> GenerationConfig:
    """The quick preset's reduced D4RL-protocol generation: SAC for 60,000 environment steps,
    50,000 transitions per rollout dataset, 100 reference episodes of random actions (D4RL: 1M
    steps, 1M transitions, 100 episodes). docs/data.md ("How good are the quick preset's
    datasets?") measures its experts (about a third of D4RL's REF_MAX on Hopper-v5; 30,000 steps
    were not enough for every seed) and its time; normalized scores on these data are relative
    to this weak local expert."""
    return GenerationConfig(
        env=env,
        size=50_000,
        train_steps=60_000,
        start_steps=5_000,
        eval_every=2_500,
        eval_episodes=5,
        reference_episodes=100,
        checkpoint_every=5_000,
        collect_envs=10,
        seed=seed,
    )
