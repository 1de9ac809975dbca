"""Budgets of a reproduction: how much of the paper's protocol a grid of runs runs.

* ``paper``: the paper's tasks, Table 3's epochs (2000 locomotion, 1000 otherwise) x 1000
  iterations, batch 256, evaluation every 10 epochs with 10 episodes, 5 seeds, EAS N = 10.
* ``quick``: one locomotion task (a Table 2 row; walker2d for Table 7) on a reduced-size local
  dataset when no D4RL or Minari data is present, 10 epochs x 500 iterations, evaluation every
  epoch with 5 episodes, seed 0: about an hour on a 2-core CPU including the data generation.
* ``smoke``: the same task on a dataset of the generation's small preset (500 transitions),
  2 epochs x 100 iterations, width-64 networks, batch 64, two evaluations of 2 episodes: under
  two minutes, for tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from edp_ref.algorithms import DOMAIN_PRESETS
from edp_ref.data import domain_of as data_domain_of
from edp_ref.generation import GenerationConfig, small_preset

__all__ = ["PRESETS", "Preset", "quick_generation"]


def quick_generation(env: str) -> GenerationConfig:
    """The quick preset's reduced D4RL-protocol generation: SAC for 30,000 environment steps,
    50,000 transitions per dataset (D4RL: 1M steps and 1M transitions)."""
    return GenerationConfig(
        env=env,
        size=50_000,
        train_steps=30_000,
        start_steps=5_000,
        eval_every=2_500,
        eval_episodes=5,
        reference_episodes=10,
        checkpoint_every=5_000,
        collect_envs=10,
    )


@dataclass(frozen=True)
class Preset:
    """A budget: how much of the paper's protocol a grid runs.

    Attributes:
        name: paper / quick / smoke.
        epochs: epochs per domain (None: Table 3's).
        iterations_per_epoch, batch_size, eval_every, eval_episodes, eas_candidates, eval_envs,
            hidden: as :class:`~edp_ref.runner.spec.RunSpec`.
        seeds: the seeds of every cell.
        tasks: per target key (``table2``, ``figure3``), the tasks of this preset (None:
            the paper's).
        generation: the local generation config per environment (None: D4RL sizes).
        sweeps: per figure 4-7, the values evaluated.
        sweep_episodes: episodes of each sweep evaluation.
        local_data_in_out: generate local datasets under ``<out>/datasets/<name>`` (True) or in
            the default Minari folder (False).
    """

    name: str
    epochs: dict[str, int] | None
    iterations_per_epoch: int
    batch_size: int
    eval_every: int
    eval_episodes: int
    seeds: tuple[int, ...]
    eas_candidates: int
    eval_envs: int
    hidden: int | None
    tasks: dict[str, tuple[str, ...]] | None
    generation: Callable[[str], GenerationConfig] | None
    sweeps: dict[int, tuple[float, ...]]
    sweep_episodes: int
    local_data_in_out: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)

    def epochs_for(self, task: str) -> int:
        domain = data_domain_of(task)
        if self.epochs is None:
            return DOMAIN_PRESETS[domain].epochs
        return self.epochs[domain]

    def tasks_for(self, key: str, paper_tasks: Sequence[str]) -> tuple[str, ...]:
        if self.tasks is None or key not in self.tasks:
            return tuple(paper_tasks)
        return self.tasks[key]

    def generation_for(self, env: str) -> GenerationConfig:
        return GenerationConfig(env=env) if self.generation is None else self.generation(env)


_PAPER_SWEEPS: dict[int, tuple[float, ...]] = {
    4: (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0),
    5: (3.0, 5.0, 10.0, 15.0, 20.0, 30.0),
    6: (0.5, 0.75, 1.0, 1.25, 1.5, 2.0),
    7: (0.0, 0.25, 0.5, 0.75, 1.0),
}

_ALL = {"locomotion": 10, "antmaze": 10, "adroit": 10, "kitchen": 10}
_QUICK_TASKS: dict[str, tuple[str, ...]] = {
    **{f"table{n}": ("hopper-medium-v2",) for n in (1, 2, 4, 5, 6)},
    "table7": ("walker2d-medium-v2",),
    "figure3": ("hopper-medium-expert-v2",),
    **{f"figure{n}": ("hopper-medium-v2",) for n in (4, 5, 6, 7)},
}

PRESETS: dict[str, Preset] = {
    "paper": Preset(
        name="paper",
        epochs=None,
        iterations_per_epoch=1000,
        batch_size=256,
        eval_every=10,
        eval_episodes=10,
        seeds=(0, 1, 2, 3, 4),
        eas_candidates=10,
        eval_envs=10,
        hidden=None,
        tasks=None,
        generation=None,
        sweeps=_PAPER_SWEEPS,
        sweep_episodes=10,
        local_data_in_out=False,
    ),
    "quick": Preset(
        name="quick",
        epochs=_ALL,
        iterations_per_epoch=500,
        batch_size=256,
        eval_every=1,
        eval_episodes=5,
        seeds=(0,),
        eas_candidates=10,
        eval_envs=5,
        hidden=None,
        tasks=_QUICK_TASKS,
        generation=quick_generation,
        sweeps={
            4: (1.0, 5.0, 10.0, 50.0),
            5: (3.0, 5.0, 15.0, 30.0),
            6: (0.5, 1.0, 2.0),
            7: (0.0, 0.5, 1.0),
        },
        sweep_episodes=5,
    ),
    "smoke": Preset(
        name="smoke",
        epochs={k: 2 for k in _ALL},
        iterations_per_epoch=100,
        batch_size=64,
        eval_every=2,
        eval_episodes=2,
        seeds=(0,),
        eas_candidates=4,
        eval_envs=2,
        hidden=64,
        tasks=_QUICK_TASKS,
        generation=lambda env: small_preset(env),
        sweeps={4: (1.0, 4.0), 5: (3.0, 15.0), 6: (0.5, 1.0), 7: (0.0, 1.0)},
        sweep_episodes=2,
    ),
}
