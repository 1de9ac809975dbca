"""edp_ref's samplers and EAS against the official EDP evaluation code, on the same inputs.

For the same parameters (the official agent's, converted), states and noise:

* :func:`sampler_check`: the official ``DiffusionPolicy.dpm_sample`` (noise-prediction
  DPM-Solver with its eps clipping, diffusion/nets.py) against edp_ref's ``dpm_solver`` sampler,
  or the official ``ddpm_sample`` (``GaussianDiffusion.p_sample_loop``) against edp_ref's DDPM
  with the official chain's per-step noise (:func:`~edp_ref.fidelity.official_edp.
  _ddpm_draws`' split order);
* :func:`eas_check`: the official evaluation's action choice, ``SamplerPolicy.dpmensemble_act``
  of diffusion/trainer.py (the real class, imported with stubs for what the trainer cannot
  import), against edp_ref's :func:`~edp_ref.algorithms.diffusion_policy.select_actions`, on
  critics whose Q values spread over several units across the candidates (Sec. 4.5, Alg. 2);
* :func:`model_time_lines` and :func:`clip_index_lines`: the times the official DPM-Solver
  wrapper hands to the noise network (recorded with a Flax method interceptor) and the clip index
  it derives from each (``t.astype(int32)``), against edp_ref's plan.

The official side of each check is computed once per process and setting (the power suite,
:mod:`edp_ref.fidelity.power`, reruns only edp_ref's side).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from edp_ref.algorithms import SamplerKind
from edp_ref.algorithms.diffusion_policy import sample_diffusion_actions, select_actions
from edp_ref.algorithms.randomness import SamplerNoise
from edp_ref.core.dpm_solver import dpm_solver_plan
from edp_ref.fidelity.compare import Comparison, Rules, compare_group
from edp_ref.fidelity.inputs import Root
from edp_ref.fidelity.official_edp import (
    EDPSetting,
    _ddpm_draws,
    edp_ref_config,
    edp_ref_state,
    jax_precision,
    official_agent,
    powered_start,
)

__all__ = [
    "EAS_DRAWS",
    "EAS_MIN_Q_SPREAD",
    "clip_index_lines",
    "eas_check",
    "model_time_lines",
    "official_dpm_from_noise",
    "sampler_check",
]


def _key(root: Root) -> str | None:
    """The folder as a cache key (a path and its string are the same peer)."""
    return None if root is None else str(root)


@functools.cache
def _official(setting: EDPSetting, root: str | None) -> Any:
    """The official agent (no warmup) with :func:`powered_start`'s critics (Q spread)."""
    with jax_precision(setting.float64):
        run = official_agent(setting, root, warmup=0)
        powered_start(run, setting)
    return run


def _edp_ref(setting: EDPSetting, root: Root) -> tuple[Any, Any]:
    """edp_ref's config and state for the official agent (rebuilt on every call: the power
    suite's bugs act on edp_ref's code)."""
    run = _official(setting, _key(root))
    with jax_precision(setting.float64):
        config = edp_ref_config(setting, run.agent)
    return config, edp_ref_state(setting, run.agent, config)


def _observations(setting: EDPSetting, rows: int) -> np.ndarray:
    rng = np.random.default_rng(setting.seed + 5)
    return rng.standard_normal((rows, setting.obs_dim)).astype(
        np.float64 if setting.float64 else np.float32
    )


