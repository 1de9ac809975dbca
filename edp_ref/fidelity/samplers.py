"""edp_ref's samplers and EAS against the official EDP evaluation code, on the same inputs.

For the same parameters (the official agent's, converted), states and noise:

* :func:`dpm_solver_check`: the official ``DiffusionPolicy.dpm_sample`` (noise-prediction
  DPM-Solver with its eps clipping, diffusion/nets.py) against edp_ref's ``dpm_solver`` sampler;
* :func:`ddpm_check`: the official ``ddpm_sample`` (``GaussianDiffusion.p_sample_loop``) against
  edp_ref's DDPM, with the official chain's per-step noise (:func:`~edp_ref.fidelity.official_edp.
  official_draws`' split order);
* :func:`eas_check`: the official evaluation's ``dpmensemble_act`` (diffusion/trainer.py, see
  :func:`edp_ref.fidelity.curves.official_policy`) against edp_ref's
  :func:`~edp_ref.algorithms.select_actions`. The official index comes from
  ``jax.random.categorical`` (Gumbel-max), which edp_ref cannot draw from a uniform; the check
  reproduces the official draw by mapping the official index i of each state to the uniform
  u = (CDF_{i-1} + CDF_i) / 2 at the middle of edp_ref's CDF bin of i, then requires the same
  action, and separately compares the frequencies of the official indices over many keys with
  edp_ref's selection probabilities softmax(min(Q1, Q2)).
* :func:`recorded_model_times`: the times the official DPM-Solver wrapper hands to the noise
  network (recorded with a Flax method interceptor), and the clip index it derives from each
  (``t.astype(int32)``), for the questions of which index the official code uses at model time
  666 and how it maps t to the model time when K != 1000.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from edp_ref.algorithms.diffusion_policy import sample_diffusion_actions, select_actions
from edp_ref.algorithms.randomness import SamplerNoise
from edp_ref.core.dpm_solver import dpm_solver_plan
from edp_ref.core.selection import eas_probabilities
from edp_ref.fidelity.compare import Comparison, compare_group
from edp_ref.fidelity.official_draws import _ddpm_draws
from edp_ref.fidelity.official_edp import (
    EDPSetting,
    edp_ref_config,
    edp_ref_state,
    jax_precision,
    official_agent,
)

__all__ = [
    "ModelTimes",
    "clip_index_lines",
    "ddpm_check",
    "dpm_solver_check",
    "eas_check",
    "model_time_lines",
    "official_dpm_from_noise",
    "recorded_model_times",
]


def _setup(setting: EDPSetting, root: str | os.PathLike[str] | None) -> tuple[Any, Any, Any]:
    with jax_precision(setting.float64):
        run = official_agent(setting, root, warmup=0)
        config = edp_ref_config(setting, run.agent)
    return run, config, edp_ref_state(setting, run.agent, config)


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
    network called through ``DiffusionPolicy.forward``. :func:`dpm_solver_check` verifies that
    it equals ``dpm_sample`` exactly on ``dpm_sample``'s own noise.
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


def dpm_solver_check(
    setting: EDPSetting, root: str | os.PathLike[str] | None, tolerance: float, rows: int = 64
) -> list[Comparison]:
    """Official ``dpm_sample`` vs edp_ref's DPM-Solver on the same parameters, states, noise.

    In float32 the official sampler takes its clip index ``(t - 1/N) * N`` cast to int32 from
    float32 times, which at model times that are integers in exact arithmetic (333, 666 at
    K = 1000) falls on either side by round-off; so the float32 comparison's tolerance is
    ``max(tolerance, 2 x`` the official sampler's own float32-vs-float64 difference on the same
    noise) (:func:`official_dpm_from_noise` run under x64), reported on the line. Float64 runs
    compare with ``tolerance`` itself. Float32 adds a line checking that the replica equals
    ``dpm_sample`` to float32 round-off (``REPLICA_TOLERANCE``).
    """
    import jax

    run, config, state = _setup(setting, root)
    agent = run.agent
    obs = _observations(setting, rows)
    key = jax.random.PRNGKey(setting.seed + 21)
    params = agent.train_params["policy"]
    policy = agent.policy
    with jax_precision(setting.float64):
        sample = jax.jit(lambda p, k, o: policy.apply(p, k, o, method=policy.dpm_sample))
        official = np.asarray(sample(params, key, obs))
        initial = jax.random.normal(key, (rows, setting.action_dim))  # dpm_sample's own draw
    dtype = setting.torch_dtype
    ours = sample_diffusion_actions(
        state.networks,
        state.params["policy"],
        torch.tensor(obs, dtype=dtype),
        SamplerNoise(initial=torch.tensor(np.asarray(initial), dtype=dtype)),
        config.diffusion,
        "dpm_solver",
    ).detach()
    name = f"{setting.label} sampler dpm_solver actions"
    if setting.float64:
        return [compare_group(name, {"a": ours}, {"a": official}, tolerance)]
    replica = np.asarray(
        jax.jit(official_dpm_from_noise, static_argnums=0)(run, params, obs, initial)
    )
    out = [
        compare_group(
            f"{setting.label} sampler official dpm_sample == its replica with passed-in noise",
            {"a": replica},
            {"a": official},
            REPLICA_TOLERANCE,
            note="two separately compiled XLA programs: float32 round-off only",
        )
    ]
    with jax_precision(True):
        up = jax.tree_util.tree_map(lambda p: np.asarray(p, dtype=np.float64), params)
        wide = np.asarray(
            official_dpm_from_noise(
                run, up, obs.astype(np.float64), np.asarray(initial, dtype=np.float64)
            )
        )
    own = compare_group("own", {"a": wide}, {"a": official}, 1.0)
    allowed = max(tolerance, 2.0 * own.deviation)
    note = f"official float32 vs its own float64 on this noise: {own.deviation:.2e}"
    out.append(compare_group(name, {"a": ours}, {"a": official}, allowed, note=note))
    return out


def ddpm_check(
    setting: EDPSetting, root: str | os.PathLike[str] | None, tolerance: float, rows: int = 64
) -> Comparison:
    """Official ``ddpm_sample`` (p_sample_loop) vs edp_ref's DDPM, same parameters and noise."""
    import jax

    run, config, state = _setup(setting, root)
    agent = run.agent
    obs = _observations(setting, rows)
    key = jax.random.PRNGKey(setting.seed + 22)
    shape = (rows, setting.action_dim)
    with jax_precision(setting.float64):
        official = agent.policy.apply(
            agent.train_params["policy"], key, obs, method=agent.policy.ddpm_sample
        )
        initial, steps = _ddpm_draws(key, shape, setting.num_steps)
    dtype = setting.torch_dtype
    ours = sample_diffusion_actions(
        state.networks,
        state.params["policy"],
        torch.tensor(obs, dtype=dtype),
        SamplerNoise(
            initial=torch.tensor(np.asarray(initial), dtype=dtype),
            steps=torch.tensor(np.asarray(steps), dtype=dtype),
        ),
        config.diffusion,
        "ddpm",
    ).detach()
    name = f"{setting.label} sampler ddpm actions"
    return compare_group(name, {"a": ours}, {"a": np.asarray(official)}, tolerance)


