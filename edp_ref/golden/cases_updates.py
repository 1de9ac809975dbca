"""Conformance cases of the training updates: one update of every algorithm in
:data:`edp_ref.algorithms.REGISTRY`, from fixed parameters, batch and randomness.

Official counterparts: EDP + TD3 / CRR / IQL as the agent of sail-sg/edp, diffusion/dql.py
(``_train_step`` and its TD3, CRR and IQL branches); Diffusion-QL as
Zhendong-Wang/Diffusion-Policies-for-Offline-RL, agents/ql_diffusion.py; the feed-forward TD3+BC
and IQL as corl-team/CORL, algorithms/offline/td3_bc.py and iql.py.

Every registered algorithm gets a case per dtype, built from its record alone: the config is
:func:`small_config` of its ``config_class``, the state comes from ``init``, the randomness from
``draw``, and the update is ``update``; adding an algorithm to the registry adds its cases.
Inputs are ``state/<key>`` (:func:`edp_ref.algorithms.state.state_tensors`), ``batch/<field>`` and
``randomness/<field path>`` (:func:`edp_ref.pytree.named_leaves`); outputs are the
new state and the metrics.
"""

from __future__ import annotations

import dataclasses
import zlib
from functools import partial
from typing import Any

import torch

from edp_ref.algorithms import REGISTRY, Algorithm, Batch, DiffusionAlgorithmConfig
from edp_ref.algorithms.state import load_state_tensors, state_tensors
from edp_ref.golden.case import SEED, Arrays, GoldenCase, case_tolerances, dtype_tag
from edp_ref.pytree import named_leaves, with_named_leaves

__all__ = ["RENAMED_OUTPUTS", "UPDATE_DIMS", "small_config", "update_cases", "update_seed"]

#: The prefix of the randomness inputs: ``randomness/<field path>``.
RANDOMNESS = "randomness"
#: Outputs of the update cases renamed since the kit's first format: old name -> new name. A kit
#: made before the rename holds the old name, and ``check`` compares it with the new output.
RENAMED_OUTPUTS = {"metrics/lambda": "metrics/q_loss_scale"}
#: Batch size, state and action dimensions of the update cases.
UPDATE_DIMS = (8, 4, 2)
#: The diffusion chain of the update cases: K and DPM-Solver's model calls.
TEST_NUM_STEPS, TEST_DPM_STEPS = 50, 6

#: The seeds of the algorithms of the kit's first format, SEED + 100 + their place in its
#: table; they stay fixed, so their archives stay byte-identical.
_FIRST_KIT_SEEDS = {
    name: SEED + 100 + i
    for i, name in enumerate(
        ("edp_td3", "edp_crr", "edp_iql", "dql", "td3bc", "gaussian_crr", "gaussian_iql")
    )
}


def update_seed(name: str) -> int:
    """The seed of algorithm ``name``'s update cases: fixed by the name (CRC-32 of it for the
    algorithms registered after the kit's first format), so it never depends on the registry's
    order."""
    if name in _FIRST_KIT_SEEDS:
        return _FIRST_KIT_SEEDS[name]
    return SEED + 1000 + zlib.crc32(name.encode()) % 1_000_000


def small_config(algorithm: Algorithm) -> Any:
    """``algorithm``'s paper-default config, made small and fast to check.

    Networks of 16 hidden units; the EMA policy updated at every update from the first (so that
    one update exercises it); no compilation. A diffusion algorithm whose chain is longer than
    K = 50 gets K = 50 and 6 DPM-Solver calls; a shorter chain is the algorithm's own (Diffusion-QL
    keeps its vp schedule with K = 5) and stays. Every other field keeps the class's default.
    """
    default = algorithm.config_class()
    changes: dict[str, Any] = {
        "network": dataclasses.replace(default.network, hidden=16),
        "target_networks": dataclasses.replace(default.target_networks, ema_start=0, ema_every=1),
        "compile": False,
    }
    if (
        isinstance(default, DiffusionAlgorithmConfig)
        and default.diffusion.num_steps > TEST_NUM_STEPS
    ):
        changes["diffusion"] = dataclasses.replace(
            default.diffusion, num_steps=TEST_NUM_STEPS, dpm_steps=TEST_DPM_STEPS
        )
    return algorithm.config_class(**changes)


def _recompute_update(x: Arrays, algorithm: Algorithm, config: Any, dtype: torch.dtype) -> Arrays:
    """One update from stored inputs (the structure comes from ``algorithm``)."""
    batch_size, state_dim, action_dim = UPDATE_DIMS
    shapes = torch.Generator().manual_seed(0)  # structure only; values come from x
    template = algorithm.init(config, state_dim, action_dim, shapes, "cpu", dtype)
    state = load_state_tensors(
        template, {k.removeprefix("state/"): v for k, v in x.items() if k.startswith("state/")}
    )
    batch = Batch(**{k.removeprefix("batch/"): v for k, v in x.items() if k.startswith("batch/")})
    like = algorithm.draw(config, batch_size, action_dim, shapes, "cpu", dtype)
    randomness = with_named_leaves(like, x, RANDOMNESS)
    new_state, metrics = algorithm.update(state, batch, randomness, config)
    out = {f"state/{k}": v for k, v in state_tensors(new_state).items()}
    out.update({f"metrics/{k}": v for k, v in metrics.items()})
    return out


def _update_case(algorithm: Algorithm, dtype: torch.dtype) -> GoldenCase:
    batch_size, state_dim, action_dim = UPDATE_DIMS
    tag = dtype_tag(dtype)
    config = small_config(algorithm)
    gen = torch.Generator().manual_seed(update_seed(algorithm.name))
    state = algorithm.init(config, state_dim, action_dim, gen, "cpu", dtype)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen, dtype=torch.float64).to(dtype)

    batch = {
        "observations": randn(batch_size, state_dim),
        "actions": (
            torch.rand(batch_size, action_dim, generator=gen, dtype=torch.float64) * 1.8 - 0.9
        ).to(dtype),
        "rewards": randn(batch_size),
        "next_observations": randn(batch_size, state_dim),
        "terminals": (torch.rand(batch_size, generator=gen) < 0.25).to(dtype),
    }
    randomness = algorithm.draw(config, batch_size, action_dim, gen, "cpu", dtype)
    inputs: Arrays = {f"state/{k}": v for k, v in state_tensors(state).items()}
    inputs.update({f"batch/{k}": v for k, v in batch.items()})
    inputs.update(named_leaves(randomness, RANDOMNESS))  # None (IQL draws nothing): no inputs
    rtol, atol = case_tolerances(dtype, chain=True)
    return GoldenCase(
        f"update_{algorithm.name}_{tag}",
        algorithm.update.name,
        algorithm.equations,
        tag,
        {
            "config": dataclasses.asdict(config),
            "state_dim": state_dim,
            "action_dim": action_dim,
        },
        inputs,
        partial(_recompute_update, algorithm=algorithm, config=config, dtype=dtype),
        rtol,
        atol,
        "state/<key> follows edp_ref.algorithms.state_tensors (params/, target/, adam/, "
        "step); randomness/<field path> follows the algorithm's randomness dataclass",
        {"algorithm": algorithm.name, "title": algorithm.title},
    )


def update_cases(dtype: torch.dtype) -> list[GoldenCase]:
    """One update of every registered algorithm in ``dtype``, in the registry's order."""
    return [_update_case(algorithm, dtype) for algorithm in REGISTRY.values()]
