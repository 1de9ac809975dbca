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
gradients instead of Eq. 9: Diffusion-QL (:mod:`~edp_ref.algorithms.catalog.dql`) and the
ablations of Fig. 2 and Table 7 (:mod:`~edp_ref.algorithms.catalog.ablations`) are variants of
this update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from jaxtyping import Bool, Float
from torch import Tensor

from edp_ref.algorithms.config import DiffusionAlgorithmConfig, NextActionPolicy, SamplerKind
from edp_ref.algorithms.critic import diffusion_policy_evaluation
from edp_ref.algorithms.diffusion_policy import diffusion_terms, sample_diffusion_actions
from edp_ref.algorithms.execution import Metrics
from edp_ref.algorithms.optim import Params
from edp_ref.algorithms.policy_improvement import policy_step
from edp_ref.algorithms.randomness import (
    DiffusionNoise,
    SamplerNoise,
    diffusion_noise,
    drawn,
    sampler_noise,
    uniform,
)
from edp_ref.algorithms.registry import register_algorithm
from edp_ref.algorithms.state import Networks, TrainState
from edp_ref.algorithms.targets import finish_diffusion_update
from edp_ref.config_checks import check_at_least
from edp_ref.core.losses import diffusion_loss
from edp_ref.core.rl import q_loss_scale
from edp_ref.data.batch import Batch
from edp_ref.pytree import pytree_dataclass

__all__ = ["EDPTD3Config", "TD3Randomness", "chosen_head_q", "edp_td3_update"]


@dataclass(frozen=True)
class EDPTD3Config(DiffusionAlgorithmConfig):
    """EDP + TD3 (Appendix A.1, Algorithm 1): L_diff + lambda L_pi on the approximated action."""

    # alpha of TD3+BC (Eq. 16): L_pi = -(alpha / stopgrad(mean |Q|)) mean Q (official: 2.0).
    alpha: float = 2.0
    # lambda of Algorithm 1, Table 3's "loss weight" (locomotion 1.0, antmaze 1.0, adroit 0.1,
    # kitchen 0.005): policy loss = L_diff + loss_weight * L_pi.
    loss_weight: float = 1.0
    # Which critic drives L_pi: "random" (App. A.1 and official: Q1 or Q2 with equal probability
    # each step) or "q1" (original TD3, Eq. 15).
    q_head: Literal["random", "q1"] = "random"
    # Normalizer of L_pi: "chosen_head" (official EDP: mean |Q| of the head used), "other_head"
    # (Diffusion-QL: mean |Q| of the other head) or "none" (plain alpha * Eq. 10).
    q_normalization: Literal["chosen_head", "other_head", "none"] = "chosen_head"
    # Policy that draws the next actions a' of the TD target (Eq. 6): "ema" (official: the EMA
    # copy of the policy) or "online" (Eq. 6 / Alg. 1 as printed: pi_theta).
    next_action_policy: NextActionPolicy = "ema"
    # Sampler of the next actions: "dpm_solver" (EDP) or "ddpm" (EDP w/o DPM, Diffusion-QL).
    next_action_sampler: SamplerKind = "dpm_solver"
    # Action fed to L_pi: "approximation" (Eq. 9, EDP) or "sampler" (backpropagation through
    # the whole reverse chain: Diffusion-QL and the "EDP w/o AP" ablation).
    policy_action: Literal["approximation", "sampler"] = "approximation"
    # Sampler that produces the L_pi action when policy_action == "sampler".
    policy_action_sampler: SamplerKind = "dpm_solver"
    # False (official): critic and policy gradients both from the pre-update parameters; True
    # (Algorithm 1's order): L_pi uses the critics after this step's critic update.
    policy_uses_updated_critic: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_at_least(self, 0.0, "alpha", "loss_weight")


@pytree_dataclass
@dataclass(frozen=True, eq=False)
class TD3Randomness:
    """All randomness of one EDP + TD3 update, drawn in this order."""

    # k and eps of L_diff and action approximation (Eqs. 5, 8-9).
    diffusion: DiffusionNoise = drawn(diffusion_noise)
    # Sampler noise of a' ~ pi(. | s') in the TD target (Eq. 6), B rows.
    next_actions: SamplerNoise = drawn(sampler_noise("next_action_sampler"))
    # U[0, 1) scalar: Q1 drives L_pi when it exceeds 0.5, else Q2 (App. A.1, official).
    head_uniform: Float[Tensor, ""] = drawn(uniform)
    # Sampler noise of the L_pi action, drawn only with policy_action="sampler".
    policy_actions: SamplerNoise | None = drawn(
        sampler_noise("policy_action_sampler"), when=("policy_action", "sampler")
    )


