"""Budgets of a reproduction: how much of the paper's protocol a grid of runs runs.

Every preset measures RAT as the paper does (Sec. 5): the mean of the ten evaluations of the
final 5 % of training (the paper evaluates every 10 of 2000 epochs; its last ten of 201
evaluations span epochs 1910-2000), never the untrained policy; OMS is the best evaluation.
Shorter presets evaluate sparsely for the learning curves and densely in the final stretch
(``final_eval_every``).

* ``paper``: the paper's tasks, Table 3's epochs (2000 locomotion, 1000 otherwise) x 1000
  iterations, batch 256, evaluation every 10 epochs with 10 episodes, 5 seeds, EAS N = 10.
* ``quick``: Table 2's TD3 family (TD3+BC FF and EDP + TD3) on hopper-medium-replay, the
  dataset of the paper's largest EDP - FF gap (60.9 -> 101.0), on a local D4RL-protocol dataset
  when no D4RL or Minari data is present (:func:`quick_generation`); 30,000 updates (200 epochs
  x 150 iterations, batch 256), evaluations of 10 episodes every 1,500 updates and, in the final
  stretch, every 150 updates (updates 28,650-30,000: the final 5 %); 3 seeds, EAS N = 10.
  Measured on this project's 2-core CPU machine: the feed-forward baseline's curve is flat from
  a few thousand updates and EDP's has settled well before 30,000 (docs/reproduction.md). The
  TD3 family alone fits the budget of about 90 minutes on 2 cores (``--jobs 2``) including
  the data generation; CRR and IQL (``--algos td3 crr iql``) would triple it.
* ``smoke``: the same tasks on datasets of the generation's small preset (500 transitions),
  200 updates (200 epochs x 1 iteration) with the final stretch the last 10 updates, width-64
  networks, batch 64, evaluations of 2 episodes: about two minutes, for tests.
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
    50,000 transitions per rollout dataset (D4RL: 1M steps and 1M transitions).

    On Hopper-v5 (seed 0) SAC's evaluations reach about a third of its best at 15,000 steps
    (medium), so medium-replay is the replay buffer up to there: 15,000 transitions, the first
    5,000 of uniform random actions. About 11 CPU minutes on this project's machine
    (docs/reproduction.md)."""
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
        iterations_per_epoch, batch_size, eval_every, final_eval_every, eval_episodes,
            eas_candidates, eval_envs, hidden: as :class:`~edp_ref.runner.spec.RunSpec`.
        seeds: the seeds of every cell.
        tasks: per target key (``table2``, ``figure3``), the tasks of this preset (None:
            the paper's).
        agents: per target key, the (algorithm, policy) subset of the target's agents this
            preset runs when neither ``--algos`` nor ``--policies`` is given (absent: all).
        subset_notes: per target key, why the preset runs a subset (printed in the footer).
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
    final_eval_every: int | None = None
    agents: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    subset_notes: dict[str, str] = field(default_factory=dict)

    def epochs_for(self, task: str) -> int:
        domain = data_domain_of(task)
        if self.epochs is None:
            return DOMAIN_PRESETS[domain].epochs
        return self.epochs[domain]

    def tasks_for(self, key: str, paper_tasks: Sequence[str]) -> tuple[str, ...]:
        if self.tasks is None or key not in self.tasks:
            return tuple(paper_tasks)
        return self.tasks[key]

    def agents_for(
        self, key: str, agents: Sequence[tuple[str, str]]
    ) -> tuple[tuple[str, str], ...]:
        """The target's ``agents`` this preset runs by default (its subset, else all)."""
        subset = self.agents.get(key)
        return tuple(agents) if subset is None else tuple(a for a in agents if a in subset)

    def generation_for(self, env: str) -> GenerationConfig:
        return GenerationConfig(env=env) if self.generation is None else self.generation(env)


_PAPER_SWEEPS: dict[int, tuple[float, ...]] = {
    4: (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0),
    5: (3.0, 5.0, 10.0, 15.0, 20.0, 30.0),
    6: (0.5, 0.75, 1.0, 1.25, 1.5, 2.0),
    7: (0.0, 0.25, 0.5, 0.75, 1.0),
}

_ALL = {"locomotion": 10, "antmaze": 10, "adroit": 10, "kitchen": 10}
_QUICK_TASK = "hopper-medium-replay-v2"
_QUICK_TASKS: dict[str, tuple[str, ...]] = {
    **{f"table{n}": (_QUICK_TASK,) for n in (1, 2, 4, 5, 6)},
    "table7": ("walker2d-medium-v2",),
    "figure3": ("hopper-medium-expert-v2",),
    **{f"figure{n}": (_QUICK_TASK,) for n in (4, 5, 6, 7)},
}
_TD3_FAMILY = (("td3", "ff"), ("td3", "edp"))
_QUICK_NOTES = {
    "table2": (
        "The quick preset runs Table 2's TD3 family only (TD3+BC FF and EDP + TD3), on "
        "hopper-medium-replay, the dataset of the paper's largest EDP - FF gap (+40.1): with 3 "
        "seeds it fits about 90 minutes on 2 CPU cores; CRR and IQL (--algos td3 crr iql) would "
        "about triple that."
    )
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
        epochs={k: 200 for k in _ALL},
        iterations_per_epoch=150,
        batch_size=256,
        eval_every=10,
        final_eval_every=1,
        eval_episodes=10,
        seeds=(0, 1, 2),
        eas_candidates=10,
        eval_envs=10,
        hidden=None,
        tasks=_QUICK_TASKS,
        agents={"table2": _TD3_FAMILY},
        subset_notes=_QUICK_NOTES,
        generation=quick_generation,
        sweeps={
            4: (1.0, 5.0, 10.0, 50.0),
            5: (3.0, 5.0, 15.0, 30.0),
            6: (0.5, 1.0, 2.0),
            7: (0.0, 0.5, 1.0),
        },
        sweep_episodes=10,
    ),
    "smoke": Preset(
        name="smoke",
        epochs={k: 200 for k in _ALL},
        iterations_per_epoch=1,
        batch_size=64,
        eval_every=100,
        final_eval_every=1,
        eval_episodes=2,
        seeds=(0,),
        eas_candidates=4,
        eval_envs=2,
        hidden=64,
        tasks=_QUICK_TASKS,
        agents={"table2": _TD3_FAMILY},
        subset_notes={"table2": "The smoke preset runs Table 2's TD3 family only."},
        generation=lambda env: small_preset(env),
        sweeps={4: (1.0, 4.0), 5: (3.0, 15.0), 6: (0.5, 1.0), 7: (0.0, 1.0)},
        sweep_episodes=2,
    ),
}
