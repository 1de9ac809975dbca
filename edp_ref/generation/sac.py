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

The update is eager PyTorch that does no work which does not reach a number: the actor's loss
is differentiated through the critics with their parameters frozen (it needs dQ/da, not the
critics' weight gradients; Spinning Up's SAC does the same), Adam and the Polyak averaging run as
multi-tensor (``foreach``) kernels, and acting skips the log-probability. None of this changes
the arithmetic of a single number, so the generated data are byte-identical to those of the
plain update (``tests/test_generation.py`` pins their digests). ``torch.compile`` is not used:
its fused kernels round differently (inductor's vectorised ``exp`` is not ATen's), and so would
the data.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor, nn

from edp_ref.core.networks import QNetwork, mlp

__all__ = ["SAC", "SquashedGaussianActor"]

_LOG_STD_MIN, _LOG_STD_MAX = -20.0, 2.0


def _standard_normal(like: Tensor, generator: torch.Generator | None) -> Tensor:
    """N(0, 1) noise shaped like ``like``, drawn from ``generator``."""
    return torch.randn(like.shape, generator=generator, device=like.device, dtype=like.dtype)


def _adam(params: Iterable[Tensor], lr: float) -> torch.optim.Adam:
    """Adam with its multi-tensor (foreach) kernels: on CPU the same arithmetic as the default
    per-tensor loop (the same ATen kernel for each tensor), from fewer Python calls."""
    return torch.optim.Adam(params, lr=lr, foreach=True)


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

    def forward(
        self,
        obs: Float[Tensor, "batch state"],
        generator: torch.Generator | None = None,
        deterministic: bool = False,
    ) -> tuple[Float[Tensor, "batch action"], Float[Tensor, " batch"]]:
        """An action in [-1, 1] and its log-probability (tanh change of variables)."""
        mu, log_std = self.gaussian(obs)
        std = log_std.exp()
        u = mu if deterministic else mu + std * _standard_normal(mu, generator)
        log_prob = (-0.5 * ((u - mu) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        # log(1 - tanh(u)^2), written stably.
        log_prob = log_prob - (2 * (math.log(2) - u - nn.functional.softplus(-2 * u))).sum(-1)
        return torch.tanh(u), log_prob

    def gaussian(
        self, obs: Float[Tensor, "batch state"]
    ) -> tuple[Float[Tensor, "batch action"], Float[Tensor, "batch action"]]:
        """mu(s) and log sigma(s), the latter clamped to [-20, 2]."""
        mu, log_std = self.body(obs).chunk(2, dim=-1)
        return mu, log_std.clamp(_LOG_STD_MIN, _LOG_STD_MAX)

    def action(
        self,
        obs: Float[Tensor, "batch state"],
        generator: torch.Generator | None = None,
        deterministic: bool = False,
    ) -> Float[Tensor, "batch action"]:
        """The action of :meth:`forward`, from the same draws, without its log-probability (for
        acting: training, evaluations, collection)."""
        mu, log_std = self.gaussian(obs)
        if deterministic:
            return torch.tanh(mu)
        return torch.tanh(mu + log_std.exp() * _standard_normal(mu, generator))


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
        self.actor_opt = _adam(self.actor.parameters(), lr)
        self.critic_opt = _adam(self.critic_params, lr)
        self.alpha_opt = _adam([self.log_alpha], lr)

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
        for name in ("actor_opt", "critic_opt", "alpha_opt"):
            opt: torch.optim.Optimizer = getattr(self, name)
            opt.load_state_dict(state[name])
            for group in opt.param_groups:  # a checkpoint's own setting (older ones: None)
                group["foreach"] = True
        self.generator.set_state(state["generator"])
