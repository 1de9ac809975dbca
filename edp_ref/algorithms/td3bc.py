"""TD3+BC (Fujimoto & Gu 2021; App. A.1, Eqs. 14-16): Table 2's feed-forward TD3 baseline.

One update, with t = state.step + 1: the critics step towards the clipped double-Q target of
Eq. 14 with the target actor's next action plus clipped smoothing noise; every
``policy_delay`` updates the actor steps on -(alpha / stopgrad(mean |Q1|)) mean Q1(s, pi(s)) +
mean (pi(s) - a)^2 (Eq. 16) with the just-updated critic, and the actor and critic targets move.
The delay is a mask computed without host synchronisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from jaxtyping import Float
from torch import Tensor, nn
from torch.func import grad_and_value

from edp_ref.algorithms.acting import feedforward_act
from edp_ref.algorithms.config import AlgorithmConfig, OptimizerConfig
from edp_ref.algorithms.critic import critic_modules, min_q, td_critic_step
from edp_ref.algorithms.execution import Metrics, run_update
from edp_ref.algorithms.gaussian_policy import DeterministicPolicyNetwork
from edp_ref.algorithms.optim import Params, apply_gradients
from edp_ref.algorithms.registry import AlgorithmSpec, register
from edp_ref.algorithms.state import TrainState, build_state, seeded_from
from edp_ref.algorithms.targets import advance_state, masked_polyak
from edp_ref.config_checks import check_at_least, check_positive
from edp_ref.data.batch import Batch
from edp_ref.pytree import pytree_dataclass

__all__ = [
    "TD3BCConfig",
    "TD3BCRandomness",
    "draw_td3bc_randomness",
    "init_td3bc",
    "td3bc_update",
]


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
    """Randomness of one TD3+BC update.

    Attributes:
        smoothing_noise: N(0, I) draws ``[B, A]``, scaled by policy_noise and clipped to
            +-noise_clip before being added to the target actor's next action.
    """

    smoothing_noise: Float[Tensor, "batch action"]


def draw_td3bc_randomness(
    config: TD3BCConfig,
    batch_size: int,
    action_dim: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> TD3BCRandomness:
    """Draw one TD3+BC update's randomness from ``generator``."""
    noise = torch.randn(
        (batch_size, action_dim), generator=generator, device=generator.device, dtype=dtype
    )
    return TD3BCRandomness(noise.to(device))


def init_td3bc(
    config: TD3BCConfig,
    state_dim: int,
    action_dim: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> TrainState:
    """A fresh TD3+BC state: actor, target actor, Q1, Q2, target critics, Adam states."""
    with seeded_from(generator):
        modules: dict[str, nn.Module] = {
            "policy": DeterministicPolicyNetwork(
                state_dim, action_dim, config.network, config.max_action, generator
            ),
            **critic_modules(state_dim, action_dim, config.network, generator),
        }
    return build_state(modules, ("policy", "q1", "q2"), None, device, dtype)


def _td3bc_core(
    state: TrainState, batch: Batch, randomness: TD3BCRandomness, config: TD3BCConfig
) -> tuple[TrainState, Metrics]:
    nets = state.networks
    P, T = state.params, state.target_params
    step = state.step + 1
    s, a = batch.observations, batch.actions

    with torch.no_grad():
        smoothing = (randomness.smoothing_noise * config.policy_noise).clamp(
            -config.noise_clip, config.noise_clip
        )
        next_actions = (nets.policy_output(T["policy"], batch.next_observations) + smoothing).clamp(
            -config.max_action, config.max_action
        )
        next_q = min_q(nets, T["q1"], T["q2"], batch.next_observations, next_actions)
    new_q1, new_q2, opt_q1, opt_q2, critic_metrics = td_critic_step(state, batch, next_q, config)

    def actor_loss(pp: Params) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor]]:
        pi = nets.policy_output(pp, s)
        q = nets.q_value(new_q1, s, pi)
        lmbda = config.alpha / q.abs().mean().detach()
        bc = (pi - a).square().mean()
        return -lmbda * q.mean() + bc, (bc.detach(), lmbda, q.mean().detach())

    grads, (a_loss, (bc, lmbda, q_pi)) = grad_and_value(actor_loss, has_aux=True)(P["policy"])
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
        "lambda": lmbda,
        "q_policy_mean": q_pi,
        "policy_grad_norm": policy_norm,
        "actor_updated": actor_due.to(s.dtype),
    }
    return new_state, metrics


def td3bc_update(
    state: TrainState, batch: Batch, randomness: TD3BCRandomness, config: TD3BCConfig
) -> tuple[TrainState, Metrics]:
    """One TD3+BC update (critic every call; actor and all targets every policy_delay calls).

    Raises:
        ValueError: naming the tensor if the batch holds NaN or inf.
    """
    return run_update(_td3bc_core, state, batch, randomness, config, "td3bc_update")


register(
    AlgorithmSpec(
        name="td3bc",
        title="TD3+BC (feed-forward)",
        equations="Eqs. 14-16; App. A.1",
        config_class=TD3BCConfig,
        init=init_td3bc,
        draw=draw_td3bc_randomness,
        update=td3bc_update,
        act=feedforward_act,
        policy_class="deterministic",
        reward_family="td3",
    )
)
