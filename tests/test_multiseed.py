"""Several seeds in one process (edp_ref.algorithms.multiseed): the vmapped S-seed update equals
S independent updates, each seed clipping its gradients by its own global norm (Table 3)."""

from __future__ import annotations

import dataclasses

import torch

from edp_ref.algorithms import (
    REGISTRY,
    Batch,
    DiffusionConfig,
    NetworkConfig,
    OptimizerConfig,
    TrainState,
    state_tensors,
)
from edp_ref.algorithms.catalog.edp_iql import EDPIQLConfig
from edp_ref.algorithms.catalog.edp_td3 import EDPTD3Config
from edp_ref.algorithms.multiseed import (
    num_seeds,
    sequential_update,
    stack_states,
    unstack_state,
    vmap_update,
)
from edp_ref.pytree import stack_tree, unstack_tree

S, B, OBS, ACT = 3, 8, 4, 2
EDP_TD3, EDP_IQL = REGISTRY["edp_td3"], REGISTRY["edp_iql"]
NET = NetworkConfig(hidden=16, layers=2)
DIFF = DiffusionConfig(num_steps=30, dpm_steps=3)


def _batch(g: torch.Generator) -> Batch:
    return Batch(
        torch.randn(B, OBS, generator=g),
        torch.rand(B, ACT, generator=g) * 1.8 - 0.9,
        torch.randn(B, generator=g),
        torch.randn(B, OBS, generator=g),
        (torch.rand(B, generator=g) < 0.2).float(),
    )


def _assert_states_close(a: TrainState, b: TrainState) -> None:
    fa, fb = state_tensors(a), state_tensors(b)
    assert fa.keys() == fb.keys()
    for key, value in fa.items():
        torch.testing.assert_close(fb[key], value, rtol=1e-5, atol=1e-6, msg=key)


def _td3_inputs(config: EDPTD3Config) -> tuple[list[TrainState], list[Batch], list[object]]:
    gens = [torch.Generator().manual_seed(10 + i) for i in range(S)]
    states = [EDP_TD3.init(config, OBS, ACT, g) for g in gens]
    batches = [_batch(g) for g in gens]
    rands: list[object] = [EDP_TD3.draw(config, B, ACT, g) for g in gens]
    return states, batches, rands


def test_stack_and_unstack_round_trip() -> None:
    config = EDPTD3Config(network=NET, diffusion=DIFF)
    states, batches, rands = _td3_inputs(config)
    stacked = stack_states(states)
    assert num_seeds(stacked) == S
    assert stacked.params["q1"]["body.0.weight"].shape[0] == S
    for original, back in zip(states, unstack_state(stacked), strict=True):
        _assert_states_close(original, back)
    for batch, batch_back in zip(batches, unstack_tree(stack_tree(batches), S), strict=True):
        for name, t in batch.tensors().items():
            assert torch.equal(batch_back.tensors()[name], t)
    back_rand = unstack_tree(stack_tree(rands), S)[1]
    assert torch.equal(back_rand.diffusion.noise, rands[1].diffusion.noise)  # type: ignore[attr-defined]


def test_vmapped_td3_update_equals_sequential_updates_with_per_seed_clipping() -> None:
    base = EDPTD3Config(network=NET, diffusion=DIFF, check_batch=False)
    states, batches, rands = _td3_inputs(base)
    # Pick a clip bound between the seeds' critic gradient norms: some seeds clip, some do not.
    norms = [
        float(EDP_TD3.update(s, b, r, base)[1]["q1_grad_norm"])  # type: ignore[arg-type]
        for s, b, r in zip(states, batches, rands, strict=True)
    ]
    bound = sorted(norms)[S // 2]
    config = dataclasses.replace(base, optimizer=OptimizerConfig(max_grad_norm=bound))
    assert min(norms) < bound <= max(norms)

    seq_states = list(states)
    seq_metrics = []
    for i in range(S):
        state = states[i]
        for _ in range(2):
            state, metrics = EDP_TD3.update(state, batches[i], rands[i], config)  # type: ignore[arg-type]
        seq_states[i] = state
        seq_metrics.append(metrics)

    fn = vmap_update(EDP_TD3.update, config)
    stacked, batch, rand = stack_states(states), stack_tree(batches), stack_tree(rands)
    for _ in range(2):
        stacked, vm_metrics = fn(stacked, batch, rand)
    for i, state in enumerate(unstack_state(stacked)):
        _assert_states_close(seq_states[i], state)
        for name, value in seq_metrics[i].items():
            torch.testing.assert_close(vm_metrics[name][i], value, rtol=1e-5, atol=1e-6, msg=name)
    # The seeds really did clip differently (first update's norms straddle the bound).
    clipped = [n >= bound for n in norms]
    assert any(clipped) and not all(clipped)


def test_vmapped_iql_update_and_sequential_path_agree() -> None:
    config = EDPIQLConfig(network=NET, diffusion=DIFF, check_batch=False)
    gens = [torch.Generator().manual_seed(i) for i in range(S)]
    states = [EDP_IQL.init(config, OBS, ACT, g) for g in gens]
    batch = stack_tree([_batch(g) for g in gens])
    rand = stack_tree([EDP_IQL.draw(config, B, ACT, g) for g in gens])
    stacked = stack_states(states)
    a, ma = vmap_update(EDP_IQL.update, config)(stacked, batch, rand)
    b, mb = sequential_update(EDP_IQL.update, config)(stacked, batch, rand)
    _assert_states_close(b, a)
    for name, value in mb.items():
        assert value.shape == (S,)
        torch.testing.assert_close(ma[name], value, rtol=1e-5, atol=1e-6, msg=name)
