"""edp_ref's EDP updates against the official EDP code (sail-sg/edp, diffusion/dql.py).

:func:`one_update`: from the same state (the official agent after a few of its own updates, its
EMA policy replaced by a separately initialised network so that a' visibly comes from the EMA
copy, its counter set so that the update moves the EMA policy), the same batch and the same draws
(:func:`~edp_ref.fidelity.official_draws.official_draws`), one official ``_train_step`` and one
edp_ref update; every new parameter, target, EMA parameter, Adam moment and count, and every loss
the two report, is compared.

:func:`many_updates`: the same start, then ``updates`` updates of each on the same batches with
the same draws each step (each side feeding its own state forward); the drift of the parameters
and of the losses is recorded along the way (:class:`Drift`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edp_ref.algorithms import REGISTRY, TrainState
from edp_ref.fidelity.compare import Comparison, compare_group
from edp_ref.fidelity.flax_layout import params_from_flax
from edp_ref.fidelity.official_draws import edp_ref_randomness, official_draws
from edp_ref.fidelity.official_edp import (
    _NETWORKS,
    EDPSetting,
    edp_ref_batch,
    edp_ref_config,
    edp_ref_state,
    jax_precision,
    official_agent,
    peer_embedding_dtype,
    to_jax,
)

__all__ = ["LOSS_NAMES", "Drift", "many_updates", "one_update", "state_groups"]

# Official metric name -> edp_ref's, per algorithm (the losses both report).
LOSS_NAMES: dict[str, dict[str, str]] = {
    "td3": {
        "qf1_loss": "q1_loss",
        "qf2_loss": "q2_loss",
        "tgt_q": "target_q_mean",
        "diff_loss": "diffusion_loss",
        "guide_loss": "guide_loss",
        "policy_loss": "policy_loss",
        "lmbda": "q_loss_scale",
        "qf1_grad_norm": "q1_grad_norm",
        "qf2_grad_norm": "q2_grad_norm",
        "policy_grad_norm": "policy_grad_norm",
    },
    "crr": {
        "qf1_loss": "q1_loss",
        "qf2_loss": "q2_loss",
        "tgt_q": "target_q_mean",
        "diff_loss": "diffusion_loss",
        "guide_loss": "guide_loss",
        "policy_loss": "policy_loss",
        "adv": "advantage_mean",
        "lmbda": "weight_mean",
        "qf1_grad_norm": "q1_grad_norm",
        "qf2_grad_norm": "q2_grad_norm",
        "policy_grad_norm": "policy_grad_norm",
    },
    "iql": {
        "vf_loss": "value_loss",
        "qf1_loss": "q1_loss",
        "qf2_loss": "q2_loss",
        "tgt_q": "target_q_mean",
        "diff_loss": "diffusion_loss",
        "guide_loss": "guide_loss",
        "policy_loss": "policy_loss",
        "vf_grad": "value_grad_norm",
        "qf1_grad_norm": "q1_grad_norm",
        "qf2_grad_norm": "q2_grad_norm",
        "policy_grad_norm": "policy_grad_norm",
    },
}
LOSS_NAMES["dql_jax"] = LOSS_NAMES["td3"]
_UPDATE = {"td3": "edp_td3", "crr": "edp_crr", "iql": "edp_iql", "dql_jax": "edp_td3"}


def _official_groups(agent_states: Any, targets: Any, ours: TrainState) -> dict[str, Any]:
    """The official state as the same groups as :func:`state_groups` (edp_ref layout)."""
    from edp_ref.fidelity.flax_layout import find_adam_state

    dtype = ours.dtype
    groups: dict[str, dict[str, Any]] = {}
    counts: dict[str, Any] = {}
    for official, (net, kind) in _NETWORKS.items():
        if net not in ours.params:
            continue
        st = agent_states[official]
        groups[f"params/{net}"] = params_from_flax(st.params, kind, dtype)
        adam = find_adam_state(st.opt_state)
        groups[f"adam_mu/{net}"] = params_from_flax(adam.mu, kind, dtype)
        groups[f"adam_nu/{net}"] = params_from_flax(adam.nu, kind, dtype)
        counts[net] = np.asarray(adam.count, dtype=np.float64)
        if net in ours.target_params:
            name = "ema_policy" if net == "policy" else f"target/{net}"
            groups[name] = params_from_flax(targets[official], kind, dtype)
    groups["adam_count"] = counts
    return groups


def state_groups(state: TrainState) -> dict[str, Any]:
    """edp_ref's state as report groups: params, EMA policy, target critics, Adam moments and
    counts (the official agent holds no update counter in its state)."""
    groups: dict[str, Any] = {}
    for net, p in state.params.items():
        groups[f"params/{net}"] = p
        opt = state.optimizers[net]
        groups[f"adam_mu/{net}"] = opt.mu
        groups[f"adam_nu/{net}"] = opt.nu
    for net, p in state.target_params.items():
        groups["ema_policy" if net == "policy" else f"target/{net}"] = p
    groups["adam_count"] = {n: o.count.double() for n, o in state.optimizers.items()}
    return groups


def _losses(
    setting: EDPSetting, official: Mapping[str, Any], ours: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    names = LOSS_NAMES[setting.algorithm]
    return (
        {k: np.asarray(ours[v], dtype=np.float64) for k, v in names.items()},
        {k: np.asarray(official[k], dtype=np.float64) for k in names},
    )


def _fresh_policy(agent: Any, setting: EDPSetting) -> Any:
    """A separately initialised noise network (the official ``policy.init`` call) for the EMA
    policy, so that a' drawn from the wrong copy would show."""
    import jax
    import jax.numpy as jnp

    key = jax.random.PRNGKey(setting.seed + 1000)
    k1, k2 = jax.random.split(key)
    params = agent.policy.init(k1, k2, jnp.zeros((10, setting.obs_dim)))
    return to_jax(params, setting.float64)


