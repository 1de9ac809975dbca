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


@pytest.mark.parametrize("name", list(alg.REGISTRY))
def test_float64_update_never_computes_in_float32(name: str) -> None:
    spec = alg.REGISTRY[name]
    changes: dict[str, Any] = {"network": alg.NetworkConfig(hidden=8, layers=1)}
    if spec.policy_class == "diffusion" and name != "dql":
        changes["diffusion"] = alg.DiffusionConfig(num_steps=50, dpm_steps=3)
    config = spec.config_class(**changes)
    g = torch.Generator().manual_seed(0)
    f64 = torch.float64
    state = spec.init(config, 3, 2, g, dtype=f64)
    batch = alg.Batch(
        torch.randn(4, 3, dtype=f64),
        torch.rand(4, 2, dtype=f64) * 2 - 1,
        torch.randn(4, dtype=f64),
        torch.randn(4, 3, dtype=f64),
        torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=f64),
    )
    randomness = spec.draw(config, 4, 2, g, dtype=f64)
    with _LowPrecisionOutputs() as recorder:
        spec.update(state, batch, randomness, config)
    assert recorder.ops == [], f"{name}: float32 results in a float64 update: {recorder.ops}"
