"""Steps shared by the diffusion-policy updates (EDP + TD3, EDP + CRR, EDP + IQL, Diffusion-QL and
the Fig. 2 ablations).

* :func:`diffusion_policy_evaluation`: Eq. 6 with Eq. 14's clipped double-Q target, the next
  action a' ~ pi(. | s') drawn from the EMA (or online) policy through the configured sampler
  (EDP + TD3 and EDP + CRR; EDP + IQL evaluates in-sample instead).
* :func:`ema_due` and :func:`finish_diffusion_update`: the end of every diffusion update: Polyak
  critic targets every update, the EMA policy by ema_tau only when t > ema_start and
  t % ema_every == 0, the new state and the ``ema_updated`` metric.
"""

from __future__ import annotations

import torch
from torch import Tensor

from edp_ref.algorithms.batch import Batch
from edp_ref.algorithms.common import AdamState, Params, masked_polyak
from edp_ref.algorithms.config import EDPCRRConfig, EDPTD3Config, TargetConfig
from edp_ref.algorithms.critic import min_q, td_critic_step
from edp_ref.algorithms.diffusion_policy import SamplerNoise, sample_diffusion_actions
from edp_ref.algorithms.execution import Metrics
from edp_ref.algorithms.state import TrainState, advance_state

__all__ = ["diffusion_policy_evaluation", "ema_due", "finish_diffusion_update"]


def diffusion_policy_evaluation(
    state: TrainState,
    batch: Batch,
    next_action_noise: SamplerNoise,
    config: EDPTD3Config | EDPCRRConfig,
) -> tuple[Params, Params, AdamState, AdamState, dict[str, Tensor]]:
    """Policy evaluation of a diffusion agent (Eq. 6 / Eq. 14), without gradient to the policy.

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
    return td_critic_step(state, batch, next_q, config.optimizer, config.targets.discount)


def ema_due(step: Tensor, ema_start: int, ema_every: int) -> Tensor:
    """Whether update number ``step`` (1-based) moves the EMA policy: step > start, step % every
    == 0 (official: 1000 and 5). A boolean scalar tensor; no host sync."""
    return (step > ema_start) & (step % ema_every == 0)


def finish_diffusion_update(
    state: TrainState,
    params: dict[str, Params],
    optimizers: dict[str, AdamState],
    targets: TargetConfig,
    metrics: Metrics,
    dtype: torch.dtype,
) -> tuple[TrainState, Metrics]:
    """The state after update t = state.step + 1 of a diffusion agent, and its metrics.

    Critic targets move by critic_tau; the EMA policy moves by ema_tau where :func:`ema_due`.

    Args:
        state: the state before the update.
        params: the new online parameters ("policy", "q1", "q2" and, for IQL, "value").
        optimizers: the new Adam states, keyed like ``params``.
        targets: tau values and the EMA schedule.
        metrics: the update's metrics; ``ema_updated`` (in ``dtype``) is appended.
        dtype: the batch's floating dtype.
    """
    ema_now = ema_due(state.step + 1, targets.ema_start, targets.ema_every)
    ema_policy = masked_polyak(
        state.target_params["policy"], params["policy"], targets.ema_tau, ema_now
    )
    new_state = advance_state(
        state, params, optimizers, targets.critic_tau, policy_target=ema_policy
    )
    return new_state, {**metrics, "ema_updated": ema_now.to(dtype)}
