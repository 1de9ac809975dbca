"""The crosscheck's power suite: realistic bugs put into edp_ref, each of which must fail it.

A check is only evidence if it fails on the bugs it claims to exclude. Each :class:`Bug` is a
mistake an implementer of the paper plausibly makes, applied to edp_ref in-process for the
duration of a run (:func:`patched`: the function is replaced in every loaded ``edp_ref`` module
that holds it, and restored afterwards; no file is edited). :func:`power_run` runs the plan's
checks once as they are (every deciding line must pass) and once per bug (at least one deciding
line must fail); the peers' sides are computed once and reused (:mod:`edp_ref.fidelity.
edp_checks`, :mod:`edp_ref.fidelity.samplers`), so a bug costs only edp_ref's side.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast
from unittest import mock

import torch

from edp_ref.fidelity.compare import Comparison

__all__ = ["BUGS", "Bug", "BugResult", "patched", "power_run", "power_table"]


@contextlib.contextmanager
def patched(module: Any, name: str, replacement: Any) -> Iterator[None]:
    """``module.name`` replaced by ``replacement`` in ``module`` and in every loaded ``edp_ref``
    module that imported the same object; everything restored on exit."""
    original = getattr(module, name)
    holders = [
        m
        for key, m in list(sys.modules.items())
        if key.startswith("edp_ref") and m is not None and getattr(m, name, None) is original
    ]
    for m in holders:
        setattr(m, name, replacement)
    try:
        yield
    finally:
        for m in holders:
            setattr(m, name, original)


@dataclass(frozen=True)
class Bug:
    """One realistic bug: its ``--bugs`` name, what is wrong (with the paper's equation or
    section) and a context manager factory that puts it into edp_ref for its block."""

    name: str
    title: str
    apply: Callable[[], contextlib.AbstractContextManager[None]]


def _wrap(module_name: str, name: str, make: Callable[[Any], Any]) -> Callable[[], Any]:
    """A bug that replaces ``module.name`` by ``make(original)``."""

    def apply() -> contextlib.AbstractContextManager[None]:
        module = importlib.import_module(module_name)
        return patched(module, name, make(getattr(module, name)))

    return apply


def _done_dropped(original: Any) -> Any:
    return lambda r, d, v, g: original(r, torch.zeros_like(d), v, g)


def _max_twin(original: Any) -> Any:
    from edp_ref.core import rl

    return lambda r, d, q1, q2, g: rl.bellman_target(r, d, torch.maximum(q1, q2), g)


def _tau_zero(original: Any) -> Any:
    def advance_state(
        state: Any, params: Any, optimizers: Any, critic_tau: float, **kw: Any
    ) -> Any:
        return original(state, params, optimizers, 0.0, **kw)

    return advance_state


def _eas_scale(factor: float) -> Callable[[Any], Any]:
    return lambda original: lambda q, temperature=1.0: original(q * factor, temperature)


def _corruption_index(original: Any) -> Any:
    def corrupt(schedule: Any, a0: Any, k: Any, eps: Any) -> Any:
        return original(schedule, a0, (k + 1).clamp(max=schedule.num_steps - 1), eps)

    return corrupt


@contextlib.contextmanager
def _dpm_time_grid() -> Iterator[None]:
    """DPM-Solver's knots t_n = n / N instead of (n + 1) / N (plans rebuilt inside and after)."""
    from edp_ref.core import dpm_solver

    def knots(schedule: Any) -> tuple[torch.Tensor, torch.Tensor]:
        t_knots, log_alpha = original(schedule)
        return t_knots - 1.0 / schedule.num_steps, log_alpha

    original = dpm_solver._knots
    dpm_solver._PLANS.clear()
    try:
        with patched(dpm_solver, "_knots", knots):
            yield
    finally:
        dpm_solver._PLANS.clear()


def _expectile_mirrored(original: Any) -> Any:
    return lambda diff, expectile: original(-diff, expectile)


def _crr_max_baseline(original: Any) -> Any:
    return lambda q_data, q_samples: q_data - q_samples.max(dim=0).values


def _surrogate_without_half(original: Any) -> Any:
    return lambda a, a0_hat, weights, form="squared_error": original(a, a0_hat, weights)


