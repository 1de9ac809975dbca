"""Policy improvement of a diffusion policy: the likelihood-based loss of EDP + CRR and EDP + IQL
(Eq. 11) and the policy step every update shares (Algorithm 1's policy update).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from jaxtyping import Float
from torch import Tensor
from torch.func import grad_and_value

from edp_ref.algorithms.config import DiffusionAlgorithmConfig, OptimizerConfig
from edp_ref.algorithms.diffusion_policy import diffusion_terms
from edp_ref.algorithms.execution import Metrics
from edp_ref.algorithms.optim import AdamState, Params, apply_gradients
from edp_ref.algorithms.randomness import DiffusionNoise
from edp_ref.algorithms.state import TrainState
from edp_ref.config_checks import check_at_least
from edp_ref.core.losses import (
    ElboVariant,
    SurrogateForm,
    diffusion_loss,
    elbo_weighted_loss,
    gaussian_surrogate_loss,
)
from edp_ref.data.batch import Batch

__all__ = [
    "PolicyObjective",
    "WeightedRegressionConfig",
    "policy_step",
    "weighted_regression_loss",
]

PolicyObjective = Literal["gaussian_surrogate", "elbo"]


@dataclass(frozen=True)
class WeightedRegressionConfig(DiffusionAlgorithmConfig):
    """Likelihood-based policy improvement (Eq. 11) of EDP + CRR and EDP + IQL."""

    # Weight of the weighted-regression term (Table 3's loss weight).
    loss_weight: float = 1.0
    # Weight of L_diff in the policy loss (official diff_coef: 1.0).
    diffusion_weight: float = 1.0
    # "gaussian_surrogate" (Eq. 13, paper default) or "elbo" (Eq. 12).
    policy_objective: PolicyObjective = "gaussian_surrogate"
    # Eq. 13's form: "squared_error" (as printed) or "negative_log_likelihood" (official:
    # -log N(a; a_hat0, I), half the gradient).
    surrogate_form: SurrogateForm = "squared_error"
    # Eq. 12's weights: "paper" or "official" (normalized, alpha_bar^k in the denominator).
    elbo_variant: ElboVariant = "paper"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_at_least(self, 0.0, "loss_weight", "diffusion_weight")


#: ``weights_of(a0_hat) -> (f [B], metrics)``: the weights of Eq. 11 given the approximated
#: action (detached; EDP + CRR samples its baseline around it, EDP + IQL ignores it).
WeightsFn = Callable[[Tensor], tuple[Tensor, Metrics]]


def weighted_regression_loss(
    state: TrainState,
    policy_params: Params,
    batch: Batch,
    noise: DiffusionNoise,
    config: WeightedRegressionConfig,
    weights_of: WeightsFn,
) -> tuple[Float[Tensor, ""], Metrics]:
    """The whole policy loss of EDP + CRR / IQL and its metrics: diffusion_weight * L_diff (Eq. 5)
    + loss_weight * Eq. 11, realised by the Gaussian surrogate of Eq. 13 or the ELBO-weighted loss
    of Eq. 12, from one forward pass of the noise network (Eqs. 8-9), with the algorithm's weights
    f (``weights_of``) computed without gradient."""
    nets = state.networks
    dc = config.diffusion
    s, a = batch.observations, batch.actions
    eps_hat, a0_hat = diffusion_terms(nets, policy_params, s, a, noise, dc)
    l_diff = diffusion_loss(noise.noise, eps_hat, dc.action_reduction)
    with torch.no_grad():
        weights, weight_metrics = weights_of(a0_hat.detach())
    if config.policy_objective == "gaussian_surrogate":  # Eq. 13
        guide = gaussian_surrogate_loss(a, a0_hat, weights, config.surrogate_form)
    else:  # Eq. 12
        schedule = nets.require_schedule()
        guide = elbo_weighted_loss(
            schedule,
            noise.timesteps,
            noise.noise,
            eps_hat,
            weights,
            config.elbo_variant,
            dc.action_reduction,
        )
    total = config.diffusion_weight * l_diff + config.loss_weight * guide
    return total, {
        "diffusion_loss": l_diff.detach(),
        "guide_loss": guide.detach(),
        **weight_metrics,
    }


def policy_step(
    state: TrainState,
    loss_fn: Callable[[Params], tuple[Tensor, Metrics]],
    optimizer: OptimizerConfig,
) -> tuple[Params, AdamState, Metrics]:
    """The gradient of ``loss_fn`` at the online policy and one clipped Adam step: the new policy
    parameters, Adam state and metrics (``policy_loss``, the loss function's own metrics and
    ``policy_grad_norm`` before clipping)."""
    grads, (loss, aux) = grad_and_value(loss_fn, has_aux=True)(state.params["policy"])
    new_policy, new_optimizer, norm = apply_gradients(
        state.params["policy"], grads, state.optimizers["policy"], optimizer
    )
    return (
        new_policy,
        new_optimizer,
        {"policy_loss": loss.detach(), **aux, "policy_grad_norm": norm},
    )
