"""``edp-golden export|check DIR`` (or ``python -m edp_ref.golden``): the conformance kit's command.

``export`` prints how many cases it wrote (exit 0); it refuses a folder that already holds files
unless ``--force``. ``check`` prints one line per problem (``KIND case [array]: detail``) and per
note (``NOTE kind case [array]: detail``) and a summary; it exits 0 when every case of the kit
matches, 1 when a case has a problem, and 2 when the kit cannot be checked or written (the
message names the file). ``check DIR --adapter MODULE:FUNCTION`` (or ``path/to/file.py:FUNCTION``)
checks a port instead of this edp_ref: the function receives each case
(:class:`~edp_ref.golden.PortCase`) and returns its outputs, or None for a case the port
does not implement.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import tyro

from edp_ref.command_line import Command, parse, usage_error

if TYPE_CHECKING:
    from edp_ref.golden.checker import Adapter

__all__ = ["Check", "Export", "GoldenCommand", "load_adapter", "main"]

PROG = "edp-golden"
_DIR = tyro.conf.arg(metavar="DIR")


@dataclass(frozen=True)
class Export:
    """Write the golden vectors (one .npz archive per case) and manifest.json into DIR."""

    # Folder to write the kit into (created if missing; one that holds files needs --force).
    dir: Annotated[tyro.conf.Positional[Path], _DIR]
    # Write into a folder that already holds files, replacing the kit's files of the same names.
    force: bool = False


@dataclass(frozen=True)
class Check:
    """Recompute every case of the kit in DIR with this edp_ref; exit 1 on any mismatch."""

    # Folder holding the kit: manifest.json and the .npz archives it lists.
    dir: Annotated[tyro.conf.Positional[Path], _DIR]
    # Check a port instead: MODULE:FUNCTION or path/to/file.py:FUNCTION, called with each case.
    adapter: str | None = None


@dataclass(frozen=True)
class GoldenCommand(Command):
    """Golden input/output vectors of edp_ref for ports (the conformance kit)."""

    # What to do.
    command: (
        Annotated[Export, tyro.conf.subcommand("export")]
        | Annotated[Check, tyro.conf.subcommand("check")]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``export DIR`` or ``check DIR``; return the exit status."""
    args = parse(
        GoldenCommand,
        sys.argv[1:] if argv is None else argv,
        PROG,
        "Golden input/output vectors of edp_ref for ports (the conformance kit).",
        config=(tyro.conf.OmitSubcommandPrefixes,),
    ).command
    directory = args.dir
    if directory.exists() and not directory.is_dir():
        usage_error(PROG, f"argument DIR: {directory} is a file, not a folder")
    # The kit's functions, fetched through the package (edp_ref.lazy_imports): torch only now.
    from edp_ref.golden import GoldenKitError, check, export

    if isinstance(args, Export):
        if directory.is_dir() and any(directory.iterdir()) and not args.force:
            usage_error(
                PROG,
                f"argument DIR: {directory} already holds files; pass --force to write the kit "
                "into it (replacing files of the same names), or choose an empty folder",
            )
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
    from edp_ref.golden import GoldenKitError

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
