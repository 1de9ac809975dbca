"""torch.compile of the updates (the hot loop): compiled and eager agree within float
tolerance on CPU; compilation is on by default only on CUDA. Kept to one small network because
compiling is slow on 2 cores."""

from __future__ import annotations

import dataclasses

import torch

from edp_ref.algorithms import (
    Batch,
    DiffusionConfig,
    EDPTD3Config,
    NetworkConfig,
    draw_td3_randomness,
    edp_td3_update,
    init_edp_td3,
    state_tensors,
)
from edp_ref.algorithms.execution import uses_compile


def test_compiled_edp_td3_update_matches_eager() -> None:
    eager_config = EDPTD3Config(
        network=NetworkConfig(hidden=8, layers=1),
        diffusion=DiffusionConfig(num_steps=30, dpm_steps=3),
        compile=False,
    )
    compiled_config = dataclasses.replace(eager_config, compile=True)
    g = torch.Generator().manual_seed(0)
    state = init_edp_td3(eager_config, 3, 2, g)
    batches = [
        Batch(
            torch.randn(16, 3, generator=g),
            torch.rand(16, 2, generator=g) * 1.8 - 0.9,
            torch.randn(16, generator=g),
            torch.randn(16, 3, generator=g),
            torch.zeros(16),
        )
        for _ in range(2)
    ]
    noises = [draw_td3_randomness(eager_config, 16, 2, g) for _ in range(2)]
    eager, compiled = state, state
    for batch, noise in zip(batches, noises, strict=True):
        eager, eager_metrics = edp_td3_update(eager, batch, noise, eager_config)
        compiled, compiled_metrics = edp_td3_update(compiled, batch, noise, compiled_config)
        for name, value in eager_metrics.items():
            torch.testing.assert_close(compiled_metrics[name], value, rtol=1e-4, atol=1e-5)
    eager_flat, compiled_flat = state_tensors(eager), state_tensors(compiled)
    for key, value in eager_flat.items():
        torch.testing.assert_close(compiled_flat[key], value, rtol=1e-4, atol=1e-5)
    assert int(compiled.step) == 2


def test_compile_defaults_to_the_state_device() -> None:
    config = EDPTD3Config(network=NetworkConfig(hidden=4, layers=1))
    state = init_edp_td3(
        dataclasses.replace(config, diffusion=DiffusionConfig(num_steps=30)),
        2,
        1,
        torch.Generator().manual_seed(0),
    )
    assert not uses_compile(config, state)  # CPU state: eager by default
    assert uses_compile(dataclasses.replace(config, compile=True), state)
