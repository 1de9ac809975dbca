"""Conformance cases of the paper's equations: the schedule (Eq. 1), corruption (Eq. 8), action
approximation (Eq. 9), the three losses (Eqs. 5, 12, 13) and the RL equations of
:mod:`edp_ref.core.rl` (Eqs. 6, 14-16, 20-22).

Official counterparts: the schedules of sail-sg/edp, diffusion/diffusion.py
(``get_named_beta_schedule``; the vp schedule also in
Zhendong-Wang/Diffusion-Policies-for-Offline-RL, agents/helpers.py), corruption and
approximation as ``GaussianDiffusion.q_sample`` and ``_predict_xstart_from_eps`` there, the
"official" ELBO weights as its ``normalized_ts_weights``, and the surrogate losses of EDP + CRR /
IQL as in sail-sg/edp, diffusion/dql.py. The RL equations' inputs come from a generator of their
own (seed ``SEED + 1``), so that adding them left every earlier archive as it was.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch

from edp_ref.core.approximation import approximate_action
from edp_ref.core.corruption import corrupt
from edp_ref.core.losses import (
    ActionReduction,
    ElboVariant,
    SurrogateForm,
    diffusion_loss,
    elbo_weighted_loss,
    elbo_weights,
    gaussian_surrogate_loss,
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
from edp_ref.core.schedule import Schedule, make_schedule
from edp_ref.golden.case import SEED, Arrays, CaseList, GoldenCase
from edp_ref.golden.core_inputs import ACTION_DIM, BATCH, NUM_STEPS, CoreInputs

__all__ = ["equation_cases"]

#: The tables of a schedule a case gives (Eq. 1 and the DDPM posterior of Eq. 4).
SCHEDULE_TABLES = (
    "betas",
    "alphas",
    "alpha_bars",
    "alpha_bars_prev",
    "posterior_variance",
    "posterior_log_variance_clipped",
    "posterior_mean_coef1",
    "posterior_mean_coef2",
)


def _schedule_tables(_x: Arrays, schedule: Schedule, dtype: torch.dtype) -> Arrays:
    return {name: getattr(schedule, name).to(dtype) for name in SCHEDULE_TABLES}


def _corrupt(x: Arrays, schedule: Schedule) -> Arrays:
    return {"a_k": corrupt(schedule, x["a0"], x["k"], x["eps"])}


def _approximate(x: Arrays, schedule: Schedule, clip: float | None) -> Arrays:
    return {"a0_hat": approximate_action(schedule, x["a_k"], x["k"], x["eps_hat"], clip)}


def _diffusion_loss(x: Arrays, reduction: ActionReduction) -> Arrays:
    return {"loss": diffusion_loss(x["eps"], x["eps_hat"], reduction)}


def _elbo_weights(
    _x: Arrays, schedule: Schedule, variant: ElboVariant, dtype: torch.dtype
) -> Arrays:
    return {"weights": elbo_weights(schedule, variant).to(dtype)}


def _elbo_weighted_loss(x: Arrays, schedule: Schedule, variant: ElboVariant) -> Arrays:
    loss = elbo_weighted_loss(schedule, x["k"], x["eps"], x["eps_hat"], x["weights"], variant)
    return {"loss": loss}


def _surrogate_loss(x: Arrays, form: SurrogateForm) -> Arrays:
    loss = gaussian_surrogate_loss(x["a"], x["a0_hat"], x["weights"], form)
    return {"loss": loss}


#: The RL cases' parameters: gamma, TD3's smoothing (sigma, c, max), TD3+BC's alpha, the weights'
#: cap, IQL's tau, and N, the sampled actions of CRR's baseline.
DISCOUNT, SMOOTHING, ALPHA, CAP, EXPECTILE, SAMPLES = 0.99, (0.2, 0.5, 1.0), 2.5, 20.0, 0.7, 4

#: name -> (function, equation, its non-tensor arguments, its tensor inputs, in call order).
_RL_EQUATIONS: dict[str, tuple[Any, str, dict[str, Any], tuple[str, ...]]] = {
    "bellman_target": (
        bellman_target,
        "Eq. 6",
        {"discount": DISCOUNT},
        ("rewards", "terminals", "next_value"),
    ),
    "clipped_double_q_target": (
        clipped_double_q_target,
        "Eq. 14",
        {"discount": DISCOUNT},
        ("rewards", "terminals", "next_q1", "next_q2"),
    ),
    "td_loss": (td_loss, "Eq. 6", {}, ("q", "y")),
    "target_policy_smoothing": (
        target_policy_smoothing,
        "Eq. 14 (TD3)",
        dict(zip(("policy_noise", "noise_clip", "max_action"), SMOOTHING, strict=True)),
        ("next_actions", "noise"),
    ),
    "q_loss_scale": (q_loss_scale, "Eq. 16, App. A.1", {"alpha": ALPHA}, ("q",)),
    "crr_advantage": (crr_advantage, "Eqs. 20-21", {}, ("q", "q_samples")),
    "capped_exponential_weights": (
        capped_exponential_weights,
        "Eqs. 20, 22",
        {"cap": CAP},
        ("scaled_advantage",),
    ),
    "expectile_loss": (expectile_loss, "Eq. 22", {"expectile": EXPECTILE}, ("diff",)),
    "gaussian_log_prob": (
        gaussian_log_prob,
        "Eq. 20 (log pi)",
        {},
        ("actions", "mean", "log_std"),
    ),
}


def _rl_inputs(dtype: torch.dtype) -> Arrays:
    """The RL cases' tensors, drawn in float64 from their own generator, cast to ``dtype``."""
    gen = torch.Generator().manual_seed(SEED + 1)
    B, A = BATCH, ACTION_DIM

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return low + (high - low) * torch.rand(*shape, generator=gen, dtype=torch.float64)

    x = {
        "rewards": randn(B),
        "terminals": (torch.rand(B, generator=gen) < 0.25).double(),
        "next_value": randn(B) * 10,
        "next_q1": randn(B) * 10,
        "next_q2": randn(B) * 10,
        "q": randn(B) * 10,
        "y": randn(B) * 10,
        "next_actions": uniform(-1.0, 1.0, B, A),
        "noise": randn(B, A) * 2,
        "q_samples": randn(SAMPLES, B) * 10,
        "scaled_advantage": uniform(-3.0, 5.0, B),  # exp above the cap of 20 for some rows
        "diff": randn(B),
        "actions": uniform(-1.0, 1.0, B, A),
        "mean": uniform(-1.0, 1.0, B, A),
        "log_std": uniform(-2.0, 1.0, B, A),
    }
    return {name: t.to(dtype) for name, t in x.items()}


