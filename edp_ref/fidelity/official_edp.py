"""The official EDP agent (sail-sg/edp, JAX) and edp_ref configured alike, on the same state.

* :class:`EDPSetting`: one crosscheck configuration (algorithm, K, DPM-Solver steps, network
  widths, batch size, dtype).
* :func:`official_agent`: the official ``DiffusionQL`` agent built by
  :func:`edp_ref.peers.official_edp_run` (its trainer's construction), in float64 when asked
  (under ``jax.enable_x64``; the official schedule tables stay float32 there, as its code casts
  them).
* :func:`official_draws`: every random draw of one official ``_train_step`` computed from its
  PRNG key exactly as ``diffusion/dql.py`` splits it, and :func:`edp_ref_randomness`: the same
  draws as edp_ref's randomness (the crosscheck's "same injected random draws").
* :func:`edp_ref_config`: the edp_ref config with the official switches (SPEC.md section 4):
  official ELBO / NLL surrogate, weight caps, inverse temperature 3.0 (IQL), EMA policy, the
  chosen head's normalization, optax clipping per network, K, sampler and DPM-Solver end time.
* :func:`edp_ref_state`, :func:`edp_ref_batch`: the official agent's state and batch in
  edp_ref's types.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock

import numpy as np
import torch

from edp_ref.algorithms import (
    REGISTRY,
    Batch,
    DiffusionConfig,
    NetworkConfig,
    OptimizerConfig,
    SamplerKind,
    TargetNetworkConfig,
    TrainState,
)
from edp_ref.algorithms.catalog.edp_crr import CRRRandomness, EDPCRRConfig
from edp_ref.algorithms.catalog.edp_iql import EDPIQLConfig, IQLRandomness
from edp_ref.algorithms.catalog.edp_td3 import EDPTD3Config, TD3Randomness
from edp_ref.algorithms.optim import AdamState
from edp_ref.algorithms.randomness import DiffusionNoise, SamplerNoise
from edp_ref.core.schedule import Schedule
from edp_ref.fidelity.flax_layout import NetworkKind, find_adam_state, params_from_flax
from edp_ref.fidelity.inputs import Root, check_arrays, check_data, powered_rows
from edp_ref.peers import official_edp_run

__all__ = [
    "Q_SCALE",
    "EDPSetting",
    "compared_batch",
    "edp_ref_batch",
    "edp_ref_config",
    "edp_ref_randomness",
    "edp_ref_state",
    "jax_precision",
    "official_agent",
    "official_draws",
    "official_schedule",
    "peer_embedding_dtype",
    "powered_start",
    "to_jax",
]

# Official network name -> edp_ref's, with the layout kind of each.
_NETWORKS: dict[str, tuple[str, NetworkKind]] = {
    "policy": ("policy", "policy"),
    "qf1": ("q1", "critic"),
    "qf2": ("q2", "critic"),
    "vf": ("value", "value"),
}


@dataclass(frozen=True)
class EDPSetting:
    """One crosscheck configuration of the official EDP code and edp_ref.

    Attributes:
        algorithm: "td3", "crr", "iql" (EDP + TD3 / CRR / IQL) or "dql_jax" (the official code's
            DQL (JAX) mode: DDPM through the chain, vp schedule).
        num_steps, dpm_steps, dpm_t_end: K, DPM-Solver's model evaluations (official 15) and
            end time (official 1e-3; >= 1/K).
        hidden, layers: every network's width and depth.
        obs_dim, action_dim: S and A of the synthetic data.
        float64: run both sides in float64 (JAX x64).
        interpolation: the official ``interpolate_fn`` ("official") or the labelled DIAGNOSTIC
            searchsorted lookup (:mod:`edp_ref.peers.edp_official`).
        task: the ``diffusion/hps.py`` row that gives the gradient-norm clip.
        seed: the official agent's PRNG seed and the synthetic data's seed.
        peer_tables: give edp_ref the official float32 schedule tables
            (:func:`official_schedule`) instead of its own float64 ones.
        peer_embedding_f64: DIAGNOSTIC, not the official code path: the official
            ``sinusoidal_embedding`` (diffusion/nets.py) with its frequencies in the input's
            dtype instead of ``jnp.arange(half, dtype=jnp.float32)``, which keeps them float32
            under x64 (:func:`peer_embedding_dtype`): shows that this constant is the policy's
            whole float64 difference.
    """

    algorithm: str
    num_steps: int = 50
    dpm_steps: int = 15
    dpm_t_end: float = 0.02
    hidden: int = 16
    layers: int = 2
    batch_size: int = 16
    obs_dim: int = 5
    action_dim: int = 3
    float64: bool = False
    interpolation: str = "official"
    task: str = "walker2d-medium-expert-v2"
    seed: int = 0
    peer_tables: bool = False
    peer_embedding_f64: bool = False

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float64 if self.float64 else torch.float32

    @property
    def registry_name(self) -> str:
        """edp_ref's algorithm (DQL (JAX) is EDP + TD3 through the DDPM chain)."""
        return "edp_td3" if self.algorithm == "dql_jax" else f"edp_{self.algorithm}"

    @property
    def label(self) -> str:
        """A short name for report lines, e.g. ``edp_td3 K=1000 dpm15 f32``."""
        name = "dql_jax" if self.algorithm == "dql_jax" else self.registry_name
        sampler = "ddpm" if self.algorithm == "dql_jax" else f"dpm{self.dpm_steps}"
        width = f"{self.layers}x{self.hidden}"
        dtype = "f64" if self.float64 else "f32"
        tables = " peer-tables" if self.peer_tables else ""
        if self.peer_embedding_f64:
            tables += " peer-embedding-f64 (DIAGNOSTIC)"
        return f"{name} K={self.num_steps} {sampler} {width} {dtype}{tables}"


