"""Time one evaluation of a policy (edp_ref.runner.policy.evaluate: 10 episodes, EAS with N = 10
for a diffusion policy) for this checkout and, with ``--against REV``, for the package of another
git revision, side by side: each variant in its own process with one torch thread, the rounds
interleaving the variants (in an order rotated each round), each figure the median over rounds.

    python scripts/benchmark_evaluation.py --run RUN_DIR --against 2fcadfc --cpu 1
    python scripts/benchmark_evaluation.py --compile     # also this checkout with compiled EAS

The policy is a finished run's (``--run``, e.g. an EDP + TD3 run of ``edp-reproduce --table 2``),
or, without ``--run``, an untrained EDP + TD3 policy of the quick preset's size on Hopper-v5 (its
episodes are short). It prints, per variant, the seconds of an evaluation (wall and CPU), the
mean return and the load averages; with ``--compile`` the first
evaluation (compilation included) apart. docs/reproduction.md records measured runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(run: str | None, evaluations: int, compile_eas: bool) -> dict[str, float]:
    """Seconds (wall, CPU) per evaluation of 10 episodes and its mean return,
    with whichever ``edp_ref`` this process imports."""
    import torch

    from edp_ref.algorithms.acting import ActingSettings
    from edp_ref.runner import RunSpec, default_config, load_policy
    from edp_ref.runner.policy import Policy, evaluate

    torch.set_num_threads(1)
    settings = ActingSettings(eas_candidates=10, compile=compile_eas)
    if run is not None:
        policy, _ = load_policy(run, settings=settings)
    else:
        spec = RunSpec(task="hopper-medium-v2", algorithm="edp_td3", eas_candidates=10)
        config = default_config("edp_td3", "hopper-medium-v2")
        state = spec.registered.init(config, 11, 3, torch.Generator().manual_seed(0), "cpu")
        policy = Policy(spec, config, state, settings, {}, {"env_id": "Hopper-v5"})
    env = policy.environment(10)
    figures: dict[str, list[float]] = {"wall": [], "cpu": [], "return": []}
    first = 0.0
    for i in range(evaluations + 1):
        t0, cpu0 = time.perf_counter(), time.process_time()
        out = evaluate(policy, env, 10, seed=100 + i, action_seed=200 + i, normalized=False)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        if i == 0:  # warm-up (compilation, caches)
            first = wall
            continue
        figures["wall"].append(wall)
        figures["cpu"].append(cpu)
        figures["return"].append(out.return_mean)
    env.close()
    result = {k: statistics.median(v) for k, v in figures.items() if v}
    result["first"] = first
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description="Time one evaluation of a policy (10 episodes, EAS N = 10), optionally "
        "beside the package of another git revision."
    )
    parser.add_argument("--run", help="a finished run folder (default: an untrained policy)")
    parser.add_argument("--against", metavar="REV", help="also time the package of this revision")
    parser.add_argument("--compile", action="store_true", help="also this checkout, EAS compiled")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument(
        "--evaluations", type=int, default=3, help="timed evaluations per round (default 3)"
    )
    parser.add_argument("--cpu", type=int, help="pin every worker to this CPU (taskset)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args.run, args.evaluations, args.compile)))
        return 0
    # Imported here: a worker imports the other revision's edp_ref, which may lack this module.
    from edp_ref.benchmark.revisions import package_at, run_worker

    with tempfile.TemporaryDirectory() as tmp:
        variants: dict[str, tuple[Path, bool]] = {"this checkout": (ROOT, False)}
        if args.compile:
            variants["this, compiled"] = (ROOT, True)
        if args.against:
            variants[args.against] = (package_at(ROOT, args.against, Path(tmp)), False)
        names = list(variants)
        results: dict[str, list[dict[str, float]]] = {n: [] for n in names}
        load_before = os.getloadavg()
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                source, compile_eas = variants[name]
                flags = [f"--evaluations={args.evaluations}"]
                flags += ([f"--run={args.run}"] if args.run else []) + (
                    ["--compile"] if compile_eas else []
                )
                results[name].append(run_worker(__file__, source, flags, args.cpu))
        load_after = os.getloadavg()
    print(f"{args.run or 'untrained EDP + TD3, Hopper-v5'}: one torch thread, {args.rounds} rounds")
    before, after = (", ".join(f"{x:.2f}" for x in load) for load in (load_before, load_after))
    print(f"load average (1, 5, 15 min): {before} before, {after} after")
    print(f"{'':16}{'s/eval':>9}{'CPU s':>8}{'first s':>9}{'mean return':>13}")
    medians = {}
    for name in names:
        med = {k: statistics.median(r[k] for r in results[name]) for k in results[name][0]}
        medians[name] = med
        print(
            f"{name:16}{med['wall']:9.2f}{med['cpu']:8.2f}{med['first']:9.2f}{med['return']:13.1f}"
        )
    if args.against:
        ratio = medians[args.against]["wall"] / medians["this checkout"]["wall"]
        print(f"evaluation {ratio:.2f}x faster than {args.against} (wall, median)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