def _rl_equation(x: Arrays, name: str) -> Arrays:
    function, _, params, inputs = _RL_EQUATIONS[name]
    return {"out": function(*(x[i] for i in inputs), **params)}


def _rl_cases(cases: CaseList) -> None:
    x = _rl_inputs(cases.dtype)
    for name, (_, equation, params, inputs) in _RL_EQUATIONS.items():
        cases.add(
            name,
            name,
            equation,
            params,
            {i: x[i] for i in inputs},
            partial(_rl_equation, name=name),
            notes=f"out = {name}({', '.join(inputs)}, **params)",
        )


def equation_cases(shared: CoreInputs) -> list[GoldenCase]:
    """Eqs. 1, 8, 9, 5, 12, 13 and the RL equations in ``shared.dtype``."""
    dtype = shared.dtype
    cases = CaseList(dtype)
    for kind, steps in (("linear", 1000), ("cosine", 100), ("vp", 5)):
        cases.add(
            f"make_schedule_{kind}_{steps}",
            "make_schedule",
            "Eq. 1",
            {"kind": kind, "num_steps": steps},
            {},
            partial(_schedule_tables, schedule=make_schedule(kind, steps), dtype=dtype),
            notes="tables computed in float64, cast to the case dtype",
        )
    linear = make_schedule("linear", NUM_STEPS)
    linear_params = {"schedule": "linear", "num_steps": NUM_STEPS}
    a0, k, eps, eps_hat = shared.a0, shared.k, shared.eps, shared.eps_hat
    cases.add(
        "corrupt",
        "corrupt",
        "Eq. 8",
        linear_params,
        {"a0": a0, "k": k, "eps": eps},
        partial(_corrupt, schedule=linear),
    )
    for clip in (1.0, None):
        cases.add(
            f"approximate_action_clip_{clip}",
            "approximate_action",
            "Eq. 9",
            {**linear_params, "clip": clip},
            {"a_k": shared.a_k, "k": k, "eps_hat": eps_hat},
            partial(_approximate, schedule=linear, clip=clip),
        )
    reductions: tuple[ActionReduction, ...] = ("mean", "sum")
    for reduction in reductions:
        cases.add(
            f"diffusion_loss_{reduction}",
            "diffusion_loss",
            "Eq. 5",
            {"action_reduction": reduction},
            {"eps": eps, "eps_hat": eps_hat},
            partial(_diffusion_loss, reduction=reduction),
        )
    variants: tuple[ElboVariant, ...] = ("paper", "official")
    for variant in variants:
        cases.add(
            f"elbo_weights_{variant}",
            "elbo_weights",
            "Eq. 12",
            {**linear_params, "variant": variant},
            {},
            partial(_elbo_weights, schedule=linear, variant=variant, dtype=dtype),
        )
        cases.add(
            f"elbo_weighted_loss_{variant}",
            "elbo_weighted_loss",
            "Eq. 12",
            {**linear_params, "variant": variant, "action_reduction": "mean"},
            {"k": k, "eps": eps, "eps_hat": eps_hat, "weights": shared.weights},
            partial(_elbo_weighted_loss, schedule=linear, variant=variant),
        )
    forms: tuple[SurrogateForm, ...] = ("squared_error", "negative_log_likelihood")
    for form in forms:
        cases.add(
            f"gaussian_surrogate_loss_{form}",
            "gaussian_surrogate_loss",
            "Eq. 13",
            {"form": form},
            {"a": a0, "a0_hat": eps_hat, "weights": shared.weights},
            partial(_surrogate_loss, form=form),
        )
    _rl_cases(cases)
    return cases.cases
