"""Tests of the optimisation primitives, the batch, the state and Table 3's hyper-parameters in
edp_ref.algorithms (Appendix A, Table 3; sail-sg/edp, diffusion/dql.py)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from edp_ref.algorithms import (
    REGISTRY,
    Batch,
    NetworkConfig,
    OptimizerConfig,
    load_state_tensors,
    state_tensors,
    table3_config,
)
from edp_ref.algorithms.catalog.edp_iql import EDPIQLConfig
from edp_ref.algorithms.catalog.edp_td3 import EDPTD3Config
from edp_ref.algorithms.catalog.td3bc import TD3BCConfig
from edp_ref.algorithms.optim import (
    adam_init,
    adam_step,
    apply_gradients,
    clip_by_global_norm,
    global_norm,
)
from edp_ref.algorithms.targets import ema_due, masked_polyak, polyak
from edp_ref.paper import domain_of, official_grad_norm_clip


def _grads(seed: int, scale: float) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"w": scale * torch.randn(4, 3, generator=g), "b": scale * torch.randn(3, generator=g)}


def test_adam_step_matches_torch_adam_over_several_steps() -> None:
    gen = torch.Generator().manual_seed(0)
    params = {"w": torch.randn(4, 3, generator=gen, dtype=torch.float64)}
    reference = torch.nn.Parameter(params["w"].clone())
    torch_adam = torch.optim.Adam([reference], lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
    config = OptimizerConfig(learning_rate=1e-2, max_grad_norm=None)
    state = adam_init(params)
    for _ in range(5):
        grad = torch.randn(4, 3, generator=gen, dtype=torch.float64)
        params, state = adam_step(params, {"w": grad}, state, config)
        reference.grad = grad.clone()
        torch_adam.step()
    assert int(state.count) == 5
    torch.testing.assert_close(params["w"], reference.detach(), rtol=1e-12, atol=1e-12)


def test_optax_clipping_scales_to_exactly_the_bound_without_epsilon() -> None:
    grads = _grads(1, 10.0)
    norm = global_norm(grads)
    clipped, reported = clip_by_global_norm(grads, 0.5, "optax")
    assert torch.equal(reported, norm)
    for name, g in grads.items():
        torch.testing.assert_close(clipped[name], g / norm * 0.5)
    torch.testing.assert_close(global_norm(clipped), torch.tensor(0.5))
    small = _grads(2, 1e-3)
    kept, _ = clip_by_global_norm(small, 0.5, "optax")
    assert all(torch.equal(kept[n], small[n]) for n in small)


def test_torch_clipping_matches_clip_grad_norm() -> None:
    grads = _grads(3, 10.0)
    tensors = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads.values()]
    for t, g in zip(tensors, grads.values(), strict=True):
        t.grad = g.clone()
    torch.nn.utils.clip_grad_norm_(tensors, 0.5)
    clipped, _ = clip_by_global_norm(grads, 0.5, "torch")
    for t, name in zip(tensors, grads, strict=True):
        assert t.grad is not None
        torch.testing.assert_close(clipped[name], t.grad)


@pytest.mark.parametrize("mode", ["optax", "torch"])
def test_clipping_bounds_the_global_norm(mode: str) -> None:
    for seed in range(5):
        clipped, _ = clip_by_global_norm(_grads(seed, 100.0), 2.0, mode)  # type: ignore[arg-type]
        assert float(global_norm(clipped)) <= 2.0 * (1 + 1e-6)


def test_masked_apply_gradients_leaves_params_and_optimizer_untouched() -> None:
    params = {"w": torch.ones(3)}
    state = adam_init(params)
    config = OptimizerConfig(max_grad_norm=None)
    off = torch.tensor(False)
    new, new_state, _ = apply_gradients(params, {"w": torch.ones(3)}, state, config, apply=off)
    assert torch.equal(new["w"], params["w"]) and int(new_state.count) == 0
    assert torch.equal(new_state.mu["w"], state.mu["w"])
    on = torch.tensor(True)
    moved, moved_state, _ = apply_gradients(params, {"w": torch.ones(3)}, state, config, apply=on)
    assert not torch.equal(moved["w"], params["w"]) and int(moved_state.count) == 1


def test_polyak_and_masked_polyak() -> None:
    target, online = {"w": torch.zeros(2)}, {"w": torch.ones(2)}
    torch.testing.assert_close(polyak(target, online, 0.25)["w"], torch.full((2,), 0.25))
    kept = masked_polyak(target, online, 0.25, torch.tensor(False))
    assert torch.equal(kept["w"], target["w"])


def test_ema_schedule_is_official_step_over_start_and_every_fifth() -> None:
    steps = torch.arange(995, 1016)
    due = [int(s) for s, d in zip(steps, ema_due(steps, 1000, 5), strict=True) if bool(d)]
    assert due == [1005, 1010, 1015]


def test_batch_rejects_nan_naming_the_tensor() -> None:
    b = Batch(
        torch.zeros(4, 2), torch.zeros(4, 1), torch.zeros(4), torch.zeros(4, 2), torch.zeros(4)
    )
    b.check_values("here")
    bad = dataclasses.replace(b, next_observations=torch.tensor([[0.0, float("nan")]] * 4))
    with pytest.raises(ValueError, match=r"batch\.next_observations"):
        bad.check_values("here")
    # Under pytest jaxtyping's TypeCheckError (a TypeError) fires first; without the import hook
    # Batch.__post_init__ raises ValueError.
    with pytest.raises((ValueError, TypeError)):
        Batch(
            torch.zeros(4, 2), torch.zeros(3, 1), torch.zeros(4), torch.zeros(4, 2), torch.zeros(4)
        )


def test_state_tensors_round_trip() -> None:
    config = EDPIQLConfig(network=NetworkConfig(hidden=8, layers=1))
    state = REGISTRY["edp_iql"].init(config, 3, 2, torch.Generator().manual_seed(0))
    flat = state_tensors(state)
    assert "params/value/body.0.weight" in flat and "adam/q1/count" in flat
    doubled = {k: v * 2 for k, v in flat.items()}
    loaded = load_state_tensors(state, doubled)
    assert torch.equal(
        loaded.params["policy"]["body.0.weight"], 2 * flat["params/policy/body.0.weight"]
    )
    with pytest.raises(ValueError, match="missing"):
        load_state_tensors(state, {"step": flat["step"]})


def test_table3_config_follows_table_3_and_the_official_clip_table() -> None:
    assert domain_of("walker2d-medium-expert-v2") == "locomotion"
    assert domain_of("pen-cloned-v1") == "adroit"
    assert domain_of("kitchen") == "kitchen"
    assert official_grad_norm_clip("antmaze-large-diverse-v0") == 7.0
    assert official_grad_norm_clip("hopper-medium-replay-v2") == 4.0
    adroit = table3_config(EDPTD3Config(), "pen-human-v1")
    assert adroit.optimizer.learning_rate == 3e-5 and adroit.loss_weight == 0.1
    assert adroit.optimizer.max_grad_norm == 5.0
    official = table3_config(EDPTD3Config(), "kitchen-mixed-v0", grad_clip="official")
    assert official.optimizer.max_grad_norm == 10.0 and official.loss_weight == 0.005
    antmaze = table3_config(EDPIQLConfig(), "antmaze-umaze-v0")
    assert antmaze.expectile == 0.9
    # The official trainer reads only the per-task clip: lr and loss weight stay 3e-4 and 1.0.
    crr = table3_config(EDPTD3Config(), "pen-human-v1", grad_clip="official", rates="official")
    assert crr.optimizer.learning_rate == 3e-4 and crr.loss_weight == 1.0
    assert crr.optimizer.max_grad_norm == 7.0
    ff = table3_config(TD3BCConfig(), "locomotion")
    assert ff.optimizer.max_grad_norm == 5.0
    with pytest.raises(ValueError, match="domain"):
        domain_of("cartpole")
    # A misspelled task is an error, never silently the locomotion preset.
    with pytest.raises(ValueError, match="unknown dataset name 'hopper-mediun-v2'"):
        table3_config(EDPTD3Config(), "hopper-mediun-v2")
