"""Float64 updates compute in float64 throughout: no operation of any registered algorithm's
update produces a lower-precision floating tensor (a Python float constant turned into a float32
tensor once rounded IQL's expectile weights to float32 inside float64 runs)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from edp_ref import algorithms as alg
from tests.registry_cases import distinct_algorithms

LOW_PRECISION = (torch.float32, torch.float16, torch.bfloat16)


class _LowPrecisionOutputs(TorchDispatchMode):
    """Records every aten op whose output holds a lower-precision floating tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if any(isinstance(t, torch.Tensor) and t.dtype in LOW_PRECISION for t in tree_leaves(out)):
            self.ops.append(str(func))
        return out


def _test_config(algorithm: alg.Algorithm) -> Any:
    changes: dict[str, Any] = {"network": alg.NetworkConfig(hidden=8, layers=1)}
    if algorithm.diffusion and algorithm.name != "dql":
        changes["diffusion"] = alg.DiffusionConfig(num_steps=50, dpm_steps=3)
    return algorithm.config_class(**changes)


@pytest.mark.parametrize("name", distinct_algorithms(_test_config))
def test_float64_update_never_computes_in_float32(name: str) -> None:
    algorithm = alg.REGISTRY[name]
    config = _test_config(algorithm)
    g = torch.Generator().manual_seed(0)
    f64 = torch.float64
    state = algorithm.init(config, 3, 2, g, dtype=f64)
    batch = alg.Batch(
        torch.randn(4, 3, dtype=f64),
        torch.rand(4, 2, dtype=f64) * 2 - 1,
        torch.randn(4, dtype=f64),
        torch.randn(4, 3, dtype=f64),
        torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=f64),
    )
    randomness = algorithm.draw(config, 4, 2, g, dtype=f64)
    with _LowPrecisionOutputs() as recorder:
        algorithm.update(state, batch, randomness, config)
    assert recorder.ops == [], f"{name}: float32 results in a float64 update: {recorder.ops}"