@contextlib.contextmanager
def peer_embedding_dtype(setting: EDPSetting, root: Root) -> Iterator[None]:
    """Inside the block, with ``setting.peer_embedding_f64``, the official module's
    ``sinusoidal_embedding`` computes its frequencies in the timesteps' dtype (a DIAGNOSTIC
    replacement, restored on exit; a no-op otherwise). Agents built and compiled inside the
    block keep it."""
    if not setting.peer_embedding_f64:
        yield
        return
    import jax.numpy as jnp

    from edp_ref.peers import load_official_edp

    nets = load_official_edp(root, setting.interpolation)["diffusion.nets"]

    def embedding(timesteps: Any, dim: int, max_period: int = 10000) -> Any:
        half = dim // 2
        steps = jnp.asarray(timesteps)
        freqs = jnp.exp(-jnp.log(max_period) * jnp.arange(half, dtype=steps.dtype) / half)
        args = jnp.expand_dims(steps, axis=-1) * freqs[None, :]
        return jnp.concatenate([jnp.cos(args), jnp.sin(args)], axis=-1)

    with mock.patch.object(nets, "sinusoidal_embedding", embedding):
        yield


@contextlib.contextmanager
def jax_precision(float64: bool) -> Iterator[None]:
    """JAX in x64 mode inside the block when ``float64`` (a no-op otherwise)."""
    import jax

    if float64:
        with jax.enable_x64(True):
            yield
    else:
        yield


def _cast_floats(tree: Any, float64: bool) -> Any:
    import jax
    import jax.numpy as jnp

    if not float64:
        return tree

    def cast(x: Any) -> Any:
        if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating):
            return jnp.asarray(x, dtype=jnp.float64)
        return x

    return jax.tree_util.tree_map(cast, tree)


def _data_size(setting: EDPSetting) -> int:
    return max(4 * setting.batch_size, 64)


