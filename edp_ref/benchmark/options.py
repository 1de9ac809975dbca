"""Building blocks of the benchmark's command line (:mod:`edp_ref.benchmark.cli`).

* Argument types for ``argparse``'s ``type=``: each rejects a bad value before any work starts,
  so ``argparse`` exits with status 2 and a usage error that names the argument
  (``argument --threads: expected an integer >= 1, got '0'``).
* :class:`OptionGroup`: one group of options and what the command line does with them (changes
  to :class:`~edp_ref.benchmark.settings.BenchmarkSettings`, work after the run, report lines).
  A module that adds options to the benchmark (e.g. a comparison with the peers) defines one and
  lists it in :data:`edp_ref.benchmark.cli.OPTION_GROUPS`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edp_ref.argument_types import integer_in, number_at_least
from edp_ref.benchmark.settings import PRESETS, BenchmarkSettings, resolve_device

__all__ = [
    "LogFn",
    "OptionGroup",
    "device_name",
    "non_negative_float",
    "non_negative_int",
    "output_file",
    "positive_float",
    "positive_int",
    "preset_name",
]

#: Where progress lines go (the command line: stderr).
LogFn = Callable[[str], None]


#: A whole number >= 1 (threads, seeds, iterations).
positive_int = integer_in(1)
#: A whole number >= 0 (warm-up calls).
non_negative_int = integer_in(0)
#: A finite number > 0 (seconds).
positive_float = number_at_least(0.0, strict=True)
#: A finite number >= 0 (seconds).
non_negative_float = number_at_least(0.0)


def preset_name(text: str) -> str:
    """One of :data:`~edp_ref.benchmark.settings.PRESETS` (full, quick, tiny)."""
    if text not in PRESETS:
        raise argparse.ArgumentTypeError(
            f"unknown preset {text!r}; expected one of {', '.join(PRESETS)}"
        )
    return text


def device_name(text: str) -> str:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``, and present on this machine."""
    try:
        resolve_device(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def output_file(text: str) -> Path:
    """A file path that is not a folder and whose existing ancestors are folders."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; expected a file path")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise argparse.ArgumentTypeError(
                    f"{text!r}: {str(parent)!r} is a file, not a folder"
                )
            break
    return path


def _no_changes(args: argparse.Namespace) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class OptionGroup:
    """One group of command-line options and what the command line does with them.

    Attributes:
        title: the group's name (for messages).
        add_arguments: adds the options to the parser (usually as one ``add_argument_group``);
            give every option a ``type=`` from this module (or one like them) so that a bad
            value is a usage error before any work starts.
        settings_changes: the :class:`BenchmarkSettings` fields the parsed options set
            (``{field: value}``). An option setting a field is spelled ``--<field with
            dashes>`` so that a settings error can name it.
        after_run: called after :func:`~edp_ref.benchmark.run.run_benchmark` with the parsed
            options, the settings, the document (which it may extend with its own section,
            before the report is printed and the JSON written) and the progress log.
        report: lines printed after :func:`~edp_ref.benchmark.report.format_report`'s.
    """

    title: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    settings_changes: Callable[[argparse.Namespace], dict[str, Any]] = _no_changes
    after_run: (
        Callable[[argparse.Namespace, BenchmarkSettings, dict[str, Any], LogFn], None] | None
    ) = None
    report: Callable[[dict[str, Any]], list[str]] | None = None