def _official_eas(agent: Any, num_candidates: int) -> Any:
    """``dpmensemble_act`` of diffusion/trainer.py, returning candidates, q and the index too."""
    import jax
    import jax.numpy as jnp

    policy, qf = agent.policy, agent.qf

    def act(params: Any, rng: Any, observations: Any) -> Any:
        rng, _key = jax.random.split(rng)
        actions = policy.apply(
            params["policy"], rng, observations, True, num_candidates, method=policy.dpm_sample
        )
        q = jnp.minimum(
            qf.apply(params["qf1"], observations, actions),
            qf.apply(params["qf2"], observations, actions),
        )
        idx = jax.random.categorical(rng, q)
        chosen = jnp.take_along_axis(actions, idx[:, None, None], axis=-2)[:, 0]
        return chosen, actions, q, idx, rng

    return jax.jit(act)


def eas_check(
    setting: EDPSetting,
    root: str | os.PathLike[str] | None,
    tolerance: float,
    rows: int = 16,
    num_candidates: int = 50,
    keys: int = 4000,
) -> list[Comparison]:
    """The official evaluation's EAS vs edp_ref's on the same parameters, states and draws.

    Returns three comparisons: the candidates (official ``dpm_sample`` with ``repeat=N`` vs
    edp_ref's sampler on the same ``[B * N, A]`` noise, row ``b * N + i``), the chosen actions
    (official categorical index mapped to edp_ref's uniform as the module says), and the
    official index frequencies over ``keys`` keys against edp_ref's probabilities (deviation:
    the largest |frequency - probability| in units of its binomial standard error, tolerance 5).
    """
    import jax
    import jax.numpy as jnp

    run, config, state = _setup(setting, root)
    agent = run.agent
    obs = _observations(setting, rows)
    act = _official_eas(agent, num_candidates)
    with jax_precision(setting.float64):
        chosen, candidates, q, idx, used = act(
            agent.train_params, jax.random.PRNGKey(setting.seed + 23), obs
        )
        noise = jax.random.normal(used, (rows, num_candidates, setting.action_dim))
    dtype = setting.torch_dtype
    q_t = torch.tensor(np.asarray(q), dtype=dtype)
    probs = eas_probabilities(q_t).double()
    cdf = torch.cumsum(probs, dim=-1)
    cdf = cdf / cdf[:, -1:]
    index = torch.tensor(np.asarray(idx), dtype=torch.int64)
    upper = cdf.gather(1, index[:, None])[:, 0]
    lower = torch.where(index > 0, cdf.gather(1, (index - 1).clamp(min=0)[:, None])[:, 0], 0.0)
    uniforms = ((lower + upper) / 2).to(dtype)
    obs_t = torch.tensor(obs, dtype=dtype)
    flat_noise = torch.tensor(np.asarray(noise).reshape(rows * num_candidates, -1), dtype=dtype)
    ours = select_actions(
        state, obs_t, SamplerNoise(initial=flat_noise), uniforms, num_candidates, config.diffusion
    )
    ours_candidates = sample_diffusion_actions(
        state.networks,
        state.params["policy"],
        obs_t.repeat_interleave(num_candidates, dim=0),
        SamplerNoise(initial=flat_noise),
        config.diffusion,
        "dpm_solver",
    ).detach()
    label = f"{setting.label} EAS N={num_candidates}"
    out = [
        compare_group(
            f"{label} candidates",
            {"a": ours_candidates.reshape(rows, num_candidates, -1)},
            {"a": np.asarray(candidates)},
            tolerance,
        ),
        compare_group(
            f"{label} chosen actions",
            {"a": ours},
            {"a": np.asarray(chosen)},
            tolerance,
            note="official categorical index -> uniform at the middle of its CDF bin",
        ),
    ]
    # The selection law: official Gumbel-max draws over many keys vs edp_ref's probabilities.
    with jax_precision(setting.float64):
        draw = jax.jit(jax.vmap(lambda k: jax.random.categorical(k, jnp.asarray(q))))
        sample = np.asarray(draw(jax.random.split(jax.random.PRNGKey(setting.seed + 24), keys)))
    counts = np.stack([np.bincount(sample[:, b], minlength=num_candidates) for b in range(rows)])
    freq = counts / keys
    p = probs.numpy()
    se = np.sqrt(np.maximum(p * (1 - p), 1.0 / keys) / keys)
    z = float(np.max(np.abs(freq - p) / se))
    out.append(
        Comparison(
            f"{label} selection law ({keys} official draws per state)",
            z,
            float(np.max(np.abs(freq - p))),
            float(np.max(p)),
            5.0,
            int(p.size),
            "deviation in binomial standard errors",
        )
    )
    return out


