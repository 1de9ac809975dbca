"""The crosscheck of ``scripts/crosscheck_official.py``: which checks run, at which tolerances.

Two plans: ``"full"`` (the script's default: every algorithm at K = 1000 with DPM-Solver-15,
float32 and float64, 1,000-update drift runs) and ``"quick"`` (tests/test_crosscheck.py: tiny
networks and K where the check allows, the full K = 1000 / DPM-Solver-15 case for EDP + TD3 at
small width, the K = 1000 clip indices, the PyTorch peers in float32 and float64, 30- and
50-update drift, the latter also in float64; the official EDP in float64 only in the full plan,
whose compilations take minutes). A check whose peer (or JAX) is absent is skipped with the reason.

Tolerances are relative to the largest magnitude of the peer's values in a group
(:func:`edp_ref.fidelity.compare.compare_group`): float32 1e-5 for parameters and targets, 1e-4
for Adam moments, 2e-5 for losses; float64 1e-8, 1e-5 and 1e-6 (the official EDP's policy in
float64: ``F64_OFFICIAL_EDP_POLICY``, see docs/fidelity.md). A drift run reports edp_ref's
float32 drift from the peer next to the peer's own drift from a start one ulp away, and passes
when its float64 drift is at most ``F64_SHRINK`` times its float32 drift (round-off shrinks by
~1e9 from float32 to float64, an algorithmic difference does not); a run without a float64 part
passes when its float32 drift is within ``DRIFT_FACTOR`` times the peer's own drift (or
``DRIFT_FLOOR``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from edp_ref.fidelity.compare import Comparison
from edp_ref.fidelity.official_edp import EDPSetting
from edp_ref.fidelity.torch_checks import TorchSetting

__all__ = ["F32", "F64", "Check", "PeerRoots", "plan", "run_checks"]

F32 = {
    "params": 1e-5,
    "ema_policy": 1e-5,
    "target": 1e-5,
    "adam_mu": 1e-4,
    "adam_nu": 1e-4,
    "adam_count": 0.0,
    "losses": 2e-5,
}
# The official EDP in float64 (x64): its time embedding's frequencies stay float32
# (diffusion/nets.py, sinusoidal_embedding: jnp.arange(half, dtype=jnp.float32)), which moves
# the policy's gradients by ~1e-8 of their scale; measured 1.1e-8 to 1.6e-8 on the policy's
# parameters and 1.8e-6 on its gradient norm at K = 1000. These tolerances cover that; the
# DIAGNOSTIC line with those frequencies in float64 (peer_embedding_f64) uses F64 itself.
F64_OFFICIAL_EDP_POLICY = {"params/policy": 5e-8, "ema_policy": 5e-8, "losses": 1e-5}
F64 = {
    "params": 1e-8,
    "ema_policy": 1e-8,
    "target": 1e-8,
    "adam_mu": 1e-5,
    "adam_nu": 1e-5,
    "adam_count": 0.0,
    "losses": 1e-6,
}
SAMPLER_TOLERANCE = 1e-4
# Drift: at most this multiple of the peer's own drift from a one-ulp-perturbed start ...
DRIFT_FACTOR = 10.0
# ... or this relative deviation, whichever is larger (float32 round-off of a few updates).
DRIFT_FLOOR = 1e-5
# A float64 drift run must stay below this fraction of the float32 drift of the same run
# (round-off shrinks by ~1e9 from float32 to float64; an algorithmic difference would not).
F64_SHRINK = 1e-3


@dataclass(frozen=True)
class PeerRoots:
    """The peers' folders (None: their environment variables)."""

    edp: str | os.PathLike[str] | None = None
    dql: str | os.PathLike[str] | None = None
    corl: str | os.PathLike[str] | None = None


@dataclass(frozen=True)
class Check:
    """One entry of a plan: its name, the peer it needs, and what it runs."""

    name: str
    peer: str
    run: Callable[[PeerRoots], list[Comparison]]