def official_dpm_from_noise(run: Any, params: Any, observations: Any, x: Any) -> Any:
    """The official ``DiffusionPolicy.dpm_sample`` with its initial noise passed in.

    ``dpm_sample`` draws its noise inside (``normal(rng, shape)`` in the default float dtype), so
    the same noise cannot reach it in float32 and in float64. This is its body line for line
    (diffusion/nets.py: ``NoiseScheduleVP("discrete", alphas_cumprod)``, the wrapper that feeds
    ``(t - 1/N) * N`` and clips eps with the tables at ``t.astype(int32)``, ``DPM_Solver(...,
    predict_x0=False).sample(x, steps, t_end)``) built from the official classes, with the
    network called through ``DiffusionPolicy.forward``. :func:`sampler_check` verifies that
    it equals ``dpm_sample`` on ``dpm_sample``'s own noise.
    """
    import jax.numpy as jnp

    dpm = run.modules["diffusion.dpm_solver"]
    extract = run.modules["diffusion.diffusion"]._extract_into_tensor
    policy = run.agent.policy
    gd = policy.diffusion
    ns = dpm.NoiseScheduleVP(schedule="discrete", alphas_cumprod=gd.alphas_cumprod)

    def wrapped_model_fn(x: Any, t: Any) -> Any:
        t = (t - 1.0 / ns.total_N) * ns.total_N
        out = policy.apply(params, observations, x, t, method=policy.forward)
        t = t.astype(jnp.int32)
        x_w = extract(gd.sqrt_recip_alphas_cumprod, t, x.shape)
        e_w = extract(gd.sqrt_recipm1_alphas_cumprod, t, x.shape)
        max_value = (gd.max_value + x_w * x) / e_w
        min_value = (gd.min_value + x_w * x) / e_w
        return out.clip(min_value, max_value)

    solver = dpm.DPM_Solver(model_fn=wrapped_model_fn, noise_schedule=ns, predict_x0=False)
    return solver.sample(x, steps=policy.dpm_steps, t_end=policy.dpm_t_end)


# The replica and ``dpm_sample`` are compiled as two programs whose fusions (and, under
# --fast-compile, optimisation level) differ: a few float32 ulps, not bit equality.
REPLICA_TOLERANCE = 2e-5


@dataclass(frozen=True)
class _OfficialSamples:
    observations: np.ndarray
    initial: np.ndarray
    steps: np.ndarray | None
    actions: np.ndarray
    extra: tuple[Comparison, ...] = ()


@functools.cache
def _official_samples(
    setting: EDPSetting, root: str | None, rows: int, sampler: SamplerKind
) -> _OfficialSamples:
    import jax

    run = _official(setting, root)
    agent, policy = run.agent, run.agent.policy
    obs = _observations(setting, rows)
    params = agent.train_params["policy"]
    if sampler == "ddpm":
        key = jax.random.PRNGKey(setting.seed + 22)
        with jax_precision(setting.float64):
            official = policy.apply(params, key, obs, method=policy.ddpm_sample)
            initial, steps = _ddpm_draws(key, (rows, setting.action_dim), setting.num_steps)
        return _OfficialSamples(obs, np.asarray(initial), np.asarray(steps), np.asarray(official))
    key = jax.random.PRNGKey(setting.seed + 21)
    with jax_precision(setting.float64):
        sample = jax.jit(lambda p, k, o: policy.apply(p, k, o, method=policy.dpm_sample))
        official = np.asarray(sample(params, key, obs))
        initial = np.asarray(jax.random.normal(key, (rows, setting.action_dim)))
    if setting.float64:
        return _OfficialSamples(obs, initial, None, official)
    replica = np.asarray(
        jax.jit(official_dpm_from_noise, static_argnums=0)(run, params, obs, initial)
    )
    with jax_precision(True):
        up = jax.tree_util.tree_map(lambda p: np.asarray(p, dtype=np.float64), params)
        wide = np.asarray(
            official_dpm_from_noise(
                run, up, obs.astype(np.float64), np.asarray(initial, dtype=np.float64)
            )
        )
    lines = (
        compare_group(
            f"{setting.label} sampler official dpm_sample == its replica with passed-in noise",
            {"a": replica},
            {"a": official},
            REPLICA_TOLERANCE,
            note="two separately compiled XLA programs: float32 round-off only",
        ),
        compare_group("own", {"a": wide}, {"a": official}, 1.0),
    )
    return _OfficialSamples(obs, initial, None, official, lines)


