"""Command line of ``scripts/fidelity_curves.py``: ``run`` the learning-curve grid, ``report`` it.

``run`` trains, one run at a time, every (seed, algorithm, implementation) of the grid with
:func:`edp_ref.fidelity.curves.run_curve`, skipping runs whose JSON is complete, single-threaded
(one torch thread; XLA's CPU client on one thread). ``report`` writes the figure and the table
(:mod:`edp_ref.fidelity.curves_report`).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from edp_ref.paper import DATA_SOURCES

__all__ = ["main"]

XLA_SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fidelity_curves.py", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train and evaluate the grid (resumable)")
    run.add_argument("--dataset", default="hopper-medium-v2")
    run.add_argument("--source", default="local", choices=DATA_SOURCES)
    run.add_argument("--edp", default=None, help="official EDP folder (else EDP_OFFICIAL_ROOT)")
    run.add_argument("--out", required=True, help="folder of the runs' JSON files")
    run.add_argument("--algorithms", nargs="+", default=["td3", "iql"], choices=["td3", "iql"])
    run.add_argument(
        "--implementations",
        nargs="+",
        default=["official", "edp_ref"],
        choices=["official", "edp_ref"],
    )
    run.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    run.add_argument("--updates", type=_positive, default=10_000)
    run.add_argument("--eval-every", type=_positive, default=1_000)
    run.add_argument("--episodes", type=_positive, default=5)
    run.add_argument("--candidates", type=_positive, default=50, help="EAS N (official: 50)")
    rep = sub.add_parser("report", help="figure and table from the runs")
    rep.add_argument("--out", required=True, help="folder of the runs' JSON files")
    rep.add_argument("--figure", required=True, help="PNG path")
    rep.add_argument("--table", default=None, help="Markdown path (else printed)")
    rep.add_argument("--window", type=_positive, default=3, help="final evaluations averaged")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "run":
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} {XLA_SINGLE_THREAD}".strip()
        from edp_ref.fidelity.curves import CurveSettings, run_curve, run_path

        for seed in args.seeds:
            for alg in args.algorithms:
                for impl in args.implementations:
                    s = CurveSettings(
                        args.dataset, args.source, alg, impl, seed, args.updates,
                        args.eval_every, args.episodes, args.episodes, args.candidates,
                    )  # fmt: skip
                    path = run_path(args.out, s)
                    if path.exists() and '"complete": true' in path.read_text(encoding="utf-8"):
                        print(f"{s.name}: complete, skipped", flush=True)
                        continue
                    t0 = time.time()
                    run_curve(s, args.out, args.edp, log=lambda m: print(m, flush=True))
                    print(f"{s.name}: done in {time.time() - t0:.0f} s", flush=True)
        return 0
    from edp_ref.fidelity.curves_report import load_runs, plot, summarise, table_markdown

    runs = load_runs(args.out)
    if not runs:
        raise SystemExit(f"fidelity_curves.py report: no complete runs in {args.out}")
    dataset = runs[0]["settings"]["dataset"]
    plot(runs, args.figure, dataset)
    table = table_markdown(summarise(runs, args.window), args.window)
    if args.table:
        Path(args.table).write_text(table, encoding="utf-8")
    print(table)
    return 0
