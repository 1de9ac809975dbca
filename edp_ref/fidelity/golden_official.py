"""The conformance kit in a porter's hands: an adapter that runs the official EDP code (sail-sg/edp,
JAX) on the kit's inputs, for ``edp-golden check DIR --adapter
edp_ref.fidelity.golden_official:official_adapter`` (the official folder from
``EDP_OFFICIAL_ROOT``).

For every case the official code implements as a function, the adapter calls it as shipped on
the stored inputs and returns its outputs; the kit's own reader and tolerances judge them
(:func:`edp_ref.golden.check`). The official functions draw their noise from a PRNG key;
the kit passes the noise in, so the adapter feeds the kit's draws to the official code through
``jax.random``: inside :func:`_injected`, a draw made with one of the keys the official code
derives from the key the adapter passes (the splits of :func:`edp_ref.fidelity.official_edp.
official_draws`) returns the kit's tensor, and a draw of CRR's 10 baseline samples (shape
[10, B, A]) returns the kit's baseline noise. Cases the official code does not implement return
None (the check notes them); docs/fidelity.md section 6 lists every case and explains each one
that differs, with the edp_ref switch that reproduces the official behaviour.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from unittest import mock

import numpy as np

from edp_ref.fidelity.flax_layout import (
    NetworkKind,
    find_adam_state,
    flax_from_params,
    params_from_flax,
    replace_adam_state,
)
from edp_ref.fidelity.official_edp import _NETWORKS, jax_precision
from edp_ref.golden.checker import PortCase
from edp_ref.peers import SyntheticTransitions, load_official_edp, official_edp_run

__all__ = ["official_adapter"]

Outputs = dict[str, np.ndarray]


def _modules() -> Any:
    root = os.environ.get("EDP_OFFICIAL_ROOT", "").strip() or None
    return load_official_edp(root)


def _dtype(case: PortCase) -> Any:
    return np.float64 if case.dtype == "f64" else np.float32


def _gd(kind: str, steps: int, var: str = "FIXED_SMALL") -> Any:
    d = _modules()["diffusion.diffusion"]
    return d.GaussianDiffusion(
        num_timesteps=steps,
        schedule_name=kind,
        model_mean_type=d.ModelMeanType.EPSILON,
        model_var_type=getattr(d.ModelVarType, var),
        loss_type=d.LossType.MSE,
        min_value=-1.0,
        max_value=1.0,
    )


def _out(case: PortCase, **values: Any) -> Outputs:
    return {k: np.asarray(v, dtype=_dtype(case)) for k, v in values.items()}


@contextlib.contextmanager
def _injected(
    draws: Mapping[bytes, np.ndarray], by_shape: Mapping[tuple[int, ...], np.ndarray]
) -> Iterator[set[bytes]]:
    """Inside the block, ``jax.random.normal / randint / uniform`` called with a key in ``draws``
    (by its bytes) return that array, and ``normal`` of a shape in ``by_shape`` returns that
    array; every other draw is JAX's own. Yields the set of keys used."""
    import jax
    import jax.numpy as jnp

    random = jax.random
    originals = {n: getattr(random, n) for n in ("normal", "randint", "uniform")}
    used: set[bytes] = set()

    def lookup(name: str) -> Callable[..., Any]:
        def draw(key: Any, shape: Any = (), *args: Any, **kwargs: Any) -> Any:
            tag = _tag(key)
            dtype = kwargs.get("dtype") or (args[0] if name == "normal" and args else None)
            if tag in draws:
                used.add(tag)
                value = draws[tag]
            elif name == "normal" and tuple(shape) in by_shape:
                value = by_shape[tuple(shape)]
            else:
                return originals[name](key, shape, *args, **kwargs)
            if tuple(np.shape(value)) != tuple(shape):
                raise ValueError(f"_injected: {name} of shape {tuple(shape)} got {np.shape(value)}")
            if name == "randint":
                return jnp.asarray(value, dtype=jnp.int32)
            return jnp.asarray(value, dtype=dtype or jnp.asarray(0.0).dtype)

        return draw

    with mock.patch.multiple(
        random, normal=lookup("normal"), randint=lookup("randint"), uniform=lookup("uniform")
    ):
        yield used


def _key() -> Any:
    import jax

    return jax.random.PRNGKey(0)


def _split(key: Any) -> tuple[Any, Any]:
    import jax

    a, b = jax.random.split(key)
    return a, b


