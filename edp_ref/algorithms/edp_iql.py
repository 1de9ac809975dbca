"""EDP + IQL (Sec. 4.3, Appendix A.3): in-sample policy evaluation and weighted regression.

One update, with t = state.step + 1, in the official order V -> policy -> Q:

1. Value (Eq. 22, first line, with App. A.3's double Q): V minimises
   mean |tau - 1(x < 0)| x^2, x = min(Q1', Q2')(s, a) - V(s), with the *target* critics.
2. Policy: weights f = min(exp(inverse_temperature (min(Q1', Q2')(s, a) - V_new(s))), cap)
   (paper: temperature 1; official: multiplier 3.0, cap 100), stop-gradient; loss
   diffusion_weight * L_diff + loss_weight * weighted Eq. 13 (or Eq. 12).
3. Critics (Eq. 22, second line): y = r + (1 - d) gamma V_new(s'), sum_i mean (Q_i - y)^2.
4. Critic targets every update; EMA policy on its schedule.

No action is ever sampled from the policy during training: the noise network runs exactly once
per update (for L_diff and a_hat0 together).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.func import grad_and_value

from edp_ref.algorithms.batch import Batch
from edp_ref.algorithms.common import Params, apply_gradients
from edp_ref.algorithms.config import EDPIQLConfig
from edp_ref.algorithms.critic import expectile_loss, min_q, td_critic_step
from edp_ref.algorithms.diffusion_policy import (
    DiffusionNoise,
    diffusion_terms,
    draw_diffusion_noise,
    init_diffusion_agent,
)
from edp_ref.algorithms.diffusion_steps import finish_diffusion_update
from edp_ref.algorithms.edp_crr import policy_improvement_loss
from edp_ref.algorithms.execution import Metrics, run_update
from edp_ref.algorithms.state import TrainState
from edp_ref.core.losses import diffusion_loss

__all__ = [
    "IQLRandomness",
    "draw_iql_randomness",
    "edp_iql_update",
    "init_edp_iql",
]


@dataclass(frozen=True, eq=False)
class IQLRandomness:
    """All randomness of one EDP + IQL update: k and eps of L_diff (nothing is sampled).

    Attributes:
        diffusion: k and eps of L_diff and action approximation.
    """

    diffusion: DiffusionNoise


def draw_iql_randomness(
    config: EDPIQLConfig,
    batch_size: int,
    action_dim: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> IQLRandomness:
    """Draw one update's randomness from ``generator`` (then move it to ``device``)."""
    return IQLRandomness(
        draw_diffusion_noise(
            config.diffusion.num_steps, batch_size, action_dim, generator, device, dtype
        )
    )


def init_edp_iql(
    config: EDPIQLConfig,
    state_dim: int,
    action_dim: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> TrainState:
    """A fresh EDP + IQL state: policy, EMA policy, Q1, Q2, V, targets, Adam states."""
    return init_diffusion_agent(
        config.network,
        config.diffusion,
        state_dim,
        action_dim,
        generator,
        device,
        dtype,
        with_value=True,
    )


def _edp_iql_core(
    state: TrainState, batch: Batch, randomness: IQLRandomness, config: EDPIQLConfig
) -> tuple[TrainState, Metrics]:
    nets = state.networks
    P, T = state.params, state.target_params
    dc = config.diffusion
    s, a = batch.observations, batch.actions

    with torch.no_grad():
        q_target = min_q(nets, T["q1"], T["q2"], s, a)

    # 1. Value: expectile regression on the target critics' min (Eq. 22).
    def value_loss(vp: Params) -> tuple[Tensor, Tensor]:
        v = nets.state_value(vp, s)
        return expectile_loss(q_target - v, config.expectile), v.mean().detach()

    v_grads, (v_loss, v_mean) = grad_and_value(value_loss, has_aux=True)(P["value"])
    new_value, opt_value, value_norm = apply_gradients(
        P["value"], v_grads, state.optimizers["value"], config.optimizer
    )

    # 2. Policy: weights from the updated V (App. A.3).
    with torch.no_grad():
        advantage = q_target - nets.state_value(new_value, s)
        weights = torch.exp(config.inverse_temperature * advantage)
        if config.weight_cap is not None:
            weights = torch.clamp(weights, max=config.weight_cap)

    def policy_loss(pp: Params) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        eps_hat, a0_hat = diffusion_terms(nets, pp, s, a, randomness.diffusion, dc)
        l_diff = diffusion_loss(randomness.diffusion.noise, eps_hat, dc.action_reduction)
        guide = policy_improvement_loss(
            config.policy_objective,
            config.surrogate_form,
            config.elbo_variant,
            state,
            a,
            a0_hat,
            eps_hat,
            randomness.diffusion,
            weights,
            dc.action_reduction,
        )
        total = config.diffusion_weight * l_diff + config.loss_weight * guide
        return total, (l_diff.detach(), guide.detach())

    grads, (p_loss, (l_diff, guide)) = grad_and_value(policy_loss, has_aux=True)(P["policy"])
    new_policy, opt_policy, policy_norm = apply_gradients(
        P["policy"], grads, state.optimizers["policy"], config.optimizer
    )

    # 3. Critics towards r + gamma V_new(s') (Eq. 22).
    with torch.no_grad():
        next_v = nets.state_value(new_value, batch.next_observations)
    new_q1, new_q2, opt_q1, opt_q2, critic_metrics = td_critic_step(
        state, batch, next_v, config.optimizer, config.targets.discount
    )

    # 4. Targets.
    metrics: Metrics = {
        **critic_metrics,
        "value_loss": v_loss.detach(),
        "value_mean": v_mean,
        "value_grad_norm": value_norm,
        "advantage_mean": advantage.mean(),
        "weight_mean": weights.mean(),
        "policy_loss": p_loss.detach(),
        "diffusion_loss": l_diff,
        "guide_loss": guide,
        "policy_grad_norm": policy_norm,
    }
    return finish_diffusion_update(
        state,
        {"policy": new_policy, "q1": new_q1, "q2": new_q2, "value": new_value},
        {"policy": opt_policy, "q1": opt_q1, "q2": opt_q2, "value": opt_value},
        config.targets,
        metrics,
        s.dtype,
    )


def edp_iql_update(
    state: TrainState, batch: Batch, randomness: IQLRandomness, config: EDPIQLConfig
) -> tuple[TrainState, Metrics]:
    """One EDP + IQL update (App. A.3): V, then the policy, then Q1 and Q2.

    Args:
        state: from :func:`init_edp_iql` or a previous update.
        batch: transitions on the state's device and dtype.
        randomness: from :func:`draw_iql_randomness`.
        config: an :class:`EDPIQLConfig`.

    Returns:
        The new state and scalar tensor metrics.

    Raises:
        ValueError: naming the tensor if the batch holds NaN or inf.
    """
    return run_update(_edp_iql_core, state, batch, randomness, config, "edp_iql_update")
