"""``edp-benchmark`` (and ``scripts/benchmark.py``): the speed benchmark of edp_ref, Figure 2
(Sec. 5.1) and Appendix C.5 of the EDP paper; ``edp-benchmark --peers`` (and
``scripts/benchmark_peers.py``): edp_ref beside the official peers.

Examples::

    edp-benchmark --threads 1   # everything
    edp-benchmark --quick       # fewer iterations
    edp-benchmark --tiny        # small networks (a smoke test, seconds)
    edp-benchmark --peers --rounds 5   # beside the official peers (edp-benchmark --peers --help)

Prints the tables (training IPS with ratios to EDP + TD3 next to the paper's, FLOP rates against
the measured dense-matmul rate, EAS sampling speed, vmapped seeds, peak memory, and the targets
on FLOP rate, speed-ups, seeds and memory) and writes every figure as JSON (schema:
edp_ref.benchmark.run's docstring). Timings on a shared machine are noisy: the machine load is
recorded next to every figure. Every option is checked before any work starts.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edp_ref.benchmark.settings import (
    DEFAULT_OUTPUT,
    PEERS_OUTPUT,
    PRESETS,
    BenchmarkSettings,
    PresetName,
    resolve_device,
)
from edp_ref.command_line import Command, missing_extra, parse, usage_error

__all__ = ["BenchmarkCommand", "PeersCommand", "main", "peers_main"]

PROG = "edp-benchmark"
PEERS_PROG = "edp-benchmark --peers"


@dataclass(frozen=True)
class BenchmarkCommand(Command):
    """``edp-benchmark``'s options: the preset, what to measure (default: the preset's), the
    output."""

    # Time edp_ref beside the official peers instead; the options after it are the peer
    # benchmark's (edp-benchmark --peers --help lists them).
    peers: bool = False
    # Budget: full (every measurement), quick (fewer iterations; DQL K=1000 extrapolated) or
    # tiny (tiny networks and K: seconds).
    preset: PresetName = "full"
    # Same as --preset quick.
    quick: bool = False
    # Same as --preset tiny.
    tiny: bool = False
    # auto (CUDA if present), cpu, cuda or cuda:N.
    device: str = "auto"
    # torch.set_num_threads (None: torch's default).
    threads: int | None = None
    # Skip the compiled runs.
    eager_only: bool = False
    # S of the seeds speed-up (None: the preset's).
    seeds: int | None = None
    # Time Diffusion-QL at the largest K (its 1000-step chain with gradients takes seconds and
    # gigabytes per iteration on a CPU) instead of extrapolating it from K = 5 and 100.
    measure_longest_dql: bool = False
    # Untimed calls before timing (None: the preset's).
    warmup: int | None = None
    # Timed calls, at least (None: the preset's).
    min_iterations: int | None = None
    # Timed calls, at most (None: the preset's).
    max_iterations: int | None = None
    # Timing, at least, in seconds (None: the preset's).
    min_seconds: float | None = None
    # Timing, at most, in seconds (None: the preset's).
    max_seconds: float | None = None
    # JSON path (edp-reproduce --figure 2 reads it).
    output: Path = DEFAULT_OUTPUT


@dataclass(frozen=True)
class PeersCommand(Command):
    """Training speed of edp_ref next to the official EDP (JAX), Diffusion-QL and CORL on the
    same synthetic walker2d-shaped data (edp_ref.benchmark.peers). Peer folders come from
    --edp-root / --dql-root / --corl-root, --peers-root DIR (holding edp/, dql/, corl/) or the
    variables EDP_OFFICIAL_ROOT, DQL_OFFICIAL_ROOT, CORL_ROOT; absent peers are skipped."""

    # Tiny sizes (a smoke test, seconds).
    tiny: bool = False
    # Timed rounds (None: 5).
    rounds: int | None = None
    # Seconds per timed loop a round (None: 2).
    round_seconds: float | None = None
    # Warm-up iterations per timed loop (None: 2; tiny: 1).
    warmup: int | None = None
    # Skip edp_ref's compiled mode.
    eager_only: bool = False
    # Skip the DIAGNOSTIC row (the official EDP with a searchsorted interpolation).
    diagnostic: bool = True
    # Comparisons to run (None: every one with a peer); any registered algorithm is timed alone.
    only: tuple[str, ...] | None = None
    # Synthetic dataset size (None: 2,000,000; tiny: 200).
    transitions: int | None = None
    # Folder holding edp/, dql/ and corl/.
    peers_root: Path | None = None
    # Official EDP folder (None: $EDP_OFFICIAL_ROOT).
    edp_root: Path | None = None
    # Diffusion-QL folder (None: $DQL_OFFICIAL_ROOT).
    dql_root: Path | None = None
    # CORL folder (None: $CORL_ROOT).
    corl_root: Path | None = None
    # JSON path.
    output: Path = PEERS_OUTPUT


def _check_counts(prog: str, bounds: Sequence[tuple[str, int, float | int | None, bool]]) -> None:
    """A usage error naming the first option that is NaN or below its minimum (or not above it,
    ``strict``)."""
    for name, minimum, value, strict in bounds:
        if value is not None and (
            value != value or (value <= minimum if strict else value < minimum)
        ):
            bound = f"{'>' if strict else '>='} {minimum:g}"
            usage_error(prog, f"argument {name}: expected a number {bound}, got {value}")


def _check_output(prog: str, path: Path) -> None:
    """A usage error when ``path`` cannot be a JSON file to write."""
    parent = next((p for p in path.parents if p.exists()), None)
    if path.is_dir():
        usage_error(prog, f"argument --output: {str(path)!r} is a folder; expected a file path")
    if parent is not None and not parent.is_dir():
        usage_error(
            prog, f"argument --output: {str(path)!r}: {str(parent)!r} is a file, not a folder"
        )


def _settings(args: BenchmarkCommand) -> BenchmarkSettings:
    """The BenchmarkSettings the options ask for; a usage error naming the options the settings
    reject."""
    chosen = [p for p, flag in (("quick", args.quick), ("tiny", args.tiny)) if flag]
    if len(chosen) > 1 or (chosen and args.preset != "full"):
        usage_error(PROG, "argument --quick / --tiny / --preset: choose one preset")
    _check_counts(PROG, [
        ("--threads", 1, args.threads, False), ("--seeds", 1, args.seeds, False),
        ("--warmup", 0, args.warmup, False), ("--min-iterations", 1, args.min_iterations, False),
        ("--max-iterations", 1, args.max_iterations, False),
        ("--min-seconds", 0, args.min_seconds, False), ("--max-seconds", 0, args.max_seconds, True),
    ])  # fmt: skip
    _check_output(PROG, args.output)
    try:
        resolve_device(args.device)
    except ValueError as exc:
        usage_error(PROG, f"argument --device: {exc}")
    changes: dict[str, Any] = {"device": args.device, "threads": args.threads}
    if args.eager_only:
        changes["modes"] = ("eager",)
    if args.measure_longest_dql:
        changes["extrapolate_longest_dql"] = False
    for field in ("seeds", "warmup", "min_iterations", "max_iterations", "min_seconds",
                  "max_seconds"):  # fmt: skip
        if getattr(args, field) is not None:
            changes[field] = getattr(args, field)
    preset = chosen[0] if chosen else args.preset
    try:
        return PRESETS[preset](**changes)
    except ValueError as exc:
        mentioned = set(re.findall(r"[a-z][a-z_]*", str(exc)))
        given = [f for f in changes if f in mentioned and changes[f] is not None]
        given = given or [f for f in changes if changes[f] is not None]
        options = " / ".join(f"--{f.replace('_', '-')}" for f in given)
        usage_error(PROG, f"argument {options} (with --preset {preset}): {exc}")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the benchmark, print its report and write its JSON; returns 0.
    ``--peers`` runs :func:`peers_main` with the other options."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if "--peers" in arguments:
        return peers_main([a for a in arguments if a != "--peers"])
    args = parse(BenchmarkCommand, arguments, PROG, __doc__ or "")
    try:
        settings = _settings(args)
        from edp_ref.benchmark.report import format_report
        from edp_ref.benchmark.run import run_benchmark, write_json
    except ModuleNotFoundError as exc:
        missing_extra(PROG, exc)
    result = run_benchmark(settings, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(format_report(result))
    print(f"wrote {write_json(result, args.output)}")
    return 0


def peers_main(argv: Sequence[str] | None = None) -> int:
    """``edp-benchmark --peers`` / ``scripts/benchmark_peers.py``: the peer benchmark
    (:mod:`edp_ref.benchmark.peers`), its table printed and its JSON written; returns 0."""
    args = parse(
        PeersCommand, sys.argv[1:] if argv is None else argv, PEERS_PROG, PeersCommand.__doc__ or ""
    )
    _check_counts(PEERS_PROG, [
        ("--rounds", 1, args.rounds, False), ("--round-seconds", 0, args.round_seconds, True),
        ("--warmup", 0, args.warmup, False), ("--transitions", 1, args.transitions, False),
    ])  # fmt: skip
    _check_output(PEERS_PROG, args.output)
    try:
        from edp_ref.benchmark.peers import (
            configure_single_thread,
            format_report,
            run_peer_benchmark,
            write_json,
        )
        from edp_ref.benchmark.settings import PeerBenchmarkSettings, comparison_names
    except ModuleNotFoundError as exc:
        missing_extra(PEERS_PROG, exc)
    unknown = [c for c in args.only or () if c not in comparison_names()]
    if unknown or args.only == ():
        usage_error(
            PEERS_PROG,
            f"argument --only: expected some of {', '.join(comparison_names())}; got "
            f"{', '.join(unknown) or 'none'}",
        )
    configure_single_thread()  # before anything imports JAX
    changes: dict[str, Any] = {
        name: value
        for name, value in (
            ("rounds", args.rounds),
            ("round_seconds", args.round_seconds),
            ("warmup", args.warmup),
            ("dataset_transitions", args.transitions),
            ("comparisons", args.only),
        )
        if value is not None
    }
    if args.eager_only:
        changes["modes"] = ("eager",)
    changes["diagnostic"] = args.diagnostic
    for name, sub in (("edp_root", "edp"), ("dql_root", "dql"), ("corl_root", "corl")):
        explicit = getattr(args, name)
        if explicit is not None:
            changes[name] = str(explicit)
        elif args.peers_root is not None:
            changes[name] = str(args.peers_root / sub)
    preset = PeerBenchmarkSettings.tiny if args.tiny else PeerBenchmarkSettings.full
    settings = preset(**changes)
    result = run_peer_benchmark(settings, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(format_report(result))
    print(f"wrote {write_json(result, args.output)}")
    return 0
