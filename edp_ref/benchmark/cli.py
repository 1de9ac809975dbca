"""The command line of the speed benchmark (``scripts/benchmark.py`` calls :func:`main`).

The options come in groups (:class:`~edp_ref.benchmark.options.OptionGroup`), listed in
:data:`OPTION_GROUPS`: the preset (``--preset``, ``--quick``, ``--tiny``), what to measure
(device, threads, modes, seeds, timing limits) and the output. Every option's ``type=`` rejects
a bad value (unknown preset or device, ``--threads 0``, a negative count or time) with a usage
error naming the option (exit status 2) before any work starts; a combination the settings
reject (``--min-iterations`` above the preset's maximum) is a usage error too.

Adding an option group from another module is a one-line change here: define an
``OptionGroup`` in that module (its options, the settings fields they change, an ``after_run``
hook that adds the module's section to the document, the report lines it prints) and append it
to :data:`OPTION_GROUPS`, e.g. ``OPTION_GROUPS = (..., peers.OPTIONS)`` with ``from
edp_ref.benchmark import peers`` beside the other imports. Nothing else in this module changes.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import Any

from edp_ref.benchmark.options import (
    OptionGroup,
    device_name,
    non_negative_float,
    non_negative_int,
    output_file,
    positive_float,
    positive_int,
    preset_name,
)
from edp_ref.benchmark.report import format_report
from edp_ref.benchmark.run import DEFAULT_OUTPUT, run_benchmark, write_json
from edp_ref.benchmark.settings import PRESETS, BenchmarkSettings

__all__ = ["OPTION_GROUPS", "build_parser", "main", "settings_from_args"]

DESCRIPTION = """\
Speed benchmark of edp_ref: Figure 2 (Sec. 5.1) and Appendix C.5 of the EDP paper.

Examples:
    python scripts/benchmark.py --threads 1   # everything
    python scripts/benchmark.py --quick       # fewer iterations
    python scripts/benchmark.py --tiny        # small networks (a smoke test)
    python scripts/benchmark.py --peers ...   # beside the official peers (--peers --help)

