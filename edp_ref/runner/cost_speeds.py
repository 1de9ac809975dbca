"""Per-agent speeds that price a grid's runs (:mod:`edp_ref.runner.cost`, the dry run).

* :func:`calibrate`: measured on this machine. For each agent of the grid (per task widths,
  network width, batch size, EAS N and evaluation envs: :func:`speed_case`), N training
  iterations drawn and applied exactly as :mod:`edp_ref.runner.loop` does (the same update
  function and Table 3 config, so eager or compiled as the run would be) on synthetic data of
  the task's D4RL widths; the policy's action selection (Sec. 4.5 EAS with the run's N) on the
  evaluation's vector of states; and, for datasets already present, a run's fixed start-up
  (loading and preparing the dataset, building the evaluation environments).
* :func:`speeds_from_benchmark`: training iterations per second read from
  ``scripts/benchmark.py``'s JSON (schema: :mod:`edp_ref.benchmark.run`); it has no acting or
  start-up time for the grid's settings, so those stay unpriced.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from edp_ref.algorithms.acting import ActingSettings
from edp_ref.config_checks import check_int
from edp_ref.data import TransitionDataset, UniformSampler
from edp_ref.paper import paper_dataset
from edp_ref.runner.agents import build_config
from edp_ref.runner.data_plans import DataPlan
from edp_ref.runner.prepared_run import PreparedRun
from edp_ref.runner.spec import RunSpec

__all__ = ["AgentSpeed", "calibrate", "speed_case", "speeds_from_benchmark"]


@dataclass(frozen=True)
class AgentSpeed:
    """The measured cost of one agent's runs (one calibration case).

    Attributes:
        seconds_per_update: one training iteration (batch, randomness, update).
        seconds_per_action: one policy call on the evaluation's vector of states (None: not
            measured).
        setup_seconds: a run's fixed start-up (None: not measured).
        source: where the numbers come from, in words.
    """

    seconds_per_update: float
    seconds_per_action: float | None
    setup_seconds: float | None
    source: str


def speed_case(spec: RunSpec) -> tuple[Any, ...]:
    """What an agent's speed depends on: the agent, widths, network, batch, EAS and envs."""
    return (
        spec.algorithm,
        spec.policy,
        paper_dataset(spec.task).d4rl_widths,
        spec.hidden,
        spec.batch_size,
        spec.eas_candidates,
        min(spec.eval_envs, spec.eval_episodes),
        spec.grad_clip,
    )


def _mode(config: Any) -> str:
    # The runner keeps its state on the CPU, where ``compile=None`` means eager.
    return "compiled" if getattr(config, "compile", None) else "eager"


def _synthetic(obs_dim: int, action_dim: int, rows: int, g: torch.Generator) -> TransitionDataset:
    zeros = torch.zeros(rows)
    return TransitionDataset(
        observations=torch.randn(rows, obs_dim, generator=g),
        actions=torch.rand(rows, action_dim, generator=g).mul_(1.998).sub_(0.999),
        rewards=torch.randn(rows, generator=g),
        next_observations=torch.randn(rows, obs_dim, generator=g),
        terminals=zeros,
        timeouts=zeros.clone(),
        source="synthetic data for the cost calibration",
    )