def _tag(key: Any) -> bytes:
    return np.asarray(key).tobytes()


# -- the equations -------------------------------------------------------------------------


def _schedule(case: PortCase) -> Outputs:
    gd = _gd(case.params["kind"], case.params["num_steps"])
    return _out(
        case,
        betas=gd.betas,
        alphas=1.0 - gd.betas,
        alpha_bars=gd.alphas_cumprod,
        alpha_bars_prev=gd.alphas_cumprod_prev,
        posterior_variance=gd.posterior_variance,
        posterior_log_variance_clipped=gd.posterior_log_variance_clipped,
        posterior_mean_coef1=gd.posterior_mean_coef1,
        posterior_mean_coef2=gd.posterior_mean_coef2,
    )


def _corrupt(case: PortCase) -> Outputs:
    gd = _gd(case.params["schedule"], case.params["num_steps"])
    x = case.inputs
    return _out(case, a_k=gd.q_sample(x["a0"], np.asarray(x["k"]), noise=x["eps"]))


def _approximate(case: PortCase) -> Outputs:
    """diffusion/dql.py ``get_diff_terms``: ``p_mean_variance(eps, x_t, ts)["pred_xstart"]``,
    clipped to [-1, 1] (``clip_denoised``, default True); ``clip=None`` unclipped."""
    gd = _gd(case.params["schedule"], case.params["num_steps"])
    x = case.inputs
    clip = case.params["clip"] is not None
    if clip and case.params["clip"] != 1.0:
        return {}
    out = gd.p_mean_variance(x["eps_hat"], x["a_k"], np.asarray(x["k"]), clip_denoised=clip)
    return _out(case, a0_hat=out["pred_xstart"])


def _training_terms(case: PortCase, schedule: str = "linear", steps: int = 1000) -> Any:
    """The official ``training_losses`` with the kit's eps as its noise and eps_hat as the
    model output (the noised action does not enter the MSE of eps)."""
    x = case.inputs
    gd = _gd(schedule, steps)
    eps, eps_hat = x["eps"], x["eps_hat"]
    k = np.asarray(x["k"]) if "k" in x else np.zeros(eps.shape[0], dtype=np.int32)
    key = _key()
    with _injected({_tag(key): eps}, {}):
        return gd.training_losses(key, lambda _x_t, _t: eps_hat, np.zeros_like(eps), k)


def _diffusion_loss(case: PortCase) -> Outputs | None:
    if case.params["action_reduction"] != "mean":
        return None  # the official loss averages over action dimensions only
    return _out(case, loss=_training_terms(case)["loss"].mean())


def _elbo_weights(case: PortCase) -> Outputs | None:
    if case.params["variant"] != "official":
        return None
    gd = _gd(case.params["schedule"], case.params["num_steps"])
    return _out(case, weights=gd.normalized_ts_weights)


def _elbo_loss(case: PortCase) -> Outputs | None:
    """diffusion/dql.py, CRR with ``crr_weight_mode="elbo"``: ``log_prob = -ts_weights * mse``,
    ``guide_loss = -mean(log_prob * lmbda)``."""
    if case.params["variant"] != "official" or case.params["action_reduction"] != "mean":
        return None
    terms = _training_terms(case, case.params["schedule"], case.params["num_steps"])
    log_prob = -terms["ts_weights"] * terms["mse"]
    return _out(case, loss=-(log_prob * case.inputs["weights"]).mean())


def _surrogate(case: PortCase) -> Outputs | None:
    """diffusion/dql.py, CRR / IQL with ``fixed_std``: ``MultivariateNormalDiag(pred_astart,
    ones).log_prob(actions)``, ``guide_loss = -mean(log_prob * lmbda)``."""
    import distrax
    import jax.numpy as jnp

    if case.params["form"] != "negative_log_likelihood":
        return None
    x = case.inputs
    dist = distrax.MultivariateNormalDiag(x["a0_hat"], jnp.ones_like(x["a0_hat"]))
    return _out(case, loss=-jnp.mean(dist.log_prob(x["a"]) * x["weights"]))


