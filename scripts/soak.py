"""Soak test of the training loop (issue 21): resident memory and update time over a long run.

    .venv/bin/python scripts/soak.py --updates 50000 --out runs/soak

Trains one run of a small network through the real loop (``edp_ref.runner.train_run``: log
windows, TensorBoard, a wall-clock checkpoint at the end of every log window, evaluations) on
the small local Hopper dataset (generated into ``--out`` on the first call), samples the
process's resident memory (RSS, from ``/proc/self/statm``: Linux) and the machine's load average
every second in a thread, reads the update speed TensorBoard logged per window, and prints them
over the run and as start / end (medians of the first and last tenth) / least-squares slope after
the warm-up (the first 10 % of the updates). A loop without leaks has a flat RSS after the
warm-up; the update time follows the load of a shared machine. The run folder is deleted first:
every call trains from scratch. docs/reliability.md reports the measurements.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from edp_ref.generation import generate, small_preset
from edp_ref.runner import Monitoring, RunSpec, default_config, minari_root, train_run


def rss_mb() -> float:
    """This process's resident memory in MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


class Sampler(threading.Thread):
    """(wall time, RSS, 1-minute load average) every ``every`` seconds until stopped."""

    def __init__(self, every: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.every, self.samples = every, [(time.time(), rss_mb(), os.getloadavg()[0])]
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.every):
            self.samples.append((time.time(), rss_mb(), os.getloadavg()[0]))


def slope(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.polyfit(x, y, 1)[0]) if len(x) > 1 else 0.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--updates", type=int, default=50_000, help="updates in all (default 50000)")
    p.add_argument("--algorithm", default="edp_td3", help="registered algorithm (edp_td3)")
    p.add_argument("--hidden", type=int, default=64, help="network width (default 64)")
    p.add_argument("--batch-size", type=int, default=64, help="minibatch (default 64)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--out", type=Path, default=Path("runs/soak"), help="data and run folder")
    args = p.parse_args()
    root = args.out / "minari"
    if not (root / "edp_ref" / "hopper" / "medium-v0").exists():
        config = dataclasses.replace(small_preset("hopper"), kinds=("medium",))
        with minari_root(str(root)):
            generate(config, str(args.out / "generation"), progress=False)
    epochs = max(1, args.updates // 1000)
    spec = RunSpec(
        "hopper-medium-v2",
        args.algorithm,
        epochs=epochs,
        iterations_per_epoch=args.updates // epochs,
        batch_size=args.batch_size,
        eval_every=max(1, epochs // 5),
        eval_episodes=2,
        eval_envs=2,
        data_source="local",
        local_root=str(root),
        device=args.device,
        config=default_config(args.algorithm, "hopper-medium-v2", hidden=args.hidden),
    )
    run_dir = args.out / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    sampler = Sampler()
    sampler.start()
    start = time.perf_counter()
    monitoring = Monitoring(log_every=100, checkpoint_minutes=0.0)
    train_run(spec, run_dir, progress=False, threads=args.threads, monitoring=monitoring)
    seconds = time.perf_counter() - start
    sampler.stop.set()
    sampler.join()

    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    speed = events.Scalars("train/updates_per_second")
    steps = np.array([e.step for e in speed], dtype=float)
    ms = np.array([1000.0 / e.value for e in speed])
    times, rss, load = (np.array(v) for v in zip(*sampler.samples, strict=True))
    # The RSS at each log window: the last sample taken before TensorBoard's point.
    at = np.clip(np.searchsorted(times, [e.wall_time for e in speed]) - 1, 0, len(rss) - 1)
    rss_at, load_at = rss[at], load[at]
    print(
        f"{spec.name}: {spec.total_steps} updates in {seconds:.0f} s ({args.device}, "
        f"{args.threads} thread(s), compile {spec.compile}); RSS at start {rss[0]:.0f} MB"
    )
    print("| updates | RSS (MB) | ms / update | load average |\n|---|---|---|---|")
    for k in np.linspace(0, len(steps) - 1, 11).astype(int):
        print(f"| {steps[k]:.0f} | {rss_at[k]:.1f} | {ms[k]:.2f} | {load_at[k]:.1f} |")
    warm = steps >= 0.1 * spec.total_steps
    w_steps, w_rss, w_ms, w_load = steps[warm], rss_at[warm], ms[warm], load_at[warm]
    tenth, per = max(1, len(w_steps) // 10), 10_000
    first, last = slice(0, tenth), slice(-tenth, None)
    print(
        f"after warm-up ({w_steps[0]:.0f}-{w_steps[-1]:.0f}): RSS start "
        f"{np.median(w_rss[first]):.1f} MB, end {np.median(w_rss[last]):.1f} MB, slope "
        f"{slope(w_steps, w_rss) * per:+.2f} MB per {per} updates; update time start "
        f"{np.median(w_ms[first]):.2f} ms, end {np.median(w_ms[last]):.2f} ms, slope "
        f"{slope(w_steps, w_ms) * per:+.3f} ms per {per} updates; load average start "
        f"{np.median(w_load[first]):.1f}, end {np.median(w_load[last]):.1f}"
    )


if __name__ == "__main__":
    main()
