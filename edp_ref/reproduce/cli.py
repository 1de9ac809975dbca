"""``edp-reproduce`` (and ``scripts/run reproduce``): a table or figure of "Efficient Diffusion
Policies for Offline RL" (Kang et al. 2023).

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

The presets (edp_ref.reproduce.presets, docs/reproduction.md with measured wall times): quick
runs Table 2's TD3 family on hopper-medium-replay and hopper-medium, 3 seeds of 20,000 updates,
on locally generated D4RL-protocol datasets when no D4RL or Minari copy exists; --algos td3 crr
iql adds CRR and IQL. Runs of at least 5000 updates compile their update (--compile auto).
--dry-run prices a grid before it runs (no data needed); the paper preset refuses a local
dataset smaller than D4RL's.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import tyro

from edp_ref.benchmark.settings import DEFAULT_OUTPUT
from edp_ref.command_line import Command, choice, missing_extra, parse, usage_error
from edp_ref.reproduce.columns import ALGOS, POLICIES

__all__ = ["ReproduceCommand", "main", "parse_args"]

PROG = "edp-reproduce"

#: How --help shows the default of a filter that keeps the preset's choice.
_PRESETS = tyro.conf.arg(help_behavior_hint="(default: the preset's)")

if TYPE_CHECKING:
    Algo = str
    PolicyClass = str
else:
    Algo = choice(ALGOS)
    PolicyClass = choice(POLICIES)


@dataclass(frozen=True)
class ReproduceCommand(Command):
    """``edp-reproduce``'s options (one of --table and --figure is required)."""

    # Table to reproduce: 1, 2, 4, 5, 6 or 7.
    table: int | None = None
    # Figure to reproduce: 2 (reads edp-benchmark's JSON, --benchmark), 3, 4, 5, 6 or 7.
    figure: int | None = None
    # Budget: paper (Table 3's, 5 seeds), quick (docs/reproduction.md) or smoke (the tests').
    preset: Literal["paper", "quick", "smoke"] = "quick"
    # Output folder (run folders, local datasets, tables, figures).
    out: Path = Path("runs") / "reproduce"
    # Paper dataset names.
    tasks: Annotated[tuple[str, ...], _PRESETS] = ()
    # Critic families (quick and smoke run Table 2's td3 only).
    algos: Annotated[tuple[Algo, ...], _PRESETS] = ()
    # Policy classes (with --algos or --policies every column of the experiment that passes
    # both filters runs).
    policies: Annotated[tuple[PolicyClass, ...], _PRESETS] = ()
    # Seeds.
    seeds: Annotated[tuple[int, ...], _PRESETS] = ()
    # EAS candidates N >= 1 (None: the preset's; paper 10, official code 50).
    eas: int | None = None
    # Runs in parallel (default: this machine's CPU count).
    jobs: int = os.cpu_count() or 1
    # Where the runs go: local processes, or a Ray cluster (docs/scale_out.md).
    launcher: Literal["local", "ray"] = "local"
    # torch threads per run.
    threads: int = 1
    # torch.compile the updates: auto (>= 5000 updates or CUDA, no DDPM chain longer than 100
    # steps in the update), on or off.
    compile: Literal["auto", "on", "off"] = "auto"
    # Where every run trains and acts: cpu, cuda, cuda:1 (--launcher ray: cuda, on the GPU share
    # --gpus-per-run reserves; checked against this machine otherwise).
    device: str = "cpu"
    # Figure 2's JSON from edp-benchmark.
    benchmark: Path = DEFAULT_OUTPUT
    # Show progress bars.
    progress: bool = True
    # Ray: CPUs each run asks for (None: --threads).
    cpus_per_run: float | None = None
    # Ray: GPUs each run asks for; a fraction packs several runs on one GPU.
    gpus_per_run: float = 0.0
    # Ray: restarts of a run whose worker died; it resumes from its checkpoint.
    max_retries: int = 3
    # Print the grid, what is finished, the datasets to prepare and the cost in device-hours;
    # run nothing (no data needed).
    dry_run: bool = False
    # --dry-run: updates timed per case on --device to price the grid.
    calibration_updates: int = 20
    # --dry-run: price the grid from edp-benchmark's JSON instead of a calibration here.
    cost_benchmark: Path | None = None


def _check_device(args: ReproduceCommand) -> None:
    """``--device`` names a torch device this machine has, unless Ray runs the grid elsewhere;
    a dry run times the runs here, so it needs the device here (or --cost-benchmark)."""
    import torch

    try:
        device = torch.device(args.device)
    except (RuntimeError, ValueError) as exc:
        usage_error(PROG, f"argument --device: not a torch device ({exc})")
    if device.type not in ("cpu", "cuda"):
        usage_error(PROG, f"argument --device: {args.device!r}; expected cpu, cuda or cuda:N")
    if device.type == "cpu" or (args.launcher == "ray" and not args.dry_run):
        return
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if (device.index or 0) < count:
        return
    if args.dry_run and args.cost_benchmark is not None:
        return
    has = f"{count} CUDA device(s)" if count else "no CUDA device"
    why = (
        "--dry-run times each run's update on --device here; price the grid from a GPU "
        "machine's edp-benchmark JSON with --cost-benchmark, or dry-run where the GPUs are"
        if args.dry_run
        else "the runs train here (--launcher local); use --device cpu, or --launcher ray "
        "with --gpus-per-run"
    )
    usage_error(PROG, f"argument --device: {args.device!r}, but this machine has {has}: {why}")


#: The experiments of the paper edp-reproduce reproduces.
_NUMBERS = {"table": (1, 2, 4, 5, 6, 7), "figure": (2, 3, 4, 5, 6, 7)}