def _edp_one(setting: EDPSetting, warmup: int = 3) -> Check:
    from edp_ref.fidelity.edp_checks import one_update

    tolerances = F64 if setting.float64 else F32
    if setting.float64 and not setting.peer_embedding_f64:
        tolerances = {**F64, **F64_OFFICIAL_EDP_POLICY}
    return Check(
        f"{setting.label} one update",
        "edp",
        lambda r: one_update(setting, r.edp, tolerances, warmup=warmup),
    )


def _drift_lines(
    label: str, ours: list[float], own: list[float], checked: bool = True
) -> list[Comparison]:
    """The float32 drift line: edp_ref's largest drift from the peer over the run, next to the
    peer's own drift from a one-ulp start. Checked (at most DRIFT_FACTOR times that, or
    DRIFT_FLOOR) only when no float64 run decides: training amplifies round-off chaotically
    (TD3+BC: 3e-3 from one ulp in 1,000 updates), so one one-ulp sample is a loose yardstick
    for a side whose every operation rounds differently; the float64 run's shrink is the test."""
    worst, yard = max(ours), max(own)
    allowed = max(DRIFT_FACTOR * yard, DRIFT_FLOOR)
    note = f"the peer's own drift from a one-ulp start: {yard:.2e}"
    if not checked:
        note += "; float32 reported, the float64 line decides"
    line = Comparison(f"{label} params drift (max over run)", worst, worst, 1.0, allowed, 0, note)
    return [dataclasses.replace(line, informational=not checked)]


def _f64_drift_line(label: str, worst: float, float32_worst: float) -> Comparison:
    allowed = F64_SHRINK * float32_worst
    shrink = f"{1 / F64_SHRINK:.0f}x"
    note = f"float64 must shrink the float32 drift ({float32_worst:.2e}) at least {shrink}"
    return Comparison(f"{label} params drift (max over run)", worst, worst, 1.0, allowed, 0, note)


