"""edp_ref's EDP updates against the official EDP code (sail-sg/edp, diffusion/dql.py).

:func:`one_update`: from the same state (the official agent after a few of its own updates, then
:func:`~edp_ref.fidelity.official_edp.powered_start`: a separately initialised EMA policy and
target critics, critics with Q values spread over several units; its counter set so that the
update moves the EMA policy), the same batch (:func:`~edp_ref.fidelity.official_edp.
compared_batch`: a quarter terminals, a quarter time-outs) and the same draws
(:func:`~edp_ref.fidelity.official_edp.official_draws`), one official ``_train_step`` and one
edp_ref update. Every new parameter, target, EMA parameter and Adam moment is compared
relative to what the official update changed, every Adam count exactly, every loss and metric
at its own scale (:mod:`edp_ref.fidelity.compare`). The official side is computed once per
setting and kept (:func:`official_update`), so that the power suite
(:mod:`edp_ref.fidelity.power`) reruns only edp_ref's side.

:func:`many_updates`: the same start, then ``updates`` updates of each on the same batches with
the same draws each step (each side feeding its own state forward); the drift of the parameters
and of the losses is recorded along the way (:class:`Drift`, reported as INFO).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from edp_ref.algorithms import REGISTRY, TrainState
from edp_ref.fidelity.compare import (
    Comparison,
    Rules,
    compare_change,
    compare_group,
    compare_values,
)
from edp_ref.fidelity.inputs import Root
from edp_ref.fidelity.official_edp import (
    EDPSetting,
    compared_batch,
    edp_ref_batch,
    edp_ref_config,
    edp_ref_randomness,
    edp_ref_state,
    jax_precision,
    official_agent,
    official_draws,
    peer_embedding_dtype,
    powered_start,
    to_jax,
)

__all__ = [
    "LOSS_NAMES",
    "Drift",
    "OfficialUpdate",
    "compare_states",
    "many_updates",
    "official_update",
    "one_update",
    "state_groups",
]

# Official metric name -> edp_ref's, per algorithm (the losses both report).
_COMMON_LOSSES = {
    "qf1_loss": "q1_loss",
    "qf2_loss": "q2_loss",
    "tgt_q": "target_q_mean",
    "diff_loss": "diffusion_loss",
    "guide_loss": "guide_loss",
    "policy_loss": "policy_loss",
    "qf1_grad_norm": "q1_grad_norm",
    "qf2_grad_norm": "q2_grad_norm",
    "policy_grad_norm": "policy_grad_norm",
}
LOSS_NAMES: dict[str, dict[str, str]] = {
    "td3": {**_COMMON_LOSSES, "lmbda": "q_loss_scale"},
    "crr": {**_COMMON_LOSSES, "adv": "advantage_mean", "lmbda": "weight_mean"},
    "iql": {**_COMMON_LOSSES, "vf_loss": "value_loss", "vf_grad": "value_grad_norm"},
}
LOSS_NAMES["dql_jax"] = LOSS_NAMES["td3"]


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


def compare_states(
    prefix: str,
    ours: Mapping[str, Any],
    peer: Mapping[str, Any],
    start: Mapping[str, Any],
    rules: Rules,
    diagnostic: bool = False,
) -> list[Comparison]:
    """Every group of two states after one update from ``start`` (groups of
    :func:`state_groups`): Adam counts exactly, everything else relative to the change."""
    out = []
    for name in sorted(peer):
        if name == "adam_count":
            out.append(compare_values(f"{prefix} {name}", ours[name], peer[name], 0.0))
        else:
            out.append(
                compare_change(
                    f"{prefix} {name}", ours[name], peer[name], start[name], rules.change
                )
            )
    return [replace(c, diagnostic=diagnostic) for c in out]


def _losses(
    setting: EDPSetting, official: Mapping[str, Any], ours: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    names = LOSS_NAMES[setting.algorithm]
    return (
        {k: np.asarray(ours[v].detach(), dtype=np.float64) for k, v in names.items()},
        {k: np.asarray(official[k], dtype=np.float64) for k in names},
    )


@dataclass(frozen=True, eq=False)
class OfficialUpdate:
    """One official update from the check's start: what both sides share (the official
    :class:`~edp_ref.peers.PeerRun` holding the start state, the compared batch in the official
    layout and :func:`~edp_ref.fidelity.inputs.input_power`'s note on it, every random draw of
    the update) and the official state and metrics after it."""

    run: Any
    batch: Any
    batch_note: str
    draws: dict[str, Any]
    states: Any
    targets: Any
    metrics: dict[str, np.ndarray]


@functools.cache
def official_update(
    setting: EDPSetting, root: str | None, warmup: int = 3, start_step: int = 1004
) -> OfficialUpdate:
    """The official side of :func:`one_update`, computed once per process and argument set."""
    import jax

    with peer_embedding_dtype(setting, root), jax_precision(setting.float64):
        run = official_agent(setting, root, warmup)
        powered_start(run, setting)
        agent = run.agent
        agent._total_steps = start_step
        batch, note = compared_batch(run, setting, setting.seed + 1)
        key = jax.random.PRNGKey(setting.seed + 7)
        draws = official_draws(setting, key)
        step = start_step + 1
        moves_ema = step > 1000 and step % int(agent.config.policy_tgt_freq) == 0
        states, targets, metrics = agent._train_step(
            dict(agent.train_states), dict(agent._tgt_params), key, batch, moves_ema
        )
    metrics = {k: np.asarray(v) for k, v in metrics.items()}
    return OfficialUpdate(run, batch, note, draws, states, targets, metrics)


def one_update(
    setting: EDPSetting,
    root: Root,
    rules: Rules,
    warmup: int = 3,
    start_step: int = 1004,
    edit_config: Callable[[Any], Any] | None = None,
    edit_state: Callable[[TrainState], TrainState] | None = None,
) -> list[Comparison]:
    """One update of each side from the same state, batch and draws; one comparison per group.

    Args:
        rules: the tolerances (the official code's float32 ones also under x64, whose tables
            and time embedding stay float32; docs/fidelity.md).
        warmup: official training iterations before the shared start (non-trivial Adam states).
        start_step: the update counter at the start (1004: this update is number 1005, which
            moves the EMA policy).
        edit_config: changes edp_ref's config before the update (what-if diagnostics; negative
            controls and the power suite's bugs).
        edit_state: changes edp_ref's converted start state (a perturbed parameter must fail).

    A setting with a replaced official function (``peer_embedding_f64``, the searchsorted
    interpolation) gives DIAGNOSTIC lines.
    """
    off = official_update(setting, None if root is None else str(root), warmup, start_step)
    agent = off.run.agent
    with jax_precision(setting.float64):
        config = edp_ref_config(setting, agent)
    if edit_config is not None:
        config = edit_config(config)
    start = edp_ref_state(setting, agent, config, step=start_step)
    ours = start if edit_state is None else edit_state(start)
    randomness = edp_ref_randomness(setting, off.draws)
    update = REGISTRY[setting.registry_name].update
    new, metrics = update(ours, edp_ref_batch(off.batch, setting.torch_dtype), randomness, config)
    diagnostic = setting.peer_embedding_f64 or setting.interpolation != "official"
    prefix = f"{setting.label} one-update"
    official = edp_ref_state(setting, agent, config, off.states, off.targets, start_step)
    out = compare_states(
        prefix, state_groups(new), state_groups(official), state_groups(start), rules, diagnostic
    )
    tolerance, note = _own_float32(setting, off, rules)
    losses = compare_values(
        f"{prefix} losses",
        *_losses(setting, off.metrics, metrics),
        tolerance,
        "; ".join(filter(None, (off.batch_note, note))),
        diagnostic=diagnostic,
    )
    return [*out, losses]


def _own_float32(setting: EDPSetting, off: OfficialUpdate, rules: Rules) -> tuple[float, str]:
    """The losses line's tolerance and note. Where the official float32 code takes other
    DPM-Solver clip indices than in exact arithmetic (:data:`~edp_ref.fidelity.samplers.
    OFFICIAL_FLOAT32_CLIP_FLIPS`: K = 1000, DPM-Solver-15, t_end 1e-3; SPEC.md section 4) its a'
    is not the one edp_ref takes, which moves the TD target: the tolerance is then max(rule,
    2 x how much the official's own float32 arithmetic moves its mean TD target), measured with
    the official sampler run in float32 and in float64 on the same EMA policy, states and noise
    (:func:`~edp_ref.fidelity.samplers.official_dpm_from_noise`) and the official target critics
    on both a'."""
    import jax
    import jax.numpy as jnp

    from edp_ref.fidelity.samplers import OFFICIAL_FLOAT32_CLIP_FLIPS, official_dpm_from_noise

    key = (setting.num_steps, setting.dpm_steps, setting.dpm_t_end)
    if setting.float64 or key not in OFFICIAL_FLOAT32_CLIP_FLIPS or "next_initial" not in off.draws:
        return rules.values, ""
    agent, batch = off.run.agent, off.batch
    targets = agent._tgt_params

    def mean_target(float64: bool) -> float:
        cast = np.float64 if float64 else np.float32
        tree = jax.tree_util.tree_map(lambda x: np.asarray(x, dtype=cast), targets)
        s2 = np.asarray(batch["next_observations"], dtype=cast)
        noise = np.asarray(off.draws["next_initial"], dtype=cast)
        with jax_precision(float64):
            a2 = official_dpm_from_noise(off.run, tree["policy"], s2, noise)
            q = jnp.minimum(
                agent.qf.apply(tree["qf1"], s2, a2), agent.qf.apply(tree["qf2"], s2, a2)
            )
            d = jnp.asarray(batch["dones"], dtype=cast)
            r = jnp.asarray(batch["rewards"], dtype=cast)
            return float(jnp.mean(r + (1 - d) * float(agent.config.discount) * q))

    t32, t64 = mean_target(False), mean_target(True)
    own = abs(t32 - t64) / abs(t32)
    note = (
        "tolerance max(rule, 2 x the official mean TD target's own float32-vs-float64 "
        f"difference {own:.2e}: its float32 clip indices, SPEC.md section 4)"
    )
    return max(rules.values, 2.0 * own), note


@dataclass
class Drift:
    """How far two trainings from the same start drift apart over many updates: at each
    recorded update, max |difference| / max |peer| of all online parameters and of the losses
    (INFO lines of the crosscheck)."""

    checkpoints: list[int] = field(default_factory=list)
    params: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)

    def record(
        self,
        update: int,
        ours: TrainState,
        peer: TrainState,
        ours_losses: Mapping[str, Any],
        peer_losses: Mapping[str, Any],
    ) -> None:
        def flat(state: TrainState) -> dict[str, Any]:
            return {f"{n}/{k}": v for n, p in state.params.items() for k, v in p.items()}

        self.checkpoints.append(update)
        self.params.append(compare_group("params", flat(ours), flat(peer), 1.0).deviation)
        self.losses.append(compare_group("losses", ours_losses, peer_losses, 1.0).deviation)


