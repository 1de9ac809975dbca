"""Conformance cases of the paper's equations: the schedule (Eq. 1), corruption (Eq. 8), action
approximation (Eq. 9) and the three losses (Eqs. 5, 12, 13).

Official counterparts: the schedules of sail-sg/edp, diffusion/diffusion.py
(``get_named_beta_schedule``; the vp schedule also in
Zhendong-Wang/Diffusion-Policies-for-Offline-RL, agents/helpers.py), corruption and
approximation as ``GaussianDiffusion.q_sample`` and ``_predict_xstart_from_eps`` there, the
"official" ELBO weights as its ``normalized_ts_weights``, and the surrogate losses of EDP + CRR /
IQL as in sail-sg/edp, diffusion/dql.py.
"""

from __future__ import annotations

from functools import partial

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
from edp_ref.core.schedule import Schedule, make_schedule
from edp_ref.golden.case import Arrays, CaseList, GoldenCase
from edp_ref.golden.core_inputs import NUM_STEPS, CoreInputs

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


def equation_cases(shared: CoreInputs) -> list[GoldenCase]:
    """Eqs. 1, 8, 9, 5, 12 and 13 in ``shared.dtype``."""
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
    return cases.cases