def sampler_check(
    setting: EDPSetting, root: Root, rules: Rules, sampler: SamplerKind, rows: int = 64
) -> list[Comparison]:
    """The official ``dpm_sample`` or ``ddpm_sample`` (p_sample_loop) vs edp_ref's sampler on
    the same parameters, states and noise.

    In float32 the official DPM-Solver takes its clip index ``(t - 1/N) * N`` cast to int32 from
    float32 times, which at model times that are integers in exact arithmetic (333, 666 at
    K = 1000) falls on either side by round-off; so the float32 DPM-Solver line's tolerance is
    ``max(rules.outputs, 2 x`` the official sampler's own float32-vs-float64 difference on the
    same noise) (:func:`official_dpm_from_noise` run under x64), reported on the line. Float32
    adds a line checking that the replica equals ``dpm_sample`` to float32 round-off
    (``REPLICA_TOLERANCE``).
    """
    off = _official_samples(setting, _key(root), rows, sampler)
    config, state = _edp_ref(setting, root)
    dtype = setting.torch_dtype
    steps = None if off.steps is None else torch.tensor(off.steps, dtype=dtype)
    ours = sample_diffusion_actions(
        state.networks,
        state.params["policy"],
        torch.tensor(off.observations, dtype=dtype),
        SamplerNoise(initial=torch.tensor(off.initial, dtype=dtype), steps=steps),
        config.diffusion,
        sampler,
    ).detach()
    name = f"{setting.label} sampler {sampler} actions"
    if not off.extra:
        return [compare_group(name, {"a": ours}, {"a": off.actions}, rules.outputs)]
    replica, own = off.extra
    allowed = max(rules.outputs, 2.0 * own.deviation)
    note = f"official float32 vs its own float64 on this noise: {own.deviation:.2e}"
    return [replica, compare_group(name, {"a": ours}, {"a": off.actions}, allowed, note=note)]


#: Official categorical draws per state behind the selection-law line, and edp_ref's
#: stratified uniforms u_j = (j + 1/2) / EAS_GRID per state.
EAS_DRAWS, EAS_GRID = 4000, 1000
#: The least mean (over states) standard deviation of min(Q1, Q2) across the candidates for
#: which EAS lines have power (a 2x temperature error or Q ignored must change the law).
EAS_MIN_Q_SPREAD = 1.0


@dataclass(frozen=True)
class _OfficialEAS:
    observations: np.ndarray
    noise: np.ndarray  # [B, N, A]: dpm_sample's initial noise for each state's key
    candidates: np.ndarray  # [B, N, A]
    q: np.ndarray  # [B, N]: min(Q1, Q2) of the online critics
    frequencies: np.ndarray  # [B, N]: official categorical draws over EAS_DRAWS keys
    consistency: Comparison