def _ddpm_step(case: PortCase) -> Outputs | None:
    """``GaussianDiffusion.p_sample`` with the kit's noise; ``variance="beta"`` is the
    official ``FIXED_LARGE`` (beta_k, and the posterior variance at k = 0)."""
    if case.params["clip"] != 1.0:
        return None
    var = "FIXED_SMALL" if case.params["variance"] == "posterior" else "FIXED_LARGE"
    gd = _gd(case.params["schedule"], case.params["num_steps"], var)
    x = case.inputs
    key = _key()
    with _injected({_tag(key): x["noise"]}, {}):
        out = gd.p_sample(key, x["eps_hat"], x["a_k"], np.asarray(x["k"]))
    return _out(case, a_prev=out["sample"])


def _embedding(case: PortCase) -> Outputs | None:
    if case.params["variant"] != "official":
        return None
    nets = _modules()["diffusion.nets"]
    return _out(case, embedding=nets.sinusoidal_embedding(case.inputs["t"], case.params["dim"]))


# -- the networks and samplers -------------------------------------------------------------


def _net_params(case: PortCase, prefix: str) -> dict[str, np.ndarray]:
    cut = len(prefix) + 1
    return {k[cut:]: v for k, v in case.inputs.items() if k.startswith(prefix + ".")}


def _layers(params: Mapping[str, np.ndarray]) -> tuple[int, ...]:
    """The hidden widths of an edp_ref MLP from its ``body.*`` weights (the last is the output)."""
    body = sorted(
        (int(k.split(".")[1]), v)
        for k, v in params.items()
        if k.startswith("body.") and k.endswith("weight")
    )
    return tuple(int(w.shape[0]) for _, w in body[:-1])


def _policy(case: PortCase, prefix: str = "eps_net") -> tuple[Any, Any]:
    """The official ``PolicyNet`` and its Flax parameters from the kit's ``eps_net.*``."""
    import jax.numpy as jnp

    nets = _modules()["diffusion.nets"]
    params = _net_params(case, prefix)
    S = case.inputs["state"].shape[-1]
    A = params[f"body.{2 * len(_layers(params))}.weight"].shape[0]
    net = nets.PolicyNet(
        output_dim=A, arch=_layers(params), time_embed_size=params["time_mlp.2.weight"].shape[0]
    )
    template = net.init(_key(), jnp.zeros((1, S)), jnp.zeros((1, A)), jnp.zeros((1,)))
    # The official DiffusionPolicy holds this network as ``base_net`` (flax_layout's layout).
    tree = flax_from_params({"params": {"base_net": template["params"]}}, "policy", params)
    return net, {"params": tree["params"]["base_net"]}


def _noise_network(case: PortCase) -> Outputs | None:
    if case.params["embedding"] != "official":
        return None
    net, params = _policy(case)
    x = case.inputs
    return _out(case, eps_hat=net.apply(params, x["state"], x["a_k"], x["t"]))


def _q_and_value(case: PortCase) -> Outputs:
    import jax.numpy as jnp

    nets = _modules()["diffusion.nets"]
    x = case.inputs
    S, A = x["state"].shape[-1], x["a"].shape[-1]
    q_params, v_params = _net_params(case, "q_net"), _net_params(case, "v_net")
    critic = nets.Critic(S, A, _layers(q_params), act=nets.mish)
    value = nets.Value(S, _layers(v_params), act=nets.mish)
    qt = critic.init(_key(), jnp.zeros((1, S)), jnp.zeros((1, A)))
    vt = value.init(_key(), jnp.zeros((1, S)))
    q = critic.apply(flax_from_params(qt, "critic", q_params), x["state"], x["a"])
    v = value.apply(flax_from_params(vt, "value", v_params), x["state"])
    return _out(case, q=q, v=v)


def _dpm_solver(case: PortCase) -> Outputs | None:
    """``DiffusionPolicy.dpm_sample`` (its clipping wrapper and ``DPM_Solver``) with the kit's
    a_T; ``clip=None`` is the official ``DPM_Solver`` on the unwrapped network."""
    p = case.params
    if "policy_scale" in p or p.get("order") != 3:
        return None  # App. C.4's knobs and other orders are not in the official sampler
    m = _modules()
    net, params = _policy(case)
    x = case.inputs
    gd = _gd(p["schedule"], p["num_steps"])
    if p["clip"] is None:
        dpm = m["diffusion.dpm_solver"]
        ns = dpm.NoiseScheduleVP(schedule="discrete", alphas_cumprod=gd.alphas_cumprod)

        def model(a: Any, t: Any) -> Any:
            return net.apply(params, x["state"], a, (t - 1.0 / ns.total_N) * ns.total_N)

        solver = dpm.DPM_Solver(model_fn=model, noise_schedule=ns, predict_x0=False)
        return _out(case, a0=solver.sample(x["a_T"], steps=p["steps"], t_end=p["t_end"]))
    if p["clip"] != 1.0:
        return None
    policy = _diffusion_policy(gd, net, x["state"].shape[-1], "dpm", p["steps"], p["t_end"])
    key = _key()
    with _injected({_tag(key): x["a_T"]}, {}):
        a0 = policy.apply(
            {"params": {"base_net": params["params"]}}, key, x["state"], method=policy.dpm_sample
        )
    return _out(case, a0=a0)


