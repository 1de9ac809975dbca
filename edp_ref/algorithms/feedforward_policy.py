"""The feed-forward policies of Table 2's "FF" baselines (TD3+BC's deterministic actor, CRR's
and IQL's Gaussian policy) and what their updates share: the weighted-regression policy loss
(Eqs. 20, 22) and the evaluation action. Every network is 3 x 256 Mish (Sec. 5), as edp_ref's
diffusion agents, unless the config says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import torch
from jaxtyping import Float
from torch import Tensor, nn

from edp_ref.algorithms.config import AlgorithmConfig, NetworkConfig
from edp_ref.algorithms.optim import Params
from edp_ref.algorithms.state import Networks, TrainState
from edp_ref.config_checks import ConfigError, check_positive
from edp_ref.core.networks import mlp, official_init_
from edp_ref.core.rl import gaussian_log_prob

__all__ = [
    "DeterministicPolicyNetwork",
    "GaussianPolicyConfig",
    "GaussianPolicyNetwork",
    "feedforward_actions",
    "weighted_log_likelihood_loss",
]


@dataclass(frozen=True)
class GaussianPolicyConfig(AlgorithmConfig):
    """The Gaussian policy of the CRR and IQL baselines."""

    # Bounds of the state-independent log standard deviation (IQL: [-5, 2]).
    log_std_min: float = -5.0
    log_std_max: float = 2.0
    # Action bound: the mean is max_action * tanh(.) (and CRR's sampled actions are clipped).
    max_action: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(self, "max_action")
        if not self.log_std_min < self.log_std_max:
            raise ConfigError(
                f"{type(self).__name__}: log_std_min = {self.log_std_min} must be below "
                f"log_std_max = {self.log_std_max}"
            )


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
        self.body = mlp(state_dim, action_dim, network.hidden, network.layers, network.activation)
        if network.init == "official":
            official_init_(self, generator)

    def forward(self, state: Float[Tensor, "*batch state"]) -> Float[Tensor, "*batch action"]:
        return self.max_action * torch.tanh(self.body(state))


class GaussianPolicyNetwork(nn.Module):
    """N(max_action * tanh(MLP(s)), diag(exp(2 log_std))) with a state-independent log-std
    clipped to [log_std_min, log_std_max] (IQL's policy for offline training); its log-density
    is :func:`edp_ref.core.rl.gaussian_log_prob`."""

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
        self.body = mlp(state_dim, action_dim, network.hidden, network.layers, network.activation)
        self.log_std = nn.Parameter(torch.zeros(action_dim))
        if network.init == "official":
            official_init_(self, generator)

    def forward(
        self, state: Float[Tensor, "*batch state"]
    ) -> tuple[Float[Tensor, "*batch action"], Float[Tensor, "*batch action"]]:
        mean = self.max_action * torch.tanh(self.body(state))
        log_std = torch.clamp(self.log_std, self.log_std_min, self.log_std_max)
        return mean, log_std.expand_as(mean)


def weighted_log_likelihood_loss(
    networks: Networks,
    observations: Float[Tensor, "batch state"],
    actions: Float[Tensor, "batch action"],
    weights: Float[Tensor, " batch"],
) -> Callable[[Params], tuple[Tensor, dict[str, Tensor]]]:
    """The weighted-regression policy loss of the Gaussian baselines, -mean f log pi(a | s)
    (CRR, Eq. 20; IQL's AWR step, Eq. 22), as a function of the policy parameters; its aux
    metric is the mean log-likelihood."""

    def loss(policy_params: Params) -> tuple[Tensor, dict[str, Tensor]]:
        mean, log_std = networks.policy_output(policy_params, observations)
        log_prob = gaussian_log_prob(actions, mean, log_std)
        return -(weights * log_prob).mean(), {"log_prob": log_prob.mean().detach()}

    return loss


def feedforward_actions(
    state: TrainState, observations: Float[Tensor, "batch state"]
) -> Float[Tensor, "batch action"]:
    """Evaluation actions of a feed-forward agent: the deterministic actor's output, or the
    Gaussian policy's mean (the usual deterministic evaluation of Gaussian policies)."""
    with torch.no_grad():
        out = state.networks.policy_output(state.params["policy"], observations)
    return cast(Tensor, out[0] if isinstance(out, tuple) else out)
