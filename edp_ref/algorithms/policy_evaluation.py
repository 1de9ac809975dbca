"""Policy evaluation of a diffusion agent (Eq. 6 with Eq. 14's clipped double-Q target), shared by
EDP + TD3 (and Diffusion-QL, the Fig. 2 ablations) and EDP + CRR; EDP + IQL evaluates in-sample
instead (:func:`edp_ref.algorithms.critic.expectile_value_step`).

The next action a' ~ pi(. | s') is drawn from the EMA policy (official: sail-sg/edp,
diffusion/dql.py; ``next_action_policy="online"`` for Eq. 6 / Algorithm 1 as printed) through the
configured sampler (DPM-Solver for EDP, DDPM for "EDP w/o DPM" and Diffusion-QL), without
gradient to the policy.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from edp_ref.algorithms.config import (
    DiffusionConfig,
    NextActionPolicy,
    SamplerKind,
)
from edp_ref.algorithms.critic import CriticConfig, min_q, td_critic_step
from edp_ref.algorithms.diffusion_policy import SamplerNoise, sample_diffusion_actions
from edp_ref.algorithms.optim import AdamState, Params
from edp_ref.algorithms.state import TrainState
from edp_ref.data.batch import Batch

__all__ = ["NextActionConfig", "diffusion_policy_evaluation"]


@runtime_checkable
class NextActionConfig(CriticConfig, Protocol):
    """The config fields policy evaluation reads (EDP + TD3's and EDP + CRR's configs)."""

    @property
    def diffusion(self) -> DiffusionConfig: ...

    @property
    def next_action_policy(self) -> NextActionPolicy: ...

    @property
    def next_action_sampler(self) -> SamplerKind: ...


def diffusion_policy_evaluation(
    state: TrainState,
    batch: Batch,
    next_action_noise: SamplerNoise,
    config: NextActionConfig,
) -> tuple[Params, Params, AdamState, AdamState, dict[str, Tensor]]:
    """One critic step of a diffusion agent (Eq. 6 / Eq. 14), without gradient to the policy.

    a' ~ pi(. | s') from the EMA policy (``next_action_policy="ema"``, official) or the online
    one, through ``config.next_action_sampler`` with ``next_action_noise``;
    y = r + (1 - d) gamma min(Q1', Q2')(s', a') with the target critics; then one
    :func:`~edp_ref.algorithms.critic.double_q_step` of the online critics towards y.

    Returns:
        New Q1 and Q2 parameters, their new Adam states, and the critic metrics.
    """
    T = state.target_params
    next_policy = T["policy"] if config.next_action_policy == "ema" else state.params["policy"]
    with torch.no_grad():
        next_actions = sample_diffusion_actions(
            state.networks,
            next_policy,
            batch.next_observations,
            next_action_noise,
            config.diffusion,
            config.next_action_sampler,
        )
        next_q = min_q(state.networks, T["q1"], T["q2"], batch.next_observations, next_actions)
    return td_critic_step(state, batch, next_q, config)
