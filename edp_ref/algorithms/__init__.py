"""The training updates of EDP (Kang et al. 2023, Secs. 4.2-4.4, Appendix A) and its baselines.

Every algorithm is a record of :data:`REGISTRY` (:class:`Algorithm`), reached by name::

    edp_td3 = REGISTRY["edp_td3"]
    config = table3_config(edp_td3.config_class(), "hopper-medium-v2")
    state = edp_td3.init(config, state_dim, action_dim, generator)
    randomness = edp_td3.draw(config, batch_size, action_dim, generator)
    state, metrics = edp_td3.update(state, batch, randomness, config)

An update is a pure function ``update(state, batch, randomness, config) -> (state, metrics)``:
the state (:class:`TrainState`) holds parameters, targets, the EMA policy, Adam states and the
step counter; the randomness is a dataclass of tensors drawn by ``draw`` from an explicit
``torch.Generator``; metrics are scalar tensors.

The algorithms are one module each in :mod:`edp_ref.algorithms.catalog`, registered where they
are written (:mod:`~edp_ref.algorithms.registry`, which says how a module is discovered); the
machinery they share is one module per job (config, state, randomness, initialization,
diffusion_policy, feedforward_policy, critic, policy_improvement, optim, targets, execution,
acting, step, multiseed). The formulas themselves are :mod:`edp_ref.core`'s (:mod:`edp_ref.core.rl`
for the RL equations).
"""

from edp_ref.algorithms.acting import ActingSettings
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
from edp_ref.algorithms.execution import Metrics
from edp_ref.algorithms.registry import (
    REGISTRY,
    Algorithm,
    import_algorithm_modules,
    register_algorithm,
    register_variant,
)
from edp_ref.algorithms.state import TrainState, load_state_tensors, state_tensors
from edp_ref.algorithms.step import TrainingStep
from edp_ref.data.batch import Batch

__all__ = [
    "REGISTRY",
    "ActingSettings",
    "Algorithm",
    "AlgorithmConfig",
    "Batch",
    "DiffusionAlgorithmConfig",
    "DiffusionConfig",
    "Metrics",
    "NetworkConfig",
    "OptimizerConfig",
    "SamplerKind",
    "TargetNetworkConfig",
    "TrainState",
    "TrainingStep",
    "load_state_tensors",
    "register_algorithm",
    "register_variant",
    "state_tensors",
    "table3_config",
]

import_algorithm_modules()
