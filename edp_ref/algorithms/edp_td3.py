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
gradients instead of Eq. 9: Diffusion-QL (:mod:`edp_ref.algorithms.dql`) and the Fig. 2
ablations (:mod:`edp_ref.algorithms.ablations`) are configurations of this same update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from jaxtyping import Float
from torch import Tensor

from edp_ref.algorithms.acting import make_diffusion_act
from edp_ref.algorithms.config import DiffusionAlgorithmConfig, NextActionPolicy, SamplerKind
from edp_ref.algorithms.diffusion_policy import (
    DiffusionNoise,
    SamplerNoise,
    diffusion_terms,
    draw_diffusion_noise,
    draw_sampler_noise,
    init_diffusion_agent,
    sample_diffusion_actions,
)
from edp_ref.algorithms.execution import Metrics, run_update
from edp_ref.algorithms.optim import Params
from edp_ref.algorithms.policy_evaluation import diffusion_policy_evaluation
from edp_ref.algorithms.policy_improvement import policy_step
from edp_ref.algorithms.registry import AlgorithmSpec, register
from edp_ref.algorithms.state import TrainState
from edp_ref.algorithms.targets import finish_diffusion_update
from edp_ref.config_checks import check_at_least
from edp_ref.core.losses import diffusion_loss
from edp_ref.data.batch import Batch
from edp_ref.pytree import pytree_dataclass

__all__ = [
    "EDPTD3Config",
    "TD3Randomness",
    "check_policy_action",
    "draw_td3_randomness",
    "edp_td3_update",
    "init_edp_td3",
]


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

    def policy_loss(pp: Params) -> tuple[Tensor, Metrics]:
        eps_hat, a0_hat = diffusion_terms(nets, pp, s, a, randomness.diffusion, dc)
        l_diff = diffusion_loss(randomness.diffusion.noise, eps_hat, dc.action_reduction)
        if randomness.policy_actions is None:  # policy_action == "approximation"
            a_pi = a0_hat
        else:
            a_pi = sample_diffusion_actions(
                nets, pp, s, randomness.policy_actions, dc, config.policy_action_sampler
            )
        q1_pi = nets.q_value(q1_params, s, a_pi)
        if config.q_head == "q1":
            use_q1 = torch.ones((), dtype=torch.bool, device=s.device)
        else:
            use_q1 = randomness.head_uniform > 0.5
        needs_q2 = config.q_head == "random" or config.q_normalization == "other_head"
        q2_pi = nets.q_value(q2_params, s, a_pi) if needs_q2 else q1_pi
        q_chosen = torch.where(use_q1, q1_pi, q2_pi)
        q_other = torch.where(use_q1, q2_pi, q1_pi)
        if config.q_normalization == "chosen_head":
            lmbda = config.alpha / q_chosen.abs().mean().detach()
        elif config.q_normalization == "other_head":
            lmbda = config.alpha / q_other.abs().mean().detach()
        else:
            lmbda = torch.full((), config.alpha, dtype=s.dtype, device=s.device)
        l_pi = -lmbda * q_chosen.mean()
        total = l_diff + config.loss_weight * l_pi
        return total, {
            "diffusion_loss": l_diff.detach(),
            "guide_loss": l_pi.detach(),
            "lambda": lmbda,
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


def check_policy_action(
    where: str, randomness: TD3Randomness, config: EDPTD3Config, expected: str | None = None
) -> None:
    """Raise ``ValueError`` naming ``where`` if ``config.policy_action`` is not ``expected`` (when
    given) or the randomness lacks the L_pi sampler noise that ``policy_action="sampler"`` needs
    (or holds it although the config approximates the action)."""
    if expected is not None and config.policy_action != expected:
        raise ValueError(
            f"{where}: this update needs policy_action={expected!r}; got "
            f"policy_action={config.policy_action!r}"
        )
    has_noise = randomness.policy_actions is not None
    if has_noise != (config.policy_action == "sampler"):
        raise ValueError(
            f"{where}: randomness.policy_actions is "
            f"{'set' if has_noise else 'None'} but policy_action={config.policy_action!r}; "
            "draw the randomness with draw_td3_randomness(config, ...) of the same config"
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
        ValueError: naming the tensor if the batch holds NaN or inf, or if the randomness does
            not fit the config.
    """
    check_policy_action("edp_td3_update", randomness, config)
    return run_update(_edp_td3_core, state, batch, randomness, config, "edp_td3_update")


register(
    AlgorithmSpec(
        name="edp_td3",
        title="EDP + TD3",
        equations="Eqs. 5-10, 14; Algorithm 1; App. A.1",
        config_class=EDPTD3Config,
        init=init_edp_td3,
        draw=draw_td3_randomness,
        update=edp_td3_update,
        act=make_diffusion_act("dpm_solver"),
        policy_class="diffusion",
        reward_family="td3",
    )
)
