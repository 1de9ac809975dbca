"""The feed-forward baselines of Table 2's "FF" columns: TD3+BC, CRR and IQL with MLP policies.

* TD3+BC (Fujimoto & Gu 2021; App. A.1, Eqs. 14-16): deterministic tanh MLP actor, target actor
  with clipped smoothing noise, clipped double-Q target, actor loss
  -(alpha / stopgrad(mean |Q1|)) mean Q1(s, pi(s)) + mean (pi(s) - a)^2 on the just-updated critic,
  actor and targets updated every ``policy_delay`` updates.
* CRR (Wang et al. 2020; App. A.2, Eq. 20): Gaussian MLP policy, advantage
  min-Q(s, a) - mean_j min-Q(s, a_j) with a_j ~ pi(. | s), weight min(exp(A / beta), cap),
  loss -mean f log pi(a | s); TD target with a' ~ pi(. | s') and the target critics.
* IQL (Kostrikov et al. 2022; App. A.3, Eq. 22): expectile V on the target critics' min, AWR
  policy -mean min(exp(beta (Q - V)), 100) log pi(a | s), Q towards r + gamma V(s'); order
  V -> policy -> Q; never samples an action. ``inverse_temperature = 0`` is Gaussian BC.

The Gaussian policy's mean is max_action * tanh(MLP(s)) and its log-std a state-independent
parameter clipped to [log_std_min, log_std_max] (IQL's policy for offline training).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor, nn
from torch.func import grad_and_value

from edp_ref.algorithms.batch import Batch
from edp_ref.algorithms.common import Params, apply_gradients, masked_polyak, seeded_from
from edp_ref.algorithms.config import (
    GaussianCRRConfig,
    GaussianIQLConfig,
    NetworkConfig,
    TD3BCConfig,
)
from edp_ref.algorithms.critic import expectile_loss, min_q, td_critic_step
from edp_ref.algorithms.execution import Metrics, run_update
from edp_ref.algorithms.state import TrainState, advance_state, build_state
from edp_ref.core.networks import QNetwork, ValueNetwork, mlp, official_init_

__all__ = [
    "DeterministicPolicyNetwork",
    "GaussianCRRRandomness",
    "GaussianPolicyNetwork",
    "TD3BCRandomness",
    "draw_gaussian_crr_randomness",
    "draw_td3bc_randomness",
    "feedforward_actions",
    "gaussian_crr_update",
    "gaussian_iql_update",
    "gaussian_log_prob",
    "init_gaussian_crr",
    "init_gaussian_iql",
    "init_td3bc",
    "td3bc_update",
]


class DeterministicPolicyNetwork(nn.Module):
    """pi(s) = max_action * tanh(MLP(s)), TD3+BC's actor (3 x 256 Mish as every network here)."""

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        network: NetworkConfig,
        max_action: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.max_action = max_action
        self.body = mlp(state_dim, action_dim, network.hidden, network.layers)
        if network.init == "official":
            official_init_(self, generator)

    def forward(self, state: Float[Tensor, "*batch state"]) -> Float[Tensor, "*batch action"]:
        return self.max_action * torch.tanh(self.body(state))


class GaussianPolicyNetwork(nn.Module):
    """N(max_action * tanh(MLP(s)), diag(exp(2 log_std))) with a state-independent log-std."""

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        network: NetworkConfig,
        max_action: float = 1.0,
        log_std_min: float = -5.0,
        log_std_max: float = 2.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.max_action = max_action
        self.log_std_min = log_std_min
        self.log_std_max = log_std_max
        self.body = mlp(state_dim, action_dim, network.hidden, network.layers)
        self.log_std = nn.Parameter(torch.zeros(action_dim))
        if network.init == "official":
            official_init_(self, generator)

    def forward(
        self, state: Float[Tensor, "*batch state"]
    ) -> tuple[Float[Tensor, "*batch action"], Float[Tensor, "*batch action"]]:
        mean = self.max_action * torch.tanh(self.body(state))
        log_std = torch.clamp(self.log_std, self.log_std_min, self.log_std_max)
        return mean, log_std.expand_as(mean)


def gaussian_log_prob(
    actions: Float[Tensor, "*batch action"],
    mean: Float[Tensor, "*batch action"],
    log_std: Float[Tensor, "*batch action"],
) -> Float[Tensor, "*batch"]:
    """log N(a; mean, diag(exp(log_std)^2)), summed over action dimensions."""
    z = (actions - mean) * torch.exp(-log_std)
    return (-0.5 * z.square() - log_std - 0.5 * math.log(2.0 * math.pi)).sum(dim=-1)


def _critics(
    state_dim: int, action_dim: int, network: NetworkConfig, generator: torch.Generator
) -> dict[str, nn.Module]:
    return {
        "q1": QNetwork(
            state_dim, action_dim, network.hidden, network.layers, network.init, generator
        ),
        "q2": QNetwork(
            state_dim, action_dim, network.hidden, network.layers, network.init, generator
        ),
    }