def _ema_late(original: Any) -> Any:
    return lambda step, start, every, counts="this_update": original(step - 1, start, every, counts)


def _clip_after_adam(original: Any) -> Any:
    from edp_ref.algorithms.optim import clip_by_global_norm

    def apply_gradients(params: Any, grads: Any, state: Any, config: Any, apply: Any = None) -> Any:
        free = dataclasses.replace(config, max_grad_norm=None)
        new, new_state, norm = original(params, grads, state, free, apply)
        step = {n: new[n] - params[n] for n in params}
        clipped, _ = clip_by_global_norm(step, config.max_grad_norm, config.clip_mode)
        return {n: params[n] + clipped[n] for n in params}, new_state, norm

    return apply_gradients


@contextlib.contextmanager
def _lambda_alpha_swapped() -> Iterator[None]:
    """EDP + TD3 reading Algorithm 1's lambda as TD3+BC's alpha and alpha as lambda."""
    from edp_ref.algorithms.registry import REGISTRY

    record = REGISTRY["edp_td3"]
    update = record.update

    def swapped(state: Any, batch: Any, randomness: Any, config: Any) -> Any:  # an Update
        config = dataclasses.replace(config, alpha=config.loss_weight, loss_weight=config.alpha)
        return update(state, batch, randomness, config)

    # The registry is read-only to its users; the bug replaces the record for its block.
    bugged = dataclasses.replace(record, update=cast(Any, swapped))
    with mock.patch.dict(REGISTRY._algorithms, {"edp_td3": bugged}):
        yield


def _action_not_clipped(original: Any) -> Any:
    return lambda schedule, a_k, k, eps_hat, clip=1.0: original(schedule, a_k, k, eps_hat, None)


def _obs_norm_bessel(original: Any) -> Any:
    from edp_ref.data.preprocessing import Preprocessed

    def normalize_observations(
        dataset: Any, mode: Any = "scalar", eps: float = 1e-6, clip: float = 10.0
    ) -> Any:
        norm = original(dataset, mode, eps, clip).observation_transform
        obs = dataset.observations
        n = obs.numel() if mode == "scalar" else obs.shape[0]
        norm = dataclasses.replace(norm, std=norm.std * math.sqrt(n / (n - 1)))
        out = dataset.with_note(
            "observations normalized (Bessel's std)",
            observations=norm(obs),
            next_observations=norm(dataset.next_observations),
        )
        return Preprocessed(out, norm)

    return normalize_observations


#: The bugs of docs/fidelity.md's power table, in its order.
BUGS: tuple[Bug, ...] = (
    Bug("done_dropped", "the (1 - d) factor dropped from the TD target (Eq. 6)",
        _wrap("edp_ref.core.rl", "bellman_target", _done_dropped)),
    Bug("tau_zero", "target critics never updated: tau = 0 (App. A)",
        _wrap("edp_ref.algorithms.targets", "advance_state", _tau_zero)),
    Bug("eas_half_q", "EAS softmax of Q / 2 instead of Q (Alg. 2)",
        _wrap("edp_ref.core.selection", "eas_probabilities", _eas_scale(0.5))),
    Bug("eas_ignores_q", "EAS ignoring Q: a uniform choice among the candidates (Alg. 2)",
        _wrap("edp_ref.core.selection", "eas_probabilities", _eas_scale(0.0))),
    Bug("max_twin_target", "max instead of min of the twin target critics (Eq. 14)",
        _wrap("edp_ref.core.rl", "clipped_double_q_target", _max_twin)),
    Bug("corruption_index", "alpha-bar of step k + 1 in the corruption (Eq. 8)",
        _wrap("edp_ref.core.corruption", "corrupt", _corruption_index)),
    Bug("dpm_time_grid", "DPM-Solver's time grid off by one: t_n = n / N, not (n + 1) / N "
        "(Sec. 4.2)", lambda: _dpm_time_grid()),
    Bug("expectile_mirrored", "IQL's expectile mirrored: tau on the negative side (Eq. 22)",
        _wrap("edp_ref.core.rl", "expectile_loss", _expectile_mirrored)),
    Bug("crr_max_baseline", "CRR's advantage with the max, not the mean, of the sampled "
        "actions' values as baseline (Eq. 21)",
        _wrap("edp_ref.core.rl", "crr_advantage", _crr_max_baseline)),
    Bug("surrogate_weight", "Gaussian surrogate without the 1/2 of -log N: twice the "
        "official weight (Eq. 13)",
        _wrap("edp_ref.core.losses", "gaussian_surrogate_loss", _surrogate_without_half)),
    Bug("ema_late", "EMA policy started one update late (t - 1 > 1000, (t - 1) % 5) (App. A)",
        _wrap("edp_ref.algorithms.targets", "ema_due", _ema_late)),
    Bug("clip_after_adam", "gradient-norm clipping applied to Adam's step instead of the "
        "gradient (Table 3)",
        _wrap("edp_ref.algorithms.optim", "apply_gradients", _clip_after_adam)),
    Bug("lambda_alpha_swapped", "EDP + TD3 with lambda and alpha swapped (Alg. 1, Eq. 16)",
        lambda: _lambda_alpha_swapped()),
    Bug("action_not_clipped", "a_hat^0 of the action approximation not clipped to [-1, 1] "
        "(Eq. 9)", _wrap("edp_ref.core.approximation", "approximate_action", _action_not_clipped)),
    Bug("obs_norm_bessel", "observation normalisation off: std with Bessel's correction "
        "(torch's default) instead of the population std (App. A)",
        _wrap("edp_ref.data.preprocessing", "normalize_observations", _obs_norm_bessel)),
)  # fmt: skip


