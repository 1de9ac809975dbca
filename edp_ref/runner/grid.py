"""Grids of runs for the paper's tables and figures, presets, data preparation and launchers.

A table or figure of the paper (Sec. 5, Appendix C) needs a grid of runs: tasks x agents
(algorithm, policy class) x seeds. :func:`build_grid` makes it for a :class:`Preset`:

* ``paper``: the paper's tasks, Table 3's epochs (2000 locomotion, 1000 otherwise) x 1000
  iterations, batch 256, evaluation every 10 epochs with 10 episodes, 5 seeds, EAS N = 10.
* ``quick``: one locomotion task (a Table 2 row; walker2d for Table 7) on a reduced-size local
  dataset when no D4RL or Minari data is present, 10 epochs x 500 iterations, evaluation every
  epoch with 5 episodes, seed 0: about an hour on a 2-core CPU including the data generation.
* ``smoke``: the same task on a dataset of the generation's small preset (500 transitions),
  2 epochs x 100 iterations, width-64 networks, batch 64, two evaluations of 2 episodes: under
  two minutes, for tests.

Data: for each task the first present of the D4RL file and the Minari port is used; otherwise
locomotion tasks use a dataset generated on this machine with the D4RL protocol
(``edp_ref.generation``): at D4RL sizes in the default Minari folder for ``paper``, at reduced
sizes in ``<out>/datasets/<preset>`` for ``quick`` and ``smoke``. :func:`ensure_datasets`
generates what is missing first, printing a time estimate and progress.

Launchers: ``local`` runs the grid in this process (``jobs = 1``) or in ``jobs`` spawned
processes; ``ray`` sends each run to a Ray cluster (``pip install ray``; ``RAY_ADDRESS`` picks
the cluster, else a local instance; run folders must be on storage every node sees).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edp_ref.algorithms import DOMAIN_PRESETS
from edp_ref.data import PAPER_DATASETS, d4rl_dataset_dir, minari_dataset_path, resolve
from edp_ref.data import domain_of as data_domain_of
from edp_ref.data.minari_io import DatasetNotFoundError
from edp_ref.generation import GenerationConfig, describe_estimate, generate, small_preset
from edp_ref.runner.agents import AGENTS, ALGORITHMS, agent_spec
from edp_ref.runner.paper_results import paper_table
from edp_ref.runner.train import DataSourceKind, RunResult, RunSpec, minari_root, train_run

__all__ = [
    "FIGURES",
    "LOCOMOTION_TASKS",
    "PRESETS",
    "TABLE_AGENTS",
    "DataPlan",
    "Preset",
    "Target",
    "build_grid",
    "ensure_datasets",
    "plan_data",
    "quick_generation",
    "run_grid",
    "target",
]

LOCOMOTION_TASKS: tuple[str, ...] = tuple(
    f"{env}-{kind}-v2"
    for kind in ("medium", "medium-replay", "medium-expert")
    for env in ("halfcheetah", "hopper", "walker2d")
)

#: The agents each table measures (the paper's columns they stand beside: report.TABLE_LAYOUTS).
TABLE_AGENTS: dict[int, tuple[tuple[str, str], ...]] = {
    1: (("dql", "diffusion"), ("td3", "edp")),
    2: (
        ("td3", "ff"),
        ("td3", "edp"),
        ("crr", "ff"),
        ("crr", "edp"),
        ("iql", "ff"),
        ("iql", "edp"),
    ),
    4: (("dql", "diffusion"), ("td3", "edp")),
    5: (("td3", "edp"), ("crr", "edp"), ("iql", "edp")),
    6: (("td3", "edp"), ("td3-eas", "ff"), ("td3", "ff")),
    7: (("td3-k100", "diffusion"), ("td3-k100", "edp")),
}

#: Figures 3-7: the agents and paper tasks they use (Figure 2 reads scripts/benchmark.py's JSON).
FIGURES: dict[int, dict[str, Any]] = {
    3: {
        "agents": (("td3", "edp"),),
        "tasks": (
            "walker2d-medium-expert-v2",
            "hopper-medium-expert-v2",
            "antmaze-medium-diverse-v0",
        ),
        "title": "Training curves of EDP + TD3: RAT (Average) vs OMS (Best)",
    },
    4: {
        "agents": (("td3", "edp"),),
        "tasks": LOCOMOTION_TASKS,
        "parameter": "eas_candidates",
        "label": "EAS candidates N",
        "title": "EAS: number of candidate actions",
    },
    5: {
        "agents": (("td3", "edp"),),
        "tasks": LOCOMOTION_TASKS,
        "parameter": "dpm_steps",
        "label": "DPM-Solver model calls",
        "title": "DPM-Solver steps",
    },
    6: {
        "agents": (("td3", "edp"),),
        "tasks": LOCOMOTION_TASKS,
        "parameter": "policy_scale",
        "label": "policy scale tau",
        "title": "Policy scaling (App. C.4), no EAS",
    },
    7: {
        "agents": (("td3", "edp"),),
        "tasks": LOCOMOTION_TASKS,
        "parameter": "initial_noise_scale",
        "label": "initial noise scale",
        "title": "Initial noise scale (App. C.4), no EAS",
    },
}


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
            hidden: as :class:`~edp_ref.runner.train.RunSpec`.
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


@dataclass(frozen=True)
class Target:
    """What to reproduce: ``kind`` "table" or "figure", its number, paper tasks and agents."""

    kind: str
    number: int
    paper_tasks: tuple[str, ...]
    agents: tuple[tuple[str, str], ...]

    @property
    def key(self) -> str:
        return f"{self.kind}{self.number}"


def target(kind: str, number: int) -> Target:
    """The table (1, 2, 4, 5, 6, 7) or figure (3-7) to reproduce; ``ValueError`` otherwise."""
    if kind == "table":
        table = paper_table(number)
        tasks = [r.label for r in table.task_rows()]
        if number == 1:  # domain rows: the tasks are Table 4's
            tasks = [r.label for r in paper_table(4).task_rows()]
        tasks = [t for t in tasks if t in PAPER_DATASETS]
        return Target("table", number, tuple(tasks), TABLE_AGENTS[number])
    if kind == "figure":
        if number not in FIGURES:
            raise ValueError(
                f"figure {number} has no training grid; figures: 2 (speed, from "
                f"scripts/benchmark.py) and {sorted(FIGURES)}"
            )
        spec = FIGURES[number]
        return Target("figure", number, tuple(spec["tasks"]), tuple(spec["agents"]))
    raise ValueError(f"target: kind must be 'table' or 'figure', got {kind!r}")


@dataclass(frozen=True)
class DataPlan:
    """Where one task's data comes from, and how to generate it if it is missing."""

    task: str
    source: DataSourceKind
    local_root: str | None
    generation: GenerationConfig | None
    present: bool