def _time_agent(spec: RunSpec, updates: int, warmup: int) -> tuple[float, float]:
    """Seconds per update and per action of ``spec``'s agent (as the training loop runs it)."""
    agent = spec.agent
    config = build_config(agent, spec.task, hidden=spec.hidden, grad_clip=spec.grad_clip)
    obs_dim, action_dim = paper_dataset(spec.task).d4rl_widths
    g = torch.Generator().manual_seed(0)
    sampler = UniformSampler(
        _synthetic(obs_dim, action_dim, max(4 * spec.batch_size, 1024), g), spec.batch_size, g
    )
    state = agent.init(config, obs_dim, action_dim, g)
    t0 = time.perf_counter()
    for i in range(warmup + updates):
        if i == warmup:
            t0 = time.perf_counter()
        randomness = agent.draw(config, spec.batch_size, action_dim, g)
        state, _ = agent.update(state, sampler.sample(), randomness, config)
    per_update = (time.perf_counter() - t0) / updates
    settings = ActingSettings(eas_candidates=spec.eas_candidates)
    obs = torch.randn(min(spec.eval_envs, spec.eval_episodes), obs_dim, generator=g)
    calls = max(3, updates // 4)
    with torch.no_grad():
        agent.act(state, obs, config, settings, g)
        t0 = time.perf_counter()
        for _ in range(calls):
            agent.act(state, obs, config, settings, g)
    return per_update, (time.perf_counter() - t0) / calls


def calibrate(
    runs: Sequence[tuple[RunSpec, Path]],
    plans: Sequence[DataPlan],
    *,
    updates: int = 20,
    warmup: int = 3,
    threads: int = 1,
    log: Callable[[str], None] = print,
) -> dict[tuple[Any, ...], AgentSpeed]:
    """Measure each calibration case of the grid on this machine (see the module's docstring)
    with ``threads`` torch threads, as each run of the grid has (``run_grid``'s ``threads``).

    The start-up of a run is measured once per task whose data is present (``PreparedRun`` and
    its evaluation environments); absent data (to be generated) leaves it unmeasured.
    """
    check_int("calibrate: updates", updates, 1)
    check_int("calibrate: warmup", warmup, 0)
    check_int("calibrate: threads", threads, 1)
    present = {p.task for p in plans if p.present}
    before = torch.get_num_threads()
    # A run's speed depends strongly on its thread count: on a busy 2-core machine two threads
    # per process were measured 15x slower per update than one.
    torch.set_num_threads(threads)
    try:
        setup: dict[str, float] = {}
        for spec, _ in runs:
            if spec.task in present and spec.task not in setup:
                t0 = time.perf_counter()
                run = PreparedRun(spec)
                try:
                    run.env()
                finally:
                    run.close()
                setup[spec.task] = time.perf_counter() - t0
        speeds: dict[tuple[Any, ...], AgentSpeed] = {}
        for spec, _ in runs:
            key = speed_case(spec)
            if key in speeds:
                continue
            log(f"calibrating {spec.algorithm}/{spec.policy} on {spec.task}: {updates} updates")
            per_update, per_action = _time_agent(spec, updates, warmup)
            config = build_config(
                spec.agent, spec.task, hidden=spec.hidden, grad_clip=spec.grad_clip
            )
            source = (
                f"calibrated here: {updates} updates after {warmup} warm-up, {_mode(config)}, "
                f"cpu, {threads} torch thread(s)"
            )
            speeds[key] = AgentSpeed(per_update, per_action, setup.get(spec.task), source)
    finally:
        torch.set_num_threads(before)
    return speeds


def speeds_from_benchmark(
    path: Path, runs: Sequence[tuple[RunSpec, Path]]
) -> tuple[dict[tuple[Any, ...], AgentSpeed], list[str]]:
    """Training speeds of the grid's agents from ``scripts/benchmark.py``'s JSON, and notes on
    what differs between the benchmark's settings and the grid's runs.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not the benchmark's JSON, or no usable record for an agent (each named).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"benchmark JSON {path} does not exist (scripts/benchmark.py)")
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"benchmark JSON {path} is not readable JSON: {exc}") from exc
    records = doc.get("training") if isinstance(doc, dict) else None
    if not isinstance(records, list):
        raise ValueError(f"benchmark JSON {path}: no 'training' list (scripts/benchmark.py schema)")
    settings = doc.get("settings") if isinstance(doc.get("settings"), dict) else {}
    machine = doc.get("machine") if isinstance(doc.get("machine"), dict) else {}
    device = machine.get("device_name") or machine.get("device") or "unknown device"
    speeds: dict[tuple[Any, ...], AgentSpeed] = {}
    notes: list[str] = []
    missing: list[str] = []
    for spec, _ in runs:
        key = speed_case(spec)
        if key in speeds:
            continue
        config = build_config(spec.agent, spec.task, hidden=spec.hidden, grad_clip=spec.grad_clip)
        diffusion = getattr(config, "diffusion", None)
        steps = None if diffusion is None else diffusion.num_steps
        name = spec.agent.registered
        if name == "dql":
            name = f"dql_k{steps}"
        mode = _mode(config)
        found = [
            r
            for r in records
            if isinstance(r, dict)
            and r.get("name") == name
            and r.get("mode") == mode
            and not r.get("error")
            and isinstance(r.get("iterations_per_second"), int | float)
            and r["iterations_per_second"] > 0
        ]
        if not found:
            missing.append(f"{spec.algorithm}/{spec.policy} (record {name!r}, {mode})")
            continue
        record = found[0]
        if steps is not None and record.get("num_steps") not in (None, steps):
            notes.append(
                f"{spec.algorithm}/{spec.policy}: record {name!r} is measured at K = "
                f"{record['num_steps']}, the runs use K = {steps}"
            )
        speeds[key] = AgentSpeed(
            1.0 / float(record["iterations_per_second"]),
            None,
            None,
            f"benchmark {path.name}: {name!r} ({mode}, {device})",
        )
    if missing:
        raise ValueError(
            f"benchmark JSON {path} has no usable training record for "
            + "; ".join(missing)
            + "; run scripts/benchmark.py with these algorithms, or estimate by calibration"
        )
    hidden = {s.hidden if s.hidden is not None else 256 for s, _ in runs}
    batch = {s.batch_size for s, _ in runs}
    if runs and (settings.get("hidden") not in hidden or settings.get("batch_size") not in batch):
        notes.append(
            f"the benchmark measured width {settings.get('hidden')} x {settings.get('layers')} "
            f"layers, batch {settings.get('batch_size')}; the grid's runs use width "
            f"{sorted(hidden)}, batch {sorted(batch)}"
        )
    if machine.get("device") == "cuda":
        notes.append(
            "the benchmark ran on CUDA; edp_ref.runner trains on the CPU, so this prices the "
            "runs as if they ran at the benchmark's GPU speed"
        )
    return speeds, notes
