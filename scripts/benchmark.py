"""Speed benchmark of edp_ref: Figure 2 (Sec. 5.1) and Appendix C.5 of the EDP paper.

Examples::

    scripts/run python scripts/benchmark.py --threads 1   # everything (about 15 min, 2 cores)
    scripts/run python scripts/benchmark.py --quick    # a few minutes: fewer iterations
    scripts/run python scripts/benchmark.py --tiny     # seconds: small networks (a smoke test)
    scripts/run python scripts/benchmark.py --peers    # vs the official peers (benchmark_peers.py)

Prints the tables (training IPS with ratios to EDP + TD3 next to the paper's, FLOP rates against
the measured dense-matmul rate, EAS sampling speed, vmapped seeds, peak memory, issue 7's
targets) and writes every figure as JSON (schema: ``edp_ref.benchmark``'s docstring; default
``runs/benchmark/benchmark.json``). Timings on a shared machine are noisy: the machine load is
recorded next to every figure.
"""

from __future__ import annotations

import argparse
import sys

from edp_ref.benchmark import (
    DEFAULT_OUTPUT,
    BenchmarkSettings,
    format_report,
    run_benchmark,
    write_json,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--quick", action="store_true", help="fewer iterations; DQL K=1000 extrapolated"
    )
    size.add_argument("--tiny", action="store_true", help="tiny networks and K (seconds)")
    p.add_argument("--output", default=str(DEFAULT_OUTPUT), help="JSON path (%(default)s)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--eager-only", action="store_true", help="skip the compiled runs")
    p.add_argument("--seeds", type=int, default=None, help="S of the vmapped-seeds measurement")
    p.add_argument(
        "--measure-longest-dql",
        action="store_true",
        help="time Diffusion-QL at the largest K (1000: ~28 s and ~15 GB per iteration on the "
        "2-core CPU) instead of extrapolating it from K = 5 and 100",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--peers" in argv:  # the official peers side by side: scripts/benchmark_peers.py
        from edp_ref.benchmark.peers_report import main as peers_main

        return peers_main([a for a in argv if a != "--peers"])
    args = parse_args(argv)
    changes: dict[str, object] = {"device": args.device, "threads": args.threads}
    if args.eager_only:
        changes["modes"] = ("eager",)
    if args.seeds is not None:
        changes["seeds"] = args.seeds
    if args.measure_longest_dql:
        changes["extrapolate_longest_dql"] = False
    if args.tiny:
        settings = BenchmarkSettings.tiny(**changes)
    elif args.quick:
        settings = BenchmarkSettings.quick(**changes)
    else:
        settings = BenchmarkSettings.full(**changes)
    result = run_benchmark(settings, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(format_report(result))
    path = write_json(result, args.output)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
