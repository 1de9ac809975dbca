"""Sampling speed (Figure 2's sampling SPS): energy-based action selection (Sec. 4.5, Alg. 2).

For EDP + TD3's policy on the benchmark's shapes, :func:`measure_sampling` times
:func:`~edp_ref.algorithms.diffusion_policy.select_actions` (N candidate actions per state,
sampled, scored by the critic and one drawn per state) through DPM-Solver (15 model calls, App. B)
and through DDPM (K model calls), for every number of candidates and of states in the settings,
and reports actions per second and the DPM-Solver / DDPM ratio. The paper's SPS are environment
steps of a full evaluation on its GPU; here only the action selection is timed, and no environment
runs.
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Callable
from typing import Any

import torch

from edp_ref.algorithms import DiffusionConfig, TrainState
from edp_ref.algorithms.config import SamplerKind
from edp_ref.algorithms.diffusion_policy import select_actions
from edp_ref.algorithms.randomness import SamplerNoise, draw_eas_uniforms, draw_sampler_noise
from edp_ref.benchmark.settings import BenchmarkSettings
from edp_ref.benchmark.timing import load1, time_loop
from edp_ref.benchmark.training import REFERENCE_RECORD, training_case
from edp_ref.compilation import compile_function

__all__ = ["measure_sampling"]

# DDPM selections of more than this many rows x model calls are timed once after one warm-up.
_LONG_DDPM_WORK = 200_000


@functools.cache
def _selector(sampler: SamplerKind, mode: str) -> Callable[..., torch.Tensor]:
    """``select_actions`` with ``sampler`` fixed, compiled in compiled mode (one per process)."""

    def select(
        state: TrainState,
        obs: torch.Tensor,
        noise: SamplerNoise,
        uniforms: torch.Tensor,
        n: int,
        diffusion: DiffusionConfig,
    ) -> torch.Tensor:
        return select_actions(state, obs, noise, uniforms, n, diffusion, sampler)

    return compile_function(select) if mode == "compiled" else select


def _empty_record(sampler: str, calls: int, n: int, states: int, mode: str) -> dict[str, Any]:
    return {
        "sampler": sampler,
        "model_calls": calls,
        "candidates": n,
        "states": states,
        "mode": mode,
        "calls": 0,
        "seconds_per_call": None,
        "actions_per_second": None,
        "ratio_dpm_to_ddpm": None,
        "loadavg": None,
        "error": None,
    }


def measure_sampling(s: BenchmarkSettings, device: torch.device) -> list[dict[str, Any]]:
    """One record per (sampler, candidates, states, mode): the JSON's ``sampling`` list.

    DDPM is not compiled (its K-step loop would be unrolled): its compiled records carry that
    reason in ``error``. A failure is recorded in ``error``, not raised.
    """
    case = training_case(s, REFERENCE_RECORD)
    diffusion: DiffusionConfig = case.config.diffusion
    init_gen = torch.Generator().manual_seed(s.seed)
    state = case.spec.init(case.config, s.obs_dim, s.action_dim, init_gen, device)
    gen = torch.Generator(device=device).manual_seed(s.seed)
    records: list[dict[str, Any]] = []
    kinds: list[tuple[SamplerKind, int]] = [
        ("dpm_solver", diffusion.dpm_steps),
        ("ddpm", s.num_steps),
    ]
    for sampler, calls in kinds:
        for n in s.candidates:
            for states in s.sampling_states:
                rows = n * states
                obs = torch.randn(states, s.obs_dim, generator=gen, device=device)
                noise = draw_sampler_noise(sampler, s.num_steps, rows, s.action_dim, gen, device)
                uniforms = draw_eas_uniforms(states, gen, device)
                for mode in s.modes:
                    rec = _empty_record(sampler, calls, n, states, mode)
                    if mode == "compiled" and sampler == "ddpm":
                        rec["error"] = "not compiled: the K-step DDPM loop would be unrolled"
                        records.append(rec)
                        continue
                    fn = _selector(sampler, mode)
                    call = functools.partial(fn, state, obs, noise, uniforms, n, diffusion)
                    try:
                        slow = sampler == "ddpm" and rows * calls > _LONG_DDPM_WORK
                        times = time_loop(
                            call,
                            device,
                            1,
                            1 if slow else s.min_iterations,
                            s.max_iterations,
                            0.0 if slow else s.min_seconds,
                            s.max_seconds,
                        )
                        sec = statistics.median(times)
                        rec.update(
                            calls=len(times),
                            seconds_per_call=sec,
                            actions_per_second=states / sec,
                        )
                    except Exception as exc:
                        rec["error"] = f"{type(exc).__name__}: {exc}"
                    rec["loadavg"] = load1()
                    records.append(rec)
    _add_ratios(records)
    return records


def _add_ratios(records: list[dict[str, Any]]) -> None:
    """Fill ``ratio_dpm_to_ddpm`` of each DPM-Solver record against eager DDPM (same N, states)."""
    ddpm = {
        (r["candidates"], r["states"]): r["actions_per_second"]
        for r in records
        if r["sampler"] == "ddpm" and r["mode"] == "eager" and r["actions_per_second"]
    }
    for rec in records:
        other = ddpm.get((rec["candidates"], rec["states"]))
        if rec["sampler"] == "dpm_solver" and rec["actions_per_second"] is not None and other:
            rec["ratio_dpm_to_ddpm"] = rec["actions_per_second"] / other
