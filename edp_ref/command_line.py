"""What edp_ref's five commands share: tyro parsing within 100 columns, ``--version``, usage errors.

Each command is CleanRL's style: one dataclass of options, each with its type, default and the
comment above it as its help, parsed by :func:`parse` (``tyro.cli``). Checks that a type cannot
say (a range, a file that must exist) are made after parsing and reported by
:func:`usage_error` naming the option, before any work starts; it exits with status 2 as
tyro's own errors do. A command module imports only what ``--help`` needs (no torch: see
:mod:`edp_ref.lazy_imports`) and the rest inside its ``main``.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NoReturn, TypeVar, cast

import tyro

__all__ = [
    "HELP_WIDTH",
    "Command",
    "choice",
    "missing_extra",
    "parse",
    "train",
    "usage_error",
    "version_text",
]

#: Columns of ``--help`` at most (narrower terminals get their own width).
HELP_WIDTH = 100

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Command:
    """The option every command has."""

    # Print the command's name and edp_ref's version, and exit.
    version: Annotated[bool, tyro.conf.FlagCreatePairsOff] = False


def choice(values: Sequence[str]) -> Any:
    """``Literal[values]``, the type of an option that takes one of ``values`` (a module keeps
    ``Name = str`` under ``TYPE_CHECKING`` and ``Name = choice(...)`` otherwise, so the values
    are written once, where they are defined)."""
    return Literal[tuple(values)]


def version_text(prog: str) -> str:
    """``edp-train (edp_ref 0.1.0)``."""
    return f"{prog} (edp_ref {importlib.metadata.version('edp_ref')})"


def parse(
    cls: type[T],
    argv: Sequence[str],
    prog: str,
    description: str,
    *,
    default: T | None = None,
    config: tuple[Any, ...] = (),
) -> T:
    """``tyro.cli(cls)`` over ``argv`` with the help at most :data:`HELP_WIDTH` columns wide;
    ``--version`` anywhere prints :func:`version_text` and exits 0 (before any required option
    is asked for)."""
    if "--version" in argv:
        print(version_text(prog))
        raise SystemExit(0)
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(min(shutil.get_terminal_size().columns, HELP_WIDTH))
    try:
        parsed = tyro.cli(
            cls, args=list(argv), prog=prog, description=_help_text(description), default=default,
            config=config,
        )  # fmt: skip
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    return cast(T, parsed)


def _help_text(text: str) -> str:
    """``text`` (a docstring: reST's ``::`` and double backquotes dropped) with its paragraphs
    wrapped to :data:`HELP_WIDTH` columns and indented by two spaces: tyro joins a line that
    starts with a letter to the one before it and wraps no description."""
    text = text.replace("``", "").replace("::\n", ":\n")
    lines: list[str] = []
    for paragraph in text.strip().split("\n\n"):
        rows = paragraph.split("\n")
        if any(row.startswith(" ") for row in rows):  # an example block: kept as written
            lines += [row.rstrip() for row in rows]
        else:
            lines += textwrap.wrap(" ".join(rows), HELP_WIDTH - 2, break_on_hyphens=False)
        lines.append("")
    return "\n".join(f"  {line}" if line else "" for line in lines).rstrip()


def usage_error(prog: str, message: str) -> NoReturn:
    """``prog: error: <message>`` and where the options are listed, on standard error; exit
    status 2 (a command-line mistake, before any work)."""
    print(f"usage: {prog} [-h] [OPTIONS]", file=sys.stderr)
    print(f"{prog}: error: {message}", file=sys.stderr)
    print(f"({prog} --help lists every option with its type and default)", file=sys.stderr)
    raise SystemExit(2)


#: The extra of pyproject.toml that brings each optional package (the others: ``train``).
_EXTRA_OF = {
    **dict.fromkeys(("jax", "jaxlib", "flax", "optax", "distrax", "ml_collections"), "peers"),
    **dict.fromkeys(("absl", "tabulate", "dateutil", "yaml"), "peers"),
    "ray": "ray",
    "wandb": "wandb",
}


def missing_extra(prog: str, error: ModuleNotFoundError) -> NoReturn:
    """One line naming the extra that brings the missing package (exit status 1), e.g. the
    training stack that a core install (``pip install edp_ref``) leaves out. A missing module
    of edp_ref itself is a bug: re-raised."""
    package = (error.name or "").split(".")[0]
    if package in ("", "edp_ref"):
        raise error
    extra = _EXTRA_OF.get(package, "train")
    print(
        f"{prog}: error: this needs {package!r}, which the installed extras leave out: "
        f"pip install 'edp_ref[{extra}]'",
        file=sys.stderr,
    )
    raise SystemExit(1)


def train() -> int:
    """The ``edp-train`` console script: :func:`edp_ref.runner.cli.main`, whose package (the
    runner) needs the training extra even for ``--help``; on a core install, one line says so."""
    if "--version" in sys.argv[1:]:
        print(version_text("edp-train"))
        return 0
    try:
        runner_cli = importlib.import_module("edp_ref.runner.cli")
    except ModuleNotFoundError as exc:
        missing_extra("edp-train", exc)
    status: int = runner_cli.main()
    return status
