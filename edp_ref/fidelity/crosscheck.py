"""The crosscheck of ``scripts/crosscheck_official.py``: which checks run, by which pass rules.

Two plans: ``"full"`` (the script's default: every algorithm at K = 1000 with DPM-Solver-15,
float32 and float64, the DIAGNOSTIC float64 lines, 1,000-update drift runs reported as INFO) and
``"quick"`` (tests/test_crosscheck.py and CI: small networks and K where the check allows, the
K = 1000 / DPM-Solver-15 case for EDP + TD3 at small width, the K = 1000 clip indices, the
PyTorch peers in float32 and float64, no drift). A check whose peer (or JAX) is absent is
skipped with the reason.

The pass rules (docs/fidelity.md, "Pass rules", fixed before the runs they judge) are
:data:`F32` and :data:`F64` (Adam counts exactly). A peer that computes partly in float32 is held
to the float32 rule in every dtype (the official EDP under x64 keeps float32 schedule tables and
time embedding). A line that runs the official code with a replaced function is a DIAGNOSTIC line
and never decides; drift lines are INFO.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from edp_ref.algorithms import SamplerKind
from edp_ref.fidelity.compare import Comparison, Rules
from edp_ref.fidelity.inputs import Root
from edp_ref.fidelity.official_edp import EDPSetting
from edp_ref.fidelity.torch_checks import TorchSetting

__all__ = ["F32", "F64", "Check", "PeerRoots", "plan", "run_checks"]

#: The float32 rule: also for every peer that computes partly in float32.
F32 = Rules(change=1e-2, values=1e-4, outputs=1e-4)
#: The float64 rule: peers that compute in float64 throughout.
F64 = Rules(change=1e-6, values=1e-9, outputs=1e-9)


@dataclass(frozen=True)
class PeerRoots:
    """The peers' folders (None: their environment variables)."""

    edp: Root = None
    dql: Root = None
    corl: Root = None


@dataclass(frozen=True)
class Check:
    """One entry of a plan: its name, the peer it needs, and what it runs."""

    name: str
    peer: str
    run: Callable[[PeerRoots], list[Comparison]]
    drift: bool = False


def _edp_one(setting: EDPSetting, warmup: int = 3) -> Check:
    from edp_ref.fidelity.edp_checks import one_update

    rules = F64 if setting.peer_embedding_f64 else F32
    return Check(
        f"{setting.label} one update",
        "edp",
        lambda r: one_update(setting, r.edp, rules, warmup=warmup),
    )


def _info(label: str, what: str, value: float, note: str) -> Comparison:
    return Comparison(f"{label} {what}", value, value, 1.0, 0.0, 0, note, informational=True)


#: The PyTorch peers that compute in float64 throughout when run in float64. Diffusion-QL does
#: not: its schedule buffers are float32 and enter its last DDPM step as posterior_mean_coef1[0]
#: = 1 - 7.6e-8 (agents/diffusion.py), where edp_ref returns the clipped x0 itself; nor does
#: CORL's IQL: its expectile weights are float32, ``(u < 0).float()`` (algorithms/offline/iql.py,
#: ``asymmetric_l2_loss``). Both are held to the float32 rule in float64.
FLOAT64_THROUGHOUT = frozenset({"td3bc"})


def _torch_one(setting: TorchSetting) -> Check:
    from edp_ref.fidelity.torch_checks import torch_one_update

    root = "dql" if setting.peer == "dql" else "corl"
    rules = F64 if setting.float64 and setting.peer in FLOAT64_THROUGHOUT else F32
    return Check(
        f"{setting.label} one update",
        root,
        lambda r: torch_one_update(setting, getattr(r, root), rules),
    )