def _edp_drift(setting: EDPSetting, updates: int, with_f64: bool, flips: bool = False) -> Check:
    """Drift of edp_ref from the official EDP over ``updates`` updates, and the official code's
    own drift from a one-ulp start. ``flips``: K = 1000 with DPM-Solver-15, where the official
    float32 clip indices differ at model times 333 and 666 (:func:`edp_ref.fidelity.samplers.
    clip_index_lines`), so that a' differs whenever the clip binds: the float32 line is INFO and
    the float64 line (indices equal; the official float32 schedule tables and the DIAGNOSTIC
    float64 time embedding, the two float32 constants the official code keeps under x64) is the
    pass/fail one."""
    from edp_ref.fidelity.edp_checks import many_updates

    def run(r: PeerRoots) -> list[Comparison]:
        every = max(1, updates // 20)
        ours = many_updates(setting, r.edp, updates, F32, every, versus="edp_ref")
        own = many_updates(setting, r.edp, updates, F32, every, versus="official+1ulp")
        label = f"{setting.label} {updates}-update"
        out = _drift_lines(label, list(ours.params), list(own.params), checked=not with_f64)
        if flips:
            why = "the official float32 clip indices flip at model times 333 and 666"
            out = [dataclasses.replace(c, informational=True, note=f"{c.note}; {why}") for c in out]
        note = f"the official code's own (one-ulp start): {max(own.losses):.2e}"
        worst_loss = max(ours.losses)
        out.append(
            Comparison(
                f"{label} losses drift (max over run)",
                worst_loss,
                worst_loss,
                1.0,
                math.inf,
                0,
                note,
                informational=True,
            )
        )
        if with_f64:
            wide = dataclasses.replace(
                setting, float64=True, peer_tables=True, peer_embedding_f64=True
            )
            ours64 = many_updates(wide, r.edp, updates, F64, every, versus="edp_ref")
            label64 = f"{wide.label} {updates}-update"
            out.append(_f64_drift_line(label64, max(ours64.params), max(ours.params)))
        return out

    return Check(f"{setting.label} {updates}-update drift", "edp", run)


def _torch_one(setting: TorchSetting) -> Check:
    from edp_ref.fidelity.torch_checks import torch_one_update

    root = "dql" if setting.peer == "dql" else "corl"
    tolerances = F64 if setting.float64 else F32
    return Check(
        f"{setting.label} one update",
        root,
        lambda r: torch_one_update(setting, getattr(r, root), tolerances),
    )


def _torch_drift(
    setting: TorchSetting, updates: int, with_f64: bool, known_difference: str = ""
) -> Check:
    """As :func:`_edp_drift` for the PyTorch peers. ``known_difference``: the runs differ by
    design over many updates (every line INFO, with this reason)."""
    from edp_ref.fidelity.torch_checks import torch_many_updates

    root = "dql" if setting.peer == "dql" else "corl"

    def run(r: PeerRoots) -> list[Comparison]:
        every = max(1, updates // 20)
        folder = getattr(r, root)
        _, ours, _ = torch_many_updates(setting, folder, updates, every, versus="edp_ref")
        _, own, _ = torch_many_updates(setting, folder, updates, every, versus="peer+1ulp")
        out = _drift_lines(f"{setting.label} {updates}-update", ours, own, not with_f64)
        if with_f64:
            wide = dataclasses.replace(setting, float64=True)
            _, ours64, _ = torch_many_updates(wide, folder, updates, every, versus="edp_ref")
            out.append(_f64_drift_line(f"{wide.label} {updates}-update", max(ours64), max(ours)))
        if known_difference:
            out = [
                dataclasses.replace(c, informational=True, note=f"{c.note}; {known_difference}")
                for c in out
            ]
        return out

    return Check(f"{setting.label} {updates}-update drift", root, run)


def _samplers(quick: bool) -> list[Check]:
    from edp_ref.fidelity import samplers as sm

    k1000 = EDPSetting("td3", num_steps=1000, dpm_steps=15, dpm_t_end=1e-3, hidden=8)
    k50 = EDPSetting("td3", num_steps=50, dpm_steps=15, dpm_t_end=0.02, hidden=8)
    ddpm50 = EDPSetting("dql_jax", num_steps=50, hidden=8)
    n, keys = (10, 1000) if quick else (50, 4000)
    settings = [k50] if quick else [k1000, k50, _float64(k1000), _float64(k50)]
    checks = [
        Check(f"{s.label} dpm_solver", "edp", _bind(sm.dpm_solver_check, s, SAMPLER_TOLERANCE))
        for s in settings
    ]
    ddpm = [ddpm50] if quick else [ddpm50, dataclasses.replace(ddpm50, num_steps=5, float64=True)]
    checks += [
        Check(f"{s.label} ddpm", "edp", _bind_one(sm.ddpm_check, s, SAMPLER_TOLERANCE))
        for s in ddpm
    ]
    # EAS at K = 1000 in float64 only: in float32 the official clip indices flip at model
    # times 333 and 666 (see clip_index_lines), which moves its candidates by ~7e-3.
    eas_settings = [k50] if quick else [k50, _float64(k1000)]
    checks += [_eas(s, n, keys) for s in eas_settings]
    checks += [
        Check(f"{k50.label} model times", "edp", lambda r: sm.model_time_lines(k50, r.edp)),
    ]
    checks.append(
        Check(f"{k1000.label} clip indices", "edp", lambda r: sm.clip_index_lines(k1000, r.edp))
    )
    return checks


def _eas(setting: EDPSetting, n: int, keys: int) -> Check:
    from edp_ref.fidelity import samplers as sm

    return Check(
        f"{setting.label} EAS",
        "edp",
        lambda r: sm.eas_check(setting, r.edp, SAMPLER_TOLERANCE, num_candidates=n, keys=keys),
    )


def _float64(setting: EDPSetting) -> EDPSetting:
    """``setting`` in float64."""
    return dataclasses.replace(setting, float64=True)


def _bind(
    fn: Callable[[EDPSetting, Any, float], list[Comparison]], s: EDPSetting, tol: float
) -> Callable[[PeerRoots], list[Comparison]]:
    return lambda r: fn(s, r.edp, tol)


def _bind_one(
    fn: Callable[[EDPSetting, Any, float], Comparison], s: EDPSetting, tol: float
) -> Callable[[PeerRoots], list[Comparison]]:
    return lambda r: [fn(s, r.edp, tol)]


def plan(kind: str) -> list[Check]:
    """The checks of the ``"full"`` or ``"quick"`` plan, in order."""
    if kind not in ("full", "quick"):
        raise ValueError(f"crosscheck plan must be 'full' or 'quick', got {kind!r}")
    quick = kind == "quick"
    k1000 = EDPSetting("td3", num_steps=1000, dpm_steps=15, dpm_t_end=1e-3)
    small = EDPSetting("td3", num_steps=50, dpm_steps=3, dpm_t_end=0.02, hidden=8, batch_size=8)
    checks: list[Check] = []
    if quick:
        tiny1000 = dataclasses.replace(k1000, hidden=8, batch_size=8)
        checks += [
            _edp_one(tiny1000, warmup=1),
            _edp_one(dataclasses.replace(small, algorithm="crr"), warmup=1),
            _edp_one(dataclasses.replace(small, algorithm="iql"), warmup=1),
        ]
    else:
        for alg in ("td3", "crr", "iql"):
            base = dataclasses.replace(k1000, algorithm=alg)
            checks += [
                _edp_one(base),
                _edp_one(dataclasses.replace(base, float64=True)),
                _edp_one(dataclasses.replace(base, float64=True, peer_embedding_f64=True)),
            ]
        dql_jax = EDPSetting("dql_jax", num_steps=5)
        checks += [_edp_one(dql_jax), _edp_one(dataclasses.replace(dql_jax, float64=True))]
    checks += _samplers(quick)
    torch_settings = [
        TorchSetting("dql"),
        TorchSetting("td3bc"),
        TorchSetting("iql", iql_order="original"),
        TorchSetting("iql", iql_order="original", q_adam_eps=2e-8),
        TorchSetting("iql", iql_order="corl"),
    ]
    # Float64: not the Adam-eps diagnostic (its moments start from CORL's half-loss scale, so
    # it is equal to round-off only at float32's resolution).
    torch_settings += [dataclasses.replace(s, float64=True) for s in torch_settings[:3]]
    checks += [_torch_one(s) for s in torch_settings]
    if quick:
        checks += [
            _edp_drift(dataclasses.replace(small, algorithm="iql"), 30, False),
            _torch_drift(TorchSetting("td3bc"), 50, True),
        ]
    else:
        diagnostic = dataclasses.replace(k1000, interpolation="searchsorted_diagnostic")
        checks += [
            _edp_drift(dataclasses.replace(diagnostic, algorithm=alg), 1000, True, flips=True)
            for alg in ("td3", "crr", "iql")
        ]
        k50 = EDPSetting("td3", num_steps=50, dpm_steps=15, dpm_t_end=0.02)
        checks.append(_edp_drift(k50, 1000, True))
        checks += [
            _torch_drift(TorchSetting("dql"), 1000, True),
            _torch_drift(TorchSetting("td3bc"), 1000, True),
            _torch_drift(
                TorchSetting("iql", iql_order="original", q_adam_eps=2e-8),
                1000,
                True,
                "CORL's actor learning rate follows a cosine schedule (edp_ref's is constant) "
                "and its critic loss is half edp_ref's: many updates differ by design",
            ),
        ]
    return checks


def run_checks(
    checks: list[Check], roots: PeerRoots, log: Callable[[str], None] = print
) -> Iterator[Comparison | str]:
    """Run each check (or skip it with the reason its peer is unavailable); yields comparisons
    and, for skipped checks, a ``"SKIP ..."`` string; ``log`` gets each check's duration."""
    from edp_ref.peers import unavailable_reason

    for check in checks:
        reason = unavailable_reason(check.peer, getattr(roots, check.peer))
        if reason is not None:
            yield f"SKIP  {check.name}: {reason}"
            continue
        t0 = time.perf_counter()
        yield from check.run(roots)
        log(f"# {check.name}: {time.perf_counter() - t0:.0f} s")
