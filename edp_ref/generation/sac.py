"""Soft actor-critic (Haarnoja et al., 2018): the behaviour policy of the D4RL protocol.

D4RL (Fu et al., 2020) built its Gym-MuJoCo datasets from SAC agents trained online: "medium"
from a policy stopped at about a third of expert return, "expert" from the trained policy,
"medium-replay" from the replay buffer until medium (Farama-Foundation/D4RL,
scripts/generation/mujoco/). ``edp_ref.generation`` reproduces that protocol on Gymnasium v5 with
this SAC, built on the project's own MLP (``edp_ref.core.networks.mlp`` / ``QNetwork``): 2 hidden
layers as D4RL's policies (fc0, fc1, last_fc in collect_data.py there), 256 wide by default, but
Mish where D4RL's policies used ReLU (their stored ``metadata/policy/nonlinearity``). Actions
live in [-1, 1] (tanh-squashed Gaussian); ``generation`` maps them to the environment's bounds.
All randomness comes from one explicit ``torch.Generator``.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor, nn

from edp_ref.core.networks import QNetwork, mlp

__all__ = ["SAC", "SquashedGaussianActor"]

_LOG_STD_MIN, _LOG_STD_MAX = -20.0, 2.0


class SquashedGaussianActor(nn.Module):
    """pi(a|s) = tanh(N(mu(s), sigma(s)^2)): an MLP outputs mu and log sigma."""

    def __init__(self, state_dim: int, action_dim: int, hidden: int = 256, layers: int = 2) -> None:
        super().__init__()
        self.action_dim = action_dim
        self.body = mlp(state_dim, 2 * action_dim, hidden, layers)

    def forward(
        self,
        obs: Float[Tensor, "batch state"],
        generator: torch.Generator | None = None,
        deterministic: bool = False,
    ) -> tuple[Float[Tensor, "batch action"], Float[Tensor, " batch"]]:
        """An action in [-1, 1] and its log-probability (tanh change of variables)."""
        mu, log_std = self.body(obs).chunk(2, dim=-1)
        log_std = log_std.clamp(_LOG_STD_MIN, _LOG_STD_MAX)
        std = log_std.exp()
        if deterministic:
            u = mu
        else:
            noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            u = mu + std * noise
        log_prob = (-0.5 * ((u - mu) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        # log(1 - tanh(u)^2), written stably.
        log_prob = log_prob - (2 * (math.log(2) - u - nn.functional.softplus(-2 * u))).sum(-1)
        return torch.tanh(u), log_prob


class SAC:
    """SAC with twin Q networks, Polyak targets and a learned temperature (target entropy -A).

    ``update(obs, actions, rewards, next_obs, terminals)`` does one gradient step of the critics,
    the actor and the temperature; ``act`` samples actions for a batch of observations.
    """

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        *,
        generator: torch.Generator,
        hidden: int = 256,
        layers: int = 2,
        lr: float = 3e-4,
        gamma: float = 0.99,
        tau: float = 0.005,
    ) -> None:
        self.gamma, self.tau = gamma, tau
        self.generator = generator
        torch_state = torch.random.get_rng_state()
        torch.manual_seed(int(torch.randint(2**31 - 1, (1,), generator=generator)))
        try:  # PyTorch's default Linear init draws from the global RNG: seed it from ours.
            self.actor = SquashedGaussianActor(state_dim, action_dim, hidden, layers)
            self.q1 = QNetwork(state_dim, action_dim, hidden, layers, init="torch")
            self.q2 = QNetwork(state_dim, action_dim, hidden, layers, init="torch")
        finally:
            torch.random.set_rng_state(torch_state)
        self.q1_target = copy.deepcopy(self.q1).requires_grad_(False)
        self.q2_target = copy.deepcopy(self.q2).requires_grad_(False)
        self.log_alpha = torch.zeros((), requires_grad=True)
        self.target_entropy = -float(action_dim)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=lr)
        self.critic_opt = torch.optim.Adam([*self.q1.parameters(), *self.q2.parameters()], lr=lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=lr)

    @torch.no_grad()
    def act(
        self, obs: Float[Tensor, "batch state"], deterministic: bool = False
    ) -> Float[Tensor, "batch action"]:
        """Actions in [-1, 1] for a batch of observations."""
        action: Tensor = self.actor(obs, self.generator, deterministic)[0]
        return action

    def update(
        self,
        obs: Float[Tensor, "batch state"],
        actions: Float[Tensor, "batch action"],
        rewards: Float[Tensor, " batch"],
        next_obs: Float[Tensor, "batch state"],
        terminals: Float[Tensor, " batch"],
    ) -> dict[str, float]:
        """One SAC step; returns the losses."""
        alpha = self.log_alpha.exp().detach()
        with torch.no_grad():
            next_a, next_logp = self.actor(next_obs, self.generator)
            q_next = torch.min(self.q1_target(next_obs, next_a), self.q2_target(next_obs, next_a))
            target = rewards + self.gamma * (1 - terminals) * (q_next - alpha * next_logp)
        critic_loss = ((self.q1(obs, actions) - target) ** 2).mean() + (
            (self.q2(obs, actions) - target) ** 2
        ).mean()
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()

        new_a, logp = self.actor(obs, self.generator)
        q_new = torch.min(self.q1(obs, new_a), self.q2(obs, new_a))
        actor_loss = (alpha * logp - q_new).mean()
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_opt.step()

        alpha_loss = -(self.log_alpha * (logp.detach() + self.target_entropy)).mean()
        self.alpha_opt.zero_grad(set_to_none=True)
        alpha_loss.backward()
        self.alpha_opt.step()

        with torch.no_grad():
            for net, tgt in ((self.q1, self.q1_target), (self.q2, self.q2_target)):
                for p, tp in zip(net.parameters(), tgt.parameters(), strict=True):
                    tp.lerp_(p, self.tau)
        return {
            "critic_loss": float(critic_loss.detach()),
            "actor_loss": float(actor_loss.detach()),
            "alpha": float(alpha),
        }

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume (tensors only: loadable with weights_only=True)."""
        return {
            "actor": self.actor.state_dict(),
            "q1": self.q1.state_dict(),
            "q2": self.q2.state_dict(),
            "q1_target": self.q1_target.state_dict(),
            "q2_target": self.q2_target.state_dict(),
            "log_alpha": self.log_alpha.detach().clone(),
            "actor_opt": self.actor_opt.state_dict(),
            "critic_opt": self.critic_opt.state_dict(),
            "alpha_opt": self.alpha_opt.state_dict(),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.q1.load_state_dict(state["q1"])
        self.q2.load_state_dict(state["q2"])
        self.q1_target.load_state_dict(state["q1_target"])
        self.q2_target.load_state_dict(state["q2_target"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.alpha_opt.load_state_dict(state["alpha_opt"])
        self.generator.set_state(state["generator"])
