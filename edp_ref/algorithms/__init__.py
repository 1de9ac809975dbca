"""The training updates of EDP (Kang et al. 2023, Secs. 4.2-4.4, Appendix A) and its baselines.

Every algorithm is a pure function ``update(state, batch, randomness, config) -> (state,
metrics)``: the state (:class:`TrainState`) holds parameters, targets, the EMA policy, Adam
states and the step counter; the randomness is a dataclass of tensors drawn by the matching
``draw_*_randomness`` from an explicit ``torch.Generator``; metrics are scalar tensors. Each
algorithm registers itself in :data:`REGISTRY` beside its code:

| name (module) | algorithm |
|---|---|
| ``edp_td3`` (:mod:`~edp_ref.algorithms.edp_td3`) | EDP + TD3 (App. A.1, Algorithm 1) |
| ``edp_crr`` (:mod:`~edp_ref.algorithms.edp_crr`) | EDP + CRR (App. A.2) |
| ``edp_iql`` (:mod:`~edp_ref.algorithms.edp_iql`) | EDP + IQL (App. A.3) |
| ``dql`` (:mod:`~edp_ref.algorithms.dql`) | Diffusion-QL (Sec. 4.4): EDP + TD3 through the chain |
| ``edp_without_dpm``, ``edp_without_ap`` (:mod:`~edp_ref.algorithms.ablations`) | Fig. 2 |
| ``td3bc``, ``gaussian_crr``, ``gaussian_iql`` (one module each) | Table 2's FF baselines |

Each name's update is ``<name>_update`` (``edp_td3_update``, ..., ``td3bc_update``).

Modules, in the order of Algorithm 1: :mod:`~edp_ref.algorithms.config` (shared config parts),
:mod:`~edp_ref.algorithms.state`,
:mod:`~edp_ref.data.batch`, :mod:`~edp_ref.algorithms.diffusion_policy` (Eqs. 8-9 and
sampling), :mod:`~edp_ref.algorithms.critic` and :mod:`~edp_ref.algorithms.policy_evaluation`
(Eqs. 6, 14, 22), :mod:`~edp_ref.algorithms.weights` and
:mod:`~edp_ref.algorithms.policy_improvement` (Eqs. 10-13, 20-22),
:mod:`~edp_ref.algorithms.optim` (clipping, Adam), :mod:`~edp_ref.algorithms.targets`
(Polyak targets, EMA policy), :mod:`~edp_ref.algorithms.execution` (validation, compile), the
algorithms themselves, :mod:`~edp_ref.algorithms.acting` (Algorithm 2 at evaluation) and
:mod:`~edp_ref.algorithms.multiseed` (several seeds in one process).
"""

from edp_ref.algorithms.ablations import (
    EDPWithoutAPConfig,
    EDPWithoutDPMConfig,
    edp_without_ap_update,
    edp_without_dpm_update,
)
from edp_ref.algorithms.acting import (
    ActingSettings,
    diffusion_act,
    feedforward_act,
    make_diffusion_act,
    perturbed_actor_eas_act,
)
from edp_ref.algorithms.config import (
    AlgorithmConfig,
    DiffusionAlgorithmConfig,
    DiffusionConfig,
    NetworkConfig,
    OptimizerConfig,
    SamplerKind,
    TargetNetworkConfig,
    table3_config,
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
from edp_ref.algorithms.dql import DQLConfig, dql_update, draw_dql_randomness, init_dql
from edp_ref.algorithms.edp_crr import (
    CRRRandomness,
    EDPCRRConfig,
    draw_crr_randomness,
    edp_crr_update,
    init_edp_crr,
)
from edp_ref.algorithms.edp_iql import (
    EDPIQLConfig,
    IQLRandomness,
    draw_iql_randomness,
    edp_iql_update,
    init_edp_iql,
)
from edp_ref.algorithms.edp_td3 import (
    EDPTD3Config,
    TD3Randomness,
    draw_td3_randomness,
    edp_td3_update,
    init_edp_td3,
)
from edp_ref.algorithms.gaussian_crr import (
    GaussianCRRConfig,
    GaussianCRRRandomness,
    draw_gaussian_crr_randomness,
    gaussian_crr_update,
    init_gaussian_crr,
)
from edp_ref.algorithms.gaussian_iql import (
    GaussianIQLConfig,
    draw_gaussian_iql_randomness,
    gaussian_iql_update,
    init_gaussian_iql,
)
from edp_ref.algorithms.gaussian_policy import feedforward_actions
from edp_ref.algorithms.optim import (
    AdamState,
    adam_step,
    apply_gradients,
    clip_by_global_norm,
    global_norm,
)
from edp_ref.algorithms.registry import REGISTRY, AlgorithmSpec, algorithm, register
from edp_ref.algorithms.state import Networks, TrainState, load_state_tensors, state_tensors
from edp_ref.algorithms.targets import masked_polyak, polyak
from edp_ref.algorithms.td3bc import (
    TD3BCConfig,
    TD3BCRandomness,
    draw_td3bc_randomness,
    init_td3bc,
    td3bc_update,
)
from edp_ref.data.batch import Batch

__all__ = [
    "REGISTRY",
    "ActingSettings",
    "AdamState",
    "AlgorithmConfig",
    "AlgorithmSpec",
    "Batch",
    "CRRRandomness",
    "DQLConfig",
    "DiffusionAlgorithmConfig",
    "DiffusionConfig",
    "DiffusionNoise",
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
    "SamplerKind",
    "SamplerNoise",
    "TD3BCConfig",
    "TD3BCRandomness",
    "TD3Randomness",
    "TargetNetworkConfig",
    "TrainState",
    "adam_step",
    "algorithm",
    "apply_gradients",
    "clip_by_global_norm",
    "diffusion_act",
    "dql_update",
    "draw_crr_randomness",
    "draw_diffusion_noise",
    "draw_dql_randomness",
    "draw_eas_uniforms",
    "draw_gaussian_crr_randomness",
    "draw_gaussian_iql_randomness",
    "draw_iql_randomness",
    "draw_sampler_noise",
    "draw_td3_randomness",
    "draw_td3bc_randomness",
    "edp_crr_update",
    "edp_iql_update",
    "edp_td3_update",
    "edp_without_ap_update",
    "edp_without_dpm_update",
    "feedforward_act",
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
    "make_diffusion_act",
    "masked_polyak",
    "perturbed_actor_eas_act",
    "polyak",
    "register",
    "sample_actions",
    "select_actions",
    "state_tensors",
    "table3_config",
    "td3bc_update",
]
