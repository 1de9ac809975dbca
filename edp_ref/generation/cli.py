"""``edp-datasets`` (and ``python scripts/make_datasets.py``): generate D4RL-protocol datasets on
Gymnasium MuJoCo v5 (see ``edp_ref.generation``).

Examples::

    edp-datasets --env hopper                 # D4RL sizes: 1M steps each
    edp-datasets --env invertedpendulum --preset small   # seconds
    edp-datasets --env hopper --preset quick --kinds medium medium-replay
    edp-datasets --env halfcheetah --size 100000 --train-steps 300000

Datasets are written with Minari as ``edp_ref/<env>/<kind>-v0`` under ``$MINARI_DATASETS_PATH``
(default ~/.minari/datasets); training checkpoints and a JSON record of the run go to
``--work-dir``/<env>-seed<seed>. An interrupted run resumes from its last checkpoint when started
again with the same training settings. The estimated run time is printed first. Every argument
is checked before any work starts.

--force overwrites existing datasets only. It never deletes a training checkpoint: train.pt holds
the SAC training (hours at D4RL sizes), which --force would otherwise throw away when a user only
meant to rewrite the datasets. A damaged checkpoint, or one written with other training settings
(--train-steps, --seed, --preset), stops the run with an error naming the file and the settings
that differ; delete that file, or choose another --work-dir, to train again.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from edp_ref.command_line import Command, choice, missing_extra, parse, usage_error
from edp_ref.config_checks import ConfigError
from edp_ref.generation.config import KINDS, GenerationConfig, quick_preset, small_preset
from edp_ref.paper import LOCAL_ENVS

__all__ = ["DatasetsCommand", "config_for", "generate_datasets", "main", "parse_args"]

PROG = "edp-datasets"

if TYPE_CHECKING:
    EnvName = str
    Kind = str
else:
    EnvName = choice(sorted(LOCAL_ENVS))
    Kind = choice(KINDS)


@dataclass(frozen=True)
class DatasetsCommand(Command):
    """``edp-datasets``'s options."""

    # Environments to generate for (one SAC training each).
    env: tuple[EnvName, ...]
    # Budget: d4rl (D4RL's sizes, 1M steps), quick (the reproduction's quick preset,
    # edp_ref.generation.quick_preset) or small (seconds, for tests).
    preset: Literal["d4rl", "quick", "small"] = "d4rl"
    # Transitions per dataset (None: the preset's; D4RL: 1000000).
    size: int | None = None
    # SAC environment steps (None: the preset's; D4RL: 1000000).
    train_steps: int | None = None
    # Datasets to write (default: all five kinds of the D4RL protocol).
    kinds: tuple[Kind, ...] = KINDS
    # Seed of the SAC training, its evaluations and the collection (>= 0).
    seed: int = 0
    # Folder of the training checkpoints and run records (<work-dir>/<env>-seed<seed>).
    work_dir: Path = Path("runs") / "datasets"
    # torch threads (1 avoids contention when other jobs share the CPU).
    threads: int = 2
    # Overwrite existing datasets (never deletes a training checkpoint: see above).
    force: bool = False
    # Show progress bars.
    progress: bool = True
    # Print the time estimate and stop.
    estimate_only: bool = False


#: The command-line argument behind each GenerationConfig field it sets.
_FIELD_ARGUMENTS = {
    "env": "--env",
    "size": "--size",
    "train_steps": "--train-steps",
    "kinds": "--kinds",
    "seed": "--seed",
}


