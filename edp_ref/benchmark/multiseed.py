"""Several seeds in one process (Sec. 5 reports every score over 5 seeds): the speed-up of S
vmapped EDP + TD3 updates over S sequential ones (:mod:`edp_ref.algorithms.multiseed`).

:func:`measure_multiseed` stacks S freshly initialised states, batches and randomness along a
seed axis (:func:`edp_ref.pytree.stack_tree`) and times, per iteration of all S seeds,
the sequential path, the vmapped update and (when compiled mode is on) the compiled vmapped update.
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Callable
from typing import Any

import torch

from edp_ref.algorithms.multiseed import sequential_update, stack_states, vmap_update
from edp_ref.algorithms.step import TrainingStep
from edp_ref.benchmark.settings import BenchmarkSettings
from edp_ref.benchmark.timing import load1, time_loop
from edp_ref.benchmark.training import REFERENCE_RECORD, training_case
from edp_ref.data import TransitionDataset
from edp_ref.pytree import stack_tree

__all__ = ["measure_multiseed"]


def measure_multiseed(
    s: BenchmarkSettings, data: TransitionDataset, device: torch.device
) -> dict[str, Any]:
    """The JSON's ``multiseed`` section for ``s.seeds`` seeds of EDP + TD3.

    A failure is recorded in ``error``, not raised.
    """
    case = training_case(s, REFERENCE_RECORD)
    spec, config = case.spec, case.config
    states, batches, rands = [], [], []
    for i in range(s.seeds):
        init_gen = torch.Generator().manual_seed(s.seed + i)
        states.append(spec.init(config, s.obs_dim, s.action_dim, init_gen, device))
        gen = torch.Generator(device=device).manual_seed(s.seed + 100 + i)
        batch, randomness = TrainingStep(spec, config, data, s.batch_size, gen, gen).draw()
        batches.append(batch)
        rands.append(randomness)
    stacked, batch, rand = stack_states(states), stack_tree(batches), stack_tree(rands)
    out: dict[str, Any] = {
        "algorithm": case.name,
        "seeds": s.seeds,
        "sequential_seconds": None,
        "vmap_seconds": None,
        "vmap_compiled_seconds": None,
        "speedup_vmap": None,
        "speedup_vmap_compiled": None,
        "faster_path": None,
        "loadavg": None,
        "error": None,
    }
    paths: list[tuple[str, Callable[..., Any]]] = [
        ("sequential_seconds", sequential_update(spec.update, config)),
        ("vmap_seconds", vmap_update(spec.update, config)),
    ]
    if s.multiseed_compiled and "compiled" in s.modes:
        paths.append(("vmap_compiled_seconds", vmap_update(spec.update, config, compile=True)))
    try:
        for key, fn in paths:
            times = time_loop(
                functools.partial(fn, stacked, batch, rand),
                device,
                s.warmup,
                max(2, s.min_iterations // 2),
                s.max_iterations,
                s.min_seconds,
                s.max_seconds,
            )
            out[key] = statistics.median(times)
        seq = out["sequential_seconds"]
        out["speedup_vmap"] = seq / out["vmap_seconds"]
        if out["vmap_compiled_seconds"] is not None:
            out["speedup_vmap_compiled"] = seq / out["vmap_compiled_seconds"]
        best = min((k for k, _ in paths), key=lambda k: out[k])
        out["faster_path"] = best.removesuffix("_seconds")
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    out["loadavg"] = load1()
    return out
