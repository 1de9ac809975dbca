"""Diffusion-QL (Wang et al. 2023), the baseline of Sec. 4.4 and Tables 1 and 4 ("DQL").

The same actor-critic as EDP + TD3, but the policy-improvement action is produced by running the
whole reverse chain with gradients: L_pi = -Q(s, a^0), a^0 = DDPM sample (Eqs. 3-4) from a^K,
so each update forwards and backpropagates through the noise network K times (Sec. 4.4). Next
actions of the TD target come from the EMA policy through the full DDPM chain as well.
:class:`~edp_ref.algorithms.config.DQLConfig` holds Diffusion-QL's defaults (vp schedule, K = 5,
eta = 1 normalised by the other head's mean |Q|, torch-style clipping); any K is allowed.
"""

from __future__ import annotations

import torch

from edp_ref.algorithms.batch import Batch
from edp_ref.algorithms.config import DQLConfig
from edp_ref.algorithms.edp_td3 import (
    TD3Randomness,
    _edp_td3_core,
    draw_td3_randomness,
    init_edp_td3,
)
from edp_ref.algorithms.execution import Metrics, run_update
from edp_ref.algorithms.state import TrainState

__all__ = ["dql_update", "draw_dql_randomness", "init_dql"]


def init_dql(
    config: DQLConfig,
    state_dim: int,
    action_dim: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> TrainState:
    """A fresh Diffusion-QL state (same networks as EDP + TD3, schedule from the config)."""
    return init_edp_td3(config, state_dim, action_dim, generator, device, dtype)


def draw_dql_randomness(
    config: DQLConfig,
    batch_size: int,
    action_dim: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> TD3Randomness:
    """One update's randomness: L_diff's (k, eps), both samplers' noise, the Q-head uniform."""
    return draw_td3_randomness(config, batch_size, action_dim, generator, device, dtype)


def dql_update(
    state: TrainState, batch: Batch, randomness: TD3Randomness, config: DQLConfig
) -> tuple[TrainState, Metrics]:
    """One Diffusion-QL update: critic step, then L_diff + eta L_pi through the whole sampler.

    Raises:
        ValueError: if the config does not backpropagate through the sampler, or the batch holds
            NaN or inf (naming the tensor).
    """
    if config.policy_action != "sampler":
        raise ValueError(
            "dql_update: Diffusion-QL backpropagates through the sampler; got "
            f"policy_action={config.policy_action!r} (use edp_td3_update for Eq. 9)"
        )
    if randomness.policy_actions is None:
        raise ValueError("dql_update: randomness.policy_actions (sampler noise) is required")
    return run_update(_edp_td3_core, state, batch, randomness, config, "dql_update")