def official_agent(setting: EDPSetting, root: Root, warmup: int = 0) -> Any:
    """The official agent for ``setting`` (call inside :func:`jax_precision`), after ``warmup``
    of its own updates (``_train_step`` on batches of its own sampler, EMA policy moved) on the
    check's data (:mod:`edp_ref.fidelity.inputs`), so that targets, Adam moments and counts are
    no longer at their initial values. In float64 the parameters and optimiser states are cast
    to float64 after construction. Returns the :class:`~edp_ref.peers.PeerRun`."""
    run = official_edp_run(
        setting.algorithm,
        check_data(_data_size(setting), setting.obs_dim, setting.action_dim, setting.seed),
        root=root,
        interpolation=setting.interpolation,
        num_steps=setting.num_steps,
        dpm_steps=setting.dpm_steps,
        dpm_t_end=setting.dpm_t_end,
        arch=(setting.hidden,) * setting.layers,
        batch_size=setting.batch_size,
        task=setting.task,
        seed=setting.seed,
    )
    agent = run.agent
    agent._train_states = {
        k: _cast_floats(v, setting.float64) for k, v in agent.train_states.items()
    }
    agent._tgt_params = _cast_floats(agent._tgt_params, setting.float64)
    if warmup:
        import jax

        np.random.seed(setting.seed)
        base = jax.random.PRNGKey(setting.seed + 3)
        for i in range(warmup):
            # The official update with the EMA policy moved (its jitted variant that the
            # crosscheck's update at step 1005 uses too: one compilation instead of two).
            states, targets, _ = agent._train_step(
                agent.train_states,
                agent._tgt_params,
                jax.random.fold_in(base, i),
                _cast_floats(run.draw_batch(), setting.float64),
                True,
            )
            agent._train_states, agent._tgt_params = states, targets
            agent._total_steps += 1
    return run


#: The factor on the critics' and the value network's last layer at the start of a check:
#: Q values spread over several units (as a trained critic's do), so that the weights of
#: CRR and IQL, the clipped gradients and EAS's selection probabilities are far from uniform.
Q_SCALE = 10.0


def _scale_last_layer(params: Any, factor: float) -> Any:
    """A Flax critic / value network's parameters with its last ``Dense`` multiplied by
    ``factor`` (kernel and bias)."""
    inner = dict(params["params"])
    last = max((k for k in inner if k.startswith("Dense_")), key=lambda k: int(k[6:]))
    inner[last] = {n: v * factor for n, v in inner[last].items()}
    return {**params, "params": inner}


def powered_start(run: Any, setting: EDPSetting) -> None:
    """Give the official agent a start state whose every part a one-update check can see move
    (call inside :func:`jax_precision`):

    * the EMA policy and the target critics are separately initialised networks (the official
      ``init`` calls), far from the online ones, so that a Polyak step changes them by about
      tau times their distance and a' or y computed from the wrong copy shows;
    * the critics, their targets and V have their last layer multiplied by :data:`Q_SCALE`.
    """
    import jax
    import jax.numpy as jnp

    agent = run.agent
    key = jax.random.PRNGKey(setting.seed + 1000)
    keys = jax.random.split(key, 4)
    obs = jnp.zeros((10, setting.obs_dim))
    act = jnp.zeros((10, setting.action_dim))
    fresh = {
        "policy": agent.policy.init(keys[0], keys[1], obs),
        "qf1": _scale_last_layer(agent.qf.init(keys[2], obs, act), Q_SCALE),
        "qf2": _scale_last_layer(agent.qf.init(keys[3], obs, act), Q_SCALE),
    }
    agent._tgt_params = {**agent._tgt_params, **to_jax(fresh, setting.float64)}
    states = dict(agent.train_states)
    for net in ("qf1", "qf2", "vf"):
        if net in states:
            st = states[net]
            states[net] = st.replace(params=_scale_last_layer(st.params, Q_SCALE))
    agent._train_states = states


