"""Policy evaluation shared by the updates: the TD critic step of Eq. 6 with the clipped double-Q
target of Eq. 14 (Appendix A.1), and IQL's expectile value step (Eq. 22, Appendix A.3).

Critic loss (official code): mean (Q_i(s, a) - y)^2 for i = 1, 2, summed; each critic has its own
Adam state and its own gradient clip.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, Protocol, runtime_checkable

import torch
from jaxtyping import Float
from torch import Tensor, nn
from torch.func import grad_and_value

from edp_ref.algorithms.config import NetworkConfig, OptimizerConfig
from edp_ref.algorithms.optim import AdamState, Params, apply_gradients, clip_by_global_norm
from edp_ref.algorithms.state import Networks, TrainState
from edp_ref.core.networks import QNetwork, ValueNetwork
from edp_ref.data.batch import Batch

__all__ = [
    "CriticConfig",
    "bellman_target",
    "critic_modules",
    "double_q_step",
    "expectile_loss",
    "expectile_value_step",
    "min_q",
    "td_critic_step",
]


def min_q(
    networks: Networks,
    q1_params: Params,
    q2_params: Params,
    observations: Float[Tensor, "*batch state"],
    actions: Float[Tensor, "*batch action"],
) -> Float[Tensor, "*batch"]:
    """min(Q1(s, a), Q2(s, a)) (Eq. 14, Eq. 21, App. A.3)."""
    return torch.minimum(
        networks.q_value(q1_params, observations, actions),
        networks.q_value(q2_params, observations, actions),
    )


def bellman_target(
    rewards: Float[Tensor, " batch"],
    terminals: Float[Tensor, " batch"],
    next_value: Float[Tensor, " batch"],
    discount: float,
) -> Float[Tensor, " batch"]:
    """y = r + (1 - d) gamma V' (Eq. 6 / Eq. 14 with V' = min Q'(s', a'); Eq. 22 with V(s'))."""
    return rewards + (1.0 - terminals) * discount * next_value


def expectile_loss(diff: Float[Tensor, " batch"], expectile: float) -> Float[Tensor, ""]:
    """mean L_2^tau(diff) = mean |tau - 1(diff < 0)| diff^2 (Eq. 22), diff = Q - V."""
    # The weights in diff's dtype: Python-float branches of torch.where would give float32
    # weights (the default dtype) inside a float64 computation.
    weight = torch.where(diff > 0, diff.new_tensor(expectile), diff.new_tensor(1.0 - expectile))
    return (weight * diff.square()).mean()


def double_q_step(
    networks: Networks,
    q1_params: Params,
    q2_params: Params,
    q1_optimizer: AdamState,
    q2_optimizer: AdamState,
    observations: Float[Tensor, "batch state"],
    actions: Float[Tensor, "batch action"],
    target: Float[Tensor, " batch"],
    optimizer: OptimizerConfig,
    joint_clip: bool = False,
) -> tuple[Params, Params, AdamState, AdamState, dict[str, Tensor]]:
    """One Adam step of both critics on the TD loss of Eq. 6 towards a fixed target y.

    Each critic has its own Adam state. Gradients are clipped per critic (official EDP: one
    optimiser per network) or, with ``joint_clip``, by the global norm of both critics' gradients
    together (Diffusion-QL: one ``clip_grad_norm_`` over the critic module holding Q1 and Q2).

    Returns:
        New Q1 and Q2 parameters, their new Adam states, and metrics (losses, mean Q,
        gradient norms before clipping).
    """
    y = target.detach()

    def loss_fn(qp: dict[str, Params]) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor, Tensor]]:
        q1 = networks.q_value(qp["q1"], observations, actions)
        q2 = networks.q_value(qp["q2"], observations, actions)
        loss1 = (q1 - y).square().mean()
        loss2 = (q2 - y).square().mean()
        return loss1 + loss2, (loss1, loss2, q1.mean(), q2.mean())

    grads, (total, (loss1, loss2, q1_mean, q2_mean)) = grad_and_value(loss_fn, has_aux=True)(
        {"q1": q1_params, "q2": q2_params}
    )
    if joint_clip:
        joint = {f"{net}/{n}": g for net in ("q1", "q2") for n, g in grads[net].items()}
        clipped, norm1 = clip_by_global_norm(joint, optimizer.max_grad_norm, optimizer.clip_mode)
        grads = {net: {n: clipped[f"{net}/{n}"] for n in grads[net]} for net in ("q1", "q2")}
        norm2 = norm1
        optimizer = dataclasses.replace(optimizer, max_grad_norm=None)
    new_q1, opt1, own_norm1 = apply_gradients(q1_params, grads["q1"], q1_optimizer, optimizer)
    new_q2, opt2, own_norm2 = apply_gradients(q2_params, grads["q2"], q2_optimizer, optimizer)
    if not joint_clip:
        norm1, norm2 = own_norm1, own_norm2
    metrics = {
        "critic_loss": total.detach(),
        "q1_loss": loss1,
        "q2_loss": loss2,
        "q1_mean": q1_mean,
        "q2_mean": q2_mean,
        "target_q_mean": y.mean(),
        "q1_grad_norm": norm1,
        "q2_grad_norm": norm2,
    }
    return new_q1, new_q2, opt1, opt2, metrics


@runtime_checkable
class CriticConfig(Protocol):
    """The config fields the critic step reads (every :class:`AlgorithmConfig` has them)."""

    @property
    def optimizer(self) -> OptimizerConfig: ...

    @property
    def discount(self) -> float: ...

    @property
    def critic_learning_rate(self) -> float | None: ...

    @property
    def critic_clip(self) -> Literal["per_critic", "joint"]: ...


def td_critic_step(
    state: TrainState,
    batch: Batch,
    next_value: Float[Tensor, " batch"],
    config: CriticConfig,
) -> tuple[Params, Params, AdamState, AdamState, dict[str, Tensor]]:
    """The critic step of every update: y = r + (1 - d) gamma V' (no gradient), then
    :func:`double_q_step` of the state's online critics on the batch's (s, a) towards y, with
    the config's optimiser (its learning rate replaced by ``critic_learning_rate`` when set) and
    critic clipping (``critic_clip``): any :class:`~edp_ref.algorithms.config.AlgorithmConfig`.

    ``next_value`` is V' = min(Q1', Q2')(s', a') (Eq. 6 / Eq. 14) or V(s') (Eq. 22).

    Returns:
        New Q1 and Q2 parameters, their new Adam states, and the critic metrics.
    """
    with torch.no_grad():
        y = bellman_target(batch.rewards, batch.terminals, next_value, config.discount)
    optimizer = config.optimizer
    if config.critic_learning_rate is not None:
        optimizer = dataclasses.replace(optimizer, learning_rate=config.critic_learning_rate)
    return double_q_step(
        state.networks,
        state.params["q1"],
        state.params["q2"],
        state.optimizers["q1"],
        state.optimizers["q2"],
        batch.observations,
        batch.actions,
        y,
        optimizer,
        config.critic_clip == "joint",
    )


def expectile_value_step(
    state: TrainState,
    observations: Float[Tensor, "batch state"],
    q_target: Float[Tensor, " batch"],
    optimizer: OptimizerConfig,
    expectile: float,
) -> tuple[Params, AdamState, dict[str, Tensor]]:
    """IQL's value step (Eq. 22, first line): one Adam step of V on mean L_2^tau(Q' - V(s)).

    ``q_target`` is min(Q1', Q2')(s, a) of the target critics (App. A.3's double Q), without
    gradient. Shared by EDP + IQL and the feed-forward IQL.

    Returns:
        New V parameters, its new Adam state, and metrics (value loss, mean V, gradient norm
        before clipping).
    """
    networks = state.networks

    def value_loss(value_params: Params) -> tuple[Tensor, Tensor]:
        v = networks.state_value(value_params, observations)
        return expectile_loss(q_target - v, expectile), v.mean().detach()

    grads, (loss, v_mean) = grad_and_value(value_loss, has_aux=True)(state.params["value"])
    new_value, new_optimizer, norm = apply_gradients(
        state.params["value"], grads, state.optimizers["value"], optimizer
    )
    metrics = {"value_loss": loss.detach(), "value_mean": v_mean, "value_grad_norm": norm}
    return new_value, new_optimizer, metrics


def critic_modules(
    state_dim: int,
    action_dim: int,
    network: NetworkConfig,
    generator: torch.Generator,
    with_value: bool = False,
) -> dict[str, nn.Module]:
    """Freshly initialised Q1, Q2 and, ``with_value``, IQL's V (drawn in that order from
    ``generator``; Sec. 5's 3 x 256 Mish MLPs by default)."""
    modules: dict[str, nn.Module] = {
        name: QNetwork(
            state_dim,
            action_dim,
            network.hidden,
            network.layers,
            network.init,
            generator,
            network.activation,
        )
        for name in ("q1", "q2")
    }
    if with_value:
        modules["value"] = ValueNetwork(
            state_dim, network.hidden, network.layers, network.init, generator, network.activation
        )
    return modules
