"""The optimiser of every update: global-norm gradient clipping and Adam (Table 3, Appendix A).

All functions are pure: they take parameter dicts (name -> tensor) and return new ones, never
mutating their inputs, so that an update is a function of its arguments. Adam is computed
exactly as optax computes it (the official optimiser): mu <- b1 mu + (1 - b1) g,
nu <- b2 nu + (1 - b2) g^2, update = mu_hat / (sqrt(nu_hat) + eps) with bias corrections at
count + 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from edp_ref.algorithms.config import OptimizerConfig

__all__ = [
    "AdamState",
    "ClipMode",
    "Params",
    "adam_init",
    "adam_step",
    "apply_gradients",
    "clip_by_global_norm",
    "global_norm",
    "select_params",
]

Params = dict[str, Tensor]
ClipMode = Literal["optax", "torch"]

# clip_grad_norm_'s epsilon (torch.nn.utils.clip_grad_norm_).
_TORCH_CLIP_EPS = 1e-6


@dataclass(frozen=True, eq=False)
class AdamState:
    """Adam's state for one network: the number of steps taken (an int64 scalar tensor) and the
    first and second moment estimates per parameter."""

    count: Tensor
    mu: Params
    nu: Params


def adam_init(params: Params) -> AdamState:
    """Zero moments and a zero count, on the parameters' device and dtype."""
    first = next(iter(params.values()))
    return AdamState(
        count=torch.zeros((), dtype=torch.int64, device=first.device),
        mu={n: torch.zeros_like(p) for n, p in params.items()},
        nu={n: torch.zeros_like(p) for n, p in params.items()},
    )


def select_params(apply: Bool[Tensor, ""], new: Params, old: Params) -> Params:
    """``new`` where ``apply`` is true, else ``old``, parameter by parameter."""
    return {n: torch.where(apply, new[n], old[n]) for n in old}


def global_norm(grads: Params) -> Float[Tensor, ""]:
    """sqrt of the sum of squares of every entry of every gradient (optax.global_norm)."""
    squares = [g.square().sum() for g in grads.values()]
    return torch.sqrt(torch.stack(squares).sum())


def clip_by_global_norm(
    grads: Params, max_norm: float | None, mode: ClipMode = "optax"
) -> tuple[Params, Float[Tensor, ""]]:
    """Table 3's gradient-norm clipping: the gradients scaled to a global norm of at most
    ``max_norm`` (``None`` or non-positive: no clipping, the official ``max_grad_norm = 0``), and
    the norm before clipping. ``"optax"`` (official): g * max / ||g|| where ||g|| >= max, no
    epsilon; ``"torch"`` (Diffusion-QL's ``clip_grad_norm_``): g * min(1, max / (||g|| + 1e-6)).
    """
    norm = global_norm(grads)
    if max_norm is None or max_norm <= 0:
        return grads, norm
    if mode == "optax":
        keep = norm < max_norm
        return {n: torch.where(keep, g, g / norm * max_norm) for n, g in grads.items()}, norm
    if mode == "torch":
        coef = torch.clamp(max_norm / (norm + _TORCH_CLIP_EPS), max=1.0)
        return {n: g * coef for n, g in grads.items()}, norm
    raise ValueError(f"clip_by_global_norm: mode must be 'optax' or 'torch', got {mode!r}")


def _learning_rate(config: OptimizerConfig, count: Int[Tensor, ""], like: Tensor) -> Tensor:
    lr = torch.full((), config.learning_rate, dtype=like.dtype, device=like.device)
    if not config.lr_decay:
        return lr
    # optax.cosine_decay_schedule(lr, decay_steps), alpha = 0, evaluated at the pre-step count.
    frac = torch.clamp(count.to(like.dtype), max=float(config.lr_decay_steps))
    frac = frac / config.lr_decay_steps
    return lr * 0.5 * (1.0 + torch.cos(math.pi * frac))


def adam_step(
    params: Params, grads: Params, state: AdamState, config: OptimizerConfig
) -> tuple[Params, AdamState]:
    """One Adam step (optax.adam arithmetic, optional cosine learning-rate decay) on
    already-clipped gradients: the new parameters and optimiser state."""
    b1, b2 = config.beta1, config.beta2
    first = next(iter(params.values()))
    count = state.count + 1
    t = count.to(first.dtype)
    bias1 = 1.0 - torch.pow(torch.full_like(t, b1), t)
    bias2 = 1.0 - torch.pow(torch.full_like(t, b2), t)
    lr = _learning_rate(config, state.count, first)
    mu = {n: b1 * state.mu[n] + (1.0 - b1) * g for n, g in grads.items()}
    nu = {n: b2 * state.nu[n] + (1.0 - b2) * g.square() for n, g in grads.items()}
    new_params = {
        n: p - lr * ((mu[n] / bias1) / (torch.sqrt(nu[n] / bias2) + config.eps))
        for n, p in params.items()
    }
    return new_params, AdamState(count=count, mu=mu, nu=nu)


def apply_gradients(
    params: Params,
    grads: Params,
    state: AdamState,
    config: OptimizerConfig,
    apply: Bool[Tensor, ""] | None = None,
) -> tuple[Params, AdamState, Float[Tensor, ""]]:
    """Clip by global norm (config.max_grad_norm, config.clip_mode), then one Adam step: the new
    parameters, optimiser state and the global norm before clipping. Where the optional scalar
    mask ``apply`` is false, parameters and optimiser state stay as they were (TD3+BC's delayed
    actor), without a host sync."""
    clipped, norm = clip_by_global_norm(grads, config.max_grad_norm, config.clip_mode)
    new_params, new_state = adam_step(params, clipped, state, config)
    if apply is None:
        return new_params, new_state, norm
    kept = AdamState(
        count=torch.where(apply, new_state.count, state.count),
        mu=select_params(apply, new_state.mu, state.mu),
        nu=select_params(apply, new_state.nu, state.nu),
    )
    return select_params(apply, new_params, params), kept, norm