def many_updates(
    setting: EDPSetting,
    root: Root,
    updates: int,
    record_every: int = 10,
    warmup: int = 3,
) -> Drift:
    """``updates`` updates of the official code and of edp_ref from the same start, on the same
    batches (the official sampler's) with the same draws at every step; each side feeds its own
    state forward, so round-off differences can grow. The drift is recorded every
    ``record_every`` updates and after the last."""
    import jax

    with peer_embedding_dtype(setting, root), jax_precision(setting.float64):
        run = official_agent(setting, root, warmup)
        agent = run.agent
        agent._total_steps = 0
        config = edp_ref_config(setting, agent)
    ours = edp_ref_state(setting, agent, config)
    update = REGISTRY[setting.registry_name].update
    states, targets = dict(agent.train_states), dict(agent._tgt_params)
    base = jax.random.PRNGKey(setting.seed + 11)
    freq = int(agent.config.policy_tgt_freq)
    drift = Drift()
    for i in range(1, updates + 1):
        np.random.seed(setting.seed + 100 + i)
        key = jax.random.fold_in(base, i)
        with peer_embedding_dtype(setting, root), jax_precision(setting.float64):
            batch = to_jax(run.draw_batch(), setting.float64)
            draws = official_draws(setting, key)
            states, targets, metrics = agent._train_step(
                states, targets, key, batch, i > 1000 and i % freq == 0
            )
        randomness = edp_ref_randomness(setting, draws)
        ours, ours_metrics = update(
            ours, edp_ref_batch(batch, setting.torch_dtype), randomness, config
        )
        if i % record_every == 0 or i == updates:
            official = edp_ref_state(setting, agent, config, states, targets)
            drift.record(i, ours, official, *_losses(setting, metrics, ours_metrics))
    return drift
