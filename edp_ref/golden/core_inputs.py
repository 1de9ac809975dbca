"""The inputs the core cases share, drawn once per dtype from the kit's seed, in a fixed order.

The function cases (Eqs. 1-13, the samplers, the networks, EAS) draw their tensors from one
generator seeded with :data:`~edp_ref.golden.case.SEED`, in the order below; the draw order is
part of the kit's format (changing it changes every archive), so it lives in one place. Float
inputs are drawn in float64 and cast to the case dtype, so the float32 cases see the float64
values rounded. Network parameters come from torch's default generator seeded with the same seed
(module construction draws from it), in the order noise network, Q network, value network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from edp_ref.core.networks import NoisePredictionNetwork, QNetwork, ValueNetwork
from edp_ref.golden.case import SEED, Arrays

__all__ = [
    "ACTION_DIM",
    "BATCH",
    "CANDIDATES",
    "HIDDEN",
    "NUM_STEPS",
    "STATE_DIM",
    "CoreInputs",
    "draw_core_inputs",
    "eps_fn_from",
    "load_net",
    "net_arrays",
    "noise_net",
]

BATCH, ACTION_DIM, STATE_DIM, NUM_STEPS = 8, 3, 5, 1000
#: Hidden units of the networks of the core cases.
HIDDEN = 32
#: N, the candidate actions per state of the EAS cases (Algorithm 2).
CANDIDATES = 10


@dataclass(frozen=True)
class CoreInputs:
    """Every tensor the core cases use, in one dtype (shapes with B = 8, A = 3, S = 5)."""

    dtype: torch.dtype
    k: Tensor  # [B] int64 timesteps in 0..K-1, with k[0] = 0 and k[1] = K - 1
    a0: Tensor  # [B, A] uniform in [-1, 1]
    eps: Tensor  # [B, A]
    eps_hat: Tensor  # [B, A]
    a_k: Tensor  # [B, A]
    weights: Tensor  # [B] uniform in [0, 3]
    state: Tensor  # [B, S]
    eps_net: Arrays  # the noise network's parameters, eps_net.<state_dict key>
    q_net: Arrays  # q_net.<state_dict key>
    v_net: Arrays  # v_net.<state_dict key>
    t_float: Tensor  # [B] model times in [0, K - 1)
    noise: Tensor  # [B, A] the DDPM step's noise
    a_start: Tensor  # [B, A] the samplers' starting point (a^T of DPM-Solver, a^K of DDPM)
    noises: Tensor  # [5, B, A] DDPM noise of the K = 5 chain
    q: Tensor  # [B, N] Q values of N candidates
    uniform: Tensor  # [B] EAS's uniforms
    candidates: Tensor  # [B, N, A]


def noise_net(dtype: torch.dtype) -> NoisePredictionNetwork:
    """The core cases' eps_theta (3 x 32 Mish, official time embedding)."""
    return NoisePredictionNetwork(STATE_DIM, ACTION_DIM, hidden=HIDDEN).to(dtype)


def net_arrays(prefix: str, module: torch.nn.Module) -> Arrays:
    """A module's parameters as case inputs named ``<prefix>.<torch state_dict key>``."""
    return {f"{prefix}.{k}": v.detach().clone() for k, v in module.state_dict().items()}


def load_net(module: torch.nn.Module, prefix: str, arrays: Arrays) -> torch.nn.Module:
    """``module`` with the parameters named ``<prefix>.<key>`` in ``arrays`` loaded."""
    state = {k[len(prefix) + 1 :]: v for k, v in arrays.items() if k.startswith(prefix + ".")}
    module.load_state_dict(state)
    return module


def eps_fn_from(arrays: Arrays, dtype: torch.dtype) -> Callable[[Tensor, Tensor], Tensor]:
    """The samplers' ``eps_fn(a, t)``: the stored noise network conditioned on stored states."""
    model = load_net(noise_net(dtype), "eps_net", arrays)
    cond = arrays["state"]

    def eps_fn(a: Tensor, t: Tensor) -> Tensor:
        out: Tensor = model(cond[: a.shape[0]], a, t)
        return out

    return eps_fn


def draw_core_inputs(dtype: torch.dtype) -> CoreInputs:
    """The core cases' inputs in ``dtype`` (the draw order is fixed: see the module docstring)."""
    gen = torch.Generator().manual_seed(SEED)
    B, A, S, K = BATCH, ACTION_DIM, STATE_DIM, NUM_STEPS

    def randn(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=gen, dtype=torch.float64).to(dtype)

    def uniform(*shape: int) -> Tensor:
        return torch.rand(*shape, generator=gen, dtype=torch.float64).to(dtype)

    k = torch.randint(0, K, (B,), generator=gen)
    k[0], k[1] = 0, K - 1  # both ends of the chain
    a0 = (torch.rand(B, A, generator=gen, dtype=torch.float64) * 2 - 1).to(dtype)
    eps, eps_hat, a_k = randn(B, A), randn(B, A), randn(B, A)
    weights = uniform(B) * 3
    state = randn(B, S)
    torch.manual_seed(SEED)  # network initialisation draws from torch's default generator
    eps_net = net_arrays("eps_net", noise_net(dtype))
    q_net = net_arrays("q_net", QNetwork(S, A, hidden=HIDDEN).to(dtype))
    v_net = net_arrays("v_net", ValueNetwork(S, hidden=HIDDEN).to(dtype))
    t_float = (torch.rand(B, generator=gen, dtype=torch.float64) * (K - 1)).to(dtype)
    noise = randn(B, A)
    a_start = randn(B, A)
    noises = randn(5, B, A)
    q = randn(B, CANDIDATES) * 2
    uniforms = uniform(B)
    candidates = randn(B, CANDIDATES, A)
    return CoreInputs(
        dtype,
        k,
        a0,
        eps,
        eps_hat,
        a_k,
        weights,
        state,
        eps_net,
        q_net,
        v_net,
        t_float,
        noise,
        a_start,
        noises,
        q,
        uniforms,
        candidates,
    )
