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

The package has two parts:

* the algorithms, one module each in :mod:`edp_ref.algorithms.catalog` (EDP + TD3 / CRR / IQL,
  Diffusion-QL, the ablations, the feed-forward baselines): a module declares its config class,
  its randomness and the core of its update, and registers them where they are written
  (:func:`register_algorithm`, :func:`register_variant`). Importing this package imports every
  module of the catalog and of the packages named in ``EDP_REF_ALGORITHM_PACKAGES``
  (comma-separated), so an algorithm is added by writing one module, in edp_ref or outside it.
* the machinery they share, one module per job, in the order of Algorithm 1:
  :mod:`~edp_ref.algorithms.config` (config parts, Table 3), :mod:`~edp_ref.algorithms.state`,
  :mod:`~edp_ref.algorithms.randomness` (noise and how randomness is declared and drawn),
  :mod:`~edp_ref.algorithms.initialization` (a fresh state per policy network),
  :mod:`~edp_ref.algorithms.diffusion_policy` (Eqs. 8-9 in the updates, sampling, EAS),
  :mod:`~edp_ref.algorithms.feedforward_policy` (the FF baselines' networks),
  :mod:`~edp_ref.algorithms.critic` (Eqs. 6, 14, 22), :mod:`~edp_ref.algorithms.policy_improvement`
  (Eqs. 10-13), :mod:`~edp_ref.algorithms.optim` (clipping, Adam),
  :mod:`~edp_ref.algorithms.targets` (Polyak targets, EMA policy),
  :mod:`~edp_ref.algorithms.input_checks` and :mod:`~edp_ref.algorithms.execution` (validation,
  eager / compiled), :mod:`~edp_ref.algorithms.registry`, :mod:`~edp_ref.algorithms.acting`
  (Algorithm 2 at evaluation), :mod:`~edp_ref.algorithms.step` (Algorithm 1's loop body) and
  :mod:`~edp_ref.algorithms.multiseed` (several seeds in one process). The formulas themselves
  are :mod:`edp_ref.core`'s (:mod:`edp_ref.core.rl` for the RL equations).
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
    Family,
    Policy,
    import_algorithm_modules,
    register_algorithm,
    register_variant,
)
from edp_ref.algorithms.state import Networks, TrainState, load_state_tensors, state_tensors
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
    "Family",
    "Metrics",
    "NetworkConfig",
    "Networks",
    "OptimizerConfig",
    "Policy",
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
