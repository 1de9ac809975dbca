"""Command line of ``scripts/crosscheck_official.py`` (see :mod:`edp_ref.fidelity.crosscheck`).

Prints one line per comparison (PASS / FAIL / INFO / DIAG, the deviation and its tolerance) as
the checks finish, ``SKIP`` lines for checks whose peer is absent, and a final line
``crosscheck: N passed, M failed``; the exit status is 1 when a comparison failed, else 0.

``--power`` runs the plan's checks (without the drift runs) as they are, prints their lines, then
runs them once per bug of :data:`edp_ref.fidelity.power.BUGS` (or those named by ``--bugs``) put
into edp_ref, prints the power table (bug, the worst failing line, deviation / tolerance) and
exits 1 when the unmutated run fails or a bug survives.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from typing import Any

__all__ = ["main"]

FAST_COMPILE = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"

# Warnings from inside the peers' own code and their dependencies (not edp_ref's).
_PEER_WARNINGS: tuple[tuple[str, type[Warning]], ...] = (
    ("optax.global_norm is deprecated", DeprecationWarning),
    ("Explicitly requested dtype", UserWarning),
    ("__array_wrap__ must accept context", DeprecationWarning),
    ("invalid escape sequence", DeprecationWarning),
    ("jax.core.pytype_aval_mappings is deprecated", DeprecationWarning),
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crosscheck_official.py", description=__doc__)
    p.add_argument("--edp", default=None, help="official EDP folder (else EDP_OFFICIAL_ROOT)")
    p.add_argument(
        "--dql", default=None, help="official Diffusion-QL folder (else DQL_OFFICIAL_ROOT)"
    )
    p.add_argument("--corl", default=None, help="CORL folder (else CORL_ROOT)")
    p.add_argument("--plan", default="full", choices=["full", "quick"])
    p.add_argument(
        "--only", nargs="+", default=None, help="run the checks whose name has one of these"
    )
    p.add_argument(
        "--power",
        action="store_true",
        help="run the power suite: every bug of edp_ref.fidelity.power must fail the crosscheck",
    )
    p.add_argument(
        "--bugs", nargs="+", default=None, help="with --power: only these bugs (their names)"
    )
    p.add_argument(
        "--fast-compile",
        action="store_true",
        help="XLA's cheapest optimisation level (shorter compiles; results differ by round-off)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.fast_compile and "xla_backend_optimization_level" not in os.environ.get(
        "XLA_FLAGS", ""
    ):
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {FAST_COMPILE}".strip()
    for message, category in _PEER_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)

    import torch

    from edp_ref.fidelity.compare import summary_line
    from edp_ref.fidelity.crosscheck import PeerRoots, plan

    torch.set_num_threads(1)
    checks = plan(args.plan)
    if args.only:
        checks = [c for c in checks if any(word in c.name for word in args.only)]
        if not checks:
            raise SystemExit(f"crosscheck_official.py: no check matches --only {args.only}")
    roots = PeerRoots(args.edp, args.dql, args.corl)
    if args.power:
        return _power(checks, roots, args.bugs)
    t0 = time.time()
    results, skipped = _collect(checks, roots, show=True)
    print(f"({len(checks)} checks, {len(skipped)} skipped, {time.time() - t0:.0f} s)")
    print(summary_line(results), flush=True)
    return 0 if all(c.passed for c in results) else 1


def _collect(checks: list[Any], roots: Any, show: bool) -> tuple[list[Any], list[str]]:
    """The checks' comparisons and SKIP lines; ``show`` prints them (and each check's duration)
    as they come."""
    from edp_ref.fidelity.compare import format_line
    from edp_ref.fidelity.crosscheck import run_checks

    lines, skipped = [], []
    log = (lambda m: print(m, flush=True)) if show else (lambda _m: None)
    for item in run_checks(checks, roots, log=log):
        if isinstance(item, str):
            skipped.append(item)
        else:
            lines.append(item)
        if show:
            print(item if isinstance(item, str) else format_line(item), flush=True)
    return lines, skipped


def _power(checks: list[Any], roots: Any, names: list[str] | None) -> int:
    from edp_ref.fidelity.compare import Comparison, format_line, summary_line
    from edp_ref.fidelity.power import BUGS, power_run, power_table

    bugs = BUGS
    if names:
        unknown = sorted(set(names) - {b.name for b in BUGS})
        if unknown:
            raise SystemExit(
                f"crosscheck_official.py: unknown bug(s) {unknown}; known: "
                f"{', '.join(b.name for b in BUGS)}"
            )
        bugs = tuple(b for b in BUGS if b.name in names)
    checks = [c for c in checks if not c.drift]
    skipped: list[str] = []

    def run() -> list[Comparison]:
        lines, skipped[:] = _collect(checks, roots, show=False)
        return lines

    t0 = time.time()
    clean, results = power_run(run, bugs)
    for line in skipped:
        print(line)
    for c in clean:
        print(format_line(c))
    print(f"unmutated run: {summary_line(clean)} ({len(checks)} checks, {len(skipped)} skipped)")
    for r in results:
        verdict = "caught" if r.caught else "NOT CAUGHT"
        print(f"# {r.bug.name}: {verdict} ({len(r.failed)} failing lines)", flush=True)
    print()
    print("\n".join(power_table(results)))
    caught = sum(r.caught for r in results)
    print(f"\npower: {caught} of {len(results)} bugs caught ({time.time() - t0:.0f} s)")
    ok = all(c.passed for c in clean) and caught == len(results)
    return 0 if ok else 1
