"""``edp-golden export|check DIR`` (or ``python -m edp_ref.golden``): the conformance kit's command.

``export`` prints how many cases it wrote (exit 0); it refuses a folder that already holds files
unless ``--force``. ``check`` prints one line per problem (``KIND case [array]: detail``) and per
note (``NOTE kind case [array]: detail``) and a summary; it exits 0 when every case of the kit
matches, 1 when a case has a problem, and 2 when the kit cannot be checked or written (the
message names the file).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from edp_ref.command_line import Command, parse, usage_error

__all__ = ["Check", "Export", "GoldenCommand", "main"]

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