def _writable_folder_problem(path: str) -> str | None:
    """Why ``path`` cannot be (or become) a writable folder, or None."""
    if os.path.exists(path) and not os.path.isdir(path):
        return f"{path!r} is a file, not a folder"
    parent = os.path.abspath(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        return f"{path!r} lies under the file {parent!r}"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{path!r}: the folder {parent!r} is not writable"
    return None


#: The config of each --preset for (env, seed).
_PRESETS: dict[str, Callable[[str, int], GenerationConfig]] = {
    "d4rl": lambda env, seed: GenerationConfig(env=env, seed=seed),
    "quick": quick_preset,
    "small": small_preset,
}


def _work_folder(args: DatasetsCommand, env: str) -> str:
    """The folder of one environment's run under ``--work-dir``."""
    return os.path.join(args.work_dir, f"{env}-seed{args.seed}")


def config_for(args: DatasetsCommand, env: str) -> GenerationConfig:
    """The GenerationConfig of ``env`` for the parsed options (a ConfigError names the field)."""
    cfg = _PRESETS[args.preset](env, args.seed)
    changes: dict[str, object] = {"kinds": tuple(args.kinds)}
    if args.size is not None:
        changes["size"] = args.size
    if args.train_steps is not None:
        changes["train_steps"] = args.train_steps
        changes["start_steps"] = min(cfg.start_steps, args.train_steps // 10)
        changes["eval_every"] = max(1, min(cfg.eval_every, args.train_steps // 20))
        changes["checkpoint_every"] = max(1, min(cfg.checkpoint_every, args.train_steps // 4))
    return dataclasses.replace(cfg, **changes)  # type: ignore[arg-type]


def parse_args(argv: Sequence[str] | None = None) -> tuple[DatasetsCommand, list[GenerationConfig]]:
    """The parsed options and one config per environment; any mistake is a usage error (exit
    status 2) naming the option, before any work starts."""
    args = parse(DatasetsCommand, sys.argv[1:] if argv is None else argv, PROG, __doc__ or "")
    for name, minimum, value in (("--threads", 1, args.threads), ("--seed", 0, args.seed)):
        if value < minimum:
            usage_error(PROG, f"argument {name}: expected an integer >= {minimum}, got {value}")
    for name, optional in (("--size", args.size), ("--train-steps", args.train_steps)):
        if optional is not None and optional < 1:
            usage_error(PROG, f"argument {name}: expected an integer >= 1, got {optional}")
    for name, values in (("--env", args.env), ("--kinds", args.kinds)):
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            usage_error(PROG, f"argument {name}: {', '.join(repeated)} given more than once")
    for folder in [str(args.work_dir), *(_work_folder(args, e) for e in args.env)]:
        problem = _writable_folder_problem(folder)
        if problem:
            usage_error(PROG, f"argument --work-dir: {problem}")
    minari_root = os.environ.get("MINARI_DATASETS_PATH")
    if minari_root:
        problem = _writable_folder_problem(minari_root)
        if problem:
            usage_error(PROG, f"$MINARI_DATASETS_PATH (where the datasets go): {problem}")
    configs = []
    for env in args.env:
        try:
            configs.append(config_for(args, env))
        except ConfigError as exc:
            field = str(exc).split(" ", 1)[0].removeprefix("GenerationConfig.")
            argument = _FIELD_ARGUMENTS.get(field, "--train-steps/--size")
            usage_error(PROG, f"argument {argument}: {exc}")
    return args, configs


def generate_datasets(argv: Sequence[str] | None = None) -> dict[str, dict[str, str]]:
    """Parse ``argv`` and generate; returns {environment: {kind: Minari dataset id}}."""
    args, configs = parse_args(argv)
    try:
        import torch

        from edp_ref.generation import describe_estimate, generate
    except ModuleNotFoundError as exc:
        missing_extra(PROG, exc)
    torch.set_num_threads(args.threads)
    for cfg in configs:
        print(describe_estimate(cfg), flush=True)
    if args.estimate_only:
        return {}
    written = {}
    for cfg in configs:
        work = _work_folder(args, cfg.env)
        print(f"{cfg.env_id}: seed {cfg.seed}, work dir {work}", flush=True)
        written[cfg.env] = generate(cfg, work, force=args.force, progress=args.progress)
        for kind, dataset_id in written[cfg.env].items():
            print(f"  {kind:14s} -> {dataset_id}", flush=True)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``edp-datasets``: 0 when every dataset was written; command-line mistakes exit with
    status 2 before any work; a failure on the way (a damaged or foreign ``train.pt``, a dataset
    that exists, a full disk) prints one line naming the file and exits with status 1."""
    try:
        generate_datasets(argv)
    except (ValueError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
