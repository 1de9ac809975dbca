"""The training updates of EDP (Kang et al. 2023, Secs. 4.2-4.4, Appendix A) and its baselines.

Every algorithm is a pure function ``update(state, batch, randomness, config) -> (state,
metrics)``: the state (:class:`TrainState`) holds parameters, targets, the EMA policy, Adam
states and the step counter; the randomness is a dataclass of tensors drawn by the matching
``draw_*_randomness`` from an explicit ``torch.Generator``; metrics are scalar tensors.

| update | algorithm |
|---|---|
| :func:`edp_td3_update` | EDP + TD3 (App. A.1, Algorithm 1) |
| :func:`edp_crr_update` | EDP + CRR (App. A.2) |
| :func:`edp_iql_update` | EDP + IQL (App. A.3) |
| :func:`dql_update` | Diffusion-QL (Sec. 4.4), backprop through all K sampler steps |
| :func:`edp_without_dpm_update`, :func:`edp_without_ap_update` | Figure 2's ablations |
| :func:`td3bc_update`, :func:`gaussian_crr_update`, :func:`gaussian_iql_update` | Table 2's FF |

:func:`select_actions` is energy-based action selection (Sec. 4.5, Algorithm 2) for evaluation.
"""

from edp_ref.algorithms.ablations import edp_without_ap_update, edp_without_dpm_update
from edp_ref.algorithms.batch import Batch
from edp_ref.algorithms.common import (
    AdamState,
    adam_step,
    apply_gradients,
    clip_by_global_norm,
    global_norm,
    masked_polyak,
    polyak,
)
from edp_ref.algorithms.config import (
    DOMAIN_PRESETS,
    OFFICIAL_GRAD_NORM_CLIP,
    DiffusionConfig,
    DomainPreset,
    DQLConfig,
    EDPCRRConfig,
    EDPIQLConfig,
    EDPTD3Config,
    EDPWithoutAPConfig,
    EDPWithoutDPMConfig,
    GaussianCRRConfig,
    GaussianIQLConfig,
    NetworkConfig,
    OptimizerConfig,
    TargetConfig,
    TD3BCConfig,
    domain_of,
    official_grad_norm_clip,
    preset_config,
)
from edp_ref.algorithms.diffusion_policy import (
    DiffusionNoise,
    SamplerNoise,
    draw_diffusion_noise,
    draw_eas_uniforms,
    draw_sampler_noise,
    sample_actions,
    select_actions,
)
from edp_ref.algorithms.dql import dql_update, draw_dql_randomness, init_dql
from edp_ref.algorithms.edp_crr import (
    CRRRandomness,
    draw_crr_randomness,
    edp_crr_update,
    init_edp_crr,
)
from edp_ref.algorithms.edp_iql import (
    IQLRandomness,
    draw_iql_randomness,
    edp_iql_update,
    init_edp_iql,
)
from edp_ref.algorithms.edp_td3 import (
    TD3Randomness,
    draw_td3_randomness,
    edp_td3_update,
    init_edp_td3,
)
from edp_ref.algorithms.feedforward import (
    GaussianCRRRandomness,
    TD3BCRandomness,
    draw_gaussian_crr_randomness,
    draw_td3bc_randomness,
    feedforward_actions,
    gaussian_crr_update,
    gaussian_iql_update,
    init_gaussian_crr,
    init_gaussian_iql,
    init_td3bc,
    td3bc_update,
)
from edp_ref.algorithms.state import Networks, TrainState, load_state_tensors, state_tensors

__all__ = [
    "DOMAIN_PRESETS",
    "OFFICIAL_GRAD_NORM_CLIP",
    "AdamState",
    "Batch",
    "CRRRandomness",
    "DQLConfig",
    "DiffusionConfig",
    "DiffusionNoise",
    "DomainPreset",
    "EDPCRRConfig",
    "EDPIQLConfig",
    "EDPTD3Config",
    "EDPWithoutAPConfig",
    "EDPWithoutDPMConfig",
    "GaussianCRRConfig",
    "GaussianCRRRandomness",
    "GaussianIQLConfig",
    "IQLRandomness",
    "NetworkConfig",
    "Networks",
    "OptimizerConfig",
    "SamplerNoise",
    "TD3BCConfig",
    "TD3BCRandomness",
    "TD3Randomness",
    "TargetConfig",
    "TrainState",
    "adam_step",
    "apply_gradients",
    "clip_by_global_norm",
    "domain_of",
    "dql_update",
    "draw_crr_randomness",
    "draw_diffusion_noise",
    "draw_dql_randomness",
    "draw_eas_uniforms",
    "draw_gaussian_crr_randomness",
    "draw_iql_randomness",
    "draw_sampler_noise",
    "draw_td3_randomness",
    "draw_td3bc_randomness",
    "edp_crr_update",
    "edp_iql_update",
    "edp_td3_update",
    "edp_without_ap_update",
    "edp_without_dpm_update",
    "feedforward_actions",
    "gaussian_crr_update",
    "gaussian_iql_update",
    "global_norm",
    "init_dql",
    "init_edp_crr",
    "init_edp_iql",
    "init_edp_td3",
    "init_gaussian_crr",
    "init_gaussian_iql",
    "init_td3bc",
    "load_state_tensors",
    "masked_polyak",
    "official_grad_norm_clip",
    "polyak",
    "preset_config",
    "sample_actions",
    "select_actions",
    "state_tensors",
    "td3bc_update",
]
