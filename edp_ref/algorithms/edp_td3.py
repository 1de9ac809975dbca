"""EDP + TD3 (Sec. 4.2, Appendix A.1, Algorithm 1): the direct policy-optimisation update.

One update, with t = state.step + 1:

1. Policy evaluation (Eq. 6 with Eq. 14's clipped double-Q target): a' ~ pi(. | s') from the EMA
   policy (official; ``next_action_policy="online"`` for Eq. 6 as printed) with DPM-Solver (or
   DDPM), y = r + (1 - d) gamma min(Q1'(s', a'), Q2'(s', a')), loss sum_i mean (Q_i(s, a) - y)^2.
2. Policy improvement (Eqs. 5, 9, 10): corrupt the dataset action (Eq. 8), predict the noise,
   L_diff = ||eps - eps_theta||^2 and a_hat^0 from the same pass (Eq. 9),
   L_pi = -(alpha / stopgrad(mean |Q_i(s, a_hat0)|)) mean Q_i(s, a_hat0) with i in {1, 2} drawn
   at random (App. A.1), policy loss L_diff + lambda L_pi (Algorithm 1, lambda = Table 3's loss
   weight). Both gradients come from the pre-update parameters (official; a switch gives
   Algorithm 1's sequential order).
3. Adam with global-norm clipping per network; Polyak targets for the critics (tau every
   update); the EMA policy moves by tau only when t > ema_start and t % ema_every == 0.

With ``policy_action="sampler"`` the L_pi action comes from running the whole sampler with
gradients instead of Eq. 9: Diffusion-QL (:mod:`edp_ref.algorithms.dql`) and the "EDP w/o AP"
ablation (:mod:`edp_ref.algorithms.ablations`) use this same update.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor
from torch.func import grad_and_value

from edp_ref.algorithms.batch import Batch
from edp_ref.algorithms.common import Params, apply_gradients
from edp_ref.algorithms.config import EDPTD3Config
from edp_ref.algorithms.diffusion_policy import (
    DiffusionNoise,
    SamplerNoise,
    diffusion_terms,
    draw_diffusion_noise,
    draw_sampler_noise,
    init_diffusion_agent,
    sample_diffusion_actions,
)
from edp_ref.algorithms.diffusion_steps import (
    diffusion_policy_evaluation,
    ema_due,
    finish_diffusion_update,
)
from edp_ref.algorithms.execution import Metrics, run_update
from edp_ref.algorithms.state import TrainState
from edp_ref.core.losses import diffusion_loss

__all__ = [
    "TD3Randomness",
    "draw_td3_randomness",
    "edp_td3_update",
    "ema_due",
    "init_edp_td3",
]


@dataclass(frozen=True, eq=False)
class TD3Randomness:
    """All randomness of one EDP + TD3 update.

    Attributes:
        diffusion: k and eps of L_diff and action approximation.
        next_actions: sampler noise for a' of the TD target (B rows).
        head_uniform: U[0, 1) scalar; Q1 drives L_pi when it exceeds 0.5, else Q2 (official).
        policy_actions: sampler noise for the L_pi action when ``policy_action="sampler"``.
    """

    diffusion: DiffusionNoise
    next_actions: SamplerNoise
    head_uniform: Float[Tensor, ""]
    policy_actions: SamplerNoise | None = None


def draw_td3_randomness(
    config: EDPTD3Config,
    batch_size: int,
    action_dim: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> TD3Randomness:
    """Draw one update's randomness from ``generator`` (then move it to ``device``)."""
    K = config.diffusion.num_steps
    diffusion = draw_diffusion_noise(K, batch_size, action_dim, generator, device, dtype)
    next_actions = draw_sampler_noise(
        config.next_action_sampler, K, batch_size, action_dim, generator, device, dtype
    )
    head = torch.rand((), generator=generator, device=generator.device, dtype=dtype).to(device)
    policy_actions = None
    if config.policy_action == "sampler":
        policy_actions = draw_sampler_noise(
            config.policy_action_sampler, K, batch_size, action_dim, generator, device, dtype
        )
    return TD3Randomness(diffusion, next_actions, head, policy_actions)


