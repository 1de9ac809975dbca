"""Diffusion-QL (Wang et al. 2023), the baseline of Sec. 4.4 and Tables 1 and 4 ("DQL"): a variant
of EDP + TD3 (the same update, with the config below).

The same actor-critic as EDP + TD3, but the policy-improvement action is produced by running the
whole reverse chain with gradients: L_pi = -Q(s, a^0), a^0 = DDPM sample (Eqs. 3-4) from a^K,
so each update forwards and backpropagates through the noise network K times (Sec. 4.4). Next
actions of the TD target come from the EMA policy through the full DDPM chain as well. At
evaluation it acts by EAS over DDPM samples scored by the target critics, as Diffusion-QL's
``sample_action``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from edp_ref.algorithms.acting import DiffusionAct
from edp_ref.algorithms.catalog.edp_td3 import EDPTD3Config
from edp_ref.algorithms.config import (
    DiffusionConfig,
    NetworkConfig,
    OptimizerConfig,
    SamplerKind,
    TargetNetworkConfig,
)
from edp_ref.algorithms.registry import register_variant
from edp_ref.config_checks import check_choice

__all__ = ["DQLConfig"]


@dataclass(frozen=True)
class DQLConfig(EDPTD3Config):
    """Diffusion-QL (Wang et al. 2023; Sec. 4.4): backpropagate through all K DDPM steps.

    Defaults follow the official Diffusion-QL (Zhendong-Wang/Diffusion-Policies-for-Offline-RL,
    agents/ql_diffusion.py, agents/model.py): vp schedule with K = 5, DDPM for next actions and for
    the policy-improvement action, eta = 1 weighted Q loss normalized by the other head's mean |Q|,
    the critic stepped first and the actor's Q loss on the updated critics, torch-style clipping
    with one norm over both critics, the critic's learning rate fixed at 3e-4, the EMA actor
    moved at updates 1001, 1006, ..., PyTorch's default initialisation and its [sin, cos] time
    embedding. Any K is allowed. Not modelled: ``max_q_backup`` (AntMaze only).
    """

    # Diffusion-QL's clip_grad_norm_ (torch variant).
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(clip_mode="torch"))
    # PyTorch's default init and Diffusion-QL's SinusoidalPosEmb ([sin, cos], / (half - 1)).
    network: NetworkConfig = field(
        default_factory=lambda: NetworkConfig(init="torch", embedding="diffusion_ql")
    )
    # step_ema() at self.step % 5 == 0 once self.step >= 1000, self.step counting the updates
    # done before this one.
    target_networks: TargetNetworkConfig = field(
        default_factory=lambda: TargetNetworkConfig(
            ema_start=999, ema_step_counts="previous_updates"
        )
    )
    # The critic's Adam keeps lr = 3e-4 whatever the actor's per-task rate.
    critic_learning_rate: float | None = 3e-4
    # One clip_grad_norm_ over the critic module that holds Q1 and Q2.
    critic_clip: Literal["per_critic", "joint"] = "joint"
    # Diffusion-QL's variance-preserving schedule with K = 5 steps.
    diffusion: DiffusionConfig = field(
        default_factory=lambda: DiffusionConfig(schedule="vp", num_steps=5)
    )
    # eta of Diffusion-QL (locomotion: 1.0), in the role of alpha.
    alpha: float = 1.0
    # Diffusion-QL normalizes by the other head's mean |Q|.
    q_normalization: Literal["chosen_head", "other_head", "none"] = "other_head"
    # Next actions by the full DDPM chain of the EMA policy.
    next_action_sampler: SamplerKind = "ddpm"
    # L_pi's action: the full reverse chain with gradients.
    policy_action: Literal["approximation", "sampler"] = "sampler"
    # ... run with DDPM.
    policy_action_sampler: SamplerKind = "ddpm"
    # The actor's Q loss uses the critics after this update's critic step.
    policy_uses_updated_critic: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        # Diffusion-QL backpropagates through its sampler.
        check_choice("DQLConfig.policy_action", self.policy_action, ("sampler",))


register_variant(
    "dql",
    base="edp_td3",
    config_class=DQLConfig,
    title="Diffusion-QL (DQL; vp, K = 5)",
    equations="Sec. 4.4 (backpropagation through the K-step DDPM chain)",
    policy="diffusion",
    act=DiffusionAct("ddpm", critics="target"),
)
