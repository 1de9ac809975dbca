"""Conformance cases of the samplers: one DDPM step (Eq. 4), the DDPM chain (Eqs. 3-4), and
DPM-Solver (Sec. 4.2) with and without clipping and with the App. C.4 knobs.

Official counterparts: DDPM as ``GaussianDiffusion.p_sample`` / ``p_sample_loop`` of
sail-sg/edp, diffusion/diffusion.py (posterior variance, clipped x_0 estimate); DPM-Solver as
sail-sg/edp, diffusion/dpm_solver.py, called from ``DiffusionPolicy.dpm_sample`` in
sail-sg/edp, diffusion/nets.py (singlestep, time-uniform, noise prediction). The sampler cases
give the noise network's parameters and the conditioning states, so a port rebuilds ``eps_fn``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch

from edp_ref.core.ddpm import DdpmVariance, ddpm_sample, ddpm_step
from edp_ref.core.dpm_solver import dpm_solver_sample
from edp_ref.core.schedule import Schedule, make_schedule
from edp_ref.golden.case import Arrays, CaseList, GoldenCase
from edp_ref.golden.core_inputs import NUM_STEPS, CoreInputs, eps_fn_from

__all__ = ["sampler_cases"]

#: DPM-Solver's end time of the sampler cases (the official 1/K for K = 1000).
T_END = 1e-3


def _ddpm_step(x: Arrays, schedule: Schedule, variance: DdpmVariance) -> Arrays:
    a_prev = ddpm_step(schedule, x["a_k"], x["k"], x["eps_hat"], x["noise"], 1.0, variance)
    return {"a_prev": a_prev}


def _dpm_solver(x: Arrays, schedule: Schedule, dtype: torch.dtype, p: dict[str, Any]) -> Arrays:
    """DPM-Solver with the case's ``params`` ``p`` (App. C.4's knobs 1.0 where not given)."""
    scales = p.get("policy_scale", 1.0), p.get("initial_noise_scale", 1.0)
    eps_fn = eps_fn_from(x, dtype)
    a0 = dpm_solver_sample(
        schedule, eps_fn, x["a_T"], p["steps"], p["order"], p["t_end"], p["clip"], *scales
    )
    return {"a0": a0}


def _ddpm_chain(x: Arrays, schedule: Schedule, dtype: torch.dtype) -> Arrays:
    return {"a0": ddpm_sample(schedule, eps_fn_from(x, dtype), x["a_K"], x["noises"])}


def sampler_cases(shared: CoreInputs) -> list[GoldenCase]:
    """Eq. 4's step, Eqs. 3-4's chain and DPM-Solver in ``shared.dtype``."""
    dtype = shared.dtype
    cases = CaseList(dtype)
    linear = make_schedule("linear", NUM_STEPS)
    linear_params = {"schedule": "linear", "num_steps": NUM_STEPS}
    variances: tuple[DdpmVariance, ...] = ("posterior", "beta")
    for variance in variances:
        cases.add(
            f"ddpm_step_{variance}",
            "ddpm_step",
            "Eq. 4",
            {**linear_params, "clip": 1.0, "variance": variance},
            {"a_k": shared.a_k, "k": shared.k, "eps_hat": shared.eps_hat, "noise": shared.noise},
            partial(_ddpm_step, schedule=linear, variance=variance),
        )
    sampler_inputs = {**shared.eps_net, "state": shared.state, "a_T": shared.a_start}
    dpm = {**linear_params, "t_end": T_END}
    for name, equation, params in (
        ("clip_1.0", "Sec. 4.2 (DPM-Solver)", {"steps": 15, "order": 3, "clip": 1.0}),
        ("clip_None", "Sec. 4.2 (DPM-Solver)", {"steps": 15, "order": 3, "clip": None}),
        (
            "controlled",
            "App. C.4",
            {"steps": 10, "order": 2, "clip": 1.0, "policy_scale": 0.8, "initial_noise_scale": 0.5},
        ),
    ):
        cases.add(
            f"dpm_solver_sample_{name}",
            "dpm_solver_sample",
            equation,
            {**dpm, **params},
            sampler_inputs,
            partial(_dpm_solver, schedule=linear, dtype=dtype, p={**dpm, **params}),
            chain=True,
        )
    cases.add(
        "ddpm_sample_vp5",
        "ddpm_sample",
        "Eqs. 3-4",
        {"schedule": "vp", "num_steps": 5, "clip": 1.0, "variance": "posterior"},
        {**shared.eps_net, "state": shared.state, "a_K": shared.a_start, "noises": shared.noises},
        partial(_ddpm_chain, schedule=make_schedule("vp", 5), dtype=dtype),
        chain=True,
        notes="noises[k] is used by the step from timestep k; eps_fn gets t = k as floats",
    )
    return cases.cases
