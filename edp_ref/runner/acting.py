"""How a trained agent acts at evaluation (Sec. 4.5, Alg. 2; App. C.4; Table 6).

Diffusion policies act by energy-based action selection (EAS): N candidate actions from the
sampler (DPM-Solver; DDPM for the DQL agent), one picked with probability proportional to
exp(min(Q1, Q2)). App. C.4's policy scaling (Fig. 6) and initial-noise scale (Fig. 7) act on
the DPM-Solver samples. Table 6's TD3+EAS applies EAS to Gaussian perturbations of the
deterministic TD3+BC actor. Feed-forward agents act with the actor's output or Gaussian mean.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from edp_ref import algorithms as A
from edp_ref.algorithms.config import DiffusionConfig, SamplerKind
from edp_ref.algorithms.critic import min_q
from edp_ref.core.dpm_solver import dpm_solver_sample
from edp_ref.core.selection import energy_based_action_selection
from edp_ref.runner.agents import AgentSpec
from edp_ref.runner.spec import EvalSettings
from edp_ref.validation import value_checks

__all__ = ["eas_actions", "evaluation_policy", "feedforward_eas_actions"]


def eas_actions(
    state: A.TrainState,
    observations: Float[Tensor, "batch state"],
    candidate_noise: A.SamplerNoise,
    uniforms: Float[Tensor, " batch"],
    num_candidates: int,
    diffusion: DiffusionConfig,
    sampler: SamplerKind = "dpm_solver",
    policy_scale: float = 1.0,
    initial_noise_scale: float = 1.0,
) -> Float[Tensor, "batch action"]:
    """EAS (Alg. 2) over diffusion samples, with App. C.4's policy scaling and noise scale.

    With ``policy_scale = initial_noise_scale = 1`` this is ``edp_ref.algorithms.select_actions``
    itself; otherwise the candidates come from ``dpm_solver_sample`` with those arguments (the
    algorithms' sampler does not expose them), scored by min(Q1, Q2) of the online critics.
    """
    if policy_scale == 1.0 and initial_noise_scale == 1.0:
        return A.select_actions(
            state, observations, candidate_noise, uniforms, num_candidates, diffusion, sampler
        )
    if sampler != "dpm_solver":
        raise ValueError(
            "eas_actions: policy_scale and initial_noise_scale are DPM-Solver options (App. C.4)"
        )
    batch = observations.shape[0]
    repeated = observations.repeat_interleave(num_candidates, dim=0)
    params = state.params["policy"]

    def eps_fn(a: Tensor, t: Tensor) -> Tensor:
        return state.networks.noise(params, repeated, a, t)

    with torch.no_grad(), value_checks(False):
        candidates = dpm_solver_sample(
            state.networks.require_schedule(),
            eps_fn,
            candidate_noise.initial,
            steps=diffusion.dpm_steps,
            order=diffusion.dpm_order,
            t_end=diffusion.t_end(),
            clip=diffusion.action_clip,
            policy_scale=policy_scale,
            initial_noise_scale=initial_noise_scale,
        )
        q = min_q(state.networks, state.params["q1"], state.params["q2"], repeated, candidates)
    return energy_based_action_selection(
        candidates.reshape(batch, num_candidates, -1), q.reshape(batch, num_candidates), uniforms
    )


def feedforward_eas_actions(
    state: A.TrainState,
    observations: Float[Tensor, "batch state"],
    perturbations: Float[Tensor, "rows action"],
    uniforms: Float[Tensor, " batch"],
    num_candidates: int,
    noise_std: float,
) -> Float[Tensor, "batch action"]:
    """Table 6's TD3+EAS: candidates clip(pi(s) + noise_std xi_i, -1, 1), i = 1..N, one picked
    with probability proportional to exp(min(Q1, Q2)) (Alg. 2)."""
    batch = observations.shape[0]
    repeated = observations.repeat_interleave(num_candidates, dim=0)
    with torch.no_grad(), value_checks(False):
        base = A.feedforward_actions(state, repeated)
        candidates = (base + noise_std * perturbations).clamp(-1.0, 1.0)
        q = min_q(state.networks, state.params["q1"], state.params["q2"], repeated, candidates)
    return energy_based_action_selection(
        candidates.reshape(batch, num_candidates, -1), q.reshape(batch, num_candidates), uniforms
    )


def evaluation_policy(
    agent: AgentSpec,
    config: Any,
    state: A.TrainState,
    settings: EvalSettings,
    generator: torch.Generator,
    action_dim: int,
) -> Callable[[Tensor], Tensor]:
    """How the agent acts at evaluation, as a function of the (transformed) observations.

    * ``feedforward``: the actor's output (TD3+BC) or the Gaussian mean (CRR, IQL);
    * ``feedforward_eas``: Table 6's TD3+EAS (:func:`feedforward_eas_actions`);
    * ``eas``: EAS over the agent's evaluation sampler (:func:`eas_actions`), with
      ``settings.dpm_steps`` replacing the agent's DPM-Solver steps when given (Fig. 5).

    Every random draw comes from ``generator``, so an evaluation is reproducible.
    """
    n = settings.eas_candidates
    if agent.eval_mode == "feedforward":
        return lambda obs: A.feedforward_actions(state, obs)
    if agent.eval_mode == "feedforward_eas":

        def ff_eas(obs: Tensor) -> Tensor:
            b = obs.shape[0]
            xi = torch.randn((b * n, action_dim), generator=generator, dtype=obs.dtype)
            u = torch.rand((b,), generator=generator, dtype=obs.dtype)
            return feedforward_eas_actions(state, obs, xi, u, n, settings.feedforward_noise)

        return ff_eas
    diffusion: DiffusionConfig = config.diffusion
    if settings.dpm_steps is not None:
        diffusion = dataclasses.replace(diffusion, dpm_steps=settings.dpm_steps)

    def diffusion_eas(obs: Tensor) -> Tensor:
        b = obs.shape[0]
        noise = A.draw_sampler_noise(
            agent.eval_sampler,
            diffusion.num_steps,
            b * n,
            action_dim,
            generator,
            obs.device,
            obs.dtype,
        )
        u = A.draw_eas_uniforms(b, generator, obs.device, obs.dtype)
        return eas_actions(
            state,
            obs,
            noise,
            u,
            n,
            diffusion,
            agent.eval_sampler,
            settings.policy_scale,
            settings.initial_noise_scale,
        )

    return diffusion_eas