def compared_batch(run: Any, setting: EDPSetting, seed: int) -> tuple[Any, str]:
    """The compared batch (:func:`~edp_ref.fidelity.inputs.powered_rows` of the check's data,
    retrieved by the official ``index_batch`` and ``batch_to_jax`` with the trainer's action
    clip) and the report note on its terminals and time-outs."""
    arrays = check_arrays(_data_size(setting), setting.obs_dim, setting.action_dim, setting.seed)
    rows, note = powered_rows(arrays, setting.batch_size, seed, setting.label)
    dataset = {
        "observations": arrays["observations"],
        "actions": np.clip(arrays["actions"], -0.999, 0.999),
        "next_observations": arrays["next_observations"],
        "rewards": arrays["rewards"],
        "dones": arrays["terminals"],
        "dones_float": arrays["terminals"],
    }
    index_batch = run.modules["utilities.replay_buffer"].index_batch
    batch = run.modules["utilities.jax_utils"].batch_to_jax(index_batch(dataset, rows))
    return to_jax(batch, setting.float64), note


def edp_ref_config(setting: EDPSetting, agent: Any) -> Any:
    """edp_ref's config for the official agent, read from its ``agent.config`` (ConfigDict).

    Switches (SPEC.md section 4): optax clipping per network at the task's ``gn``; the EMA
    policy (tau, start 1000, every ``policy_tgt_freq``) draws a'; TD3: alpha 2.0 over the chosen
    head's mean |Q|, a random head, both gradients from the pre-update parameters; CRR / IQL:
    the official -log N(a; a_hat0, I) surrogate (``crr_weight_mode="mle"``), caps 20 / 100,
    IQL's inverse temperature 3.0; DQL (JAX): TD3 through the DDPM chain, vp schedule.
    """
    cfg = agent.config
    dql = setting.algorithm == "dql_jax"
    max_norm = float(cfg.max_grad_norm)
    optimizer = OptimizerConfig(
        learning_rate=float(cfg.lr),
        max_grad_norm=max_norm if max_norm > 0 else None,
        clip_mode="optax",
        lr_decay=bool(cfg.lr_decay),
        lr_decay_steps=int(cfg.lr_decay_steps),
    )
    network = NetworkConfig(
        hidden=setting.hidden,
        layers=setting.layers,
        init="official",
        time_dim=int(cfg.time_embed_size),
        embedding="official",
        activation="mish",
    )
    diffusion = DiffusionConfig(
        schedule=str(cfg.schedule_name),  # type: ignore[arg-type]
        num_steps=int(cfg.num_timesteps),
        max_action=1.0,
        dpm_steps=int(cfg.dpm_steps),
        dpm_order=3,
        dpm_t_end=float(cfg.dpm_t_end),
        ddpm_variance="posterior",
        action_reduction="mean",
    )
    targets = TargetNetworkConfig(
        critic_tau=float(cfg.tau),
        ema_tau=float(cfg.tau),
        ema_start=1000,
        ema_every=int(cfg.policy_tgt_freq),
    )
    common: dict[str, Any] = {
        "optimizer": optimizer,
        "network": network,
        "discount": float(cfg.discount),
        "target_networks": targets,
        "critic_clip": "per_critic",
        "compile": False,
        "diffusion": diffusion,
    }
    sampler: SamplerKind = "ddpm" if dql else "dpm_solver"
    if setting.algorithm in ("td3", "dql_jax"):
        return EDPTD3Config(
            **common,
            alpha=float(cfg.alpha),
            loss_weight=float(cfg.guide_coef),
            q_head="random",
            q_normalization="chosen_head",
            next_action_policy="ema",
            next_action_sampler=sampler,
            policy_action="sampler" if dql else "approximation",
            policy_action_sampler="ddpm",
            policy_uses_updated_critic=False,
        )
    surrogate: dict[str, Any] = {
        "loss_weight": float(cfg.guide_coef),
        "diffusion_weight": float(cfg.diff_coef),
        "policy_objective": "gaussian_surrogate",
        "surrogate_form": "negative_log_likelihood",
    }
    if setting.algorithm == "crr":
        return EDPCRRConfig(
            **common,
            **surrogate,
            num_baseline_samples=int(cfg.sample_actions),
            baseline_std=1.0,
            temperature=float(cfg.crr_beta),
            weight_cap=float(cfg.crr_ratio_upper_bound),
            next_action_policy="ema",
            next_action_sampler=sampler,
        )
    if setting.algorithm == "iql":
        return EDPIQLConfig(
            **common,
            **surrogate,
            expectile=float(cfg.expectile),
            inverse_temperature=float(cfg.awr_temperature),
            weight_cap=100.0,
        )
    raise ValueError(f"edp_ref_config: unknown algorithm {setting.algorithm!r}")


