"""Reproduce a table or figure of "Efficient Diffusion Policies for Offline RL" (Kang et al. 2023).

Examples::

    python scripts/reproduce.py --table 2                  # quick preset: about an hour, 2 CPUs
    python scripts/reproduce.py --table 5 --preset paper --jobs 8
    python scripts/reproduce.py --figure 3 --tasks hopper-medium-expert-v2 --seeds 0 1
    python scripts/reproduce.py --table 2 --preset smoke   # under two minutes
    python scripts/reproduce.py --figure 2                 # reads scripts/benchmark.py's JSON

Tables 1, 2, 4, 5, 6, 7 and Figures 2-7. The grid of runs (tasks x algorithms x policy classes
x seeds) is built for the preset, missing local datasets are generated first (with a time
estimate), unfinished runs are run (finished ones reused, interrupted ones resumed) and the
result is written under --out (tables/*.md, *.csv; figures/*.png, *.md, *.csv) and printed.
Paper numbers appear only in columns labelled "paper".
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from edp_ref.runner import (
    ALGORITHMS,
    POLICIES,
    PRESETS,
    CheckpointError,
    RunFolderError,
)
from edp_ref.runner.reproduce import DEFAULT_BENCHMARK, reproduce
from edp_ref.runner.spec import MAX_SEED


def _int_at_least(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: an int in [minimum, maximum]; argparse names the option on error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
            raise argparse.ArgumentTypeError(f"expected an integer {bound}, got {text!r}")
        return value

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--table", type=int, choices=[1, 2, 4, 5, 6, 7])
    what.add_argument("--figure", type=int, choices=[2, 3, 4, 5, 6, 7])
    p.add_argument("--preset", choices=sorted(PRESETS), default="quick")
    p.add_argument("--out", type=Path, default=Path("runs") / "reproduce")
    p.add_argument("--tasks", nargs="+", help="paper dataset names (default: the preset's)")
    p.add_argument("--algos", nargs="+", help=f"algorithms among {', '.join(ALGORITHMS)}")
    p.add_argument("--policies", nargs="+", help=f"policy classes among {', '.join(POLICIES)}")
    p.add_argument(
        "--seeds", nargs="+", type=_int_at_least(0, MAX_SEED), help="seeds (default: the preset's)"
    )
    p.add_argument(
        "--eas", type=_int_at_least(1), help="EAS candidates N >= 1 (paper 10, official code 50)"
    )
    p.add_argument("--jobs", type=_int_at_least(1), default=1, help="runs in parallel (>= 1)")
    p.add_argument("--launcher", choices=["local", "ray"], default="local")
    p.add_argument("--threads", type=_int_at_least(1), default=1, help="torch threads per run")
    p.add_argument("--benchmark", type=Path, default=DEFAULT_BENCHMARK, help="Figure 2's JSON")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
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
        )
    except (FileNotFoundError, ValueError, RunFolderError, CheckpointError) as exc:
        # Bad input and damaged run folders: the message names the file or value and what to
        # do; a traceback would only hide it.
        print(f"reproduce: error: {exc}", file=sys.stderr)
        return 1
    print(output.text)
    print("written: " + ", ".join(str(f) for f in output.files))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