def init_edp_td3(
    config: EDPTD3Config,
    state_dim: int,
    action_dim: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> TrainState:
    """A fresh EDP + TD3 (or DQL, or ablation) state: policy, EMA policy, Q1, Q2, targets."""
    return init_diffusion_agent(
        config.network, config.diffusion, state_dim, action_dim, generator, device, dtype
    )


def _edp_td3_core(
    state: TrainState, batch: Batch, randomness: TD3Randomness, config: EDPTD3Config
) -> tuple[TrainState, Metrics]:
    nets = state.networks
    P = state.params
    dc = config.diffusion
    s, a = batch.observations, batch.actions

    # 1. Policy evaluation (Eq. 6 / Eq. 14).
    new_q1, new_q2, opt_q1, opt_q2, critic_metrics = diffusion_policy_evaluation(
        state, batch, randomness.next_actions, config
    )

    # 2. Policy improvement (Eqs. 5, 9, 10; Algorithm 1).
    q1_params, q2_params = (
        (new_q1, new_q2) if config.policy_uses_updated_critic else (P["q1"], P["q2"])
    )

    def policy_loss(pp: Params) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor, Tensor]]:
        eps_hat, a0_hat = diffusion_terms(nets, pp, s, a, randomness.diffusion, dc)
        l_diff = diffusion_loss(randomness.diffusion.noise, eps_hat, dc.action_reduction)
        if config.policy_action == "approximation":
            a_pi = a0_hat
        else:
            if randomness.policy_actions is None:
                raise ValueError("edp_td3_update: policy_action='sampler' needs policy_actions")
            a_pi = sample_diffusion_actions(
                nets, pp, s, randomness.policy_actions, dc, config.policy_action_sampler
            )
        q1_pi = nets.q_value(q1_params, s, a_pi)
        if config.q_head == "q1":
            use_q1 = torch.ones((), dtype=torch.bool, device=s.device)
        else:
            use_q1 = randomness.head_uniform > 0.5
        needs_q2 = config.q_head == "random" or config.q_normalisation == "other_head"
        q2_pi = nets.q_value(q2_params, s, a_pi) if needs_q2 else q1_pi
        q_chosen = torch.where(use_q1, q1_pi, q2_pi)
        q_other = torch.where(use_q1, q2_pi, q1_pi)
        if config.q_normalisation == "chosen_head":
            lmbda = config.alpha / q_chosen.abs().mean().detach()
        elif config.q_normalisation == "other_head":
            lmbda = config.alpha / q_other.abs().mean().detach()
        else:
            lmbda = torch.full((), config.alpha, dtype=s.dtype, device=s.device)
        l_pi = -lmbda * q_chosen.mean()
        total = l_diff + config.loss_weight * l_pi
        return total, (l_diff.detach(), l_pi.detach(), lmbda, q_chosen.mean().detach())

    grads, (p_loss, (l_diff, l_pi, lmbda, q_pi)) = grad_and_value(policy_loss, has_aux=True)(
        P["policy"]
    )
    new_policy, opt_policy, policy_norm = apply_gradients(
        P["policy"], grads, state.optimizers["policy"], config.optimizer
    )

    # 3. Targets: critics every update, EMA policy on its schedule.
    metrics: Metrics = {
        **critic_metrics,
        "policy_loss": p_loss.detach(),
        "diffusion_loss": l_diff,
        "guide_loss": l_pi,
        "lambda": lmbda,
        "q_policy_mean": q_pi,
        "policy_grad_norm": policy_norm,
    }
    return finish_diffusion_update(
        state,
        {"policy": new_policy, "q1": new_q1, "q2": new_q2},
        {"policy": opt_policy, "q1": opt_q1, "q2": opt_q2},
        config.targets,
        metrics,
        s.dtype,
    )


def edp_td3_update(
    state: TrainState, batch: Batch, randomness: TD3Randomness, config: EDPTD3Config
) -> tuple[TrainState, Metrics]:
    """One EDP + TD3 update (Algorithm 1); also Diffusion-QL and the Fig. 2 ablations.

    Args:
        state: from :func:`init_edp_td3` or a previous update.
        batch: transitions on the state's device and dtype.
        randomness: from :func:`draw_td3_randomness` (or built by hand).
        config: an :class:`EDPTD3Config` (or a subclass: DQL, EDP w/o DPM, EDP w/o AP).

    Returns:
        The new state and a dict of scalar tensor metrics (critic/policy losses, mean Q,
        lambda, gradient norms before clipping, whether the EMA policy moved).

    Raises:
        ValueError: naming the tensor if the batch holds NaN or inf.
    """
    return run_update(_edp_td3_core, state, batch, randomness, config, "edp_td3_update")
