"""Usage errors of edp_ref's training commands (``edp-train``, ``edp-reproduce``).

A command-line mistake is reported before any work starts, the way argparse reports its own:
``usage: ...`` and ``<prog>: error: argument <flag>: <what is wrong>`` on standard error, exit
status 2, no traceback. The checks of the run's configuration name a field (``RunSpec.epochs``,
``Monitoring.log_every``); :func:`flag_for_message` turns that into the option that sets it.
"""

from __future__ import annotations

import re
import sys
from typing import NoReturn

__all__ = ["UsageError", "flag_for_message", "usage_error"]


class UsageError(Exception):
    """A command-line mistake; the message starts with the argument it names."""


#: Field prefixes of the checks' messages and the options that set them.
_PREFIXES: dict[str, str] = {
    "RunSpec.task": "--dataset",
    "RunSpec.algorithm": "--algorithm",
    "RunSpec.config": "--config",
    "RunSpec.": "--run.",
    "Monitoring.": "--",
}
_FIELD = re.compile(r"^(RunSpec|Monitoring)\.([a-z_]+)")


def flag_for_message(message: str, default: str) -> str:
    """The option a check's message is about (``RunSpec.eval_every must ...`` ->
    ``--run.eval-every``), else ``default``."""
    match = _FIELD.match(message)
    if match is None:
        return default
    owner, name = match.groups()
    whole = f"{owner}.{name}"
    if whole in _PREFIXES:
        return _PREFIXES[whole]
    return _PREFIXES[f"{owner}."] + name.replace("_", "-")


def usage_error(prog: str, usage: str, message: str) -> NoReturn:
    """Print ``usage`` and ``<prog>: error: <message>`` to standard error; exit with status 2."""
    print(f"usage: {usage}", file=sys.stderr)
    print(f"{prog}: error: {message}", file=sys.stderr)
    print(f"({prog} --help lists every option with its type and default)", file=sys.stderr)
    raise SystemExit(2)