def _drift(setting: EDPSetting | TorchSetting, updates: int) -> Check:
    """Drift of edp_ref from a peer over ``updates`` updates in float32 and in float64 (against
    the official EDP with its float32 tables and the float64 time embedding, DIAGNOSTIC): INFO
    lines (round-off is amplified by training; no tolerance fixed in advance tells it from a
    small systematic difference, which the one-update lines judge)."""
    from edp_ref.fidelity.edp_checks import many_updates
    from edp_ref.fidelity.torch_checks import torch_many_updates

    many: Callable[..., Any]
    wide: EDPSetting | TorchSetting
    if isinstance(setting, EDPSetting):
        official, root, many = True, "edp", many_updates
        wide = dataclasses.replace(setting, float64=True, peer_tables=True, peer_embedding_f64=True)
    else:
        official, root, many = False, "dql" if setting.peer == "dql" else "corl", torch_many_updates
        wide = dataclasses.replace(setting, float64=True)

    def run(r: PeerRoots) -> list[Comparison]:
        every = max(1, updates // 20)
        pair: tuple[Any, Any] = (setting, wide)
        f32, f64 = (many(s, getattr(r, root), updates, every) for s in pair)
        label, note = f"{setting.label} {updates}-update", "float32" if official else ""
        worst32, worst64 = max(f32.params), max(f64.params)
        lines = [_info(label, "params drift (max over run)", worst32, note)]
        if official:
            lines.append(_info(label, "losses drift (max over run)", max(f32.losses), note))
        return [
            *lines,
            _info(
                f"{wide.label} {updates}-update", "params drift (max over run)", worst64,
                f"float64 shrinks the float32 drift {worst32 / max(worst64, 1e-300):.1e}x",
            ),
        ]  # fmt: skip

    return Check(f"{setting.label} {updates}-update drift", root, run, drift=True)


def _samplers(quick: bool) -> list[Check]:
    from edp_ref.fidelity import samplers as sm

    k1000 = EDPSetting("td3", num_steps=1000, dpm_steps=15, dpm_t_end=1e-3, hidden=8)
    k50 = EDPSetting("td3", num_steps=50, dpm_steps=15, dpm_t_end=0.02, hidden=8)
    ddpm50 = EDPSetting("dql_jax", num_steps=50, hidden=8)
    f64 = _float64
    dpm = [k50] if quick else [k1000, k50, f64(k1000), f64(k50)]
    ddpm = [ddpm50] if quick else [ddpm50, dataclasses.replace(ddpm50, num_steps=5, float64=True)]
    # EAS at K = 1000 in float64 only: in float32 the official clip indices flip at model
    # times 333 and 666 (see clip_index_lines), which moves its candidates by ~7e-3.
    eas = [k50] if quick else [k50, f64(k1000)]

    def check(name: str, setting: EDPSetting, lines: Callable[..., list[Comparison]]) -> Check:
        return Check(f"{setting.label} {name}", "edp", lambda r: lines(setting, r.edp))

    def sampler(kind: SamplerKind) -> Callable[..., list[Comparison]]:
        return lambda s, root: sm.sampler_check(s, root, F32, kind)

    return [
        *(check("dpm_solver", s, sampler("dpm_solver")) for s in dpm),
        *(check("ddpm", s, sampler("ddpm")) for s in ddpm),
        *(check("EAS", s, lambda s, root: sm.eas_check(s, root, F32)) for s in eas),
        check("model times", k50, sm.model_time_lines),
        check("clip indices", k1000, sm.clip_index_lines),
    ]


def _float64(setting: EDPSetting) -> EDPSetting:
    return dataclasses.replace(setting, float64=True)


#: (task, algorithm, --obs_norm) of the preprocessing checks: IQL's locomotion reward scale,
#: AntMaze's reward shift with the scalar observation normalisation, Adroit's min-max rewards.
PREPROCESSING = (
    ("hopper-medium-v2", "iql", False),
    ("antmaze-umaze-v0", "td3", True),
    ("pen-human-v1", "crr", True),
)


def _preprocessing(task: str, algorithm: str, obs_norm: bool) -> Check:
    from edp_ref.fidelity.official_trainer import preprocessing_check

    return Check(
        f"preprocessing {task} {algorithm}",
        "edp",
        lambda r: preprocessing_check(task, algorithm, r.edp, obs_norm),
    )


def _torch_settings() -> list[TorchSetting]:
    """DQL, TD3+BC and IQL (CORL as shipped, and CORL's methods in IQL's order; each also with
    edp_ref's Adam epsilon doubled, the line that checks the critics) in float32; all but the
    epsilon lines in float64."""
    base = [TorchSetting("dql"), TorchSetting("td3bc")]
    base += [TorchSetting("iql", iql_order=order) for order in ("corl", "iql")]
    f32 = [
        v
        for s in base
        for v in ([s, dataclasses.replace(s, q_adam_eps=2e-8)] if s.peer == "iql" else [s])
    ]
    return f32 + [dataclasses.replace(s, float64=True) for s in base]


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
                _edp_one(_float64(base)),
                _edp_one(
                    dataclasses.replace(
                        base, float64=True, peer_tables=True, peer_embedding_f64=True
                    )
                ),
            ]
        dql_jax = EDPSetting("dql_jax", num_steps=5)
        checks += [_edp_one(dql_jax), _edp_one(_float64(dql_jax))]
    checks += _samplers(quick)
    checks += [_preprocessing(*row) for row in PREPROCESSING]
    checks += [_torch_one(s) for s in _torch_settings()]
    if not quick:
        diagnostic = dataclasses.replace(k1000, interpolation="searchsorted_diagnostic")
        checks += [
            _drift(dataclasses.replace(diagnostic, algorithm=alg), 1000)
            for alg in ("td3", "crr", "iql")
        ]
        checks.append(_drift(EDPSetting("td3", num_steps=50, dpm_t_end=0.02), 1000))
        checks += [_drift(TorchSetting(p), 1000) for p in ("dql", "td3bc")]
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
