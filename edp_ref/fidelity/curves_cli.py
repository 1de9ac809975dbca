"""Command line of ``scripts/fidelity_curves.py``: ``run`` the learning-curve study, ``report`` it.

``run`` trains every (seed, side) of the grid with :func:`edp_ref.fidelity.curves.run_curve`,
one run per process at a time (``--jobs`` processes in parallel, one torch thread and one XLA
thread each), skipping runs whose JSON is complete. The sides are the official agent, edp_ref and
edp_ref with each ``--mutants`` bug. ``report`` prints the TOST of edp_ref against the official
agent within ``--margin``, the power check of each mutant, the per-seed table, and writes the
figure (:mod:`edp_ref.fidelity.curves_report`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Any

from edp_ref.fidelity.curves import CurveSettings, run_curve, run_path
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
    run.add_argument("--algorithm", default="td3", choices=["td3", "iql"])
    run.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    run.add_argument("--mutants", nargs="*", default=[], help="bugs of edp_ref.fidelity.power")
    run.add_argument("--updates", type=_positive, required=True)
    run.add_argument("--eval-every", type=_positive, required=True)
    run.add_argument("--episodes", type=_positive, default=10)
    run.add_argument("--hidden", type=_positive, default=256)
    run.add_argument("--layers", type=_positive, default=3)
    run.add_argument("--jobs", type=_positive, default=1, help="runs in parallel (processes)")
    one = sub.add_parser("one", help=argparse.SUPPRESS)  # one run, in a child process
    one.add_argument("settings")
    one.add_argument("--out", required=True)
    one.add_argument("--edp", default=None)
    rep = sub.add_parser("report", help="TOST, power check, table and figure of the runs")
    rep.add_argument("--out", required=True, help="folder of the runs' JSON files")
    rep.add_argument("--figure", required=True, help="PNG path")
    rep.add_argument("--window", type=_positive, default=2, help="final evaluations averaged")
    rep.add_argument("--margin", type=float, required=True, help="TOST margin (points)")
    return p


def _grid(args: argparse.Namespace) -> list[CurveSettings]:
    common: dict[str, Any] = dict(
        dataset=args.dataset, source=args.source, algorithm=args.algorithm,
        updates=args.updates, eval_every=args.eval_every, eval_episodes=args.episodes,
        hidden=args.hidden, layers=args.layers,
    )  # fmt: skip
    grid: list[CurveSettings] = []
    for seed in args.seeds:
        grid.append(CurveSettings(implementation="official", seed=seed, **common))
        grid.append(CurveSettings(implementation="edp_ref", seed=seed, **common))
        for mutant in args.mutants:
            grid.append(CurveSettings(implementation="edp_ref", seed=seed, mutant=mutant, **common))
    return grid


def _run(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from edp_ref.fidelity.power import BUGS

    unknown = sorted(set(args.mutants) - {b.name for b in BUGS})
    if unknown:
        raise SystemExit(f"fidelity_curves.py: unknown mutant(s) {unknown}")
    todo = []
    for s in _grid(args):
        path = run_path(args.out, s)
        if path.exists() and '"complete": true' in path.read_text(encoding="utf-8"):
            print(f"{s.name}: complete, skipped", flush=True)
            continue
        todo.append(s)
    running: list[tuple[subprocess.Popen[bytes], str, float]] = []
    failed = []
    while todo or running:
        while todo and len(running) < args.jobs:
            s = todo.pop(0)
            command = [sys.executable, "-m", "edp_ref.fidelity.curves_cli", "one",
                       json.dumps(asdict(s)), "--out", args.out]  # fmt: skip
            if args.edp:
                command += ["--edp", args.edp]
            running.append((subprocess.Popen(command), s.name, time.time()))
        time.sleep(2)
        for proc, name, t0 in list(running):
            if proc.poll() is not None:
                running.remove((proc, name, t0))
                status = "done" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
                print(f"{name}: {status} in {time.time() - t0:.0f} s", flush=True)
                if proc.returncode != 0:
                    failed.append(name)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "one":
        import json

        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} {XLA_SINGLE_THREAD}".strip()
        settings = CurveSettings(**json.loads(args.settings))
        run_curve(settings, args.out, args.edp, log=lambda m: print(m, flush=True))
        return 0
    from edp_ref.fidelity.curves_report import load_runs, plot, report_markdown, summarise

    runs = load_runs(args.out)
    if not runs:
        raise SystemExit(f"fidelity_curves.py report: no complete runs in {args.out}")
    try:
        text = report_markdown(summarise(runs, args.window), args.window, args.margin)
    except ValueError as exc:
        raise SystemExit(f"fidelity_curves.py report: {exc}") from None
    plot(runs, args.figure, runs[0]["settings"]["dataset"])
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