Prints the tables (training IPS with ratios to EDP + TD3 next to the paper's, FLOP rates against
the measured dense-matmul rate, EAS sampling speed, vmapped seeds, peak memory, and the targets
on FLOP rate, speed-ups, seeds and memory) and writes every figure as JSON (schema:
edp_ref.benchmark.run's docstring). Timings on a shared machine are noisy: the machine load is
recorded next to every figure."""


def _add_preset(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("preset (default full)")
    choice = group.add_mutually_exclusive_group()
    choice.add_argument(
        "--preset",
        type=preset_name,
        default="full",
        metavar="NAME",
        help=f"one of {', '.join(PRESETS)}",
    )
    choice.add_argument(
        "--quick",
        dest="preset",
        action="store_const",
        const="quick",
        help="= --preset quick: fewer iterations; DQL K=1000 extrapolated",
    )
    choice.add_argument(
        "--tiny",
        dest="preset",
        action="store_const",
        const="tiny",
        help="= --preset tiny: tiny networks and K (seconds)",
    )


def _preset_changes(args: argparse.Namespace) -> dict[str, Any]:
    return {"preset": args.preset}


def _add_measurement(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("what to measure (default: the preset's)")
    group.add_argument(
        "--device",
        type=device_name,
        metavar="NAME",
        default="auto",
        help="auto (CUDA if present), cpu, cuda[:N]",
    )
    group.add_argument(
        "--threads", type=positive_int, metavar="N", default=None, help="torch.set_num_threads"
    )
    group.add_argument("--eager-only", action="store_true", help="skip the compiled runs")
    group.add_argument(
        "--seeds", type=positive_int, metavar="S", default=None, help="S of the seeds speed-up"
    )
    group.add_argument(
        "--measure-longest-dql",
        action="store_true",
        help="time Diffusion-QL at the largest K (its 1000-step chain with gradients takes "
        "seconds and gigabytes per iteration on a CPU) instead of extrapolating it from K = 5 "
        "and 100",
    )
    group.add_argument(
        "--warmup", type=non_negative_int, metavar="N", help="untimed calls before timing"
    )
    group.add_argument(
        "--min-iterations", type=positive_int, metavar="N", help="timed calls, at least"
    )
    group.add_argument(
        "--max-iterations", type=positive_int, metavar="N", help="timed calls, at most"
    )
    group.add_argument(
        "--min-seconds", type=non_negative_float, metavar="S", help="timing, at least (s)"
    )
    group.add_argument(
        "--max-seconds", type=positive_float, metavar="S", help="timing, at most (s)"
    )


# Options whose value, when given, replaces the preset's field of the same name.
_FIELD_OPTIONS = (
    "seeds",
    "warmup",
    "min_iterations",
    "max_iterations",
    "min_seconds",
    "max_seconds",
)


def _measurement_changes(args: argparse.Namespace) -> dict[str, Any]:
    changes: dict[str, Any] = {"device": args.device, "threads": args.threads}
    if args.eager_only:
        changes["modes"] = ("eager",)
    if args.measure_longest_dql:
        changes["extrapolate_longest_dql"] = False
    for field in _FIELD_OPTIONS:
        if getattr(args, field) is not None:
            changes[field] = getattr(args, field)
    return changes


def _add_output(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument(
        "--output",
        type=output_file,
        metavar="PATH",
        default=DEFAULT_OUTPUT,
        help="JSON path (%(default)s)",
    )


PRESET_OPTIONS = OptionGroup("preset", _add_preset, _preset_changes)
MEASUREMENT_OPTIONS = OptionGroup("measurement", _add_measurement, _measurement_changes)
OUTPUT_OPTIONS = OptionGroup("output", _add_output)

#: Every option group of the command line, in --help order (module docstring: adding one).
OPTION_GROUPS: tuple[OptionGroup, ...] = (PRESET_OPTIONS, MEASUREMENT_OPTIONS, OUTPUT_OPTIONS)


def build_parser(groups: Sequence[OptionGroup] = OPTION_GROUPS) -> argparse.ArgumentParser:
    """The parser with every option of ``groups``."""
    parser = argparse.ArgumentParser(
        prog="benchmark.py", description=DESCRIPTION, formatter_class=argparse.RawTextHelpFormatter
    )
    for group in groups:
        group.add_arguments(parser)
    return parser


def settings_from_args(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    groups: Sequence[OptionGroup] = OPTION_GROUPS,
) -> BenchmarkSettings:
    """The settings the parsed options ask for; a usage error (``parser.error``, exit status 2)
    naming the options when the settings reject their combination."""
    changes: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for group in groups:
        for field, value in group.settings_changes(args).items():
            if field in changes:
                raise ValueError(
                    f"option groups {owner[field]!r} and {group.title!r} both set "
                    f"BenchmarkSettings.{field}"
                )
            changes[field], owner[field] = value, group.title
    preset = changes.pop("preset", "full")
    try:
        return PRESETS[preset](**changes)
    except ValueError as exc:
        mentioned = set(re.findall(r"[a-z][a-z_]*", str(exc)))
        given = [f for f in changes if f in mentioned and changes[f] is not None]
        given = given or [f for f in changes if changes[f] is not None]
        options = " / ".join(f"--{f.replace('_', '-')}" for f in given)
        parser.error(f"argument {options} (with --preset {preset}): {exc}")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the benchmark, print its report and write its JSON; returns 0.

    ``--peers`` runs the comparison with the official peers instead
    (:mod:`edp_ref.benchmark.peers`, whose own options follow ``--peers``).
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if "--peers" in arguments:
        from edp_ref.benchmark.peers import main as peers_main

        return peers_main([a for a in arguments if a != "--peers"])
    groups = OPTION_GROUPS
    parser = build_parser(groups)
    args = parser.parse_args(arguments)
    settings = settings_from_args(parser, args, groups)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    result = run_benchmark(settings, log=log)
    for group in groups:
        if group.after_run is not None:
            group.after_run(args, settings, result, log)
    print(format_report(result))
    for group in groups:
        if group.report is not None:
            print("\n".join(group.report(result)))
    path = write_json(result, args.output)
    print(f"wrote {path}")
    return 0
