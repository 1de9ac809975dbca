"""The conformance kit's command line: ``python -m edp_ref.golden export|check DIR``.

``export`` prints how many cases it wrote (exit 0). ``check`` prints one line per problem
(``KIND case [array]: detail``) and per note (``NOTE kind case [array]: detail``) and a summary;
it exits 0 when every case of the kit matches, 1 when a case has a problem, and 2 when the kit
cannot be checked or written (the message names the file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edp_ref.golden.check import check
from edp_ref.golden.export import export
from edp_ref.golden.manifest import GoldenKitError

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run ``export DIR`` or ``check DIR``; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m edp_ref.golden",
        description="Golden input/output vectors of edp_ref for ports (the conformance kit).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("export", help="write golden vectors and manifest.json").add_argument("dir")
    sub.add_parser("check", help="recompute and compare golden vectors").add_argument("dir")
    args = parser.parse_args(argv)
    directory = Path(args.dir)
    if args.command == "export":
        try:
            manifest = export(directory)
        except OSError as exc:
            print(f"error: cannot write the kit to {directory}: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {len(manifest['cases'])} cases to {directory}")
        return 0
    try:
        report = check(directory)
    except GoldenKitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for finding in (*report.problems, *report.notes):
        print(finding.line())
    failed = len(report.failed_cases())
    print(
        f"golden check of {directory}: {report.kit_cases - failed} of {report.kit_cases} cases "
        f"match, {failed} fail; {len(report.notes)} notes"
    )
    return 0 if report.passed else 1