def _check(args: ReproduceCommand, argv: Sequence[str]) -> tuple[str, int]:
    """Every check a type cannot make, each a usage error naming the option, before any work;
    returns the experiment (``table`` or ``figure``, number)."""
    if (args.table is None) == (args.figure is None):
        usage_error(PROG, "argument --table/--figure: give exactly one of them")
    kind, number = ("table", args.table) if args.table is not None else ("figure", args.figure)
    assert number is not None
    if number not in _NUMBERS[kind]:
        choices = ", ".join(map(str, _NUMBERS[kind]))
        usage_error(PROG, f"argument --{kind}: expected one of {choices}, got {number}")
    for name, minimum, value in (
        ("--jobs", 1, args.jobs),
        ("--threads", 1, args.threads),
        ("--eas", 1, args.eas),
        ("--calibration-updates", 1, args.calibration_updates),
    ):
        if value is not None and value < minimum:
            usage_error(PROG, f"argument {name}: expected an integer >= {minimum}, got {value}")
    for name, values in (("--seeds", args.seeds), ("--tasks", args.tasks),
                         ("--algos", args.algos), ("--policies", args.policies)):  # fmt: skip
        if not values and name in argv:
            usage_error(PROG, f"argument {name}: expected at least one value")
    bad_seeds = [s for s in args.seeds if not 0 <= s < 2**32]
    if bad_seeds:
        usage_error(PROG, f"argument --seeds: expected integers in [0, 2**32 - 1], got {bad_seeds}")
    if args.out.exists() and not args.out.is_dir():
        usage_error(PROG, f"argument --out: {args.out} is a file, not a folder")
    if args.cost_benchmark is not None and not args.dry_run:
        usage_error(PROG, "argument --cost-benchmark: only used with --dry-run")
    if args.cost_benchmark is not None and not args.cost_benchmark.is_file():
        usage_error(PROG, f"argument --cost-benchmark: no file {args.cost_benchmark}")
    if args.launcher == "ray" and importlib.util.find_spec("ray") is None:
        usage_error(PROG, "argument --launcher: Ray is not installed: pip install 'edp_ref[ray]'")
    try:
        from edp_ref.reproduce.experiments import check_tasks, experiment, select_columns
        from edp_ref.reproduce.figures import read_benchmark
        from edp_ref.reproduce.launchers import check_ray_options
        from edp_ref.reproduce.presets import PRESETS
        from edp_ref.runner.spec import FieldError
    except ModuleNotFoundError as exc:
        missing_extra(PROG, exc)
    _check_device(args)
    try:
        check_ray_options(
            PROG, args.launcher, args.cpus_per_run, args.gpus_per_run, args.max_retries,
            args.device,
        )  # fmt: skip
    except FieldError as exc:
        usage_error(PROG, f"argument --{exc.field.replace('_', '-')}: {exc}")
    if kind == "figure" and number == 2:
        ignored = [
            option
            for option, value in (
                ("--tasks", args.tasks),
                ("--algos", args.algos),
                ("--policies", args.policies),
                ("--seeds", args.seeds),
                ("--eas", args.eas),
            )
            if value not in (None, ())
        ]
        if ignored:
            usage_error(
                PROG,
                f"argument {ignored[0]}: figure 2 trains no run (it reads --benchmark), so "
                f"{', '.join(ignored)} would select nothing",
            )
        try:
            read_benchmark(args.benchmark)
        except (FileNotFoundError, ValueError) as exc:
            usage_error(PROG, f"argument --benchmark: {exc}")
        return kind, number
    exp = experiment(kind, number)
    try:
        check_tasks(exp, args.tasks)
    except ValueError as exc:
        usage_error(PROG, f"argument --tasks: {exc}")
    try:
        select_columns(exp, PRESETS[args.preset], args.algos or None, args.policies or None)
    except ValueError as exc:
        usage_error(PROG, f"argument --algos/--policies: {exc}")
    return kind, number


def parse_args(argv: Sequence[str] | None = None) -> tuple[ReproduceCommand, str, int]:
    """The parsed and checked options and the experiment (kind, number); a usage error (exit
    status 2) naming the option on any mistake."""
    arguments = sys.argv[1:] if argv is None else argv
    args = parse(ReproduceCommand, arguments, PROG, __doc__ or "")
    kind, number = _check(args, arguments)
    return args, kind, number


def main(argv: Sequence[str] | None = None) -> int:
    """``edp-reproduce``: 0 on success, 1 when a run or data step fails (a message naming the
    file or value, no traceback); command-line mistakes exit with status 2 before any work."""
    args, kind, number = parse_args(argv)
    from edp_ref.reproduce.launchers import GridRunError
    from edp_ref.reproduce.reproduction import reproduce
    from edp_ref.runner.run_folder import CheckpointError, RunFolderError

    # The options are reproduce()'s arguments of the same names; an empty filter: the preset's.
    options = {f.name: getattr(args, f.name) for f in dataclasses.fields(args)}
    for name in ("version", "table", "figure", "eas"):
        del options[name]
    for name in ("tasks", "algos", "policies", "seeds"):
        options[name] = options[name] or None
    try:
        output = reproduce(kind, number, eas_candidates=args.eas, **options)
    except (GridRunError, FileNotFoundError, ValueError, RunFolderError, CheckpointError) as exc:
        # Every other run finished and is reused by the same command once the cause is fixed;
        # missing data and damaged run folders: the message names the file or value and what
        # to do. A traceback would only hide it.
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    print(output.text)
    if output.files:
        # One path a line: the output stays within a 100-column terminal when the paths do.
        print("written:\n" + "\n".join(f"  {f}" for f in output.files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
