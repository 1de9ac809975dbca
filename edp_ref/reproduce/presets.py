"""Budgets of a reproduction (``--preset paper|quick|smoke``) and where each task's data comes from.

Every preset measures RAT as the paper does (Sec. 5): the mean of the ten evaluations of the
final 5 % of training (the paper evaluates every 10 of 2000 epochs; its last ten of 201
evaluations span epochs 1910-2000), never the untrained policy; OMS is the best evaluation.
Shorter presets evaluate sparsely for the learning curves and densely in the final stretch
(``final_eval_every``).

* ``paper``: the paper's tasks, Table 3's epochs (2000 locomotion, 1000 otherwise) x 1000
  iterations, batch 256, evaluation every 10 epochs with 10 episodes, 5 seeds, EAS N = 10.
* ``quick``: for Table 2, the TD3 family on hopper-medium-replay and hopper-medium, the two
  datasets of the paper's largest EDP - FF gaps (60.9 -> 101.0 and 59.3 -> 81.9); 20,000
  updates per run (200 epochs x 100 iterations, batch 256), 10 episodes every 2,000 updates and
  every 100 in the final 5 %; 3 seeds, EAS N = 10. Other tables and figures run on one dataset
  (:data:`_QUICK_TASKS`). docs/reproduction.md has measured wall times.
* ``smoke``: hopper-medium-replay only, on the generation's small datasets (500 transitions),
  200 updates, width-64 networks, batch 64, evaluations of 2 episodes: for tests.

A task's data (:func:`plan_data`) is the first present of its D4RL file and its Minari port;
otherwise a locomotion task uses a dataset generated on this machine with the D4RL protocol
(:mod:`edp_ref.generation`): at D4RL sizes in the default Minari folder for ``paper``, at the
preset's sizes in ``<out>/datasets/<preset>`` for the others. :func:`ensure_datasets` generates
what is missing, printing a time estimate first.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from edp_ref.data.minari_io import DatasetNotFoundError, minari_dataset_path
from edp_ref.data.registry import d4rl_dataset_dir, load_dataset
from edp_ref.generation import (
    KINDS,
    GenerationConfig,
    describe_estimate,
    generate,
    quick_preset,
    small_preset,
)
from edp_ref.paper import FIGURES, TABLE3, DataSource, domain_of, local_dataset_id, paper_dataset
from edp_ref.runner.dataset import minari_root

__all__ = ["PRESETS", "DataPlan", "Preset", "ensure_datasets", "plan_data"]


@dataclass(frozen=True)
class Preset:
    """A budget: how much of the paper's protocol a grid runs. The fields named as
    :class:`~edp_ref.runner.spec.RunSpec`'s are every run's.

    Attributes:
        epochs: epochs per domain (None: Table 3's).
        hidden: network width of every run's config (None: the paper's 256).
        tasks, columns, subset_notes: per experiment key (``table2``, ``figure3``), the tasks
            (absent: the paper's), the (algo, policy) columns run when neither ``--algos`` nor
            ``--policies`` is given (absent: all), and what the preset leaves out (printed).
        generation: the local generation config per environment (None: D4RL sizes).
        sweeps: per figure 4-7, the values evaluated, each with ``sweep_episodes`` episodes.
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
    generation: Callable[[str], GenerationConfig] | None
    sweeps: dict[int, tuple[float, ...]]
    sweep_episodes: int
    tasks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    local_data_in_out: bool = True
    final_eval_every: int | None = None
    columns: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    subset_notes: dict[str, str] = field(default_factory=dict)

    def epochs_for(self, task: str) -> int:
        domain = domain_of(task)
        return TABLE3[domain].epochs if self.epochs is None else self.epochs[domain]


_EPOCHS = {"locomotion": 200, "antmaze": 200, "adroit": 200, "kitchen": 200}
_QUICK_TASK = "hopper-medium-replay-v2"
_QUICK_TASKS: dict[str, tuple[str, ...]] = {
    **{f"table{n}": (_QUICK_TASK,) for n in (1, 4, 5, 6)},
    "table2": (_QUICK_TASK, "hopper-medium-v2"),
    "table7": ("walker2d-medium-v2",),
    "figure3": ("hopper-medium-expert-v2",),
    **{f"figure{n}": (_QUICK_TASK,) for n in (4, 5, 6, 7)},
}
_TD3_FAMILY: dict[str, tuple[tuple[str, str], ...]] = {"table2": (("td3", "ff"), ("td3", "edp"))}

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
        generation=None,
        sweeps={n: FIGURES[n].values for n in (4, 5, 6, 7)},
        sweep_episodes=10,
        local_data_in_out=False,
    ),
    "quick": Preset(
        name="quick",
        epochs=_EPOCHS,
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
        columns=_TD3_FAMILY,
        subset_notes={
            "table2": "The quick preset runs Table 2's TD3 family only (TD3+BC FF and EDP + TD3) "
            "on hopper-medium-replay and hopper-medium, the datasets of the paper's largest "
            "EDP - FF gaps (+40.1, +22.6); CRR and IQL (--algos td3 crr iql) would triple the "
            "runs."
        },
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
        epochs=_EPOCHS,
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
        columns=_TD3_FAMILY,
        subset_notes={
            "table2": "The smoke preset runs Table 2's TD3 family on hopper-medium-replay only."
        },
        generation=small_preset,
        sweeps={4: (1.0, 4.0), 5: (3.0, 15.0), 6: (0.5, 1.0), 7: (0.0, 1.0)},
        sweep_episodes=2,
    ),
}