def _diffusion_policy(
    gd: Any, net: Any, obs_dim: int, method: str, steps: int = 15, t_end: float = 1e-3
) -> Any:
    nets = _modules()["diffusion.nets"]
    return nets.DiffusionPolicy(
        diffusion=gd,
        observation_dim=obs_dim,
        action_dim=net.output_dim,
        arch=net.arch,
        time_embed_size=net.time_embed_size,
        sample_method=method,
        dpm_steps=steps,
        dpm_t_end=t_end,
    )


def _sampler_draws(method: str, key: Any, initial: Any, steps: Any = None) -> dict[bytes, Any]:
    """The kit's sampler noise under the keys the official sampler called with ``key`` draws
    it with: DPM-Solver's one ``normal(key)``; ``p_sample_loop``'s a_K from the first split,
    then one split per step k = K-1, ..., 0 (``steps[k]``)."""
    if method == "dpm":
        return {_tag(key): initial}
    key, first = _split(key)
    draws = {_tag(first): initial}
    for k in reversed(range(len(steps))):
        key, sample_key = _split(key)
        draws[_tag(sample_key)] = steps[k]
    return draws


def _ddpm_sample(case: PortCase) -> Outputs | None:
    """``DiffusionPolicy.ddpm_sample`` (``p_sample_loop``) with the kit's a_K and noises."""
    p = case.params
    if p["clip"] != 1.0 or p["variance"] != "posterior":
        return None
    net, params = _policy(case)
    x = case.inputs
    gd = _gd(p["schedule"], p["num_steps"])
    policy = _diffusion_policy(gd, net, x["state"].shape[-1], "ddpm")
    key = _key()
    with _injected(_sampler_draws("ddpm", key, x["a_K"], x["noises"]), {}):
        a0 = policy.apply(
            {"params": {"base_net": params["params"]}}, key, x["state"], method=policy.ddpm_sample
        )
    return _out(case, a0=a0)


# -- the updates ---------------------------------------------------------------------------

_SAMPLE_METHOD = {"dpm_solver": "dpm", "ddpm": "ddpm"}


def _official_mode(function: str, config: Mapping[str, Any]) -> tuple[str, str, bool] | None:
    """(official ``loss_type``, ``sample_method``, ``use_pred_astart``) for an edp_ref update
    and its config, or None when the official ``_train_step`` cannot run that configuration
    (Diffusion-QL's switches, the feed-forward baselines, an online a', Algorithm 1's order,
    torch clipping, a joint critic clip, a sampler for L_pi other than a''s)."""
    loss_type = {"edp_crr_update": "CRR", "edp_iql_update": "IQL"}.get(function)
    if loss_type is None and "q_head" in config:
        loss_type = "TD3"
    if loss_type is None or config["optimizer"]["clip_mode"] != "optax":
        return None
    if config["critic_clip"] != "per_critic" or config["optimizer"]["lr_decay"]:
        return None
    if config["diffusion"]["ddpm_variance"] != "posterior":
        return None
    method = _SAMPLE_METHOD[config.get("next_action_sampler", "dpm_solver")]
    if config.get("next_action_policy", "ema") != "ema":
        return None
    pred = True
    if loss_type == "TD3":
        if (config["q_head"], config["q_normalization"]) != ("random", "chosen_head"):
            return None
        if config["policy_uses_updated_critic"]:
            return None
        pred = config["policy_action"] == "approximation"
        if not pred and _SAMPLE_METHOD[config["policy_action_sampler"]] != method:
            return None
    return loss_type, method, pred


