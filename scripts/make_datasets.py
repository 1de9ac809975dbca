"""Generate D4RL-protocol datasets on Gymnasium MuJoCo v5 (see ``edp_ref.generation``).

Examples::

    python scripts/make_datasets.py --env hopper                 # D4RL sizes: 1M steps each
    python scripts/make_datasets.py --env invertedpendulum --preset small   # seconds
    python scripts/make_datasets.py --env halfcheetah --size 100000 --train-steps 300000

Datasets are written with Minari as ``edp_ref/<env>/<kind>-v0`` under ``$MINARI_DATASETS_PATH``
(default ~/.minari/datasets); training checkpoints and a JSON record of the run go to
``--work-dir``. An interrupted run resumes from its last checkpoint when started again with the
same arguments. The estimated run time is printed first.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

import torch

from edp_ref.data.registry import LOCAL_ENVS
from edp_ref.generation import KINDS, GenerationConfig, describe_estimate, generate, small_preset


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", nargs="+", required=True, choices=sorted(LOCAL_ENVS))
    p.add_argument("--preset", choices=["d4rl", "small"], default="d4rl")
    p.add_argument("--size", type=int, help="transitions per dataset (D4RL: 1000000)")
    p.add_argument("--train-steps", type=int, help="SAC environment steps (D4RL: 1000000)")
    p.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work-dir", default=os.path.join("runs", "datasets"))
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--force", action="store_true", help="overwrite existing datasets")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--estimate-only", action="store_true", help="print the estimate and stop")
    return p.parse_args(argv)


def config_for(args: argparse.Namespace, env: str) -> GenerationConfig:
    cfg = small_preset(env, args.seed) if args.preset == "small" else GenerationConfig(env=env)
    changes: dict[str, object] = {"seed": args.seed, "kinds": tuple(args.kinds)}
    if args.size is not None:
        changes["size"] = args.size
    if args.train_steps is not None:
        changes["train_steps"] = args.train_steps
        changes["start_steps"] = min(cfg.start_steps, args.train_steps // 10)
        changes["eval_every"] = max(1, min(cfg.eval_every, args.train_steps // 20))
        changes["checkpoint_every"] = max(1, min(cfg.checkpoint_every, args.train_steps // 4))
    return dataclasses.replace(cfg, **changes)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> dict[str, dict[str, str]]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    configs = [config_for(args, env) for env in args.env]
    for cfg in configs:
        print(describe_estimate(cfg), flush=True)
    if args.estimate_only:
        return {}
    written = {}
    for cfg in configs:
        work = os.path.join(args.work_dir, f"{cfg.env}-seed{cfg.seed}")
        print(f"{cfg.env_id}: seed {cfg.seed}, work dir {work}", flush=True)
        written[cfg.env] = generate(cfg, work, force=args.force, progress=not args.no_progress)
        for kind, dataset_id in written[cfg.env].items():
            print(f"  {kind:14s} -> {dataset_id}", flush=True)
    return written


if __name__ == "__main__":
    main(sys.argv[1:])