def edp_ref_state(
    setting: EDPSetting,
    agent: Any,
    config: Any,
    states: Any = None,
    targets: Any = None,
    step: int | None = None,
) -> TrainState:
    """edp_ref's state holding the official agent's parameters, targets (EMA policy and target
    critics), Adam states and update count, or those of ``states`` / ``targets`` / ``step``
    when given (an official state other than the agent's current one); its schedule is
    edp_ref's own (float64, built from K) or, with ``setting.peer_tables``, the official
    float32 tables (:func:`official_schedule`)."""
    dtype = setting.torch_dtype
    template: TrainState = REGISTRY[setting.registry_name].init(
        config, setting.obs_dim, setting.action_dim, torch.Generator().manual_seed(0), "cpu", dtype
    )
    states = agent.train_states if states is None else states
    targets = agent._tgt_params if targets is None else targets
    params, optimizers, target_params = {}, {}, {}
    for official, (ours, kind) in _NETWORKS.items():
        if ours not in template.params:
            continue
        params[ours] = params_from_flax(states[official].params, kind, dtype)
        adam = find_adam_state(states[official].opt_state)  # its count: Adam steps taken
        optimizers[ours] = AdamState(
            count=torch.tensor(int(np.asarray(adam.count)), dtype=torch.int64),
            mu=params_from_flax(adam.mu, kind, dtype),
            nu=params_from_flax(adam.nu, kind, dtype),
        )
        if ours in template.target_params:
            target_params[ours] = params_from_flax(targets[official], kind, dtype)
    networks = template.networks
    if setting.peer_tables:
        networks = dataclasses.replace(networks, schedule=official_schedule(agent))
    return template.replace(
        networks=networks,
        params=params,
        target_params=target_params,
        optimizers=optimizers,
        step=torch.tensor(int(agent.total_steps if step is None else step), dtype=torch.int64),
    )


#: The official schedule tables (``GaussianDiffusion``'s attributes) edp_ref's Schedule holds.
_SCHEDULE_TABLES = {
    "alpha_bars": "alphas_cumprod",
    "alpha_bars_prev": "alphas_cumprod_prev",
    "sqrt_alpha_bars": "sqrt_alphas_cumprod",
    "sqrt_one_minus_alpha_bars": "sqrt_one_minus_alphas_cumprod",
    "sqrt_recip_alpha_bars": "sqrt_recip_alphas_cumprod",
    "sqrt_recipm1_alpha_bars": "sqrt_recipm1_alphas_cumprod",
    "posterior_variance": "posterior_variance",
    "posterior_log_variance_clipped": "posterior_log_variance_clipped",
    "posterior_mean_coef1": "posterior_mean_coef1",
    "posterior_mean_coef2": "posterior_mean_coef2",
}