def plan_data(task: str, preset: Preset, out: Path) -> DataPlan:
    """The data source of ``task``: the D4RL file, else the Minari port, else (locomotion) a
    local D4RL-protocol dataset, generated if missing. ``DatasetNotFoundError`` (naming the
    task and the download commands) when a non-locomotion task has no data."""
    entry = resolve(task)
    if os.path.exists(os.path.join(d4rl_dataset_dir(), entry.d4rl_file)):
        return DataPlan(task, "d4rl", None, None, True)
    if entry.minari_id is not None and os.path.exists(
        os.path.join(minari_dataset_path(entry.minari_id), "data")
    ):
        return DataPlan(task, "minari", None, None, True)
    if entry.local_id is None:
        from edp_ref.data import load_dataset

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
        present = os.path.exists(os.path.join(minari_dataset_path(entry.local_id), "data"))
    env, kind = entry.local_id.split("/")[1], entry.local_id.split("/")[2][: -len("-v0")]
    generation = dataclasses.replace(preset.generation_for(env), kinds=(kind,))
    return DataPlan(task, "local", root, generation, present)


def ensure_datasets(
    plans: Sequence[DataPlan],
    out: Path,
    *,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> None:
    """Generate the missing local datasets (one behaviour training per environment, then the
    kinds needed), printing the generation's time estimate first."""
    missing: dict[tuple[str | None, str], list[DataPlan]] = {}
    for p in plans:
        if p.source == "local" and not p.present and p.generation is not None:
            missing.setdefault((p.local_root, p.generation.env), []).append(p)
    for (root, env), group in missing.items():
        gen = group[0].generation
        assert gen is not None
        kinds = tuple(dict.fromkeys(k for p in group if p.generation for k in p.generation.kinds))
        cfg = dataclasses.replace(gen, kinds=kinds)
        work = out / "datasets" / "work" / f"{env}-{cfg.size}-{cfg.train_steps}-seed{cfg.seed}"
        log(
            f"generating missing local dataset(s) {', '.join(p.task for p in group)}: "
            f"{cfg.env_id}, SAC for {cfg.train_steps:,} steps, {cfg.size:,} transitions per "
            f"dataset (D4RL: 1,000,000 each), into {root or 'the default Minari folder'}"
        )
        log("  " + describe_estimate(cfg))
        with minari_root(root):
            generate(cfg, str(work), progress=progress)


def build_grid(
    tgt: Target,
    preset: Preset,
    out: Path,
    *,
    tasks: Sequence[str] | None = None,
    algos: Sequence[str] | None = None,
    policies: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    eas_candidates: int | None = None,
) -> tuple[list[tuple[RunSpec, Path]], list[DataPlan]]:
    """The runs (spec, folder) and data plans of a target under a preset and the filters.

    ``tasks`` must be paper dataset names (an unknown name raises ``ValueError`` listing the
    known ones); ``algos`` / ``policies`` filter the target's agents (unknown names raise).
    """
    if tasks is not None:
        for t in tasks:
            resolve(t)
        chosen = tuple(tasks)
    else:
        chosen = preset.tasks_for(tgt.key, tgt.paper_tasks)
    if algos is not None:
        for a in algos:
            if a not in ALGORITHMS:
                raise ValueError(f"unknown algorithm {a!r}; known: {', '.join(ALGORITHMS)}")
    if policies is not None:
        for p in policies:
            if p not in {pol for (_, pol) in AGENTS}:
                raise ValueError(f"unknown policy class {p!r}; known: edp, ff, diffusion")
    agents = [
        (a, p)
        for (a, p) in tgt.agents
        if (algos is None or a in algos) and (policies is None or p in policies)
    ]
    if not agents:
        raise ValueError(
            f"{tgt.kind} {tgt.number} has no agent left after the filters; its agents: "
            + ", ".join(f"{a}/{p}" for a, p in tgt.agents)
        )
    plans = [plan_data(t, preset, out) for t in chosen]
    runs = []
    for plan in plans:
        for algorithm, policy in agents:
            agent_spec(algorithm, policy)
            for seed in seeds if seeds is not None else preset.seeds:
                spec = RunSpec(
                    task=plan.task,
                    algorithm=algorithm,
                    policy=policy,
                    seed=seed,
                    epochs=preset.epochs_for(plan.task),
                    iterations_per_epoch=preset.iterations_per_epoch,
                    batch_size=preset.batch_size,
                    eval_every=preset.eval_every,
                    eval_episodes=preset.eval_episodes,
                    eas_candidates=eas_candidates or preset.eas_candidates,
                    eval_envs=preset.eval_envs,
                    data_source=plan.source,
                    local_root=plan.local_root,
                    hidden=preset.hidden,
                )
                runs.append((spec, out / "runs" / preset.name / spec.name))
    return runs, plans


def _worker(spec_json: dict[str, Any], run_dir: str, threads: int, position: int) -> dict[str, Any]:
    result = train_run(
        RunSpec.from_json(spec_json), run_dir, progress=True, position=position, threads=threads
    )
    return result.to_json()


def run_grid(
    runs: Sequence[tuple[RunSpec, Path]],
    *,
    jobs: int = 1,
    launcher: str = "local",
    threads: int = 1,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> list[RunResult]:
    """Run every missing run of the grid and return all results (finished runs are reused).

    Args:
        runs: (spec, folder) pairs from :func:`build_grid`.
        jobs: parallel processes (``local``) or concurrent Ray tasks (``ray``).
        launcher: ``local`` or ``ray``.
        threads: torch threads per run (1 is fastest on a shared 2-core machine).
        progress: tqdm bars.
    """
    if jobs < 1:
        raise ValueError(f"run_grid: jobs must be >= 1, got {jobs}")
    done = [(s, d) for s, d in runs if (d / "result.json").exists()]
    todo = [(s, d) for s, d in runs if not (d / "result.json").exists()]
    log(f"grid: {len(runs)} run(s), {len(done)} finished (reused), {len(todo)} to run")
    if launcher == "ray":
        _run_ray(todo, jobs, threads)
    elif launcher != "local":
        raise ValueError(f"run_grid: unknown launcher {launcher!r}; use 'local' or 'ray'")
    elif jobs == 1 or len(todo) <= 1:
        for spec, run_dir in todo:
            train_run(spec, run_dir, progress=progress, threads=threads)
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = [
                pool.submit(_worker, s.to_json(), str(d), threads, i % jobs)
                for i, (s, d) in enumerate(todo)
            ]
            for f in futures:
                f.result()
    return [train_run(s, d, progress=False) for s, d in runs]


def _run_ray(todo: Sequence[tuple[RunSpec, Path]], jobs: int, threads: int) -> None:
    try:
        import ray  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise RuntimeError(
            "--launcher ray needs Ray, an optional dependency: `pip install ray` (or use the "
            "default --launcher local with --jobs N)"
        ) from None
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False)
    remote = ray.remote(num_cpus=threads)(_worker)
    queue = list(todo)
    pending: list[Any] = []
    while queue or pending:
        while queue and len(pending) < jobs:  # at most ``jobs`` runs in flight
            spec, run_dir = queue.pop(0)
            pending.append(remote.remote(spec.to_json(), str(run_dir.resolve()), threads, 0))
        ready, pending = ray.wait(pending, num_returns=1)
        ray.get(ready)  # re-raises a failed run's error