@dataclass(frozen=True)
class BugResult:
    """What one bug did to the crosscheck: the deciding lines that failed, worst (largest
    deviation / tolerance) first, or the error edp_ref raised with the bug in (caught by the
    check that raised)."""

    bug: Bug
    failed: tuple[Comparison, ...]
    error: str = ""

    @property
    def caught(self) -> bool:
        return bool(self.failed) or bool(self.error)


def _ratio(c: Comparison) -> float:
    return math.inf if c.tolerance == 0 else c.deviation / c.tolerance


def power_run(
    run: Callable[[], list[Comparison]], bugs: tuple[Bug, ...] = BUGS
) -> tuple[list[Comparison], list[BugResult]]:
    """``run()`` (the plan's checks) as it is, then once with each bug in: the unmutated run's
    lines and each bug's result."""
    clean = run()
    results = []
    for bug in bugs:
        with bug.apply():
            try:
                lines = run()
            except Exception as exc:  # a bug that makes edp_ref raise is caught by that check
                results.append(BugResult(bug, (), f"{type(exc).__name__}: {exc}"))
                continue
        failed = sorted((c for c in lines if not c.passed), key=_ratio, reverse=True)
        results.append(BugResult(bug, tuple(failed)))
    return clean, results


def _against_official_edp(line: Comparison) -> bool:
    """Whether a line compares edp_ref with the official EDP (not Diffusion-QL or CORL)."""
    return "vs Diffusion-QL" not in line.name and "vs CORL" not in line.name


def power_table(results: list[BugResult]) -> list[str]:
    """The power table as Markdown lines: bug; the worst failing line against the official EDP
    (else against Diffusion-QL or CORL) with its deviation / tolerance; the number of failing
    lines against the official EDP and against the PyTorch peers."""
    lines = [
        "| bug put into edp_ref | caught by (worst failing line; the official EDP's first) | "
        "deviation / tolerance | failing lines: official EDP, Diffusion-QL + CORL |",
        "|---|---|---|---|",
    ]
    for r in results:
        official = [c for c in r.failed if _against_official_edp(c)]
        torch_peers = [c for c in r.failed if not _against_official_edp(c)]
        if r.error:
            lines.append(f"| {r.bug.title} | raised: {r.error[:120]} | - | - |")
        elif r.failed:
            worst = (official or torch_peers)[0]
            ratio = f"{worst.deviation:.2e} / {worst.tolerance:.0e}"
            counts = f"{len(official)}, {len(torch_peers)}"
            lines.append(f"| {r.bug.title} | {worst.name} | {ratio} | {counts} |")
        else:
            lines.append(f"| {r.bug.title} | NOT CAUGHT | - | 0, 0 |")
    return lines
