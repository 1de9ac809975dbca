"""Policy evaluation shared by the updates (Eq. 6, Eq. 14, Eq. 22; Appendix A): the TD targets,
the critics' step, a diffusion agent's whole critic step (a' from the EMA policy, official
sail-sg/edp, diffusion/dql.py) and IQL's value step.

Critic loss (official code): mean (Q_i(s, a) - y)^2 for i = 1, 2, summed; each critic has its own
Adam state and its own gradient clip. The formulas are :mod:`edp_ref.core.rl`'s.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, Protocol, runtime_checkable

import torch
from jaxtyping import Float
from torch import Tensor, nn
from torch.func import grad_and_value

from edp_ref.algorithms.config import (
    DiffusionConfig,
    NetworkConfig,
    NextActionPolicy,
    OptimizerConfig,
    SamplerKind,
)
from edp_ref.algorithms.diffusion_policy import sample_diffusion_actions
from edp_ref.algorithms.optim import AdamState, Params, apply_gradients, clip_by_global_norm
from edp_ref.algorithms.randomness import SamplerNoise
from edp_ref.algorithms.state import TrainState
from edp_ref.core.networks import QNetwork, ValueNetwork
from edp_ref.core.rl import clipped_double_q_target, expectile_loss, td_loss
from edp_ref.data.batch import Batch

__all__ = [
    "CriticConfig",
    "CriticStep",
    "NextActionConfig",
    "critic_modules",
    "diffusion_policy_evaluation",
    "double_q_target",
    "expectile_value_step",
    "td_critic_step",
]

#: New Q1 and Q2 parameters, their new Adam states, and the critic metrics.
CriticStep = tuple[Params, Params, AdamState, AdamState, dict[str, Tensor]]


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


def double_q_target(
    state: TrainState, batch: Batch, next_actions: Float[Tensor, "batch action"], discount: float
) -> Float[Tensor, " batch"]:
    """y = r + (1 - d) gamma min(Q1'(s', a'), Q2'(s', a')) with the target critics (Eq. 14), without
    gradient."""
    T, nets, s_next = state.target_params, state.networks, batch.next_observations
    with torch.no_grad():
        return clipped_double_q_target(
            batch.rewards,
            batch.terminals,
            nets.q_value(T["q1"], s_next, next_actions),
            nets.q_value(T["q2"], s_next, next_actions),
            discount,
        )


def td_critic_step(
    state: TrainState, batch: Batch, y: Float[Tensor, " batch"], config: CriticConfig
) -> CriticStep:
    """One Adam step of the online critics on the TD loss of Eq. 6 towards a fixed TD target y.

    Each critic has its own Adam state; the learning rate is ``config.critic_learning_rate`` when
    set. Gradients are clipped per critic (``critic_clip="per_critic"``, official EDP: one
    optimiser per network) or by the global norm of both critics' gradients together
    (``"joint"``, Diffusion-QL: one ``clip_grad_norm_`` over the module holding Q1 and Q2).
    """
    nets, s, a = state.networks, batch.observations, batch.actions
    y = y.detach()
    optimizer = config.optimizer
    if config.critic_learning_rate is not None:
        optimizer = dataclasses.replace(optimizer, learning_rate=config.critic_learning_rate)

    def loss_fn(qp: dict[str, Params]) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor, Tensor]]:
        q1, q2 = nets.q_value(qp["q1"], s, a), nets.q_value(qp["q2"], s, a)
        loss1, loss2 = td_loss(q1, y), td_loss(q2, y)
        return loss1 + loss2, (loss1, loss2, q1.mean(), q2.mean())

    P, opt = state.params, state.optimizers
    grads, (total, (loss1, loss2, q1_mean, q2_mean)) = grad_and_value(loss_fn, has_aux=True)(
        {"q1": P["q1"], "q2": P["q2"]}
    )
    joint_clip = config.critic_clip == "joint"
    if joint_clip:
        joint = {f"{net}/{n}": g for net in ("q1", "q2") for n, g in grads[net].items()}
        clipped, norm1 = clip_by_global_norm(joint, optimizer.max_grad_norm, optimizer.clip_mode)
        grads = {net: {n: clipped[f"{net}/{n}"] for n in grads[net]} for net in ("q1", "q2")}
        norm2 = norm1
        optimizer = dataclasses.replace(optimizer, max_grad_norm=None)
    new_q1, opt1, own_norm1 = apply_gradients(P["q1"], grads["q1"], opt["q1"], optimizer)
    new_q2, opt2, own_norm2 = apply_gradients(P["q2"], grads["q2"], opt["q2"], optimizer)
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
class NextActionConfig(CriticConfig, Protocol):
    """The config fields a diffusion agent's policy evaluation reads."""

    @property
    def diffusion(self) -> DiffusionConfig: ...

    @property
    def next_action_policy(self) -> NextActionPolicy: ...

    @property
    def next_action_sampler(self) -> SamplerKind: ...


def diffusion_policy_evaluation(
    state: TrainState, batch: Batch, next_action_noise: SamplerNoise, config: NextActionConfig
) -> CriticStep:
    """One critic step of a diffusion agent (Eq. 6 with Eq. 14's target), no gradient to the policy.

    a' ~ pi(. | s') from the EMA policy (``next_action_policy="ema"``, official) or the online one
    (Eq. 6 / Algorithm 1 as printed), through ``config.next_action_sampler`` (DPM-Solver for EDP,
    DDPM for "EDP w/o DPM" and Diffusion-QL) with ``next_action_noise``; then
    :func:`double_q_target` and :func:`td_critic_step`.
    """
    ema = config.next_action_policy == "ema"
    policy = state.target_params["policy"] if ema else state.params["policy"]
    with torch.no_grad():
        next_actions = sample_diffusion_actions(
            state.networks,
            policy,
            batch.next_observations,
            next_action_noise,
            config.diffusion,
            config.next_action_sampler,
        )
    y = double_q_target(state, batch, next_actions, config.discount)
    return td_critic_step(state, batch, y, config)


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
