"""edp_ref: the reference implementation, in PyTorch, of Efficient Diffusion Policies for
Offline Reinforcement Learning (Kang et al., NeurIPS 2023).

The public API is a set of pure, deterministic, shape-typed functions, one per equation of the
paper; randomness (noise, timesteps, uniforms) is always an argument. SPEC.md maps each
equation to its function and to the tests that check it.

:func:`load_policy` loads a trained run's policy (``edp-train``, ``edp-reproduce``); it needs
the training extras (``pip install 'edp_ref[train]'``) and imports them only when called.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import TYPE_CHECKING

from edp_ref.lazy_imports import lazy_exports

if TYPE_CHECKING:  # the API, imported on first use (lazy_exports): --help needs no torch
    import torch

    from edp_ref.algorithms import ActingSettings, AlgorithmConfig
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
    from edp_ref.core.rl import (
        bellman_target,
        capped_exponential_weights,
        clipped_double_q_target,
        crr_advantage,
        expectile_loss,
        gaussian_log_prob,
        q_loss_scale,
        target_policy_smoothing,
        td_loss,
    )
    from edp_ref.core.schedule import SCHEDULE_KINDS, Schedule, make_schedule
    from edp_ref.core.selection import eas_index, eas_probabilities, energy_based_action_selection
    from edp_ref.runner.policy import Policy
    from edp_ref.validation import value_checks

__version__ = importlib.metadata.version("edp_ref")
__getattr__ = lazy_exports(__name__, __file__)

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
    "bellman_target",
    "capped_exponential_weights",
    "clip_action",
    "clipped_double_q_target",
    "corrupt",
    "crr_advantage",
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
    "expectile_loss",
    "gaussian_log_prob",
    "gaussian_surrogate_loss",
    "load_policy",
    "make_schedule",
    "noise_from_action",
    "official_init_",
    "q_loss_scale",
    "sinusoidal_time_embedding",
    "squared_error",
    "target_policy_smoothing",
    "td_loss",
    "value_checks",
]


def load_policy(
    run_dir: str | Path,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    settings: ActingSettings | None = None,
) -> tuple[Policy, AlgorithmConfig]:
    """The trained policy of a run folder and its algorithm config (two lines to act)::

        policy, config = edp_ref.load_policy("runs/train/hopper-medium-v2/edp_td3/seed0")
        action = policy(observation)   # numpy or torch; EAS for diffusion policies

    See :func:`edp_ref.runner.policy.load_policy` (imported here on first call: the runner
    needs the training extras).
    """
    from edp_ref.runner.policy import load_policy as load

    return load(run_dir, device=device, seed=seed, settings=settings)
