"""How a trained agent acts at evaluation (Sec. 4.5, Algorithm 2; Appendix C.4; Table 6).

Each registered algorithm has one of these as its ``act``; every one has the signature
``act(state, observations, config, settings, generator) -> actions`` and draws its randomness
from ``generator`` (on the CPU; moved to the observations' device), or, given one generator per
row (:data:`Generators`; an evaluation gives each episode its own), row b's from the b-th: the
same draws, in the same order, as a call on that row alone with that generator.

* :class:`DiffusionAct`: energy-based action selection (Alg. 2) over N samples of the diffusion
  policy (DPM-Solver for EDP, DDPM for Diffusion-QL), scored by min(Q1, Q2) of the online critics
  (official: sail-sg/edp, diffusion/dql.py), with App. C.4's policy scaling and initial-noise
  scale; N = 1 is one plain sample.
* :func:`feedforward_act`: the deterministic actor's output or the Gaussian policy's mean.
* :func:`perturbed_actor_eas_act`: Table 6's TD3+EAS, EAS over N perturbations
  clip(pi(s) + sigma xi_i, -1, 1) of a deterministic actor. The paper does not say how its
  candidates were drawn; this is edp_ref's choice (SPEC.md section 4).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import torch
from jaxtyping import Float
from torch import Tensor

from edp_ref.algorithms.config import DiffusionConfig, SamplerKind
from edp_ref.algorithms.diffusion_policy import select_actions
from edp_ref.algorithms.execution import compiled_for
from edp_ref.algorithms.feedforward_policy import feedforward_actions
from edp_ref.algorithms.randomness import SamplerNoise, draw_eas_uniforms, draw_sampler_noise
from edp_ref.algorithms.state import TrainState
from edp_ref.config_checks import check_at_least, check_field_types, check_positive
from edp_ref.core.selection import energy_based_action_selection
from edp_ref.validation import value_checks

__all__ = [
    "ActFn",
    "ActingSettings",
    "DiffusionAct",
    "Generators",
    "feedforward_act",
    "perturbed_actor_eas_act",
]


@dataclass(frozen=True)
class ActingSettings:
    """How a policy acts at evaluation (Sec. 4.5, App. C.4, Table 6)."""

    # N of EAS (paper: 10; official code: 50); 1 = one plain sample, no selection.
    eas_candidates: int = 10
    # Sampler of the candidates; None = the algorithm's own (DPM-Solver; DDPM for Diffusion-QL).
    sampler: SamplerKind | None = None
    # DPM-Solver model calls; None = the config's (Sec. 5: 15; Fig. 5 varies it).
    dpm_steps: int | None = None
    # tau of App. C.4 (Fig. 6): multiplies the predicted noise.
    policy_scale: float = 1.0
    # Multiplies the initial noise a^K (App. C.4, Fig. 7; 0 = deterministic sampling).
    initial_noise_scale: float = 1.0
    # Std of the Gaussian perturbations of a deterministic actor whose perturbed copies are EAS's
    # candidates (Table 6's TD3+EAS; edp_ref's choice).
    perturbation_std: float = 0.1
    # torch.compile the candidates' sampling and scoring (CUDA graphs on CUDA); None = on when
    # the state lives on CUDA. On CPU it pays for long evaluations (compiling takes a minute).
    compile: bool | None = None

    def __post_init__(self) -> None:
        check_field_types(self)
        check_positive(self, "eas_candidates", "dpm_steps")
        check_at_least(self, 0.0, "policy_scale", "initial_noise_scale", "perturbation_std")


#: One generator for every row, or one per row (row b draws from the b-th).
Generators = torch.Generator | Sequence[torch.Generator]

#: ``act(state, observations, config, settings, generator) -> actions`` at evaluation.
ActFn = Callable[[TrainState, Tensor, Any, ActingSettings, Generators], Tensor]

T = TypeVar("T")


def _by_row(
    generators: Generators, rows: int, draw: Callable[[int, torch.Generator], T]
) -> list[T]:
    """``[draw(rows, generator)]``, or ``[draw(1, generators[b]) for b in range(rows)]``."""
    if isinstance(generators, torch.Generator):
        return [draw(rows, generators)]
    if len(generators) != rows:
        raise ValueError(f"act: {len(generators)} generators for {rows} observations")
    return [draw(1, g) for g in generators]


@dataclass(frozen=True)
class DiffusionAct:
    """The ``act`` of a diffusion policy: EAS (Alg. 2) over N samples per state, drawn with
    ``sampler`` unless ``settings.sampler`` says otherwise, with App. C.4's knobs, scored by
    min(Q1, Q2) of the online (official EDP) or target (Diffusion-QL) ``critics``.

    Draws, in this order, the candidates' sampler noise for B * N rows and one uniform per
    state from ``generator`` (per row: N rows' noise, then its uniform).
    """

    sampler: SamplerKind = "dpm_solver"
    critics: Literal["online", "target"] = "online"

    def __call__(
        self,
        state: TrainState,
        observations: Float[Tensor, "batch state"],
        config: Any,
        settings: ActingSettings,
        generator: Generators,
    ) -> Float[Tensor, "batch action"]:
        diffusion: DiffusionConfig = config.diffusion
        if settings.dpm_steps is not None:
            diffusion = dataclasses.replace(diffusion, dpm_steps=settings.dpm_steps)
        sampler = settings.sampler or self.sampler
        n = settings.eas_candidates
        device, dtype, A = observations.device, observations.dtype, state.networks.action_dim

        def draw(rows: int, g: torch.Generator) -> tuple[SamplerNoise, Tensor]:
            noise = draw_sampler_noise(sampler, diffusion.num_steps, rows * n, A, g, device, dtype)
            return noise, draw_eas_uniforms(rows, g, device, dtype)

        draws = _by_row(generator, observations.shape[0], draw)
        steps = [d[0].steps for d in draws]
        noise = SamplerNoise(
            initial=torch.cat([d[0].initial for d in draws]),
            steps=None if steps[0] is None else torch.cat(steps, dim=1),  # type: ignore[arg-type]
        )
        uniforms = torch.cat([d[1] for d in draws])
        use_compile = settings.compile
        if use_compile is None:
            use_compile = state.device.type == "cuda"
        select = compiled_for(select_actions, state.device) if use_compile else select_actions
        return select(
            state,
            observations,
            noise,
            uniforms,
            n,
            diffusion,
            sampler,
            policy_scale=settings.policy_scale,
            initial_noise_scale=settings.initial_noise_scale,
            critics=self.critics,
        )


def feedforward_act(
    state: TrainState,
    observations: Float[Tensor, "batch state"],
    config: Any,
    settings: ActingSettings,
    generator: Generators,
) -> Float[Tensor, "batch action"]:
    """The deterministic actor's output or the Gaussian policy's mean (draws nothing)."""
    return feedforward_actions(state, observations)


def perturbed_actor_eas_act(
    state: TrainState,
    observations: Float[Tensor, "batch state"],
    config: Any,
    settings: ActingSettings,
    generator: Generators,
) -> Float[Tensor, "batch action"]:
    """Table 6's TD3+EAS: candidates clip(pi(s) + sigma xi_i, -1, 1), i = 1..N, one picked with
    probability proportional to exp(min(Q1, Q2)) (Alg. 2).

    Draws, in this order, xi [B * N, A] ~ N(0, I) and one uniform per state from ``generator``
    (per row: its N rows of xi, then its uniform).
    """
    n = settings.eas_candidates
    batch = observations.shape[0]
    dtype, A = observations.dtype, state.networks.action_dim

    def draw(rows: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
        xi = torch.randn((rows * n, A), generator=g, dtype=dtype)
        return xi, torch.rand((rows,), generator=g, dtype=dtype)

    draws = _by_row(generator, batch, draw)
    xi = torch.cat([d[0] for d in draws]).to(observations.device)
    uniforms = torch.cat([d[1] for d in draws]).to(observations.device)
    repeated = observations.repeat_interleave(n, dim=0)
    with torch.no_grad(), value_checks(False):
        base = feedforward_actions(state, repeated)
        candidates = (base + settings.perturbation_std * xi).clamp(-1.0, 1.0)
        q = state.networks.min_q(state.params["q1"], state.params["q2"], repeated, candidates)
    return energy_based_action_selection(
        candidates.reshape(batch, n, -1), q.reshape(batch, n), uniforms
    )
