"""Target networks of every update (Appendix A): Polyak-averaged target critics (tau = 0.005,
every update), the EMA policy of diffusion agents (on the official schedule of sail-sg/edp,
diffusion/dql.py) and TD3+BC's target actor, and the new state at the end of an update.
"""

from __future__ import annotations

from typing import Literal

import torch
from jaxtyping import Bool
from torch import Tensor

from edp_ref.algorithms.config import TargetNetworkConfig
from edp_ref.algorithms.execution import Metrics
from edp_ref.algorithms.optim import AdamState, Params
from edp_ref.algorithms.state import TrainState

__all__ = ["advance_state", "ema_due", "finish_diffusion_update", "masked_polyak", "polyak"]


def polyak(target: Params, online: Params, tau: float) -> Params:
    """theta' <- tau theta + (1 - tau) theta' for every parameter (official operand order)."""
    return {n: tau * online[n] + (1.0 - tau) * t for n, t in target.items()}


def masked_polyak(target: Params, online: Params, tau: float, apply: Bool[Tensor, ""]) -> Params:
    """:func:`polyak` where ``apply`` is true, the unchanged target elsewhere (no host sync)."""
    moved = polyak(target, online, tau)
    return {n: torch.where(apply, moved[n], t) for n, t in target.items()}


def advance_state(
    state: TrainState,
    params: dict[str, Params],
    optimizers: dict[str, AdamState],
    critic_tau: float,
    *,
    critic_mask: Tensor | None = None,
    policy_target: Params | None = None,
) -> TrainState:
    """The state after update number ``state.step + 1``: the new online parameters and Adam
    states (keyed by network name), the target critics Polyak-moved towards the new ones by
    ``critic_tau`` (only where the boolean scalar ``critic_mask`` is true, if given: TD3+BC's
    delayed targets) and the new policy target (EMA policy or target actor), if any.
    """
    T = state.target_params
    targets: dict[str, Params] = {} if policy_target is None else {"policy": policy_target}
    for name in ("q1", "q2"):
        if critic_mask is None:
            targets[name] = polyak(T[name], params[name], critic_tau)
        else:
            targets[name] = masked_polyak(T[name], params[name], critic_tau, critic_mask)
    return state.replace(
        params=params, target_params=targets, optimizers=optimizers, step=state.step + 1
    )


def ema_due(
    step: Tensor,
    ema_start: int,
    ema_every: int,
    counts: Literal["this_update", "previous_updates"] = "this_update",
) -> Tensor:
    """Whether update number ``step`` (1-based) moves the EMA policy: step > start, step % every
    == 0 (official: 1000 and 5). A boolean scalar tensor; no host sync."""
    n = step if counts == "this_update" else step - 1
    return (n > ema_start) & (n % ema_every == 0)


def finish_diffusion_update(
    state: TrainState,
    params: dict[str, Params],
    optimizers: dict[str, AdamState],
    target_networks: TargetNetworkConfig,
    metrics: Metrics,
    dtype: torch.dtype,
) -> tuple[TrainState, Metrics]:
    """:func:`advance_state` for a diffusion agent, and its metrics with ``ema_updated`` (in the
    batch's ``dtype``): critic targets move by critic_tau, the EMA policy by ema_tau where
    :func:`ema_due`."""
    ema_now = ema_due(
        state.step + 1,
        target_networks.ema_start,
        target_networks.ema_every,
        target_networks.ema_step_counts,
    )
    ema_policy = masked_polyak(
        state.target_params["policy"], params["policy"], target_networks.ema_tau, ema_now
    )
    new_state = advance_state(
        state, params, optimizers, target_networks.critic_tau, policy_target=ema_policy
    )
    return new_state, {**metrics, "ema_updated": ema_now.to(dtype)}
