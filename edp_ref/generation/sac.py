"""Soft actor-critic (Haarnoja et al., 2018): the behaviour policy of the D4RL protocol
(:mod:`edp_ref.generation.protocol`).

Built on the project's own MLP (``edp_ref.core.networks.mlp`` / ``QNetwork``): 2 hidden layers as
D4RL's policies (fc0, fc1, last_fc in Farama-Foundation/D4RL,
scripts/generation/mujoco/collect_data.py), 256 wide by default, but Mish where D4RL's policies
used ReLU (their stored ``metadata/policy/nonlinearity``). Actions live in [-1, 1]
(tanh-squashed Gaussian); ``generation`` maps them to the environment's bounds. All randomness
comes from one explicit ``torch.Generator``.

The update does no work which does not reach a number: the actor's loss is differentiated
through the critics with their parameters frozen (it needs dQ/da, not the critics' weight
gradients; Spinning Up's SAC does the same), Adam and the Polyak averaging run as multi-tensor
(``foreach``) kernels, the same arithmetic for each tensor as the default per-tensor loop, and
acting skips the log-probability. The generated data are thus byte-identical to those of the
plain update (``tests/test_generation.py`` pins their digests). ``torch.compile`` is not used:
its fused kernels round differently (inductor's vectorised ``exp`` is not ATen's), and so would
the data.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor, nn

from edp_ref.core.networks import QNetwork, mlp

__all__ = ["SAC", "SquashedGaussianActor"]

_LOG_STD_MIN, _LOG_STD_MAX = -20.0, 2.0


@contextmanager
def _frozen(params: Sequence[Tensor]) -> Iterator[None]:
    """Inside the block, graphs built from ``params`` carry no gradient to them."""
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


class SquashedGaussianActor(nn.Module):
    """pi(a|s) = tanh(N(mu(s), sigma(s)^2)): an MLP outputs mu and log sigma."""

    def __init__(self, state_dim: int, action_dim: int, hidden: int = 256, layers: int = 2) -> None:
        super().__init__()
        self.action_dim = action_dim
        self.body = mlp(state_dim, 2 * action_dim, hidden, layers)

    def sample(
        self,
        obs: Float[Tensor, "batch state"],
        generator: torch.Generator | None = None,
        deterministic: bool = False,
    ) -> tuple[Float[Tensor, "batch action"], ...]:
        """u ~ N(mu(s), sigma(s)^2) before the tanh (u = mu if ``deterministic``), mu(s), log
        sigma(s) clamped to [-20, 2], and sigma(s)."""
        mu, log_std = self.body(obs).chunk(2, dim=-1)
        log_std = log_std.clamp(_LOG_STD_MIN, _LOG_STD_MAX)
        std = log_std.exp()
        if deterministic:
            return mu, mu, log_std, std
        noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + std * noise, mu, log_std, std

    def forward(
        self,
        obs: Float[Tensor, "batch state"],
        generator: torch.Generator | None = None,
        deterministic: bool = False,
    ) -> tuple[Float[Tensor, "batch action"], Float[Tensor, " batch"]]:
        """An action in [-1, 1] and its log-probability (tanh change of variables)."""
        u, mu, log_std, std = self.sample(obs, generator, deterministic)
        log_prob = (-0.5 * ((u - mu) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        # log(1 - tanh(u)^2), written stably.
        log_prob = log_prob - (2 * (math.log(2) - u - nn.functional.softplus(-2 * u))).sum(-1)
        return torch.tanh(u), log_prob

    def action(
        self,
        obs: Float[Tensor, "batch state"],
        generator: torch.Generator | None = None,
        deterministic: bool = False,
    ) -> Float[Tensor, "batch action"]:
        """The action of :meth:`forward`, from the same draws, without its log-probability (for
        acting: training, evaluations, collection)."""
        return torch.tanh(self.sample(obs, generator, deterministic)[0])


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
        self.critic_params: list[Tensor] = [*self.q1.parameters(), *self.q2.parameters()]
        self.target_params: list[Tensor] = [
            *self.q1_target.parameters(),
            *self.q2_target.parameters(),
        ]
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=lr, foreach=True)
        self.critic_opt = torch.optim.Adam(self.critic_params, lr=lr, foreach=True)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=lr, foreach=True)

    @torch.no_grad()
    def act(
        self, obs: Float[Tensor, "batch state"], deterministic: bool = False
    ) -> Float[Tensor, "batch action"]:
        """Actions in [-1, 1] for a batch of observations."""
        return self.actor.action(obs, self.generator, deterministic)

    def update(
        self,
        obs: Float[Tensor, "batch state"],
        actions: Float[Tensor, "batch action"],
        rewards: Float[Tensor, " batch"],
        next_obs: Float[Tensor, "batch state"],
        terminals: Float[Tensor, " batch"],
    ) -> None:
        """One SAC step: the critics, then the actor and the temperature, then the targets."""
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

        with _frozen(self.critic_params):  # the actor's loss needs only dQ/da
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
            torch._foreach_lerp_(self.target_params, self.critic_params, self.tau)

    #: The networks and optimisers a checkpoint holds, by attribute.
    _MODULES = ("actor", "q1", "q2", "q1_target", "q2_target")
    _OPTIMISERS = ("actor_opt", "critic_opt", "alpha_opt")

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume (tensors only: loadable with weights_only=True)."""
        return {
            **{k: getattr(self, k).state_dict() for k in self._MODULES},
            "log_alpha": self.log_alpha.detach().clone(),
            **{k: getattr(self, k).state_dict() for k in self._OPTIMISERS},
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in self._MODULES:
            getattr(self, name).load_state_dict(state[name])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        for name in self._OPTIMISERS:
            opt: torch.optim.Optimizer = getattr(self, name)
            opt.load_state_dict(state[name])
            for group in opt.param_groups:  # a checkpoint's own setting (older ones: None)
                group["foreach"] = True
        self.generator.set_state(state["generator"])