@dataclass
class _Pair:
    """Both sides' running state."""

    setting: EDPSetting
    run: Any
    states: Any
    targets: Any
    step: int
    ours: TrainState
    config: Any
    update: Callable[..., Any]
    tolerances: dict[str, float] = field(default_factory=dict)

    def advance(self, key: Any, batch: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """One update of each side with the same batch and draws; returns both metrics."""
        s = self.setting
        self.step += 1
        freq = int(self.run.agent.config.policy_tgt_freq)
        policy_tgt_update = self.step > 1000 and self.step % freq == 0
        with jax_precision(s.float64):
            draws = official_draws(s, key)
            self.states, self.targets, metrics = self.run.agent._train_step(
                self.states, self.targets, key, batch, policy_tgt_update
            )
            metrics = {k: np.asarray(v) for k, v in metrics.items()}
        randomness = edp_ref_randomness(s, draws)
        self.ours, ours_metrics = self.update(
            self.ours, edp_ref_batch(batch, s.torch_dtype), randomness, self.config
        )
        return metrics, {k: v.detach() for k, v in ours_metrics.items()}


def _start(
    setting: EDPSetting,
    root: str | os.PathLike[str] | None,
    warmup: int,
    start_step: int,
    edit_config: Callable[[Any], Any] | None = None,
) -> _Pair:
    with jax_precision(setting.float64):
        run = official_agent(setting, root, warmup)
        agent = run.agent
        agent._tgt_params["policy"] = _fresh_policy(agent, setting)
        agent._total_steps = start_step
        config = edp_ref_config(setting, agent)
    if edit_config is not None:
        config = edit_config(config)
    ours = edp_ref_state(setting, agent, config)
    update = REGISTRY[_UPDATE[setting.algorithm]].update
    return _Pair(
        setting,
        run,
        dict(agent.train_states),
        dict(agent._tgt_params),
        start_step,
        ours,
        config,
        update,
    )


def _batch(pair: _Pair, seed: int) -> Any:
    np.random.seed(seed)
    with jax_precision(pair.setting.float64):
        return to_jax(pair.run.draw_batch(), pair.setting.float64)


def _compare_state(prefix: str, pair: _Pair, tolerance: Mapping[str, float]) -> list[Comparison]:
    official = _official_groups(pair.states, pair.targets, pair.ours)
    ours = state_groups(pair.ours)
    out = []
    for name in sorted(official):
        allowed = tolerance.get(name, tolerance[name.split("/")[0]])  # a group's own, or its kind's
        out.append(compare_group(f"{prefix} {name}", ours[name], official[name], allowed))
    return out


def one_update(
    setting: EDPSetting,
    root: str | os.PathLike[str] | None,
    tolerances: Mapping[str, float],
    warmup: int = 3,
    start_step: int = 1004,
    edit_config: Callable[[Any], Any] | None = None,
    edit_state: Callable[[TrainState], TrainState] | None = None,
) -> list[Comparison]:
    """One update of each side from the same state, batch and draws; one comparison per group.

    Args:
        setting: the configuration.
        root: the official EDP folder (None: ``EDP_OFFICIAL_ROOT``).
        tolerances: relative tolerance per group kind ("params", "ema_policy", "target",
            "adam_mu", "adam_nu", "adam_count", "losses").
        warmup: official training iterations before the shared start (non-trivial Adam states
            and targets).
        start_step: the update counter at the start (1004: this update is number 1005, which
            moves the EMA policy).
        edit_config: changes edp_ref's config before the update (what-if diagnostics, e.g. the
            paper's settings instead of the official ones; the tests' negative controls).
        edit_state: changes edp_ref's converted start state (negative controls: a perturbed
            parameter must fail the comparison).
    """
    import jax

    with peer_embedding_dtype(setting, root):
        pair = _start(setting, root, warmup, start_step, edit_config)
        if edit_state is not None:
            pair.ours = edit_state(pair.ours)
        batch = _batch(pair, setting.seed + 1)
        key = jax.random.PRNGKey(setting.seed + 7)
        official_metrics, ours_metrics = pair.advance(key, batch)
    prefix = f"{setting.label} one-update"
    out = _compare_state(prefix, pair, tolerances)
    ours_l, official_l = _losses(setting, official_metrics, ours_metrics)
    out.append(compare_group(f"{prefix} losses", ours_l, official_l, tolerances["losses"]))
    return out


@dataclass(frozen=True)
class Drift:
    """How far two trainings from the same start drift apart over many updates.

    Attributes:
        setting: the configuration.
        versus: what the official code was compared with: "edp_ref", or "official+1ulp" (the
            official code itself from the start with every parameter moved by one ulp: the
            round-off sensitivity of the training itself, the yardstick for the first).
        checkpoints: update numbers (counted from the shared start) at which drift was recorded.
        params: relative deviation of all online parameters at each checkpoint.
        losses: relative deviation of the losses of that update.
        final: the per-group comparisons after the last update (edp_ref only).
    """

    setting: EDPSetting
    versus: str
    checkpoints: tuple[int, ...]
    params: tuple[float, ...]
    losses: tuple[float, ...]
    final: tuple[Comparison, ...]


def _one_ulp(tree: Any) -> Any:
    """Every floating leaf moved by one unit in the last place (towards +inf)."""
    import jax
    import jax.numpy as jnp

    def move(x: Any) -> Any:
        if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating):
            return jnp.nextafter(x, jnp.asarray(jnp.inf, x.dtype))
        return x

    return jax.tree_util.tree_map(move, tree)


