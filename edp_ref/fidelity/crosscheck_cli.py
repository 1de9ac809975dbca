"""Command line of ``scripts/crosscheck_official.py`` (see :mod:`edp_ref.fidelity.crosscheck`).

Prints one line per comparison (PASS / FAIL / INFO, the largest deviation and its tolerance) as
the checks finish, ``SKIP`` lines for checks whose peer is absent, and a final line
``crosscheck: N passed, M failed``; the exit status is 1 when a comparison failed, else 0.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

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

    from edp_ref.fidelity.compare import Comparison, format_line, summary_line
    from edp_ref.fidelity.crosscheck import PeerRoots, plan, run_checks

    torch.set_num_threads(1)
    checks = plan(args.plan)
    if args.only:
        checks = [c for c in checks if any(word in c.name for word in args.only)]
        if not checks:
            raise SystemExit(f"crosscheck_official.py: no check matches --only {args.only}")
    roots = PeerRoots(args.edp, args.dql, args.corl)
    results: list[Comparison] = []
    skipped = 0
    t0 = time.time()
    for item in run_checks(checks, roots, log=lambda m: print(m, flush=True)):
        if isinstance(item, str):
            skipped += 1
            print(item, flush=True)
        else:
            results.append(item)
            print(format_line(item), flush=True)
    print(f"({len(checks)} checks, {skipped} skipped, {time.time() - t0:.0f} s)")
    print(summary_line(results), flush=True)
    return 0 if all(c.passed for c in results) else 1
