"""The PyTorch peers' side of the baseline crosscheck (:mod:`edp_ref.fidelity.torch_checks`):
each peer loaded unmodified and configured like edp_ref's baseline, its state converted to
edp_ref's layout, its batches and its random draws replayed for edp_ref.

* :class:`TorchSetting`: one configuration (which peer, sizes, dtype, IQL's update order).
* :func:`peer_draws`: the draws a peer update makes from torch's (and NumPy's) global generator
  after reseeding, in the peer's order, as edp_ref randomness.
* ``make_side``: the peer run, edp_ref's config and update, the state conversion and the loss
  names of one setting; ``peer_step``: one peer update with reseeded generators.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from edp_ref.algorithms import (
    REGISTRY,
    Batch,
    DiffusionConfig,
    NetworkConfig,
    OptimizerConfig,
    TargetNetworkConfig,
    TrainState,
)
from edp_ref.algorithms.catalog.dql import DQLConfig
from edp_ref.algorithms.catalog.edp_td3 import TD3Randomness
from edp_ref.algorithms.catalog.gaussian_iql import GaussianIQLConfig
from edp_ref.algorithms.catalog.td3bc import TD3BCConfig, TD3BCRandomness
from edp_ref.algorithms.randomness import DiffusionNoise, SamplerNoise
from edp_ref.fidelity.inputs import check_arrays, input_power, powered_rows
from edp_ref.fidelity.official_edp import Q_SCALE, SCHEDULE_TABLES, schedule_from_tables
from edp_ref.fidelity.torch_layout import (
    CORL_IQL,
    CORL_TD3BC,
    DQL_CRITIC,
    DQL_POLICY,
    adam_from_torch,
    dql_first_layer_columns,
    params_from_torch,
)
from edp_ref.peers import SyntheticTransitions, corl_run, diffusion_ql_run, main_py_settings

__all__ = [
    "Side",
    "TorchSetting",
    "compared_batch",
    "make_side",
    "peer_draws",
    "peer_step",
    "powered_start",
]


@dataclass(frozen=True)
class TorchSetting:
    """One crosscheck configuration of a PyTorch peer and edp_ref.

    Attributes:
        peer: "dql" (Diffusion-QL), "td3bc" or "iql" (CORL).
        batch_size: transitions per update.
        obs_dim: S of the synthetic data.
        action_dim: A of the synthetic data.
        float64: run both in float64.
        seed: the peer's seed and the data's.
        iql_order: CORL IQL only: "corl" (its ``train`` as shipped, against edp_ref's
            ``GaussianIQLConfig(update_order="corl")``) or "iql" (its methods composed in IQL's
            order, against edp_ref's default).
        peer_tables: DQL only: give edp_ref Diffusion-QL's float32 schedule buffers.
        task: Diffusion-QL's ``main.py`` row (lr, eta, gn).
        q_adam_eps: CORL IQL only, a diagnostic: edp_ref's Adam epsilon (all networks) and only
            the critics' groups checked. CORL's critic loss is half edp_ref's, so its Adam steps
            are edp_ref's with epsilon doubled (m/2 / (sqrt(v/4) + eps) = m / (sqrt(v) + 2 eps));
            ``q_adam_eps=2e-8`` shows that this is the whole critic difference.
    """

    peer: str
    batch_size: int = 16
    obs_dim: int = 5
    action_dim: int = 3
    float64: bool = False
    seed: int = 0
    iql_order: str = "iql"
    peer_tables: bool = False
    task: str = "walker2d-medium-expert-v2"
    q_adam_eps: float | None = None

    @property
    def dtype(self) -> torch.dtype:
        """float64 or float32."""
        return torch.float64 if self.float64 else torch.float32

    @property
    def label(self) -> str:
        """A short name for report lines."""
        name = {
            "dql": "dql vs Diffusion-QL",
            "td3bc": "td3bc vs CORL",
            "iql": "gaussian_iql vs CORL",
        }
        orders = {"corl": " (as shipped)", "iql": " (its methods in IQL's order)"}
        extra = orders[self.iql_order] if self.peer == "iql" else ""
        if self.q_adam_eps is not None:
            extra += f" edp_ref Adam eps {self.q_adam_eps:g}, critics only"
        tables = " peer-tables" if self.peer_tables else ""
        return f"{name[self.peer]}{extra} {'f64' if self.float64 else 'f32'}{tables}"


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype) -> Iterator[None]:
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


@dataclass
class Side:
    """A peer agent with its converters, and the matching edp_ref update."""

    setting: TorchSetting
    run: Any
    config: Any
    update: Callable[..., Any]
    to_state: Callable[[Any, TrainState], TrainState]
    peer_update: Callable[[Any, list[torch.Tensor]], dict[str, float]]
    losses: Callable[[dict[str, float]], dict[str, float]]
    edp_losses: tuple[str, ...]
    template: TrainState


def peer_draws(setting: TorchSetting, seed: int, num_steps: int = 5) -> Any:
    """The peer's draws of one update from ``seed``, replayed in its order, as edp_ref's type."""
    B, A, dt = setting.batch_size, setting.action_dim, setting.dtype
    torch.manual_seed(seed)
    if setting.peer == "td3bc":
        return TD3BCRandomness(torch.randn(B, A, dtype=dt))
    if setting.peer == "iql":
        return None

    def chain() -> SamplerNoise:
        initial = torch.randn(B, A, dtype=dt)
        steps = [torch.empty(0)] * num_steps
        for k in reversed(range(num_steps)):
            steps[k] = torch.randn(B, A, dtype=dt)
        return SamplerNoise(initial=initial, steps=torch.stack(steps))

    next_actions = chain()
    k = torch.randint(0, num_steps, (B,))
    eps = torch.randn(B, A, dtype=dt)
    policy_actions = chain()
    np.random.seed(seed)
    coin = torch.tensor(np.random.uniform(), dtype=dt)
    return TD3Randomness(DiffusionNoise(k, eps), next_actions, coin, policy_actions)


def _dql_side(setting: TorchSetting, root: str | os.PathLike[str] | None) -> Side:
    s = setting
    cfg = main_py_settings(root, s.task)
    data = _data(s)
    run = diffusion_ql_run(data, root=root, batch_size=s.batch_size, task=s.task, seed=s.seed)
    agent = run.agent
    for m in (agent.actor, agent.ema_model, agent.critic, agent.critic_target):
        m.to(s.dtype)
    gn = float(cfg["gn"])
    config = DQLConfig(
        optimizer=OptimizerConfig(
            learning_rate=float(cfg["lr"]), max_grad_norm=gn if gn > 0 else None, clip_mode="torch"
        ),
        network=NetworkConfig(256, 3, "torch", 16, "diffusion_ql", "mish"),
        discount=float(cfg["discount"]),
        target_networks=TargetNetworkConfig(
            critic_tau=float(cfg["tau"]),
            ema_tau=1.0 - agent.ema.beta,
            ema_start=agent.step_start_ema - 1,
            ema_every=agent.update_ema_every,
            ema_step_counts="previous_updates",
        ),
        diffusion=DiffusionConfig(schedule="vp", num_steps=int(cfg["T"]), max_action=1.0),
        alpha=float(cfg["eta"]),
        compile=False,
    )
    cols = dql_first_layer_columns(s.obs_dim, s.action_dim)

    def to_state(run: Any, template: TrainState) -> TrainState:
        a = run.agent
        params = {"policy": params_from_torch(a.actor, DQL_POLICY, s.dtype, cols)}
        opts = {"policy": adam_from_torch(a.actor_optimizer, a.actor, DQL_POLICY, s.dtype, cols)}
        targets = {"policy": params_from_torch(a.ema_model, DQL_POLICY, s.dtype, cols)}
        for net, layers in DQL_CRITIC.items():
            params[net] = params_from_torch(a.critic, layers, s.dtype)
            opts[net] = adam_from_torch(a.critic_optimizer, a.critic, layers, s.dtype)
            targets[net] = params_from_torch(a.critic_target, layers, s.dtype)
        networks = template.networks
        if s.peer_tables:
            actor = a.actor
            tables = {n: getattr(actor, n).detach().double().numpy() for n in SCHEDULE_TABLES}
            la = 0.5 * np.log(tables["alphas_cumprod"])
            networks = dataclasses.replace(
                networks, schedule=schedule_from_tables(tables, "vp", la)
            )
        return template.replace(
            networks=networks,
            params=params,
            target_params=targets,
            optimizers=opts,
            step=torch.tensor(a.step, dtype=torch.int64),
        )

    def peer_update(run: Any, batch: list[torch.Tensor]) -> dict[str, float]:
        s_, a_, r, s2, d = batch
        out = run.update([s_, a_, s2, r[:, None], (1.0 - d)[:, None]])
        return {k: float(v[0]) for k, v in out.items()}

    def losses(m: dict[str, float]) -> dict[str, float]:
        return {
            "critic_loss": m["critic_loss"],
            "diffusion_loss": m["bc_loss"],
            "guide_loss": float(cfg["eta"]) * m["ql_loss"],
            "policy_loss": m["actor_loss"],
        }

    template = REGISTRY["dql"].init(
        config, s.obs_dim, s.action_dim, torch.Generator().manual_seed(0), "cpu", s.dtype
    )
    return Side(
        s,
        run,
        config,
        REGISTRY["dql"].update,
        to_state,
        peer_update,
        losses,
        ("critic_loss", "diffusion_loss", "guide_loss", "policy_loss"),
        template,
    )


def _corl_side(setting: TorchSetting, root: str | os.PathLike[str] | None) -> Side:
    s = setting
    algorithm = "td3_bc" if s.peer == "td3bc" else "iql"
    data = _data(s)
    run = corl_run(algorithm, data, root=root, batch_size=s.batch_size, seed=s.seed)
    tr = run.agent
    hp = run.hyperparameters
    network = NetworkConfig(256, 2, "torch", activation="relu")
    targets_cfg = TargetNetworkConfig(critic_tau=float(hp["tau"]))
    if s.peer == "td3bc":
        for m in (
            tr.actor,
            tr.actor_target,
            tr.critic_1,
            tr.critic_1_target,
            tr.critic_2,
            tr.critic_2_target,
        ):
            m.to(s.dtype)
        config: Any = TD3BCConfig(
            optimizer=OptimizerConfig(learning_rate=3e-4, max_grad_norm=None),
            network=network,
            discount=float(hp["discount"]),
            target_networks=targets_cfg,
            alpha=float(hp["alpha"]),
            policy_noise=float(hp["policy_noise"]),
            noise_clip=float(hp["noise_clip"]),
            policy_delay=int(hp["policy_freq"]),
            max_action=1.0,
            compile=False,
        )

        def to_state(run: Any, template: TrainState) -> TrainState:
            t = run.agent
            nets = {
                "policy": (t.actor, t.actor_target, t.actor_optimizer),
                "q1": (t.critic_1, t.critic_1_target, t.critic_1_optimizer),
                "q2": (t.critic_2, t.critic_2_target, t.critic_2_optimizer),
            }
            return template.replace(
                params={
                    n: params_from_torch(m, CORL_TD3BC, s.dtype) for n, (m, _, _) in nets.items()
                },
                target_params={
                    n: params_from_torch(g, CORL_TD3BC, s.dtype) for n, (_, g, _) in nets.items()
                },
                optimizers={
                    n: adam_from_torch(o, m, CORL_TD3BC, s.dtype) for n, (m, _, o) in nets.items()
                },
                step=torch.tensor(t.total_it, dtype=torch.int64),
            )

        def losses(m: dict[str, float]) -> dict[str, float]:
            # CORL logs the actor loss only on the updates that step the actor.
            out = {"critic_loss": m["critic_loss"]}
            if "actor_loss" in m:
                out["policy_loss"] = m["actor_loss"]
            return out

        template = REGISTRY["td3bc"].init(
            config, s.obs_dim, s.action_dim, torch.Generator(), "cpu", s.dtype
        )
        edp_losses: tuple[str, ...] = ("critic_loss", "policy_loss")
        update: Callable[..., Any] = REGISTRY["td3bc"].update
    else:
        for m in (tr.actor, tr.qf, tr.q_target, tr.vf):
            m.to(s.dtype)
        config = GaussianIQLConfig(
            optimizer=OptimizerConfig(learning_rate=float(hp["actor_lr"]), max_grad_norm=None),
            network=network,
            discount=float(hp["discount"]),
            target_networks=targets_cfg,
            expectile=float(hp["iql_tau"]),
            inverse_temperature=float(hp["beta"]),
            weight_cap=100.0,
            log_std_min=-20.0,
            log_std_max=2.0,
            max_action=1.0,
            compile=False,
            update_order="corl" if s.iql_order == "corl" else "iql",
        )

        def to_state(run: Any, template: TrainState) -> TrainState:
            t = run.agent
            L = CORL_IQL
            q_target = {n: params_from_torch(t.q_target, L[n], s.dtype) for n in ("q1", "q2")}
            return template.replace(
                params={
                    "policy": params_from_torch(t.actor, L["policy"], s.dtype),
                    **{n: params_from_torch(t.qf, L[n], s.dtype) for n in ("q1", "q2")},
                    "value": params_from_torch(t.vf, L["value"], s.dtype),
                },
                target_params=q_target,
                optimizers={
                    "policy": adam_from_torch(t.actor_optimizer, t.actor, L["policy"], s.dtype),
                    **{
                        n: adam_from_torch(t.q_optimizer, t.qf, L[n], s.dtype, scale=2.0)
                        for n in ("q1", "q2")
                    },
                    "value": adam_from_torch(t.v_optimizer, t.vf, L["value"], s.dtype),
                },
                step=torch.tensor(t.total_it, dtype=torch.int64),
            )

        def losses(m: dict[str, float]) -> dict[str, float]:
            return {
                "value_loss": m["value_loss"],
                "critic_loss": 2.0 * m["q_loss"],
                "policy_loss": m["actor_loss"],
            }

        template = REGISTRY["gaussian_iql"].init(
            config, s.obs_dim, s.action_dim, torch.Generator(), "cpu", s.dtype
        )
        edp_losses = ("value_loss", "critic_loss", "policy_loss")
        update = REGISTRY["gaussian_iql"].update

    def peer_update(run: Any, batch: list[torch.Tensor]) -> dict[str, float]:
        s_, a_, r, s2, d = batch
        peer_batch = [s_, a_, r[:, None], s2, d[:, None]]
        if s.peer == "iql" and s.iql_order == "iql":
            return _iql_original_order(run.agent, peer_batch)
        return {k: float(v) for k, v in run.update(peer_batch).items()}

    return Side(s, run, config, update, to_state, peer_update, losses, edp_losses, template)


def _iql_original_order(trainer: Any, batch: list[torch.Tensor]) -> dict[str, float]:
    """One CORL IQL update made of CORL's own methods in IQL's order: the value step,
    then the policy step with the advantage of the updated V, then the Q step towards
    r + gamma V_new(s') (CORL's ``train`` uses the pre-update V for both and updates Q first)."""
    observations, actions, rewards, next_observations, dones = batch
    log: dict[str, float] = {}
    trainer.total_it += 1
    with torch.no_grad():
        target_q = trainer.q_target(observations, actions)
    trainer._update_v(observations, actions, log)
    with torch.no_grad():
        advantage = target_q - trainer.vf(observations)
        next_v = trainer.vf(next_observations)
    trainer._update_policy(advantage, observations, actions, log)
    trainer._update_q(next_v, observations, actions, rewards.squeeze(-1), dones.squeeze(-1), log)
    return log


def make_side(setting: TorchSetting, root: str | os.PathLike[str] | None) -> Side:
    with _default_dtype(setting.dtype):
        if setting.peer == "dql":
            return _dql_side(setting, root)
        if setting.peer in ("td3bc", "iql"):
            side = _corl_side(setting, root)
            if setting.q_adam_eps is not None:
                optimizer = dataclasses.replace(side.config.optimizer, eps=setting.q_adam_eps)
                side.config = dataclasses.replace(side.config, optimizer=optimizer)
            return side
    raise ValueError(f"TorchSetting.peer must be 'dql', 'td3bc' or 'iql', got {setting.peer!r}")


def _data(setting: TorchSetting) -> SyntheticTransitions:
    """The check's data (:func:`~edp_ref.fidelity.inputs.check_arrays`) in the peers' layout."""
    arrays = check_arrays(256, setting.obs_dim, setting.action_dim, setting.seed)
    return SyntheticTransitions(**{k: v for k, v in arrays.items() if k != "timeouts"})


def compared_batch(setting: TorchSetting, seed: int) -> tuple[Batch, str]:
    """A batch of the check's data (:func:`~edp_ref.fidelity.inputs.powered_rows`: a quarter
    terminals, a quarter time-outs) and the report note on them."""
    arrays = check_arrays(256, setting.obs_dim, setting.action_dim, setting.seed)
    rows = powered_rows(arrays, setting.batch_size, seed)
    note = input_power(arrays["terminals"][rows], arrays["timeouts"][rows], setting.label)
    fields = ("observations", "actions", "rewards", "next_observations", "terminals")
    batch = Batch(**{f: torch.tensor(arrays[f][rows], dtype=setting.dtype) for f in fields})
    return batch, note


def _critics(setting: TorchSetting, agent: Any) -> tuple[list[Any], list[Any]]:
    """The peer's (online critics and V, target networks) as module lists."""
    if setting.peer == "dql":
        return [agent.critic], [agent.critic_target, agent.ema_model]
    if setting.peer == "td3bc":
        return [agent.critic_1, agent.critic_2], [
            agent.critic_1_target,
            agent.critic_2_target,
            agent.actor_target,
        ]
    return [agent.qf, agent.vf], [agent.q_target]