def official_schedule(agent: Any) -> Schedule:
    """An edp_ref :class:`Schedule` holding the official agent's own float32 tables, as float64
    numbers.

    edp_ref computes its tables in float64; the official EDP code computes and reads them in
    float32 (its ``_extract_into_tensor`` casts to float32 even under JAX x64). Giving edp_ref
    the official tables removes that difference from a float64 comparison. edp_ref's
    DPM-Solver reads its knots as 0.5 cumsum log(1 - beta), so ``betas`` is set to the betas
    whose cumulative sum reproduces the official knots ``0.5 log alphas_cumprod`` in float32
    (as ``NoiseScheduleVP(schedule="discrete", alphas_cumprod=...)`` computes them); the
    official betas enter nowhere else in the updates compared.
    """
    import jax.numpy as jnp

    gd = agent.diffusion
    kind = str(gd.schedule_name)

    def f64(name: str) -> torch.Tensor:
        return torch.tensor(np.asarray(getattr(gd, name), dtype=np.float64))

    la = np.asarray(0.5 * jnp.log(jnp.asarray(gd.alphas_cumprod, dtype=jnp.float32)))
    la = la.astype(np.float64)
    betas = torch.tensor(-np.expm1(np.diff(np.concatenate([[0.0], 2.0 * la]))))
    names = ["betas", *_SCHEDULE_TABLES.values()]
    digest = hashlib.sha256(np.asarray([f64(n).numpy() for n in names]).tobytes()).hexdigest()
    return Schedule(
        kind=kind,
        num_steps=int(la.shape[0]),
        betas=betas,
        alphas=1.0 - f64("betas"),
        **{ours: f64(theirs) for ours, theirs in _SCHEDULE_TABLES.items()},
        fingerprint=f"peer-{kind}-{la.shape[0]}-{digest[:16]}",
    )


def _t(x: Any, dtype: torch.dtype) -> torch.Tensor:
    return torch.tensor(np.array(x), dtype=dtype)


def edp_ref_batch(batch: dict[str, Any], dtype: torch.dtype) -> Batch:
    """An official batch (``observations``, ``actions``, ``rewards``, ``next_observations``,
    ``dones``) as edp_ref's :class:`Batch`."""
    return Batch(
        observations=_t(batch["observations"], dtype),
        actions=_t(batch["actions"], dtype),
        rewards=_t(batch["rewards"], dtype),
        next_observations=_t(batch["next_observations"], dtype),
        terminals=_t(batch["dones"], dtype),
    )


def to_jax(tree: Any, float64: bool) -> Any:
    """NumPy / JAX leaves as JAX arrays (floating leaves in float64 when asked)."""
    import jax
    import jax.numpy as jnp

    return _cast_floats(jax.tree_util.tree_map(jnp.asarray, tree), float64)


# -- the draws of one official update -----------------------------------------------------


def _diff_term_draws(key: Any, B: int, A: int, K: int, dtype: Any) -> tuple[Any, Any]:
    """``get_diff_terms``: ts = randint(split 1), then ``training_losses``' eps (split 2)."""
    import jax

    rng, split = jax.random.split(key)
    ts = jax.random.randint(split, (B,), minval=0, maxval=K)
    rng, split = jax.random.split(rng)
    eps = jax.random.normal(split, (B, A), dtype=dtype)
    return ts, eps


def _ddpm_draws(key: Any, shape: tuple[int, ...], K: int) -> tuple[Any, Any]:
    """``p_sample_loop``: a_K from the first split, then one split per step k = K-1, ..., 0.

    Returns the initial noise and the step noises indexed by k (edp_ref's ``noises[k]``).
    """
    import jax
    import jax.numpy as jnp

    key, sample_key = jax.random.split(key)
    x = jax.random.normal(sample_key, shape)
    steps = [None] * K
    for k in reversed(range(K)):
        key, sample_key = jax.random.split(key)
        steps[k] = jax.random.normal(sample_key, shape, dtype=x.dtype)
    return x, jnp.stack(steps)


