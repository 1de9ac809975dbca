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

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence

import torch

from edp_ref.argument_types import integer_in
from edp_ref.config_checks import ConfigError
from edp_ref.generation import (
    KINDS,
    GenerationConfig,
    describe_estimate,
    generate,
    quick_preset,
    small_preset,
)
from edp_ref.paper import LOCAL_ENVS

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


def _preset(name: str, env: str, seed: int) -> GenerationConfig:
    if name == "small":
        return small_preset(env, seed)
    if name == "quick":
        return quick_preset(env, seed)
    return GenerationConfig(env=env, seed=seed)


def _work_name(args: argparse.Namespace, env: str) -> str:
    """The folder of one environment's run under ``--work-dir``."""
    return f"{env}-seed{args.seed}"


def config_for(args: argparse.Namespace, env: str) -> GenerationConfig:
    """The GenerationConfig of ``env`` for the parsed arguments (a ConfigError names the field)."""
    cfg = _preset(args.preset, env, args.seed)
    changes: dict[str, object] = {"kinds": tuple(args.kinds)}
    if args.size is not None:
        changes["size"] = args.size
    if args.train_steps is not None:
        changes["train_steps"] = args.train_steps
        changes["start_steps"] = min(cfg.start_steps, args.train_steps // 10)
        changes["eval_every"] = max(1, min(cfg.eval_every, args.train_steps // 20))
        changes["checkpoint_every"] = max(1, min(cfg.checkpoint_every, args.train_steps // 4))
    return dataclasses.replace(cfg, **changes)  # type: ignore[arg-type]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="edp-datasets",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    p.add_argument("--env", nargs="+", required=True, choices=sorted(LOCAL_ENVS))
    p.add_argument(
        "--preset",
        choices=["d4rl", "quick", "small"],
        default="d4rl",
        help="d4rl: D4RL's sizes (1M); quick: the reproduction's quick preset "
        "(edp_ref.generation.quick_preset); small: seconds, for tests",
    )
    p.add_argument("--size", type=integer_in(1), help="transitions per dataset (D4RL: 1000000)")
    p.add_argument(
        "--train-steps",
        type=integer_in(1),
        help="SAC environment steps (D4RL: 1000000)",
    )
    p.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    p.add_argument("--seed", type=integer_in(0), default=0)
    p.add_argument("--work-dir", default=os.path.join("runs", "datasets"))
    p.add_argument(
        "--threads",
        type=integer_in(1),
        default=2,
        help="torch threads (default 2; 1 avoids contention when other jobs share the CPU)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="overwrite existing datasets (never deletes a training checkpoint: see above)",
    )
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--estimate-only", action="store_true", help="print the estimate and stop")
    return p


def parse_args(
    argv: Sequence[str] | None = None,
) -> tuple[argparse.Namespace, list[GenerationConfig]]:
    """The parsed arguments and one config per environment; any mistake is an argparse usage
    error (exit status 2) naming the argument, before any work starts."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for name, values in (("--env", args.env), ("--kinds", args.kinds)):
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            parser.error(f"argument {name}: {', '.join(repeated)} given more than once")
    for folder in [
        args.work_dir,
        *(os.path.join(args.work_dir, _work_name(args, e)) for e in args.env),
    ]:
        problem = _writable_folder_problem(folder)
        if problem:
            parser.error(f"argument --work-dir: {problem}")
    minari_root = os.environ.get("MINARI_DATASETS_PATH")
    if minari_root:
        problem = _writable_folder_problem(minari_root)
        if problem:
            parser.error(f"$MINARI_DATASETS_PATH (where the datasets go): {problem}")
    configs = []
    for env in args.env:
        try:
            configs.append(config_for(args, env))
        except ConfigError as exc:
            field = str(exc).split(" ", 1)[0].removeprefix("GenerationConfig.")
            argument = _FIELD_ARGUMENTS.get(field, "--train-steps/--size")
            parser.error(f"argument {argument}: {exc}")
    return args, configs


def generate_datasets(argv: Sequence[str] | None = None) -> dict[str, dict[str, str]]:
    """Parse ``argv`` and generate; returns {environment: {kind: Minari dataset id}}."""
    args, configs = parse_args(argv)
    torch.set_num_threads(args.threads)
    for cfg in configs:
        print(describe_estimate(cfg), flush=True)
    if args.estimate_only:
        return {}
    written = {}
    for cfg in configs:
        work = os.path.join(args.work_dir, _work_name(args, cfg.env))
        print(f"{cfg.env_id}: seed {cfg.seed}, work dir {work}", flush=True)
        written[cfg.env] = generate(cfg, work, force=args.force, progress=not args.no_progress)
        for kind, dataset_id in written[cfg.env].items():
            print(f"  {kind:14s} -> {dataset_id}", flush=True)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``edp-datasets``: 0 when every dataset was written; command-line mistakes exit with
    status 2 before any work; a failure on the way (a damaged or foreign ``train.pt``, a dataset
    that exists, a full disk) prints one line naming the file and exits with status 1."""
    try:
        generate_datasets(sys.argv[1:] if argv is None else argv)
    except (ValueError, OSError) as exc:
        print(f"edp-datasets: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
