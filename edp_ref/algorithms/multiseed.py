"""Several seeds in one process: stacked states and a vmapped update (Sec. 5: "5 random seeds").

The paper reports every score as the average of 5 seeds. Instead of running S trainings one
after another, the S states are stacked along a new leading dimension and one update is
``torch.func.vmap``-ed over it: every tensor of the state, the batch and the randomness gains a
leading seed axis ``[S, ...]`` (batches and randomness: :func:`edp_ref.pytree.stack_tree`).
Everything an update computes per network stays per seed under vmap, in particular the global
gradient norm of Table 3's gradient clipping (each seed clips by its own norm) and the
data-dependent switches (EMA schedule, random Q head), so the vmapped update equals S independent
updates up to float round-off (``tests/test_multiseed.py``). :func:`sequential_update` is the
plain path, S calls of ``update`` with the same signature, for devices where vmap does not pay
(:mod:`edp_ref.benchmark` measures which is faster).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from edp_ref.algorithms.execution import Metrics, UpdateCore
from edp_ref.algorithms.state import TrainState, load_state_tensors, state_tensors
from edp_ref.compilation import compile_function
from edp_ref.data.batch import Batch
from edp_ref.pytree import unstack_tree

__all__ = [
    "num_seeds",
    "sequential_update",
    "stack_states",
    "unstack_state",
    "vmap_update",
]

StackedUpdate = Callable[[TrainState, Batch, Any], tuple[TrainState, Metrics]]


def stack_states(states: Sequence[TrainState]) -> TrainState:
    """S states of one algorithm (same networks and shapes) as one state with a seed axis.

    The networks (structure and schedule) come from the first state; every tensor (parameters,
    targets, Adam moments and counts, the step counter) becomes ``[S, ...]``.
    """
    if not states:
        raise ValueError("stack_states: need at least one state")
    flats = [state_tensors(s) for s in states]
    keys = flats[0].keys()
    for i, flat in enumerate(flats[1:], start=1):
        if flat.keys() != keys:
            raise ValueError(f"stack_states: state {i} has other tensors than state 0")
    stacked = {k: torch.stack([f[k] for f in flats]) for k in keys}
    return load_state_tensors(states[0], stacked, check_shapes=False)


def num_seeds(state: TrainState) -> int:
    """S, the length of a stacked state's seed axis."""
    return int(state.step.shape[0]) if state.step.ndim == 1 else 1


def unstack_state(state: TrainState) -> list[TrainState]:
    """The S single-seed states of a stacked state."""
    flat = state_tensors(state)
    return [
        load_state_tensors(state, {k: v[i] for k, v in flat.items()}, check_shapes=False)
        for i in range(num_seeds(state))
    ]


def vmap_update(update: UpdateCore, config: Any, compile: bool = False) -> StackedUpdate:
    """The S-seed version of ``update`` with ``config`` fixed: one vmapped call for all seeds,
    ``fn(stacked_state, stacked_batch, stacked_randomness) -> (stacked_state, metrics)``, every
    metric ``[S]``. Inside vmap the update runs eagerly without batch checks (data-dependent
    checks cannot run there), whatever the config says; ``compile`` compiles the whole vmapped
    update (:func:`edp_ref.compilation.compile_function`)."""
    inner_config = dataclasses.replace(config, compile=False, check_batch=False)

    def flat_update(
        flat_state: dict[str, Tensor], batch: Batch, randomness: Any, template: TrainState
    ) -> tuple[dict[str, Tensor], Metrics]:
        state = load_state_tensors(template, flat_state)
        new_state, metrics = update(state, batch, randomness, inner_config)
        return state_tensors(new_state), metrics

    def run(state: TrainState, batch: Batch, randomness: Any) -> tuple[TrainState, Metrics]:
        template = unstack_state(state)[0]
        flat, metrics = torch.func.vmap(
            lambda f, b, r: flat_update(f, b, r, template), in_dims=(0, 0, 0), randomness="error"
        )(state_tensors(state), batch, randomness)
        return load_state_tensors(state, flat, check_shapes=False), metrics

    return compile_function(run) if compile else run


def sequential_update(update: UpdateCore, config: Any) -> StackedUpdate:
    """The plain path with :func:`vmap_update`'s signature: S calls of ``update``, one per seed."""

    def run(state: TrainState, batch: Batch, randomness: Any) -> tuple[TrainState, Metrics]:
        seeds = num_seeds(state)
        states = unstack_state(state)
        batches = unstack_tree(batch, seeds)
        rands = unstack_tree(randomness, seeds)
        results = [update(s, b, r, config) for s, b, r in zip(states, batches, rands, strict=True)]
        new_state = stack_states([r[0] for r in results])
        metrics = {k: torch.stack([r[1][k] for r in results]) for k in results[0][1]}
        return new_state, metrics

    return run
