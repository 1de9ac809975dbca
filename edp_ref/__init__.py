"""edp_ref: the reference implementation, in PyTorch, of Efficient Diffusion Policies for
Offline Reinforcement Learning (Kang et al., NeurIPS 2023).

The public API is a set of pure, deterministic, shape-typed functions, one per equation of the
paper; randomness (noise, timesteps, uniforms) is always an argument. SPEC.md maps each
equation to its function and to the tests that check it.
"""

from edp_ref.core.approximation import approximate_action, clip_action, noise_from_action
from edp_ref.core.corruption import corrupt
from edp_ref.core.ddpm import ddpm_sample, ddpm_step
from edp_ref.core.dpm_solver import (
    DPMSolverPlan,
    DPMSolverStep,
    dpm_solver_orders,
    dpm_solver_plan,
    dpm_solver_sample,
)
from edp_ref.core.losses import (
    diffusion_loss,
    elbo_weighted_loss,
    elbo_weights,
    gaussian_surrogate_loss,
    squared_error,
)
from edp_ref.core.networks import (
    NoisePredictionNetwork,
    QNetwork,
    ValueNetwork,
    official_init_,
    sinusoidal_time_embedding,
)
from edp_ref.core.schedule import SCHEDULE_KINDS, Schedule, make_schedule
from edp_ref.core.selection import eas_index, eas_probabilities, energy_based_action_selection
from edp_ref.validation import value_checks

__version__ = "0.1.0"

__all__ = [
    "SCHEDULE_KINDS",
    "DPMSolverPlan",
    "DPMSolverStep",
    "NoisePredictionNetwork",
    "QNetwork",
    "Schedule",
    "ValueNetwork",
    "__version__",
    "approximate_action",
    "clip_action",
    "corrupt",
    "ddpm_sample",
    "ddpm_step",
    "diffusion_loss",
    "dpm_solver_orders",
    "dpm_solver_plan",
    "dpm_solver_sample",
    "eas_index",
    "eas_probabilities",
    "elbo_weighted_loss",
    "elbo_weights",
    "energy_based_action_selection",
    "gaussian_surrogate_loss",
    "make_schedule",
    "noise_from_action",
    "official_init_",
    "sinusoidal_time_embedding",
    "squared_error",
    "value_checks",
]