def chosen_head_q(
    networks: Networks,
    q1_params: Params,
    q2_params: Params,
    use_q1: Bool[Tensor, ""],
    observations: Float[Tensor, "batch state"],
    actions: Float[Tensor, "batch action"],
) -> Float[Tensor, " batch"]:
    """Q_i(s, a) of the head i that drives L_pi (App. A.1: Q1 where ``use_q1``, else Q2).

    The head's parameters are picked, then one critic runs: the same numbers, values and
    gradients, bit for bit, as running both critics and picking the output
    (``torch.where(use_q1, Q1(s, a), Q2(s, a))``, whose unpicked branch gets a zero gradient),
    at half the critics' forward and backward work in L_pi.
    """
    chosen = {k: torch.where(use_q1, q1_params[k], q2_params[k]) for k in q1_params}
    return networks.q_value(chosen, observations, actions)


@register_algorithm(
    "edp_td3",
    title="EDP + TD3",
    equations="Eqs. 5-10, 14; Algorithm 1; App. A.1",
    config_class=EDPTD3Config,
    randomness=TD3Randomness,
    network="diffusion",
    family="td3",
    policy="edp",
)
def edp_td3_update(
    state: TrainState, batch: Batch, randomness: TD3Randomness, config: EDPTD3Config
) -> tuple[TrainState, Metrics]:
    """One EDP + TD3 update (Algorithm 1); also Diffusion-QL and the ablations (module docstring).

    Returns the new state and scalar tensor metrics: critic and policy losses, mean Q, the scale
    alpha / mean |Q| of L_pi (``q_loss_scale``), gradient norms before clipping, whether the EMA
    policy moved.
    """
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

    def policy_loss(pp: Params) -> tuple[Tensor, Metrics]:
        eps_hat, a0_hat = diffusion_terms(nets, pp, s, a, randomness.diffusion, dc)
        l_diff = diffusion_loss(randomness.diffusion.noise, eps_hat, dc.action_reduction)
        if randomness.policy_actions is None:  # policy_action == "approximation"
            a_pi = a0_hat
        else:
            a_pi = sample_diffusion_actions(
                nets, pp, s, randomness.policy_actions, dc, config.policy_action_sampler
            )
        if config.q_head == "q1":
            use_q1 = torch.ones((), dtype=torch.bool, device=s.device)
        else:
            use_q1 = randomness.head_uniform > 0.5
        if config.q_normalization == "other_head":  # both heads' values are needed
            q1_pi, q2_pi = nets.q_value(q1_params, s, a_pi), nets.q_value(q2_params, s, a_pi)
            q_chosen = torch.where(use_q1, q1_pi, q2_pi)
            scale = q_loss_scale(torch.where(use_q1, q2_pi, q1_pi), config.alpha)
        else:
            q_chosen = chosen_head_q(nets, q1_params, q2_params, use_q1, s, a_pi)
            if config.q_normalization == "chosen_head":
                scale = q_loss_scale(q_chosen, config.alpha)
            else:
                scale = torch.full((), config.alpha, dtype=s.dtype, device=s.device)
        l_pi = -scale * q_chosen.mean()
        total = l_diff + config.loss_weight * l_pi
        return total, {
            "diffusion_loss": l_diff.detach(),
            "guide_loss": l_pi.detach(),
            "q_loss_scale": scale,
            "q_policy_mean": q_chosen.mean().detach(),
        }

    new_policy, opt_policy, policy_metrics = policy_step(state, policy_loss, config.optimizer)

    # 3. Targets: critics every update, EMA policy on its schedule.
    return finish_diffusion_update(
        state,
        {"policy": new_policy, "q1": new_q1, "q2": new_q2},
        {"policy": opt_policy, "q1": opt_q1, "q2": opt_q2},
        config.target_networks,
        {**critic_metrics, **policy_metrics},
        s.dtype,
    )