# --------------------------------------------------------------------------------------------
# TD3+BC
# --------------------------------------------------------------------------------------------


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
            **_critics(state_dim, action_dim, config.network, generator),
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
    new_q1, new_q2, opt_q1, opt_q2, critic_metrics = td_critic_step(
        state, batch, next_q, config.optimizer, config.targets.discount
    )

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
    tau = config.targets.critic_tau
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


# --------------------------------------------------------------------------------------------
# Gaussian CRR
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GaussianCRRRandomness:
    """Randomness of one Gaussian CRR update.

    Attributes:
        next_action_noise: N(0, I) ``[B, A]`` for a' ~ pi(. | s') (reparameterised).
        baseline_noise: N(0, I) ``[N, B, A]`` for the baseline's a_j ~ pi(. | s).
    """

    next_action_noise: Float[Tensor, "batch action"]
    baseline_noise: Float[Tensor, "samples batch action"]


def draw_gaussian_crr_randomness(
    config: GaussianCRRConfig,
    batch_size: int,
    action_dim: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> GaussianCRRRandomness:
    """Draw one Gaussian CRR update's randomness from ``generator``."""
    nxt = torch.randn(
        (batch_size, action_dim), generator=generator, device=generator.device, dtype=dtype
    )
    base = torch.randn(
        (config.num_baseline_samples, batch_size, action_dim),
        generator=generator,
        device=generator.device,
        dtype=dtype,
    )
    return GaussianCRRRandomness(nxt.to(device), base.to(device))


def _gaussian_state(
    config: GaussianCRRConfig | GaussianIQLConfig,
    state_dim: int,
    action_dim: int,
    generator: torch.Generator,
    device: torch.device | str,
    dtype: torch.dtype,
    with_value: bool,
) -> TrainState:
    net = config.network
    with seeded_from(generator):
        modules: dict[str, nn.Module] = {
            "policy": GaussianPolicyNetwork(
                state_dim,
                action_dim,
                net,
                config.max_action,
                config.log_std_min,
                config.log_std_max,
                generator,
            ),
            **_critics(state_dim, action_dim, net, generator),
        }
        if with_value:
            modules["value"] = ValueNetwork(state_dim, net.hidden, net.layers, net.init, generator)
    return build_state(modules, ("q1", "q2"), None, device, dtype)


def init_gaussian_crr(
    config: GaussianCRRConfig,
    state_dim: int,
    action_dim: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> TrainState:
    """A fresh Gaussian CRR state: Gaussian policy, Q1, Q2, target critics, Adam states."""
    return _gaussian_state(config, state_dim, action_dim, generator, device, dtype, False)


def _gaussian_crr_core(
    state: TrainState, batch: Batch, randomness: GaussianCRRRandomness, config: GaussianCRRConfig
) -> tuple[TrainState, Metrics]:
    nets = state.networks
    P, T = state.params, state.target_params
    s, a = batch.observations, batch.actions
    bound = config.max_action

    with torch.no_grad():
        mean_n, log_std_n = nets.policy_output(P["policy"], batch.next_observations)
        next_actions = (mean_n + torch.exp(log_std_n) * randomness.next_action_noise).clamp(
            -bound, bound
        )
        next_q = min_q(nets, T["q1"], T["q2"], batch.next_observations, next_actions)
        # Advantage (Eq. 20 with Eq. 21's baseline) from the pre-update policy and critics.
        mean_s, log_std_s = nets.policy_output(P["policy"], s)
        samples = (mean_s[None] + torch.exp(log_std_s)[None] * randomness.baseline_noise).clamp(
            -bound, bound
        )
        s_rep = s[None].expand(samples.shape[0], -1, -1)
        advantage = min_q(nets, P["q1"], P["q2"], s, a) - min_q(
            nets, P["q1"], P["q2"], s_rep, samples
        ).mean(dim=0)
        weights = torch.exp(advantage / config.temperature)
        if config.weight_cap is not None:
            weights = torch.clamp(weights, max=config.weight_cap)
    new_q1, new_q2, opt_q1, opt_q2, critic_metrics = td_critic_step(
        state, batch, next_q, config.optimizer, config.targets.discount
    )

    def policy_loss(pp: Params) -> tuple[Tensor, Tensor]:
        mean, log_std = nets.policy_output(pp, s)
        log_prob = gaussian_log_prob(a, mean, log_std)
        return -(weights * log_prob).mean(), log_prob.mean().detach()

    grads, (p_loss, log_prob) = grad_and_value(policy_loss, has_aux=True)(P["policy"])
    new_policy, opt_policy, policy_norm = apply_gradients(
        P["policy"], grads, state.optimizers["policy"], config.optimizer
    )
    new_state = advance_state(
        state,
        {"policy": new_policy, "q1": new_q1, "q2": new_q2},
        {"policy": opt_policy, "q1": opt_q1, "q2": opt_q2},
        config.targets.critic_tau,
    )
    metrics: Metrics = {
        **critic_metrics,
        "policy_loss": p_loss.detach(),
        "log_prob": log_prob,
        "advantage_mean": advantage.mean(),
        "weight_mean": weights.mean(),
        "policy_grad_norm": policy_norm,
    }
    return new_state, metrics


def gaussian_crr_update(
    state: TrainState,
    batch: Batch,
    randomness: GaussianCRRRandomness,
    config: GaussianCRRConfig,
) -> tuple[TrainState, Metrics]:
    """One CRR update with a Gaussian MLP policy (Eq. 20).

    Raises:
        ValueError: naming the tensor if the batch holds NaN or inf.
    """
    return run_update(_gaussian_crr_core, state, batch, randomness, config, "gaussian_crr_update")


# --------------------------------------------------------------------------------------------
# Gaussian IQL
# --------------------------------------------------------------------------------------------


def init_gaussian_iql(
    config: GaussianIQLConfig,
    state_dim: int,
    action_dim: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> TrainState:
    """A fresh Gaussian IQL state: Gaussian policy, Q1, Q2, V, target critics, Adam states."""
    return _gaussian_state(config, state_dim, action_dim, generator, device, dtype, True)


def _gaussian_iql_core(
    state: TrainState, batch: Batch, randomness: None, config: GaussianIQLConfig
) -> tuple[TrainState, Metrics]:
    nets = state.networks
    P, T = state.params, state.target_params
    s, a = batch.observations, batch.actions

    with torch.no_grad():
        q_target = min_q(nets, T["q1"], T["q2"], s, a)

    def value_loss(vp: Params) -> Tensor:
        return expectile_loss(q_target - nets.state_value(vp, s), config.expectile)

    v_grads, v_loss = grad_and_value(value_loss)(P["value"])
    new_value, opt_value, value_norm = apply_gradients(
        P["value"], v_grads, state.optimizers["value"], config.optimizer
    )
    with torch.no_grad():
        advantage = q_target - nets.state_value(new_value, s)
        weights = torch.exp(config.inverse_temperature * advantage)
        if config.weight_cap is not None:
            weights = torch.clamp(weights, max=config.weight_cap)

    def policy_loss(pp: Params) -> tuple[Tensor, Tensor]:
        mean, log_std = nets.policy_output(pp, s)
        log_prob = gaussian_log_prob(a, mean, log_std)
        return -(weights * log_prob).mean(), log_prob.mean().detach()

    grads, (p_loss, log_prob) = grad_and_value(policy_loss, has_aux=True)(P["policy"])
    new_policy, opt_policy, policy_norm = apply_gradients(
        P["policy"], grads, state.optimizers["policy"], config.optimizer
    )
    with torch.no_grad():
        next_v = nets.state_value(new_value, batch.next_observations)
    new_q1, new_q2, opt_q1, opt_q2, critic_metrics = td_critic_step(
        state, batch, next_v, config.optimizer, config.targets.discount
    )
    new_state = advance_state(
        state,
        {"policy": new_policy, "q1": new_q1, "q2": new_q2, "value": new_value},
        {"policy": opt_policy, "q1": opt_q1, "q2": opt_q2, "value": opt_value},
        config.targets.critic_tau,
    )
    metrics: Metrics = {
        **critic_metrics,
        "value_loss": v_loss.detach(),
        "value_grad_norm": value_norm,
        "advantage_mean": advantage.mean(),
        "weight_mean": weights.mean(),
        "policy_loss": p_loss.detach(),
        "log_prob": log_prob,
        "policy_grad_norm": policy_norm,
    }
    return new_state, metrics


def gaussian_iql_update(
    state: TrainState, batch: Batch, randomness: None, config: GaussianIQLConfig
) -> tuple[TrainState, Metrics]:
    """One IQL update with a Gaussian MLP policy (Eq. 22).

    The update is deterministic (IQL never samples), so ``randomness`` is ``None``; the argument
    keeps the common ``update(state, batch, randomness, config)`` signature.

    Raises:
        ValueError: naming the tensor if the batch holds NaN or inf.
    """
    return run_update(_gaussian_iql_core, state, batch, randomness, config, "gaussian_iql_update")


def feedforward_actions(
    state: TrainState, observations: Float[Tensor, "batch state"]
) -> Float[Tensor, "batch action"]:
    """Evaluation actions of a feed-forward agent: the deterministic actor's output, or the
    Gaussian policy's mean (the usual deterministic evaluation of Gaussian policies)."""
    with torch.no_grad():
        out = state.networks.policy_output(state.params["policy"], observations)
    if isinstance(out, tuple):
        mean: Tensor = out[0]
        return mean
    action: Tensor = out
    return action