@functools.cache
def _official_eas(setting: EDPSetting, root: str | None, rows: int, n: int) -> _OfficialEAS:
    """The official ``SamplerPolicy.dpmensemble_act`` on each of ``rows`` states (one state per
    call, as its evaluation calls it), and the pieces it computes from the same key: the
    candidates (``dpm_sample(rng, ..., repeat=N)``), min(Q1, Q2), the categorical index; plus
    the frequencies of ``jax.random.categorical`` on that min-Q over many keys."""
    import jax
    import jax.numpy as jnp

    run = _official(setting, root)
    agent = run.agent
    sampler_policy = run.modules["diffusion.trainer"].SamplerPolicy(agent.policy, agent.qf)
    params = agent.train_params
    obs = _observations(setting, rows)
    base = jax.random.PRNGKey(setting.seed + 23)
    chosen, picked, noise, cands, qs, freqs = [], [], [], [], [], []
    with jax_precision(setting.float64):
        count = jax.jit(
            lambda q, keys: jax.vmap(lambda k: jax.random.categorical(k, q))(keys),
        )
        for b in range(rows):
            key = jax.random.fold_in(base, b)
            o = obs[b : b + 1]
            out = sampler_policy.dpmensemble_act(params, key, o, True, n)
            chosen.append(np.asarray(out).reshape(-1))
            # dpmensemble_act: rng, key = split(rng); candidates from rng; categorical(rng, q).
            rng, _ = jax.random.split(key)
            c = agent.policy.apply(
                params["policy"], rng, o, True, n, method=agent.policy.dpm_sample
            )
            q = jnp.minimum(
                agent.qf.apply(params["qf1"], o, c), agent.qf.apply(params["qf2"], o, c)
            )
            idx = int(jax.random.categorical(rng, q)[0])
            picked.append(np.asarray(c)[0, idx])
            noise.append(np.asarray(jax.random.normal(rng, (1, n, setting.action_dim)))[0])
            cands.append(np.asarray(c)[0])
            qs.append(np.asarray(q)[0])
            draws = np.asarray(count(q[0], jax.random.split(jax.random.fold_in(key, 1), EAS_DRAWS)))
            freqs.append(np.bincount(draws, minlength=n) / EAS_DRAWS)
    consistency = compare_group(
        f"{setting.label} EAS N={n} official SamplerPolicy.dpmensemble_act == "
        "its candidates[categorical(min-Q)]",
        {"a": np.stack(chosen)},
        {"a": np.stack(picked)},
        REPLICA_TOLERANCE,
        note="the real class of diffusion/trainer.py against the pieces it computes",
    )
    return _OfficialEAS(
        obs, np.stack(noise), np.stack(cands), np.stack(qs), np.stack(freqs), consistency
    )


