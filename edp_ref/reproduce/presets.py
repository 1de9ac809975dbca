"""Budgets of a reproduction: how much of the paper's protocol a grid of runs runs.

Every preset measures RAT as the paper does (Sec. 5): the mean of the ten evaluations of the
final 5 % of training (the paper evaluates every 10 of 2000 epochs; its last ten of 201
evaluations span epochs 1910-2000), never the untrained policy; OMS is the best evaluation.
Shorter presets evaluate sparsely for the learning curves and densely in the final stretch
(``final_eval_every``).

* ``paper``: the paper's tasks, Table 3's epochs (2000 locomotion, 1000 otherwise) x 1000
  iterations, batch 256, evaluation every 10 epochs with 10 episodes, 5 seeds, EAS N = 10.
* ``quick``: for Table 2, the TD3 family (TD3+BC FF and EDP + TD3) on hopper-medium-replay and
  hopper-medium, the two datasets of the paper's largest EDP - FF gaps (60.9 -> 101.0 and
  59.3 -> 81.9), on local D4RL-protocol datasets when no D4RL or Minari copy is present
  (:func:`edp_ref.generation.quick_preset`: SAC for 60,000 steps, docs/data.md); 20,000
  updates per run (200 epochs x 100 iterations, batch 256), an evaluation of 10 episodes every
  2,000 updates and, in the final 5 % (updates 19,000-20,000), every 100 updates (10
  evaluations); 3 seeds, EAS N = 10, compiled updates. The subset keeps the grid within about
  an hour or two of a 2-core CPU machine (docs/reproduction.md has the measured wall time);
  CRR and IQL (``--algos td3 crr iql``) would triple the runs' cost. Other tables and figures
  run their quick grid on hopper-medium-replay (Table 7: walker2d-medium, Figure 3:
  hopper-medium-expert).
* ``smoke``: hopper-medium-replay only, on datasets of the generation's small preset (500
  transitions), 200 updates (200 epochs x 1 iteration) with the final stretch the last 10
  updates, width-64 networks, batch 64, evaluations of 2 episodes: under two minutes, for tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from edp_ref.generation import GenerationConfig, quick_preset, small_preset
from edp_ref.paper import FIGURES, TABLE3, domain_of

__all__ = ["PRESETS", "Preset"]


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
        domain = domain_of(task)
        if self.epochs is None:
            return TABLE3[domain].epochs
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


_ALL = {"locomotion": 10, "antmaze": 10, "adroit": 10, "kitchen": 10}
_QUICK_TASK = "hopper-medium-replay-v2"
_QUICK_TASKS: dict[str, tuple[str, ...]] = {
    **{f"table{n}": (_QUICK_TASK,) for n in (1, 2, 4, 5, 6)},
    "table2": (_QUICK_TASK, "hopper-medium-v2"),
    "table7": ("walker2d-medium-v2",),
    "figure3": ("hopper-medium-expert-v2",),
    **{f"figure{n}": (_QUICK_TASK,) for n in (4, 5, 6, 7)},
}
_TD3_FAMILY = (("td3", "ff"), ("td3", "edp"))
_QUICK_NOTES = {
    "table2": (
        "The quick preset runs Table 2's TD3 family only (TD3+BC FF and EDP + TD3) on "
        "hopper-medium-replay and hopper-medium, the datasets of the paper's largest EDP - FF "
        "gaps (+40.1, +22.6): with 3 seeds, about 90 minutes on 2 idle CPU cores, data "
        "generation included (under other jobs' load, longer: docs/reproduction.md); CRR and "
        "IQL (--algos td3 crr iql) would triple the runs' cost."
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
        sweeps={n: FIGURES[n].values for n in (4, 5, 6, 7)},
        sweep_episodes=10,
        local_data_in_out=False,
    ),
    "quick": Preset(
        name="quick",
        epochs={k: 200 for k in _ALL},
        iterations_per_epoch=100,
        batch_size=256,
        eval_every=20,
        final_eval_every=1,
        eval_episodes=10,
        seeds=(0, 1, 2),
        eas_candidates=10,
        eval_envs=10,
        hidden=None,
        tasks=_QUICK_TASKS,
        agents={"table2": _TD3_FAMILY},
        subset_notes=_QUICK_NOTES,
        generation=quick_preset,
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
        tasks={**_QUICK_TASKS, "table2": (_QUICK_TASK,)},
        agents={"table2": _TD3_FAMILY},
        subset_notes={
            "table2": "The smoke preset runs Table 2's TD3 family on hopper-medium-replay only."
        },
        generation=lambda env: small_preset(env),
        sweeps={4: (1.0, 4.0), 5: (3.0, 15.0), 6: (0.5, 1.0), 7: (0.0, 1.0)},
        sweep_episodes=2,
    ),
}
