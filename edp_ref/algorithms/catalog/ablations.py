"""The ablations of Figure 2 (Sec. 5.1) and Table 7 (Appendix C.6): variants of EDP + TD3.

* ``edp_without_dpm``, "EDP w/o DPM" (:class:`EDPWithoutDPMConfig`): next actions of the TD target
  drawn with DDPM (Eq. 4, all K steps) instead of DPM-Solver; action approximation kept.
* ``edp_without_ap``, "EDP w/o AP" (:class:`EDPWithoutAPConfig`): the L_pi action produced by
  backpropagating through the sampler (DPM-Solver) instead of Eq. 9.
* ``edp_td3_k100``, Table 7's "Action Approx" (:class:`EDPTD3K100Config`): EDP + TD3 with K = 100.
* ``edp_ddpm_k100``, Table 7's "DDPM" (:class:`EDPDDPMK100Config`): EDP w/o AP through all 100
  DDPM steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from edp_ref.algorithms.catalog.edp_td3 import EDPTD3Config
from edp_ref.algorithms.config import DiffusionConfig, SamplerKind
from edp_ref.algorithms.registry import register_variant
from edp_ref.config_checks import check_choice

__all__ = ["EDPDDPMK100Config", "EDPTD3K100Config", "EDPWithoutAPConfig", "EDPWithoutDPMConfig"]


@dataclass(frozen=True)
class EDPWithoutDPMConfig(EDPTD3Config):
    """Figure 2's "EDP w/o DPM": EDP + TD3 with DDPM (Eq. 4) instead of DPM-Solver for a'."""

    # Next actions of the TD target drawn by the full DDPM chain.
    next_action_sampler: SamplerKind = "ddpm"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("EDPWithoutDPMConfig.next_action_sampler", self.next_action_sampler, ("ddpm",))


@dataclass(frozen=True)
class EDPWithoutAPConfig(EDPTD3Config):
    """Figure 2's "EDP w/o AP": backpropagate through the sampler instead of Eq. 9."""

    # L_pi's action produced by the sampler, with gradients.
    policy_action: Literal["approximation", "sampler"] = "sampler"
    # DPM-Solver, as in EDP (Fig. 2); "ddpm" is Table 7's variant (EDPDDPMK100Config).
    policy_action_sampler: SamplerKind = "dpm_solver"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice(f"{type(self).__name__}.policy_action", self.policy_action, ("sampler",))


def _k100() -> DiffusionConfig:
    return DiffusionConfig(num_steps=100)


@dataclass(frozen=True)
class EDPTD3K100Config(EDPTD3Config):
    """Table 7's "Action Approx": EDP + TD3 with K = 100 diffusion steps."""

    # K = 100 (App. C.6).
    diffusion: DiffusionConfig = field(default_factory=_k100)


@dataclass(frozen=True)
class EDPDDPMK100Config(EDPWithoutAPConfig):
    """Table 7's "DDPM": L_pi on the action of all K = 100 DDPM steps, with gradients."""

    # K = 100 (App. C.6).
    diffusion: DiffusionConfig = field(default_factory=_k100)
    # The L_pi action from the DDPM chain.
    policy_action_sampler: SamplerKind = "ddpm"


register_variant(
    "edp_without_dpm",
    base="edp_td3",
    config_class=EDPWithoutDPMConfig,
    title="EDP w/o DPM (Fig. 2)",
    equations="Fig. 2, Sec. 5.1",
)
register_variant(
    "edp_without_ap",
    base="edp_td3",
    config_class=EDPWithoutAPConfig,
    title="EDP w/o AP (Fig. 2)",
    equations="Fig. 2, Sec. 5.1",
    policy="diffusion",
)
register_variant(
    "edp_td3_k100",
    base="edp_td3",
    config_class=EDPTD3K100Config,
    title="EDP + TD3 with K = 100 (Table 7, Action Approx)",
    equations="App. C.6",
)
register_variant(
    "edp_ddpm_k100",
    base="edp_without_ap",
    config_class=EDPDDPMK100Config,
    title="EDP + TD3 through 100 DDPM steps (Table 7, DDPM)",
    equations="App. C.6",
)