def eas_check(
    setting: EDPSetting, root: Root, rules: Rules, rows: int = 8, num_candidates: int = 50
) -> list[Comparison]:
    """The official evaluation's EAS vs edp_ref's on the same parameters, states and noise.

    Lines: the official ``SamplerPolicy.dpmensemble_act`` equals the candidate its own pieces
    pick (the decomposition below is the official function); the candidates (official
    ``dpm_sample(..., repeat=N)`` vs edp_ref's sampler on the same ``[B, N, A]`` noise); their
    min(Q1, Q2); and the selection law: for each state, edp_ref's ``select_actions`` (the whole
    edp_ref path: candidates, scores, softmax, inverse CDF) on the stratified uniforms
    u_j = (j + 1/2) / EAS_GRID gives edp_ref's probability of each candidate; the official
    ``jax.random.categorical`` on the official min-Q over EAS_DRAWS keys gives frequencies; the
    deviation is the largest |frequency - probability| beyond the grid's resolution 1/EAS_GRID,
    in binomial standard errors (tolerance 5). The critics are scaled (:data:`~edp_ref.fidelity.
    official_edp.Q_SCALE`) so that min-Q spreads across the candidates; a check whose spread is
    below :data:`EAS_MIN_Q_SPREAD` raises.
    """
    n = num_candidates
    off = _official_eas(setting, _key(root), rows, n)
    spread = float(off.q.std(axis=1).mean())
    if spread < EAS_MIN_Q_SPREAD:
        raise ValueError(
            f"eas_check {setting.label}: min-Q spreads {spread:.2f} across the candidates "
            f"(mean std over states); the check needs at least {EAS_MIN_Q_SPREAD}"
        )
    config, state = _edp_ref(setting, root)
    dtype = setting.torch_dtype
    A = setting.action_dim
    obs_t = torch.tensor(off.observations, dtype=dtype)
    flat_noise = torch.tensor(off.noise.reshape(rows * n, A), dtype=dtype)
    candidates = sample_diffusion_actions(
        state.networks,
        state.params["policy"],
        obs_t.repeat_interleave(n, dim=0),
        SamplerNoise(initial=flat_noise),
        config.diffusion,
        "dpm_solver",
    ).detach()
    repeated = obs_t.repeat_interleave(n, dim=0)
    q = state.networks.min_q(state.params["q1"], state.params["q2"], repeated, candidates)
    label = f"{setting.label} EAS N={n}"
    out = [
        off.consistency,
        compare_group(
            f"{label} candidates", {"a": candidates.reshape(rows, n, A)}, {"a": off.candidates},
            rules.outputs,
        ),
        compare_group(
            f"{label} min-Q of the candidates", {"q": q.detach().reshape(rows, n)}, {"q": off.q},
            rules.outputs, note=f"spread across candidates {spread:.2f} (mean std)",
        ),
    ]  # fmt: skip
    # edp_ref's law: select_actions on a stratified grid of uniforms, the same candidates.
    grid = (torch.arange(EAS_GRID, dtype=torch.float64) + 0.5) / EAS_GRID
    probs = np.zeros((rows, n))
    for b in range(rows):
        noise_b = flat_noise[b * n : (b + 1) * n].repeat(EAS_GRID, 1)
        obs_b = obs_t[b : b + 1].expand(EAS_GRID, -1)
        picked = select_actions(
            state, obs_b, SamplerNoise(initial=noise_b), grid.to(dtype), n, config.diffusion
        )
        own = candidates.reshape(rows, n, A)[b]
        index = torch.cdist(picked.double(), own.double()).argmin(dim=1)
        probs[b] = np.bincount(index.numpy(), minlength=n) / EAS_GRID
    se = np.sqrt(np.maximum(probs * (1 - probs), 1.0 / EAS_DRAWS) / EAS_DRAWS)
    excess = np.maximum(np.abs(off.frequencies - probs) - 1.0 / EAS_GRID, 0.0)
    z = float(np.max(excess / se))
    out.append(
        Comparison(
            f"{label} selection law (edp_ref select_actions on {EAS_GRID} stratified uniforms "
            f"vs {EAS_DRAWS} official categorical draws per state)",
            z,
            float(np.max(np.abs(off.frequencies - probs))),
            float(np.max(probs)),
            5.0,
            int(probs.size),
            f"deviation in binomial standard errors; largest probability {probs.max():.2f}",
        )
    )
    return out


@functools.cache
def recorded_model_times(setting: EDPSetting, root: str | None) -> tuple[float, ...]:
    """Run the official ``dpm_sample`` once and record every time its noise network receives,
    in call order.

    A ``flax.linen.intercept_methods`` interceptor sees each ``PolicyNet.__call__(state, action,
    t)`` call inside the solver and passes ``t`` (the wrapper's ``(t - 1/N) * N``, the same value
    its clipping casts with ``astype(int32)``) to the host with ``jax.debug.callback``.
    """
    import flax.linen as nn
    import jax

    run = _official(setting, root)
    agent = run.agent
    policy_net = run.modules["diffusion.nets"].PolicyNet
    seen: list[np.ndarray] = []

    def record(t: Any) -> None:
        seen.append(np.asarray(t))

    def interceptor(next_fun: Any, args: Any, kwargs: Any, context: Any) -> Any:
        if isinstance(context.module, policy_net) and context.method_name == "__call__":
            jax.debug.callback(record, args[2], ordered=True)
        return next_fun(*args, **kwargs)

    obs = _observations(setting, 2)
    with jax_precision(setting.float64), nn.intercept_methods(interceptor):
        out = agent.policy.apply(
            agent.train_params["policy"],
            jax.random.PRNGKey(0),
            obs,
            method=agent.policy.dpm_sample,
        )
        jax.block_until_ready(out)
        jax.effects_barrier()
    return tuple(float(np.asarray(t).reshape(-1)[0]) for t in seen)