@dataclass(frozen=True)
class DataPlan:
    """Where one task's data comes from, and how to generate it if it is missing."""

    task: str
    source: DataSource
    local_root: str | None
    generation: GenerationConfig | None
    present: bool


def _on_disk(dataset_id: str) -> bool:
    return os.path.exists(os.path.join(minari_dataset_path(dataset_id), "data"))


def _check_paper_size(task: str, dataset_id: str) -> None:
    """Refuse a local dataset generated below D4RL's sizes for the paper preset (a ValueError
    naming it, its folder and the size found)."""
    folder = minari_dataset_path(dataset_id)
    try:
        metadata = json.loads(Path(folder, "data", "metadata.json").read_text())
        config = json.loads(metadata["description"].split("config: ", 1)[1])
        sizes = (int(config["size"]), int(config["train_steps"]))
    except (OSError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise ValueError(
            f"{task}: cannot read the generation settings of the local dataset {dataset_id} in "
            f"{folder} ({type(exc).__name__}: {exc}); the paper preset needs D4RL's sizes"
        ) from None
    d4rl = GenerationConfig(env=str(config["env"]))
    if sizes != (d4rl.size, d4rl.train_steps):
        raise ValueError(
            f"{task}: the paper preset needs D4RL's sizes, but the local dataset {dataset_id} in "
            f"{folder} holds {metadata.get('total_steps', '?'):,} transitions (generated with "
            f"{sizes[0]:,} transitions per dataset and SAC for {sizes[1]:,} steps; D4RL: "
            f"{d4rl.size:,} and {d4rl.train_steps:,}); generate it at D4RL's size (edp-datasets "
            f"--env {config['env']} --force), put D4RL's file in {d4rl_dataset_dir()}, or choose "
            "--preset quick"
        )


def plan_data(task: str, preset: Preset, out: Path, *, missing_ok: bool = False) -> DataPlan:
    """The data source of ``task``: the D4RL file, else the Minari port, else (locomotion) a
    local D4RL-protocol dataset, generated if missing. ``DatasetNotFoundError`` (naming the
    task and the download commands) when a non-locomotion task has no data, unless
    ``missing_ok`` (the dry run: a D4RL plan marked missing). The paper preset refuses a local
    dataset below D4RL's sizes (``ValueError`` naming it and the size found)."""
    entry = paper_dataset(task)
    if os.path.exists(os.path.join(d4rl_dataset_dir(), entry.d4rl_file)):
        return DataPlan(task, "d4rl", None, None, True)
    if entry.minari_id is not None and _on_disk(entry.minari_id):
        return DataPlan(task, "minari", None, None, True)
    if entry.local_id is None:
        if missing_ok:
            return DataPlan(task, "d4rl", None, None, False)
        try:
            load_dataset(task)
        except DatasetNotFoundError as exc:
            raise DatasetNotFoundError(
                f"{exc}\nOnly locomotion datasets can be generated on this machine; download "
                f"{task} first or leave it out with --tasks."
            ) from None
        raise AssertionError("unreachable: load_dataset found data plan_data did not")
    root = str((out / "datasets" / preset.name).resolve()) if preset.local_data_in_out else None
    with minari_root(root):
        present = _on_disk(entry.local_id)
        if present and preset.name == "paper":
            _check_paper_size(task, entry.local_id)
    env, kind = entry.local_id.split("/")[1], entry.local_id.split("/")[2][: -len("-v0")]
    config = GenerationConfig(env=env) if preset.generation is None else preset.generation(env)
    generation = dataclasses.replace(config, kinds=(kind,))
    return DataPlan(task, "local", root, generation, present)


@dataclass(frozen=True)
class Generation:
    """One generation that missing local datasets need: the plans it serves (one environment,
    one folder) and its configuration, which writes every kind of that environment not yet on
    disk, not only those asked for (one SAC training serves all five)."""

    root: str | None
    plans: tuple[DataPlan, ...]
    config: GenerationConfig


def missing_generations(plans: Sequence[DataPlan]) -> list[Generation]:
    """The generations that the missing local datasets of ``plans`` need, what
    :func:`ensure_datasets` runs and the dry run prices."""
    groups: dict[tuple[str | None, str], list[DataPlan]] = {}
    for p in plans:
        if p.source == "local" and not p.present and p.generation is not None:
            groups.setdefault((p.local_root, p.generation.env), []).append(p)
    out = []
    for (root, env), group in groups.items():
        gen = group[0].generation
        assert gen is not None
        with minari_root(root):
            kinds = tuple(k for k in KINDS if not _on_disk(local_dataset_id(env, k)))
        out.append(Generation(root, tuple(group), dataclasses.replace(gen, kinds=kinds)))
    return out


def ensure_datasets(
    plans: Sequence[DataPlan],
    out: Path,
    *,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> None:
    """Generate the missing local datasets (one behaviour training per environment, then every
    kind of that environment not yet on disk), printing the generation's time estimate first."""
    for g in missing_generations(plans):
        cfg = g.config
        work = out / "datasets" / "work" / f"{cfg.env}-{cfg.size}-{cfg.train_steps}-seed{cfg.seed}"
        log(
            f"generating missing local dataset(s) {', '.join(p.task for p in g.plans)}: "
            f"{cfg.env_id}, SAC for {cfg.train_steps:,} steps, {cfg.size:,} transitions per "
            f"dataset (D4RL: 1,000,000 each), writing {', '.join(cfg.kinds)} into "
            f"{g.root or 'the default Minari folder'}"
        )
        log("  " + describe_estimate(cfg))
        with minari_root(g.root):
            generate(cfg, str(work), progress=progress)