def official_draws(setting: EDPSetting, key: Any) -> dict[str, Any]:
    """Every random draw of one official ``_train_step(..., rng=key, ...)`` (diffusion/dql.py).

    The official update hands ``key`` itself to the policy evaluation's sampler of a' and splits
    it for the policy loss:

    * a' (TD3, CRR, DQL (JAX)): ``dpm_sample(key)``'s ``normal(key, [B, A])`` (DPM-Solver is
      deterministic afterwards) or ``p_sample_loop(key)``'s draws (DDPM);
    * TD3 / DQL (JAX): ``key1, key2 = split(key)``; ``get_diff_terms(key2)``: ``k, eps``; the
      Q head is ``uniform(key1) > 0.5``; DQL (JAX) draws its L_pi chain from
      ``split(split(key2)[0])[0]``'s next split (``get_diff_terms``' third split);
    * CRR: ``get_diff_terms(split(key)[1])``, then the 10 baseline samples
      ``MultivariateNormalDiag(a_hat0, 1).sample(seed=split(split(key)[0])[1], sample_shape=10)``
      (drawn here with distrax on a zero mean and unit scale: the standard-normal xi);
    * IQL: ``policy_loss(split(key)[1])`` whose ``get_diff_terms`` gets its ``split(.)[1]``.
    """
    import distrax
    import jax
    import jax.numpy as jnp

    B, A, K = setting.batch_size, setting.action_dim, setting.num_steps
    dtype = jnp.float64 if setting.float64 else jnp.float32
    draws: dict[str, Any] = {}
    alg = setting.algorithm
    if alg in ("td3", "crr", "dql_jax"):
        if alg == "dql_jax":
            draws["next_initial"], draws["next_steps"] = _ddpm_draws(key, (B, A), K)
        else:
            draws["next_initial"] = jax.random.normal(key, (B, A))
    if alg in ("td3", "dql_jax"):
        key1, key2 = jax.random.split(key)
        draws["timesteps"], draws["noise"] = _diff_term_draws(key2, B, A, K, dtype)
        draws["head_uniform"] = jax.random.uniform(key1)
        if alg == "dql_jax":
            rng, _ = jax.random.split(key2)
            rng, _ = jax.random.split(rng)
            _, split = jax.random.split(rng)
            draws["policy_initial"], draws["policy_steps"] = _ddpm_draws(split, (B, A), K)
    elif alg == "crr":
        key1, key2 = jax.random.split(key)
        draws["timesteps"], draws["noise"] = _diff_term_draws(key2, B, A, K, dtype)
        _, split = jax.random.split(key1)
        unit = distrax.MultivariateNormalDiag(jnp.zeros((B, A), dtype), jnp.ones((B, A), dtype))
        draws["baseline_noise"] = unit.sample(seed=split, sample_shape=10)
    elif alg == "iql":
        _, key2 = jax.random.split(key)
        _, key3 = jax.random.split(key2)
        draws["timesteps"], draws["noise"] = _diff_term_draws(key3, B, A, K, dtype)
    else:
        raise ValueError(f"official_draws: unknown algorithm {alg!r}")
    return draws


def edp_ref_randomness(setting: EDPSetting, draws: dict[str, Any]) -> Any:
    """The official draws in edp_ref's randomness dataclass for the algorithm."""
    dtype = setting.torch_dtype

    def chain(prefix: str) -> SamplerNoise:
        steps = draws.get(f"{prefix}_steps")
        initial = _t(draws[f"{prefix}_initial"], dtype)
        return SamplerNoise(initial=initial, steps=None if steps is None else _t(steps, dtype))

    diffusion = DiffusionNoise(
        timesteps=_t(draws["timesteps"], torch.int64), noise=_t(draws["noise"], dtype)
    )
    alg = setting.algorithm
    if alg in ("td3", "dql_jax"):
        policy_actions = chain("policy") if alg == "dql_jax" else None
        head = _t(draws["head_uniform"], dtype)
        return TD3Randomness(diffusion, chain("next"), head, policy_actions)
    if alg == "crr":
        return CRRRandomness(diffusion, chain("next"), _t(draws["baseline_noise"], dtype))
    return IQLRandomness(diffusion)