def _plan(setting: EDPSetting, root: Root) -> Any:
    """edp_ref's DPM-Solver plan for the setting's schedule (float64)."""
    _config, state = _edp_ref(setting, root)
    return dpm_solver_plan(
        state.networks.require_schedule(), setting.dpm_steps, 3, setting.dpm_t_end
    )


def model_time_lines(setting: EDPSetting, root: Root) -> list[Comparison]:
    """Which model time the official wrapper feeds.

    A PASS line: edp_ref's N t - 1 against the recorded official times; an INFO line: the
    DPM-Solver library's own ``model_wrapper`` mapping ``(t - 1/N) * 1000`` against them (far
    off unless N = 1000, so the official EDP does not use it).
    """
    official = {"t": np.asarray(recorded_model_times(setting, _key(root)))}
    ours = np.asarray(_plan(setting, root).model_times)
    N = setting.num_steps
    label = f"{setting.label} model times"
    return [
        compare_group(
            f"{label}: edp_ref N t - 1 vs those the official wrapper feeds",
            {"t": ours},
            official,
            1e-5,
        ),
        compare_group(
            f"{label}: (t - 1/N) * 1000 (dpm_solver.py model_wrapper) vs the official wrapper's",
            {"t": (ours + 1.0) / N * 1000.0 - 1000.0 / N},
            official,
            math.inf,
            informational=True,
        ),
    ]


def clip_index_lines(setting: EDPSetting, root: Root) -> list[Comparison]:
    """edp_ref's DPM-Solver clip indices against the official ones (SPEC.md section 4).

    edp_ref takes floor(N t - 1) in exact arithmetic (:func:`edp_ref.core.dpm_solver.clip_index`).
    Float64 (x64): the official indices must all be equal to edp_ref's. Float32: the official
    ``astype(int32)`` of its float32 times falls one below at the model times that are integers
    in exact arithmetic (665.99994 and 332.99997 at K = 1000, DPM-Solver-15); the line passes when
    the differences are exactly ``OFFICIAL_FLOAT32_CLIP_FLIPS`` for this setting (none for others),
    so a change of either side's behaviour is caught.
    """
    out = []
    for f64 in (True, False):
        wide = replace(setting, float64=f64)
        # The official clip index of each recorded time: its ``t.astype(int32)``.
        official = [int(np.trunc(t)) for t in recorded_model_times(wide, _key(root))]
        plan = _plan(wide, root)
        ours = tuple(i for u in plan.updates for i in u.clip_indices)
        if len(ours) != len(official):
            seen = {(-1, len(official), len(ours))}
        else:
            seen = {
                (round(m), o, e)
                for m, o, e in zip(plan.model_times, official, ours, strict=True)
                if o != e
            }
        expected: set[tuple[int, int, int]] = set()
        if not f64:
            expected = set(OFFICIAL_FLOAT32_CLIP_FLIPS.get(_flip_key(setting), ()))
        wrong = seen ^ expected
        note = "; ".join(f"model time {m}: official {o}, edp_ref {e}" for m, o, e in sorted(seen))
        dtype = "float64 (x64)" if f64 else "float32"
        want = "expected differences only" if expected else "all equal"
        out.append(
            Comparison(
                f"{setting.label} DPM-Solver clip indices vs the official code in {dtype} ({want})",
                float(len(wrong)),
                float(len(wrong)),
                float(len(official)),
                0.0,
                len(official),
                note or "all equal",
            )
        )
    return out


def _flip_key(setting: EDPSetting) -> tuple[int, int, float]:
    return (setting.num_steps, setting.dpm_steps, setting.dpm_t_end)


# (K, DPM-Solver steps, t_end) -> {(model time in exact arithmetic, official float32 index,
# edp_ref index)}: where the official code run in float32 takes a different clip index.
OFFICIAL_FLOAT32_CLIP_FLIPS: dict[tuple[int, int, float], tuple[tuple[int, int, int], ...]] = {
    (1000, 15, 1e-3): ((333, 332, 333), (666, 665, 666)),
}
