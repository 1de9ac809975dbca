"""Time the parts of dataset generation on Hopper-v5 (edp_ref.generation): one SAC update (batch
256, the 256 x 2 networks of the quick preset), one acting step, one environment step of
training (random action, replay-buffer insertion) and one collected transition (10 synchronous
environments), for this checkout and, with ``--against REV``, for the package of another git
revision, side by side. Each variant runs in its own process with one torch thread; the rounds
interleave the variants (in an order rotated each round) so that the machine's load hits them
alike, and each figure is the median over the rounds.

    python scripts/benchmark_generation.py                        # this checkout
    python scripts/benchmark_generation.py --against c8df5a4      # and the package of c8df5a4
    python scripts/benchmark_generation.py --against main --cpu 1 # pinned to CPU 1

Besides the figures (the update also in CPU time, steadier than wall time on a shared machine)
it prints the machine's load averages and the wall time the figures imply for the quick preset's
generation of one environment: its SAC training and its three rollout datasets (evaluations,
reference episodes and writing not counted). docs/data.md records measured runs.
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
ENV_ID = "Hopper-v5"


def measure(updates: int, transitions: int) -> dict[str, float]:
    """Seconds per SAC update (wall and this process's CPU time), acting step, training
    environment step and collected transition, with whichever ``edp_ref`` this process imports."""
    import gymnasium as gym
    import torch

    from edp_ref.generation.collection import collect_episodes, snapshot_policy
    from edp_ref.generation.environment import environment_dims, to_env_action
    from edp_ref.generation.replay import ReplayBuffer
    from edp_ref.generation.sac import SAC

    torch.set_num_threads(1)
    s_dim, space = environment_dims(ENV_ID)
    a_dim = int(space.shape[0])
    gen = torch.Generator().manual_seed(0)
    sac = SAC(s_dim, a_dim, generator=gen)  # hidden 256, 2 layers: the quick preset's
    fill = 5_000
    buffer = ReplayBuffer.empty(fill, s_dim, a_dim)
    env = gym.make(ENV_ID)
    obs, _ = env.reset(seed=0)
    t0 = time.perf_counter()
    for _ in range(fill):  # training's first steps: random actions into the replay buffer
        a = torch.rand(a_dim, generator=gen) * 2 - 1
        obs2, r, term, trunc, _ = env.step(to_env_action(a.numpy(), space))
        buffer.add(obs, a.numpy(), float(r), obs2, bool(term), bool(trunc))
        obs = env.reset()[0] if term or trunc else obs2
    env_step = (time.perf_counter() - t0) / fill
    env.close()
    single = torch.as_tensor(obs, dtype=torch.float32)[None]
    for _ in range(100):
        sac.act(single)
    t0 = time.perf_counter()
    for _ in range(2_000):
        sac.act(single)
    act = (time.perf_counter() - t0) / 2_000
    for _ in range(20):
        sac.update(*buffer.sample(256, gen))
    t0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(updates):
        sac.update(*buffer.sample(256, gen))
    update = (time.perf_counter() - t0) / updates
    update_cpu = (time.process_time() - cpu0) / updates
    policy = snapshot_policy(sac.actor.state_dict(), space, s_dim, hidden=256, layers=2, seed=1)
    t0 = time.perf_counter()
    collect_episodes(ENV_ID, policy, transitions, seed=1, num_envs=10, progress=False)
    collect = (time.perf_counter() - t0) / transitions
    return {
        "update": update,
        "update_cpu": update_cpu,
        "act": act,
        "env_step": env_step,
        "collect": collect,
    }


def quick_minutes(figures: dict[str, float]) -> float:
    """The quick preset's SAC training and rollout collection for one environment, in minutes,
    at these per-step figures."""
    from edp_ref.generation import quick_preset

    config = quick_preset("hopper")
    learning = config.train_steps - config.start_steps
    train = config.train_steps * figures["env_step"] + learning * (
        figures["update"] + figures["act"]
    )
    collect = 3 * config.size * figures["collect"]  # random, medium, expert
    return (train + collect) / 60


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description="Time the SAC update, acting, environment steps and collection of dataset "
        "generation (Hopper-v5), optionally beside the package of another git revision."
    )
    parser.add_argument("--against", metavar="REV", help="also time the package of this revision")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument(
        "--updates", type=int, default=200, help="timed SAC updates per round (default 200)"
    )
    parser.add_argument(
        "--transitions",
        type=int,
        default=5_000,
        help="collected transitions per round (default 5000)",
    )
    parser.add_argument("--cpu", type=int, help="pin every worker to this CPU (taskset)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args.updates, args.transitions)))
        return 0
    # Imported here: a worker imports the other revision's edp_ref, which may lack this module.
    from edp_ref.benchmark.revisions import package_at, run_worker

    with tempfile.TemporaryDirectory() as tmp:
        variants = {"this checkout": ROOT}
        if args.against:
            variants[args.against] = package_at(ROOT, args.against, Path(tmp))
        names = list(variants)
        results: dict[str, list[dict[str, float]]] = {n: [] for n in names}
        load_before = os.getloadavg()
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                flags = [f"--updates={args.updates}", f"--transitions={args.transitions}"]
                results[name].append(run_worker(__file__, variants[name], flags, args.cpu))
        load_after = os.getloadavg()
    print(f"{ENV_ID}, one torch thread, {args.rounds} interleaved rounds, medians")
    before, after = (", ".join(f"{x:.2f}" for x in load) for load in (load_before, load_after))
    print(f"load average (1, 5, 15 min): {before} before, {after} after")
    print(
        f"{'':16}{'update ms':>10}{'(CPU)':>7}{'act us':>8}{'env step us':>13}{'collect us':>12}"
        f"{'quick preset min':>18}"
    )
    for name in names:
        med = {k: statistics.median(r[k] for r in results[name]) for k in results[name][0]}
        print(
            f"{name:16}{1e3 * med['update']:10.2f}{1e3 * med['update_cpu']:7.2f}"
            f"{1e6 * med['act']:8.0f}"
            f"{1e6 * med['env_step']:13.0f}{1e6 * med['collect']:12.0f}"
            f"{quick_minutes(med):18.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
