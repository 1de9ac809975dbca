"""TD3+BC (Fujimoto & Gu 2021; App. A.1, Eqs. 14-16): Table 2's feed-forward TD3 baseline, and
Table 6's TD3+EAS (``td3bc_eas``: the same training, acting by EAS over perturbed actions).

One update, with t = state.step + 1:

1. Critics towards Eq. 14's clipped double-Q target with a' = the target actor's action plus
   clipped smoothing noise (TD3's target-policy smoothing).
2. Every ``policy_delay`` updates (a mask, no host synchronisation) the actor steps on Eq. 16,
   -(alpha / stopgrad(mean |Q1|)) mean Q1(s, pi(s)) + mean (pi(s) - a)^2, with the just-updated
   critic, and the actor and critic targets move by tau.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from jaxtyping import Float
from torch import Tensor
from torch.func import grad_and_value

from edp_ref.algorithms.acting import perturbed_actor_eas_act
from edp_ref.algorithms.config import AlgorithmConfig, OptimizerConfig
from edp_ref.algorithms.critic import double_q_target, td_critic_step
from edp_ref.algorithms.execution import Metrics
from edp_ref.algorithms.optim import Params, apply_gradients
from edp_ref.algorithms.randomness import drawn, normal
from edp_ref.algorithms.registry import register_algorithm, register_variant
from edp_ref.algorithms.state import TrainState
from edp_ref.algorithms.targets import advance_state, masked_polyak
from edp_ref.config_checks import check_at_least, check_positive
from edp_ref.core.rl import q_loss_scale, target_policy_smoothing
from edp_ref.data.batch import Batch
from edp_ref.pytree import pytree_dataclass

__all__ = ["TD3BCConfig", "TD3BCRandomness", "td3bc_update"]


@dataclass(frozen=True)
class TD3BCConfig(AlgorithmConfig):
    """TD3+BC (Fujimoto & Gu 2021; App. A.1, Eqs. 14-16) with a deterministic MLP policy."""

    # Adam; the original TD3+BC does not clip gradients.
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(max_grad_norm=None))
    # alpha of Eq. 16 (TD3+BC: 2.5).
    alpha: float = 2.5
    # Std of the target policy smoothing noise (TD3: 0.2).
    policy_noise: float = 0.2
    # Clip of that noise (TD3: 0.5).
    noise_clip: float = 0.5
    # Actor and targets update every policy_delay critic updates (TD3: 2).
    policy_delay: int = 2
    # Action bound: the actor's tanh output is scaled by it and next actions clipped to it.
    max_action: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(self, "policy_delay", "max_action")
        check_at_least(self, 0.0, "alpha", "policy_noise", "noise_clip")


@pytree_dataclass
@dataclass(frozen=True, eq=False)
class TD3BCRandomness:
    """Randomness of one TD3+BC update."""

    # xi ~ N(0, I) [B, A] of the target-policy smoothing (scaled by policy_noise, clipped).
    smoothing_noise: Float[Tensor, "batch action"] = drawn(normal("batch", "action"))


@register_algorithm(
    "td3bc",
    title="TD3+BC (feed-forward)",
    equations="Eqs. 14-16; App. A.1",
    config_class=TD3BCConfig,
    randomness=TD3BCRandomness,
    network="deterministic",
    family="td3",
    policy="ff",
)
def td3bc_update(
    state: TrainState, batch: Batch, randomness: TD3BCRandomness, config: TD3BCConfig
) -> tuple[TrainState, Metrics]:
    """One TD3+BC update: critics every call, actor and targets every policy_delay calls."""
    nets = state.networks
    P, T = state.params, state.target_params
    step = state.step + 1
    s, a = batch.observations, batch.actions

    # 1. Critics towards Eq. 14's target, a' with target-policy smoothing.
    with torch.no_grad():
        next_actions = target_policy_smoothing(
            nets.policy_output(T["policy"], batch.next_observations),
            randomness.smoothing_noise,
            config.policy_noise,
            config.noise_clip,
            config.max_action,
        )
    y = double_q_target(state, batch, next_actions, config.discount)
    new_q1, new_q2, opt_q1, opt_q2, critic_metrics = td_critic_step(state, batch, y, config)

    # 2. Actor on Eq. 16 with the updated Q1, and every target, every policy_delay updates.
    def actor_loss(pp: Params) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor]]:
        pi = nets.policy_output(pp, s)
        q = nets.q_value(new_q1, s, pi)
        scale = q_loss_scale(q, config.alpha)
        bc = (pi - a).square().mean()
        return -scale * q.mean() + bc, (bc.detach(), scale, q.mean().detach())

    grads, (a_loss, (bc, scale, q_pi)) = grad_and_value(actor_loss, has_aux=True)(P["policy"])
    actor_due = step % config.policy_delay == 0
    new_policy, opt_policy, policy_norm = apply_gradients(
        P["policy"], grads, state.optimizers["policy"], config.optimizer, apply=actor_due
    )
    tau = config.target_networks.critic_tau
    new_state = advance_state(
        state,
        {"policy": new_policy, "q1": new_q1, "q2": new_q2},
        {"policy": opt_policy, "q1": opt_q1, "q2": opt_q2},
        tau,
        critic_mask=actor_due,
        policy_target=masked_polyak(T["policy"], new_policy, tau, actor_due),
    )
    metrics: Metrics = {
        **critic_metrics,
        "policy_loss": a_loss.detach(),
        "bc_loss": bc,
        "q_loss_scale": scale,
        "q_policy_mean": q_pi,
        "policy_grad_norm": policy_norm,
        "actor_updated": actor_due.to(s.dtype),
    }
    return new_state, metrics


register_variant(
    "td3bc_eas",
    base="td3bc",
    config_class=TD3BCConfig,
    title="TD3+EAS: TD3+BC acting by EAS over perturbed actions (Table 6)",
    equations="Table 6; Alg. 2; App. A.1",
    act=perturbed_actor_eas_act,
)
