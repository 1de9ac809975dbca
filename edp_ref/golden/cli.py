"""The conformance kit's command line: ``python -m edp_ref.golden export|check DIR``.

``export`` prints how many cases it wrote (exit 0). ``check`` prints one line per problem
(``KIND case [array]: detail``) and per note (``NOTE kind case [array]: detail``) and a summary;
it exits 0 when every case of the kit matches, 1 when a case has a problem, and 2 when the kit
cannot be checked or written (the message names the file). ``check DIR --adapter
MODULE:FUNCTION`` (or ``path/to/file.py:FUNCTION``) checks a port instead of this edp_ref: the
function receives each case (:class:`~edp_ref.golden.check.PortCase`) and returns its outputs, or
None for a case the port does not implement.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from edp_ref.golden.check import Adapter, check
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
    checking = sub.add_parser("check", help="recompute and compare golden vectors")
    checking.add_argument("dir")
    checking.add_argument(
        "--adapter",
        default=None,
        help="MODULE:FUNCTION or path/to/file.py:FUNCTION: check a port through this adapter",
    )
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
        adapter = None if args.adapter is None else load_adapter(args.adapter)
        report = check(directory, adapter)
    except GoldenKitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for finding in (*report.problems, *report.notes):
        print(finding.line())
    failed = len(report.failed_cases())
    if adapter is None:
        print(
            f"golden check of {directory}: {report.kit_cases - failed} of {report.kit_cases} "
            f"cases match, {failed} fail; {len(report.notes)} notes"
        )
    else:
        declined = len(report.not_implemented())
        print(
            f"port check of {directory} with {args.adapter}: "
            f"{report.kit_cases - failed - declined} of {report.kit_cases} cases match, {failed} "
            f"fail, {declined} not implemented by the port; {len(report.notes)} notes"
        )
    return 0 if report.passed else 1


def load_adapter(spec: str) -> Adapter:
    """The function named by ``MODULE:FUNCTION`` or ``path/to/file.py:FUNCTION``.

    Raises:
        GoldenKitError: naming the spec when it has no ``:``, the module or file cannot be
            imported, or it has no such callable.
    """
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name:
        raise GoldenKitError(f"--adapter {spec!r}: expected MODULE:FUNCTION or FILE.py:FUNCTION")
    try:
        module: Any
        if where.endswith(".py"):
            loader = importlib.util.spec_from_file_location("_edp_golden_adapter", where)
            if loader is None or loader.loader is None:
                raise ImportError(f"cannot load {where}")
            module = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except Exception as exc:
        raise GoldenKitError(f"--adapter {spec!r}: cannot import {where}: {exc}") from exc
    function = getattr(module, name, None)
    if not callable(function):
        raise GoldenKitError(f"--adapter {spec!r}: {where} has no callable {name!r}")
    return function  # type: ignore[no-any-return]