def _update_draws(
    mode: tuple[str, str, bool], key: Any, x: Mapping[str, np.ndarray]
) -> dict[bytes, np.ndarray]:
    """Key -> kit draw for one official ``_train_step(..., rng=key, ...)`` (the splits of
    :func:`edp_ref.fidelity.official_edp.official_draws`)."""
    loss_type, method, pred = mode
    r = {k.removeprefix("randomness/"): v for k, v in x.items() if k.startswith("randomness/")}
    draws: dict[bytes, np.ndarray] = {}
    if loss_type in ("TD3", "CRR"):
        draws.update(
            _sampler_draws(method, key, r["next_actions/initial"], r.get("next_actions/steps"))
        )
    head_key, policy_key = _split(key)
    if loss_type == "IQL":
        policy_key = _split(policy_key)[1]
    rng, ts_key = _split(policy_key)
    rng, eps_key = _split(rng)
    draws[_tag(ts_key)] = r["diffusion/timesteps"]
    draws[_tag(eps_key)] = r["diffusion/noise"]
    if not pred:
        policy_key = _split(rng)[1]
        initial, steps = r["policy_actions/initial"], r.get("policy_actions/steps")
        draws.update(_sampler_draws(method, policy_key, initial, steps))
    if loss_type == "TD3":
        draws[_tag(head_key)] = r["head_uniform"]
    return draws


def _official_config(
    config: Mapping[str, Any], loss_type: str, method: str, pred: bool
) -> dict[str, Any]:
    d = config["diffusion"]
    out: dict[str, Any] = {
        "loss_type": loss_type,
        "num_timesteps": d["num_steps"],
        "schedule_name": d["schedule"],
        "use_pred_astart": pred,
        "dpm_steps": d["dpm_steps"],
        "dpm_t_end": d["dpm_t_end"] if d["dpm_t_end"] is not None else 1.0 / d["num_steps"],
        "lr": config["optimizer"]["learning_rate"],
        "discount": config["discount"],
        "tau": config["target_networks"]["critic_tau"],
        "guide_coef": config["loss_weight"],
    }
    if loss_type == "TD3":
        out["alpha"] = config["alpha"]
    else:
        out["diff_coef"] = config["diffusion_weight"]
    if loss_type == "CRR":
        cap = config["weight_cap"]
        out.update(
            crr_beta=config["temperature"],
            crr_ratio_upper_bound=int(cap) if cap is not None and cap == int(cap) else cap,
            sample_actions=config["num_baseline_samples"],
        )
    if loss_type == "IQL":
        out.update(expectile=config["expectile"], awr_temperature=config["inverse_temperature"])
    return out


def _update(case: PortCase) -> Outputs | None:
    """One official ``_train_step`` (diffusion/dql.py, unjitted so that its keys are concrete)
    from the kit's state, on its batch, with its draws; the EMA policy moves (the kit's config
    updates it at every update)."""
    import jax.numpy as jnp

    config = case.params["config"]
    mode = _official_mode(case.function, config)
    if mode is None or config["optimizer"]["max_grad_norm"] != 5.0:
        return None
    loss_type, method, pred = mode
    x = case.inputs
    S, A = case.params["state_dim"], case.params["action_dim"]
    dtype = _dtype(case)
    data = SyntheticTransitions(
        np.zeros((4, S), np.float32), np.zeros((4, A), np.float32), np.zeros(4, np.float32),
        np.zeros((4, S), np.float32), np.zeros(4, np.float32),
    )  # fmt: skip
    with jax_precision(case.dtype == "f64"):
        run = official_edp_run(
            loss_type.lower(), data, root=os.environ.get("EDP_OFFICIAL_ROOT") or None,
            num_steps=config["diffusion"]["num_steps"], dpm_steps=config["diffusion"]["dpm_steps"],
            dpm_t_end=_official_config(config, loss_type, method, pred)["dpm_t_end"],
            arch=(config["network"]["hidden"],) * config["network"]["layers"],
            task="walker2d-medium-expert-v2",  # its gradient clip is 5, the kit's
        )  # fmt: skip
        agent = run.agent
        agent.config.update(_official_config(config, loss_type, method, pred))
        agent.policy = agent.policy.clone(sample_method=method)
        states, targets = dict(agent.train_states), dict(agent._tgt_params)

        def kit(template: Any, kind: NetworkKind, prefix: str) -> Any:
            return _cast(flax_from_params(template, kind, _prefixed(x, prefix)), dtype)

        for official, (ours, kind) in _NETWORKS.items():
            if f"state/params/{ours}/body.0.weight" not in x:
                continue
            st, adam_prefix = states[official], f"state/adam/{ours}/"
            adam = find_adam_state(st.opt_state)
            new_adam = adam._replace(
                count=jnp.asarray(x[f"{adam_prefix}count"], dtype=adam.count.dtype),
                mu=kit(st.params, kind, f"{adam_prefix}mu/"),
                nu=kit(st.params, kind, f"{adam_prefix}nu/"),
            )
            states[official] = st.replace(
                params=kit(st.params, kind, f"state/params/{ours}/"),
                opt_state=replace_adam_state(st.opt_state, new_adam),
            )
            if f"state/target/{ours}/body.0.weight" in x:
                targets[official] = kit(targets[official], kind, f"state/target/{ours}/")
        batch = {
            "observations": x["batch/observations"], "actions": x["batch/actions"],
            "rewards": x["batch/rewards"], "next_observations": x["batch/next_observations"],
            "dones": x["batch/terminals"],
        }  # fmt: skip
        key = _key()
        draws = _update_draws(mode, key, x)
        by_shape = {}
        if loss_type == "CRR":
            noise = x["randomness/baseline_noise"]
            by_shape[tuple(noise.shape)] = noise
        train = type(agent)._train_step.__wrapped__
        with _injected(draws, by_shape) as used:
            new_states, new_targets, metrics = train(agent, states, targets, key, batch, True)
        if used != set(draws):
            raise RuntimeError(
                "official_adapter: the official update did not draw every kit tensor"
            )
    return _update_outputs(case, new_states, new_targets, metrics, loss_type)