def _last_linears(module: torch.nn.Module) -> list[torch.nn.Linear]:
    """The output layer of each MLP in ``module`` (a Linear with one output)."""
    return [m for m in module.modules() if isinstance(m, torch.nn.Linear) and m.out_features == 1]


def powered_start(side: Side) -> None:
    """Give the peer a start state whose every part a one-update check can see move: its target
    networks (and Diffusion-QL's EMA actor) re-initialised with PyTorch's default init from a
    fixed seed, far from the online ones; the last layer of every critic and value network
    multiplied by :data:`~edp_ref.fidelity.official_edp.Q_SCALE` (Q values spread over several
    units, as :func:`edp_ref.fidelity.official_edp.powered_start` does for the official EDP)."""
    online, targets = _critics(side.setting, side.run.agent)
    torch.manual_seed(side.setting.seed + 1000)
    with torch.no_grad(), _default_dtype(side.setting.dtype):
        for module in targets:
            for layer in module.modules():
                if isinstance(layer, torch.nn.Linear):
                    layer.reset_parameters()
        target_critics = targets[:2] if side.setting.peer == "td3bc" else targets[:1]
        for module in (*online, *target_critics):
            for layer in _last_linears(module):
                layer.weight.mul_(Q_SCALE)
                layer.bias.mul_(Q_SCALE)


def _peer_batch(b: Batch) -> list[torch.Tensor]:
    return [b.observations, b.actions, b.rewards, b.next_observations, b.terminals]


def peer_step(side: Side, run: Any, batch: Batch, seed: int) -> dict[str, float]:
    with _default_dtype(side.setting.dtype):
        torch.manual_seed(seed)
        np.random.seed(seed)
        return side.peer_update(run, _peer_batch(batch))
