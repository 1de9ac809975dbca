"""Where each task's data comes from, and the generation of what is missing (Sec. 5 data).

For each task the first present of the D4RL file and the Minari port is used; otherwise
locomotion tasks use a dataset generated on this machine with the D4RL protocol
(:mod:`edp_ref.generation`): at D4RL sizes in the default Minari folder for the ``paper``
preset, at reduced sizes in ``<out>/datasets/<preset>`` for ``quick`` and ``smoke``.
:func:`ensure_datasets` generates what is missing first, printing a time estimate and progress.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edp_ref.data.minari_io import DatasetNotFoundError, minari_dataset_path
from edp_ref.data.registry import d4rl_dataset_dir
from edp_ref.generation import KINDS, GenerationConfig, describe_estimate, generate
from edp_ref.paper import DataSource, local_dataset_id, paper_dataset
from edp_ref.runner.presets import Preset
from edp_ref.runner.run_data import minari_root

__all__ = ["DataPlan", "ensure_datasets", "plan_data"]


@dataclass(frozen=True)
class DataPlan:
    """Where one task's data comes from, and how to generate it if it is missing."""

    task: str
    source: DataSource
    local_root: str | None
    generation: GenerationConfig | None
    present: bool


def plan_data(task: str, preset: Preset, out: Path) -> DataPlan:
    """The data source of ``task``: the D4RL file, else the Minari port, else (locomotion) a
    local D4RL-protocol dataset, generated if missing. ``DatasetNotFoundError`` (naming the
    task and the download commands) when a non-locomotion task has no data."""
    entry = paper_dataset(task)
    if os.path.exists(os.path.join(d4rl_dataset_dir(), entry.d4rl_file)):
        return DataPlan(task, "d4rl", None, None, True)
    if entry.minari_id is not None and os.path.exists(
        os.path.join(minari_dataset_path(entry.minari_id), "data")
    ):
        return DataPlan(task, "minari", None, None, True)
    if entry.local_id is None:
        from edp_ref.data.registry import load_dataset

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
    """Generate the missing local datasets (one behaviour training per environment, then every
    kind of that environment not yet on disk), printing the generation's time estimate first."""
    missing: dict[tuple[str | None, str], list[DataPlan]] = {}
    for p in plans:
        if p.source == "local" and not p.present and p.generation is not None:
            missing.setdefault((p.local_root, p.generation.env), []).append(p)
    for (root, env), group in missing.items():
        gen = group[0].generation
        assert gen is not None
        # Every kind not yet on disk, not only those asked for: one SAC training serves all five
        # (collection takes about a minute), and a dataset's ref_max_score is the mean return of
        # the expert's episodes only when the expert is collected in the same call; otherwise
        # the generation falls back on SAC's best evaluation, a different reference.
        with minari_root(root):
            kinds = tuple(
                k
                for k in KINDS
                if not os.path.exists(
                    os.path.join(minari_dataset_path(local_dataset_id(env, k)), "data")
                )
            )
        cfg = dataclasses.replace(gen, kinds=kinds)
        work = out / "datasets" / "work" / f"{env}-{cfg.size}-{cfg.train_steps}-seed{cfg.seed}"
        log(
            f"generating missing local dataset(s) {', '.join(p.task for p in group)}: "
            f"{cfg.env_id}, SAC for {cfg.train_steps:,} steps, {cfg.size:,} transitions per "
            f"dataset (D4RL: 1,000,000 each), writing {', '.join(kinds)} into "
            f"{root or 'the default Minari folder'}"
        )
        log("  " + describe_estimate(cfg))
        with minari_root(root):
            generate(cfg, str(work), progress=progress)