def _prefixed(x: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {
        k[len(prefix) :]: v
        for k, v in x.items()
        if k.startswith(prefix) and "/" not in k[len(prefix) :]
    }


def _cast(tree: Any, dtype: Any) -> Any:
    import jax

    return jax.tree_util.tree_map(lambda v: np.asarray(v, dtype=dtype), tree)


def _update_outputs(
    case: PortCase, states: Any, targets: Any, metrics: Any, loss_type: str
) -> Outputs:
    import torch

    from edp_ref.fidelity.edp_checks import LOSS_NAMES

    dtype = torch.float64 if case.dtype == "f64" else torch.float32
    out: dict[str, Any] = {}
    for official, (ours, kind) in _NETWORKS.items():
        if f"state/params/{ours}/body.0.weight" not in case.inputs:
            continue
        st = states[official]
        adam = find_adam_state(st.opt_state)
        for group, tree in (
            ("params", st.params),
            ("adam/{}/mu", adam.mu),
            ("adam/{}/nu", adam.nu),
        ):
            name = group.format(ours) if "{}" in group else f"{group}/{ours}"
            for p, v in params_from_flax(tree, kind, dtype).items():
                out[f"state/{name}/{p}"] = v.numpy()
        out[f"state/adam/{ours}/count"] = np.asarray(
            adam.count, dtype=case.inputs[f"state/adam/{ours}/count"].dtype
        )
        if f"state/target/{ours}/body.0.weight" in case.inputs:
            for p, v in params_from_flax(targets[official], kind, dtype).items():
                out[f"state/target/{ours}/{p}"] = v.numpy()
    for theirs, ours in LOSS_NAMES[loss_type.lower()].items():
        if theirs in metrics:
            out[f"metrics/{ours}"] = np.asarray(metrics[theirs], dtype=_dtype(case))
    return out


_HANDLERS: dict[str, Callable[[PortCase], Outputs | None]] = {
    "make_schedule": _schedule,
    "corrupt": _corrupt,
    "approximate_action": _approximate,
    "diffusion_loss": _diffusion_loss,
    "elbo_weights": _elbo_weights,
    "elbo_weighted_loss": _elbo_loss,
    "gaussian_surrogate_loss": _surrogate,
    "ddpm_step": _ddpm_step,
    "ddpm_sample": _ddpm_sample,
    "dpm_solver_sample": _dpm_solver,
    "sinusoidal_time_embedding": _embedding,
    "NoisePredictionNetwork.forward": _noise_network,
    "QNetwork.forward / ValueNetwork.forward": _q_and_value,
}


def official_adapter(case: PortCase) -> Outputs | None:
    """The official EDP code's outputs for one kit case, or None when it does not implement it
    (module docstring). Float64 cases run under ``jax.enable_x64``."""
    handler = _HANDLERS.get(case.function)
    if handler is None and case.function.endswith("_update"):
        handler = _update
    if handler is None:
        return None
    with jax_precision(case.dtype == "f64"):
        return handler(case)