@dataclass(frozen=True)
class ModelTimes:
    """The noise network's inputs in one official DPM-Solver run and edp_ref's plan.

    Attributes:
        setting: K, steps, end time, dtype.
        official: the model times the official wrapper fed, in call order.
        official_index: ``t.astype(int32)`` of each: the official clip index.
        edp_ref: edp_ref's model times N t - 1 (float64 plan).
        edp_ref_index: edp_ref's clip index floor(N t - 1), clamped to [0, N - 1].
        thousand: what ``(t - 1/N) * 1000`` (the DPM-Solver library's own ``model_wrapper``)
            would have fed for edp_ref's times.
    """

    setting: EDPSetting
    official: tuple[float, ...]
    official_index: tuple[int, ...]
    edp_ref: tuple[float, ...]
    edp_ref_index: tuple[int, ...]
    thousand: tuple[float, ...]


def recorded_model_times(setting: EDPSetting, root: str | os.PathLike[str] | None) -> ModelTimes:
    """Run the official ``dpm_sample`` once and record every time its noise network receives.

    A ``flax.linen.intercept_methods`` interceptor sees each ``PolicyNet.__call__(state, action,
    t)`` call inside the solver and passes ``t`` (the wrapper's ``(t - 1/N) * N``, the same value
    its clipping casts with ``astype(int32)``) to the host with ``jax.debug.callback``.
    """
    import flax.linen as nn
    import jax

    run, _config, state = _setup(setting, root)
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
    official = tuple(float(np.asarray(t).reshape(-1)[0]) for t in seen)
    N = setting.num_steps
    plan = dpm_solver_plan(
        state.networks.require_schedule(), setting.dpm_steps, 3, setting.dpm_t_end
    )
    ours = plan.model_times
    return ModelTimes(
        setting=setting,
        official=official,
        official_index=tuple(int(np.trunc(t)) for t in official),
        edp_ref=tuple(ours),
        edp_ref_index=tuple(i for u in plan.updates for i in u.clip_indices),
        thousand=tuple((m + 1.0) / N * 1000.0 - 1000.0 / N for m in ours),
    )