def many_updates(
    setting: EDPSetting,
    root: str | os.PathLike[str] | None,
    updates: int,
    tolerances: Mapping[str, float],
    record_every: int = 10,
    warmup: int = 3,
    start_step: int = 0,
    versus: str = "edp_ref",
) -> Drift:
    """``updates`` updates of the official code and of ``versus`` from the same start, on the
    same batches with the same draws at every step.

    Each side feeds its own state forward, so round-off differences can grow; the drift of the
    online parameters and of the losses is recorded every ``record_every`` updates and, against
    edp_ref, the final state is compared group by group with ``tolerances``. ``versus =
    "official+1ulp"`` runs the official update on a copy of the start whose parameters are one
    ulp away: how much the training itself amplifies a round-off difference.
    """

    if versus not in ("edp_ref", "official+1ulp"):
        raise ValueError(
            f"many_updates: versus must be 'edp_ref' or 'official+1ulp', got {versus!r}"
        )
    with peer_embedding_dtype(setting, root):
        return _many_updates(
            setting, root, updates, tolerances, record_every, warmup, start_step, versus
        )


def _many_updates(
    setting: EDPSetting,
    root: str | os.PathLike[str] | None,
    updates: int,
    tolerances: Mapping[str, float],
    record_every: int,
    warmup: int,
    start_step: int,
    versus: str,
) -> Drift:
    import jax

    pair = _start(setting, root, warmup, start_step)
    other_states = {k: v.replace(params=_one_ulp(v.params)) for k, v in pair.states.items()}
    other_targets = dict(pair.targets)
    base = jax.random.PRNGKey(setting.seed + 11)
    checkpoints, params_dev, loss_dev = [], [], []
    freq = int(pair.run.agent.config.policy_tgt_freq)
    for i in range(1, updates + 1):
        batch = _batch(pair, setting.seed + 100 + i)
        key = jax.random.fold_in(base, i)
        step = pair.step + 1
        official_metrics, ours_metrics = pair.advance(key, batch)
        if versus != "edp_ref":
            with jax_precision(setting.float64):
                other_states, other_targets, other = pair.run.agent._train_step(
                    other_states, other_targets, key, batch, step > 1000 and step % freq == 0
                )
        if i % record_every and i != updates:
            continue
        official = _official_groups(pair.states, pair.targets, pair.ours)
        nets = [k for k in official if k.startswith("params/")]
        flat_o = {f"{k}/{n}": v for k in nets for n, v in official[k].items()}
        if versus == "edp_ref":
            ours = state_groups(pair.ours)
            ours_l, official_l = _losses(setting, official_metrics, ours_metrics)
        else:
            ours = _official_groups(other_states, other_targets, pair.ours)
            other_metrics = {k: np.asarray(v) for k, v in other.items()}
            names = LOSS_NAMES[setting.algorithm]
            ours_l = {k: np.asarray(other_metrics[k], dtype=np.float64) for k in names}
            official_l = {k: np.asarray(official_metrics[k], dtype=np.float64) for k in names}
        flat_e = {f"{k}/{n}": v for k in nets for n, v in ours[k].items()}
        checkpoints.append(i)
        params_dev.append(compare_group("params", flat_e, flat_o, 1.0).deviation)
        loss_dev.append(compare_group("losses", ours_l, official_l, 1.0).deviation)
    final: list[Comparison] = []
    if versus == "edp_ref":
        final = _compare_state(f"{setting.label} {updates}-updates", pair, tolerances)
    return Drift(
        setting, versus, tuple(checkpoints), tuple(params_dev), tuple(loss_dev), tuple(final)
    )
