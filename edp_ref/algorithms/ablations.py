"""The ablations of Figure 2 (Sec. 5.1) and Appendix C.6, as EDP + TD3 updates.

* "EDP w/o DPM": next actions of the TD target drawn with DDPM (Eq. 4, all K steps) instead of
  DPM-Solver; action approximation kept (:class:`~edp_ref.algorithms.config.EDPWithoutDPMConfig`).
* "EDP w/o AP": the L_pi action produced by backpropagating through the sampler (DPM-Solver by
  default, DDPM with K = 100 for Appendix C.6's Table 7) instead of Eq. 9
  (:class:`~edp_ref.algorithms.config.EDPWithoutAPConfig`).
"""

from __future__ import annotations

from edp_ref.algorithms.batch import Batch
from edp_ref.algorithms.config import EDPWithoutAPConfig, EDPWithoutDPMConfig
from edp_ref.algorithms.edp_td3 import TD3Randomness, _edp_td3_core
from edp_ref.algorithms.execution import Metrics, run_update
from edp_ref.algorithms.state import TrainState

__all__ = ["edp_without_ap_update", "edp_without_dpm_update"]


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
    return run_update(_edp_td3_core, state, batch, randomness, config, "edp_without_dpm_update")


def edp_without_ap_update(
    state: TrainState, batch: Batch, randomness: TD3Randomness, config: EDPWithoutAPConfig
) -> tuple[TrainState, Metrics]:
    """One "EDP w/o AP" update: L_pi on a sampled action, backpropagated through the sampler.

    Raises:
        ValueError: if the config uses action approximation, lacks sampler noise, or on a NaN
            batch.
    """
    if config.policy_action != "sampler":
        raise ValueError(
            "edp_without_ap_update: the ablation backpropagates through the sampler; got "
            f"policy_action={config.policy_action!r}"
        )
    if randomness.policy_actions is None:
        raise ValueError("edp_without_ap_update: randomness.policy_actions is required")
    return run_update(_edp_td3_core, state, batch, randomness, config, "edp_without_ap_update")