def model_time_lines(setting: EDPSetting, root: str | os.PathLike[str] | None) -> list[Comparison]:
    """Which model time the official wrapper feeds (part 2 of the fidelity questions).

    A PASS line: edp_ref's N t - 1 against the recorded official times; an INFO line: the
    DPM-Solver library's own ``model_wrapper`` mapping ``(t - 1/N) * 1000`` against them (far
    off unless N = 1000, so the official EDP does not use it).
    """
    mt = recorded_model_times(setting, root)
    official = {"t": np.asarray(mt.official)}
    label = f"{setting.label} model times"
    return [
        compare_group(
            f"{label}: edp_ref N t - 1 vs those the official wrapper feeds",
            {"t": np.asarray(mt.edp_ref)},
            official,
            1e-5,
        ),
        compare_group(
            f"{label}: (t - 1/N) * 1000 (dpm_solver.py model_wrapper) vs the official wrapper's",
            {"t": np.asarray(mt.thousand)},
            official,
            math.inf,
            informational=True,
        ),
    ]


def clip_index_lines(setting: EDPSetting, root: str | os.PathLike[str] | None) -> list[Comparison]:
    """edp_ref's DPM-Solver clip indices against the official ones (SPEC.md section 4).

    edp_ref takes floor(N t - 1) in exact arithmetic (:func:`edp_ref.core.dpm_solver.clip_index`).
    Float64 (x64): the official indices must all be equal to edp_ref's. Float32: the official
    ``astype(int32)`` of its float32 times falls one below at the model times that are integers
    in exact arithmetic (665.99994 and 332.99997 at K = 1000, DPM-Solver-15); the line passes when
    the differences are exactly ``OFFICIAL_FLOAT32_CLIP_FLIPS`` for this setting (none for others),
    so a change of either side's behaviour is caught.
    """
    import dataclasses

    out = []
    for f64 in (True, False):
        mt = recorded_model_times(dataclasses.replace(setting, float64=f64), root)
        seen = {
            (round(m), o, e)
            for m, o, e in zip(mt.edp_ref, mt.official_index, mt.edp_ref_index, strict=True)
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
                float(len(mt.official_index)),
                0.0,
                len(mt.official_index),
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
