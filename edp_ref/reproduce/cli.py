"""``edp-reproduce`` (and ``python scripts/reproduce.py``): a table or figure of the EDP paper.

Reproduce a table or figure of "Efficient Diffusion Policies for Offline RL" (Kang et al. 2023).

Examples::

    edp-reproduce --table 2                   # quick preset: TD3 family, 2 datasets, 3 seeds
    edp-reproduce --table 2 --algos td3 crr iql            # every algorithm: three times the runs
    edp-reproduce --table 5 --preset paper --jobs 8
    edp-reproduce --figure 3 --tasks hopper-medium-expert-v2 --seeds 0 1
    edp-reproduce --table 2 --preset smoke    # tiny data and runs: a check of the pipeline
    edp-reproduce --figure 2                  # reads edp-benchmark's JSON
    edp-reproduce --table 2 --preset paper --dry-run     # the grid and its cost, nothing run
    edp-reproduce --table 2 --preset paper --launcher ray --cpus-per-run 1 --gpus-per-run 0.25

Tables 1, 2, 4, 5, 6, 7 and Figures 2-7. The grid of runs (datasets x algorithms x policy
classes x seeds) is built for the preset, missing local datasets are generated first (with a
time estimate), unfinished runs are run (finished ones reused, interrupted ones resumed) and the
result is written under --out (tables/*.md, *.csv, learning curves *-curves.png / .pdf;
figures/*.png, .pdf, *.md, *.csv). A table prints only the rows run: paper and measured
numbers (mean and 95 % bootstrap interval over seeds), the measured difference beside the
paper's and a verdict (agrees / disagrees / inconclusive); the Markdown file holds the full
paper table. RAT is the mean of the evaluations of the final 5 % of training, as in the paper.

Quick preset, Table 2: TD3+BC FF and EDP + TD3 on hopper-medium-replay and hopper-medium (the
paper's largest EDP - FF gaps: 60.9 -> 101.0 and 59.3 -> 81.9), 3 seeds, 20,000 updates per
run with the final 5 % evaluated every 100 updates (10 episodes each), on locally generated
D4RL-protocol datasets (SAC for 60,000 steps; normalized by that weak local expert, not by
D4RL's constants) when no D4RL or Minari copy exists. CRR and IQL are left out of its budget
(--algos td3 crr iql adds them). Runs of at least 5000 updates compile their update (--compile
auto). --dry-run prices a grid before it runs; docs/reproduction.md has measured wall times.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from edp_ref.argument_types import integer_in, number_at_least
from edp_ref.paper import paper_dataset
from edp_ref.reproduce.columns import ALGOS, POLICIES
from edp_ref.reproduce.experiments import experiment
from edp_ref.reproduce.figures import read_benchmark
from edp_ref.reproduce.launchers import DEFAULT_MAX_RETRIES, GridRunError, check_ray_options
from edp_ref.reproduce.presets import PRESETS
from edp_ref.reproduce.reproduction import DEFAULT_BENCHMARK, reproduce
from edp_ref.runner.run_folder import CheckpointError, RunFolderError
from edp_ref.runner.spec import COMPILE_CHOICES, MAX_SEED, FieldError

__all__ = ["build_parser", "main", "parse_args"]


def _paper_task(text: str) -> str:
    """An argparse type: a dataset name of the paper's tables."""
    try:
        paper_dataset(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="edp-reproduce",
        description=__doc__.split("\n", 2)[2] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--table", type=int, choices=[1, 2, 4, 5, 6, 7], help="table number")
    what.add_argument("--figure", type=int, choices=[2, 3, 4, 5, 6, 7], help="figure number")
    p.add_argument(
        "--preset", choices=sorted(PRESETS), default="quick", help="budget (%(default)s)"
    )
    p.add_argument(
        "--out", type=Path, default=Path("runs") / "reproduce", help="output folder (%(default)s)"
    )
    p.add_argument(
        "--tasks",
        nargs="+",
        type=_paper_task,
        metavar="TASK",
        help="paper dataset names (default: the preset's)",
    )
    p.add_argument(
        "--algos",
        nargs="+",
        choices=ALGOS,
        metavar="ALGO",
        help=f"algorithms: {', '.join(ALGOS)} (default: the preset's; quick and smoke run "
        "Table 2's td3 only)",
    )
    p.add_argument(
        "--policies",
        nargs="+",
        choices=POLICIES,
        metavar="POLICY",
        help=f"policy classes: {', '.join(POLICIES)} (default: the preset's; with --algos or "
        "--policies every column of the experiment that passes both filters runs)",
    )
    p.add_argument(
        "--seeds",
        nargs="+",
        type=integer_in(0, MAX_SEED),
        metavar="SEED",
        help="seeds (default: the preset's)",
    )
    p.add_argument(
        "--eas", type=integer_in(1), help="EAS candidates N >= 1 (paper 10, official code 50)"
    )
    p.add_argument(
        "--jobs",
        type=integer_in(1),
        default=os.cpu_count() or 1,
        help="runs in parallel (default: the CPU count, %(default)s here)",
    )
    p.add_argument("--launcher", choices=["local", "ray"], default="local", help="(%(default)s)")
    p.add_argument(
        "--threads", type=integer_in(1), default=1, help="torch threads per run (%(default)s)"
    )
    p.add_argument(
        "--compile",
        choices=COMPILE_CHOICES,
        default="auto",
        help="torch.compile the updates: auto (>= 5000 updates or CUDA, no DDPM chain longer "
        "than 100 steps in the update), on, off (%(default)s)",
    )
    p.add_argument(
        "--device",
        default="cpu",
        help="where every run trains and acts: cpu, cuda, cuda:1 (with --launcher ray: cuda, on "
        "the GPU share --gpus-per-run reserves) (%(default)s)",
    )
    p.add_argument(
        "--benchmark",
        type=Path,
        default=DEFAULT_BENCHMARK,
        help="Figure 2's JSON from edp-benchmark (%(default)s)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    ray = p.add_argument_group("scale-out (docs/scale_out.md)")
    ray.add_argument(
        "--cpus-per-run",
        type=number_at_least(0.0, strict=True),
        help="Ray: CPUs each run asks for (default: --threads)",
    )
    ray.add_argument(
        "--gpus-per-run",
        type=number_at_least(0.0),
        default=0.0,
        help="Ray: GPUs each run asks for; a fraction packs several runs on one GPU (%(default)s)",
    )
    ray.add_argument(
        "--max-retries",
        type=integer_in(0),
        default=DEFAULT_MAX_RETRIES,
        help="Ray: restarts of a run whose worker died; it resumes from its checkpoint "
        "(%(default)s)",
    )
    ray.add_argument(
        "--dry-run",
        action="store_true",
        help="print the grid, what is finished, the datasets to prepare and the cost in "
        "device-hours; run nothing",
    )
    ray.add_argument(
        "--calibration-updates",
        type=integer_in(1),
        default=20,
        help="--dry-run: updates timed per case on this machine to price the grid (%(default)s)",
    )
    ray.add_argument(
        "--cost-benchmark",
        type=Path,
        help="--dry-run: price the grid from edp-benchmark's JSON instead of a calibration",
    )
    return p


def _check(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The checks argparse's types cannot do alone; ``p.error`` (exit 2) names the argument."""
    if args.out.exists() and not args.out.is_dir():
        p.error(f"argument --out: {args.out} is a file, not a folder")
    try:
        torch.device(args.device)
    except RuntimeError as exc:
        p.error(f"argument --device: not a torch device ({exc})")
    try:
        check_ray_options(
            p.prog, args.launcher, args.cpus_per_run, args.gpus_per_run, args.max_retries,
            args.device,
        )  # fmt: skip
    except FieldError as exc:
        p.error(f"argument --{exc.field.replace('_', '-')}: {exc}")
    if args.cost_benchmark is not None and not args.dry_run:
        p.error("argument --cost-benchmark: only used with --dry-run")
    if args.cost_benchmark is not None and not args.cost_benchmark.is_file():
        p.error(f"argument --cost-benchmark: no file {args.cost_benchmark}")
    if args.figure == 2:
        ignored = [
            option
            for option, value in (
                ("--tasks", args.tasks),
                ("--algos", args.algos),
                ("--policies", args.policies),
                ("--seeds", args.seeds),
                ("--eas", args.eas),
            )
            if value is not None
        ]
        if ignored:
            p.error(
                f"argument {ignored[0]}: figure 2 trains no run (it reads --benchmark), so "
                f"{', '.join(ignored)} would select nothing"
            )
        try:
            read_benchmark(args.benchmark)
        except (FileNotFoundError, ValueError) as exc:
            p.error(f"argument --benchmark: {exc}")
        return
    kind, number = ("table", args.table) if args.table is not None else ("figure", args.figure)
    exp = experiment(kind, number)
    outside = [t for t in args.tasks or () if kind == "table" and t not in exp.paper_tasks]
    if outside:
        p.error(
            f"argument --tasks: {kind} {number} has no row for {', '.join(outside)}; its "
            f"datasets: {', '.join(exp.paper_tasks)}"
        )
    left = [
        c
        for c in exp.columns
        if (args.algos is None or c.algo in args.algos)
        and (args.policies is None or c.policy in args.policies)
    ]
    if not left:
        p.error(
            f"argument --algos/--policies: {kind} {number} has no agent left after the filters; "
            "its agents: " + ", ".join(f"{c.algo}/{c.policy}" for c in exp.columns)
        )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = build_parser()
    args = p.parse_args(argv)
    _check(p, args)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """``edp-reproduce``: 0 on success, 1 when a run or data step fails (a message naming the
    file or value, no traceback); command-line mistakes exit with status 2 before any work."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    kind, number = ("table", args.table) if args.table is not None else ("figure", args.figure)
    try:
        output = reproduce(
            kind,
            number,
            preset=args.preset,
            out=args.out,
            tasks=args.tasks,
            algos=args.algos,
            policies=args.policies,
            seeds=args.seeds,
            eas_candidates=args.eas,
            jobs=args.jobs,
            launcher=args.launcher,
            threads=args.threads,
            progress=not args.no_progress,
            benchmark=args.benchmark,
            compile=args.compile,
            device=args.device,
            cpus_per_run=args.cpus_per_run,
            gpus_per_run=args.gpus_per_run,
            max_retries=args.max_retries,
            dry_run=args.dry_run,
            calibration_updates=args.calibration_updates,
            cost_benchmark=args.cost_benchmark,
        )
    except GridRunError as exc:
        # Every other run finished and is reused by the same command once the cause is fixed.
        print(f"edp-reproduce: error: {exc}", file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError, RunFolderError, CheckpointError) as exc:
        # Missing data and damaged run folders: the message names the file or value and what to
        # do; a traceback would only hide it.
        print(f"edp-reproduce: error: {exc}", file=sys.stderr)
        return 1
    print(output.text)
    if output.files:
        # One path a line: the output stays within a 100-column terminal when the paths do.
        print("written:\n" + "\n".join(f"  {f}" for f in output.files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
