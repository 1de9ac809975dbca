"""The ablations of Figure 2 (Sec. 5.1) and Appendix C.6, as configurations of EDP + TD3's update.

* "EDP w/o DPM" (:class:`EDPWithoutDPMConfig`): next actions of the TD target drawn with DDPM
  (Eq. 4, all K steps) instead of DPM-Solver; action approximation kept.
* "EDP w/o AP" (:class:`EDPWithoutAPConfig`): the L_pi action produced by backpropagating through
  the sampler (DPM-Solver by default, DDPM with K = 100 for Appendix C.6's Table 7) instead of
  Eq. 9.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from edp_ref.algorithms.acting import make_diffusion_act
from edp_ref.algorithms.config import SamplerKind
from edp_ref.algorithms.edp_td3 import (
    EDPTD3Config,
    TD3Randomness,
    check_policy_action,
    draw_td3_randomness,
    edp_td3_update,
    init_edp_td3,
)
from edp_ref.algorithms.execution import Metrics
from edp_ref.algorithms.registry import AlgorithmSpec, register
from edp_ref.algorithms.state import TrainState
from edp_ref.data.batch import Batch

__all__ = [
    "EDPWithoutAPConfig",
    "EDPWithoutDPMConfig",
    "edp_without_ap_update",
    "edp_without_dpm_update",
]


@dataclass(frozen=True)
class EDPWithoutDPMConfig(EDPTD3Config):
    """Figure 2's "EDP w/o DPM": EDP + TD3 with DDPM (Eq. 4) instead of DPM-Solver for a'."""

    # Next actions of the TD target drawn by the full DDPM chain.
    next_action_sampler: SamplerKind = "ddpm"


@dataclass(frozen=True)
class EDPWithoutAPConfig(EDPTD3Config):
    """Figure 2's "EDP w/o AP": backpropagate through the sampler instead of Eq. 9.

    Appendix C.6 runs the same ablation with DDPM and K = 100 (``policy_action_sampler="ddpm"``).
    """

    # L_pi's action produced by the sampler, with gradients.
    policy_action: Literal["approximation", "sampler"] = "sampler"
    # DPM-Solver, as in EDP (Fig. 2); "ddpm" gives Appendix C.6's variant.
    policy_action_sampler: SamplerKind = "dpm_solver"


def edp_without_dpm_update(
    state: TrainState, batch: Batch, randomness: TD3Randomness, config: EDPWithoutDPMConfig
) -> tuple[TrainState, Metrics]:
    """One "EDP w/o DPM" update: EDP + TD3 with DDPM next actions (Fig. 2).

    Raises:
        ValueError: if the config samples next actions with DPM-Solver, or on a NaN batch.
    """
    if config.next_action_sampler != "ddpm":
        raise ValueError(
            "edp_without_dpm_update: the ablation samples next actions with DDPM; got "
            f"next_action_sampler={config.next_action_sampler!r}"
        )
    return edp_td3_update(state, batch, randomness, config)


def edp_without_ap_update(
    state: TrainState, batch: Batch, randomness: TD3Randomness, config: EDPWithoutAPConfig
) -> tuple[TrainState, Metrics]:
    """One "EDP w/o AP" update: L_pi on a sampled action, backpropagated through the sampler.

    Raises:
        ValueError: if the config uses action approximation, lacks sampler noise, or on a NaN
            batch.
    """
    check_policy_action("edp_without_ap_update", randomness, config, expected="sampler")
    return edp_td3_update(state, batch, randomness, config)


for _name, _title, _config, _update in (
    ("edp_without_dpm", "EDP w/o DPM (Fig. 2)", EDPWithoutDPMConfig, edp_without_dpm_update),
    ("edp_without_ap", "EDP w/o AP (Fig. 2, App. C.6)", EDPWithoutAPConfig, edp_without_ap_update),
):
    register(
        AlgorithmSpec(
            name=_name,
            title=_title,
            equations="Fig. 2, Sec. 5.1; App. C.6",
            config_class=_config,
            init=init_edp_td3,
            draw=draw_td3_randomness,
            update=_update,
            act=make_diffusion_act("dpm_solver"),
            policy_class="diffusion",
            reward_family="td3",
        )
    )
