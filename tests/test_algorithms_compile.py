"""torch.compile of the updates (the hot loop): for every registered algorithm, compiled and eager
agree within float tolerance on CPU; compilation is on by default only on CUDA; a compilation
failure falls back to the eager update with a warning. Small networks: compiling is slow on 2
cores."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import pytest
import torch

from edp_ref.algorithms import (
    REGISTRY,
    Algorithm,
    Batch,
    DiffusionConfig,
    NetworkConfig,
    execution,
    state_tensors,
)
from edp_ref.algorithms.acting import ActingSettings
from edp_ref.algorithms.catalog.edp_td3 import EDPTD3Config
from edp_ref.algorithms.execution import compile_records, uses_compile
from edp_ref.compilation import compile_options
from tests.registry_cases import distinct_algorithms

S, A, B = 3, 2, 16


def _small_config(name: str, **changes: Any) -> Any:
    algorithm = REGISTRY[name]
    fields: dict[str, Any] = {"network": NetworkConfig(hidden=8, layers=1), **changes}
    if algorithm.diffusion and name != "dql":
        fields["diffusion"] = DiffusionConfig(num_steps=30, dpm_steps=3)
    return algorithm.config_class(**fields)


def _test_config(algorithm: Algorithm) -> Any:
    return _small_config(algorithm.name)


def _batches(g: torch.Generator, count: int) -> list[Batch]:
    return [
        Batch(
            torch.randn(B, S, generator=g),
            torch.rand(B, A, generator=g) * 1.8 - 0.9,
            torch.randn(B, generator=g),
            torch.randn(B, S, generator=g),
            (torch.rand(B, generator=g) < 0.2).float(),
        )
        for _ in range(count)
    ]


@pytest.mark.parametrize("name", distinct_algorithms(_test_config))
def test_compiled_update_matches_eager(name: str) -> None:
    algorithm = REGISTRY[name]
    eager_config = _small_config(name, compile=False)
    compiled_config = dataclasses.replace(eager_config, compile=True)
    g = torch.Generator().manual_seed(0)
    state = algorithm.init(eager_config, S, A, g)
    batches = _batches(g, 2)
    draws = [algorithm.draw(eager_config, B, A, g) for _ in batches]
    eager, compiled = state, state
    for batch, randomness in zip(batches, draws, strict=True):
        eager, eager_metrics = algorithm.update(eager, batch, randomness, eager_config)
        with warnings.catch_warnings():  # a compilation failure (eager fallback) fails the test
            warnings.simplefilter("error", RuntimeWarning)
            compiled, compiled_metrics = algorithm.update(
                compiled, batch, randomness, compiled_config
            )
        for metric, value in eager_metrics.items():
            torch.testing.assert_close(compiled_metrics[metric], value, rtol=1e-4, atol=1e-5)
    eager_flat, compiled_flat = state_tensors(eager), state_tensors(compiled)
    for key, value in eager_flat.items():
        torch.testing.assert_close(compiled_flat[key], value, rtol=1e-4, atol=1e-5)
    assert int(compiled.step) == 2
    assert any(r.seconds is not None and r.error is None for r in compile_records())


def test_compile_defaults_to_the_state_device() -> None:
    config = EDPTD3Config(network=NetworkConfig(hidden=4, layers=1))
    state = REGISTRY["edp_td3"].init(
        dataclasses.replace(config, diffusion=DiffusionConfig(num_steps=30)),
        2,
        1,
        torch.Generator().manual_seed(0),
    )
    assert not uses_compile(config, state)  # CPU state: eager by default
    assert uses_compile(dataclasses.replace(config, compile=True), state)


def test_failed_compilation_falls_back_to_eager_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_compile(fn: Any, **options: Any) -> Any:
        def run(*args: Any) -> Any:
            raise RuntimeError("backend exploded")

        return run

    monkeypatch.setattr(execution, "compile_function", broken_compile)
    monkeypatch.setattr(execution, "_COMPILED", {})
    monkeypatch.setattr(execution, "_RECORDS", {})
    algorithm = REGISTRY["gaussian_iql"]
    config = _small_config("gaussian_iql", compile=True)
    g = torch.Generator().manual_seed(0)
    state = algorithm.init(config, S, A, g)
    batch = _batches(g, 1)[0]
    eager_state, _ = algorithm.update(
        state, batch, None, dataclasses.replace(config, compile=False)
    )
    with pytest.warns(RuntimeWarning, match="gaussian_iql_update: torch.compile failed"):
        fallback_state, _ = algorithm.update(state, batch, None, config)
    for key, value in state_tensors(eager_state).items():
        torch.testing.assert_close(state_tensors(fallback_state)[key], value, rtol=0, atol=0)
    (record,) = compile_records()
    assert record.error == "RuntimeError: backend exploded" and record.seconds is None
    algorithm.update(fallback_state, batch, None, config)  # eager from now on, no second warning


def test_cuda_compiles_with_cuda_graphs_and_cpu_with_the_default_mode() -> None:
    assert compile_options(torch.device("cuda")) == {"mode": "reduce-overhead"}
    assert compile_options(torch.device("cpu")) == {}


def test_compiled_eas_matches_eager() -> None:
    algorithm = REGISTRY["edp_td3"]
    config = _small_config("edp_td3")
    state = algorithm.init(config, S, A, torch.Generator().manual_seed(0))
    obs = torch.randn(5, S, generator=torch.Generator().manual_seed(1))
    eager = ActingSettings(eas_candidates=4, compile=False)
    compiled = ActingSettings(eas_candidates=4, compile=True)
    out_eager = algorithm.act(state, obs, config, eager, torch.Generator().manual_seed(2))
    out_compiled = algorithm.act(state, obs, config, compiled, torch.Generator().manual_seed(2))
    torch.testing.assert_close(out_compiled, out_eager, rtol=1e-4, atol=1e-5)
