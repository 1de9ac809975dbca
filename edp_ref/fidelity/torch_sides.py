"""The PyTorch peers' side of the baseline crosscheck (:mod:`edp_ref.fidelity.torch_checks`):
each peer loaded unmodified and configured like edp_ref's baseline, its state converted to
edp_ref's layout (:mod:`edp_ref.fidelity.torch_layout`), its batches and its random draws
replayed for edp_ref.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
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
from edp_ref.fidelity.inputs import check_arrays, check_data, powered_rows
from edp_ref.fidelity.official_edp import Q_SCALE
from edp_ref.fidelity.torch_layout import PEER_NETS, dql_first_layer_columns, state_from_torch
from edp_ref.peers import corl_run, diffusion_ql_run, main_py_settings

__all__ = [
    "Side",
    "TorchSetting",
    "compared_batch",
    "make_side",
    "peer_draws",
    "peer_losses",
    "peer_step",
    "powered_start",
]

#: Rows of the check's data.
_DATA_SIZE = 256


@dataclass(frozen=True)
class TorchSetting:
    """One crosscheck configuration of a PyTorch peer and edp_ref.

    Attributes:
        peer: "dql" (Diffusion-QL), "td3bc" or "iql" (CORL).
        obs_dim, action_dim: S and A of the synthetic data.
        seed: the peer's seed and the data's.
        iql_order: CORL IQL only: "corl" (its ``train`` as shipped, against edp_ref's
            ``GaussianIQLConfig(update_order="corl")``) or "iql" (its methods composed in IQL's
            order, against edp_ref's default).
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
    task: str = "walker2d-medium-expert-v2"
    q_adam_eps: float | None = None

    @property
    def dtype(self) -> torch.dtype:
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
        return f"{name[self.peer]}{extra} {'f64' if self.float64 else 'f32'}"


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
    """A peer run and the matching edp_ref algorithm (its registry name) and config."""

    setting: TorchSetting
    run: Any
    config: Any
    algorithm: str
    template: TrainState

    def update(self, state: TrainState, batch: Batch, randomness: Any) -> Any:
        """edp_ref's update (looked up at the call: the power suite may replace it)."""
        return REGISTRY[self.algorithm].update(state, batch, randomness, self.config)

    def state(self) -> TrainState:
        """The peer's current state as edp_ref's."""
        s, agent = self.setting, self.run.agent
        dql = s.peer == "dql"
        transform = dql_first_layer_columns(s.obs_dim, s.action_dim) if dql else None
        params, targets, optimizers = state_from_torch(agent, PEER_NETS[s.peer], s.dtype, transform)
        step = agent.step if dql else agent.total_it
        return self.template.replace(
            params=params,
            target_params=targets,
            optimizers=optimizers,
            step=torch.tensor(step, dtype=torch.int64),
        )


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


def _dql_config(run: Any, cfg: dict[str, Any]) -> DQLConfig:
    agent = run.agent
    gn = float(cfg["gn"])
    return DQLConfig(
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


def _corl_config(setting: TorchSetting, hp: dict[str, Any]) -> Any:
    common: dict[str, Any] = {
        "network": NetworkConfig(256, 2, "torch", activation="relu"),
        "discount": float(hp["discount"]),
        "target_networks": TargetNetworkConfig(critic_tau=float(hp["tau"])),
        "max_action": 1.0,
        "compile": False,
    }
    if setting.peer == "td3bc":
        return TD3BCConfig(
            **common,
            optimizer=OptimizerConfig(learning_rate=3e-4, max_grad_norm=None),
            alpha=float(hp["alpha"]),
            policy_noise=float(hp["policy_noise"]),
            noise_clip=float(hp["noise_clip"]),
            policy_delay=int(hp["policy_freq"]),
        )
    return GaussianIQLConfig(
        **common,
        optimizer=OptimizerConfig(learning_rate=float(hp["actor_lr"]), max_grad_norm=None),
        expectile=float(hp["iql_tau"]),
        inverse_temperature=float(hp["beta"]),
        weight_cap=100.0,
        log_std_min=-20.0,
        log_std_max=2.0,
        update_order="corl" if setting.iql_order == "corl" else "iql",
    )


def make_side(setting: TorchSetting, root: str | os.PathLike[str] | None) -> Side:
    """The peer run (its modules in the setting's dtype) and edp_ref's config for it."""
    s = setting
    if s.peer not in PEER_NETS:
        raise ValueError(f"TorchSetting.peer must be 'dql', 'td3bc' or 'iql', got {s.peer!r}")
    data = check_data(_DATA_SIZE, s.obs_dim, s.action_dim, s.seed)
    with _default_dtype(s.dtype):
        if s.peer == "dql":
            run = diffusion_ql_run(
                data, root=root, batch_size=s.batch_size, task=s.task, seed=s.seed
            )
            config: Any = _dql_config(run, main_py_settings(root, s.task))
        else:
            name = "td3_bc" if s.peer == "td3bc" else "iql"
            run = corl_run(name, data, root=root, batch_size=s.batch_size, seed=s.seed)
            config = _corl_config(s, run.hyperparameters)
        for net in PEER_NETS[s.peer].values():
            for attr in (net.module, net.target):
                if attr is not None:
                    getattr(run.agent, attr).to(s.dtype)
        if s.q_adam_eps is not None:
            optimizer = dataclasses.replace(config.optimizer, eps=s.q_adam_eps)
            config = dataclasses.replace(config, optimizer=optimizer)
        algorithm = {"dql": "dql", "td3bc": "td3bc", "iql": "gaussian_iql"}[s.peer]
        template = REGISTRY[algorithm].init(
            config, s.obs_dim, s.action_dim, torch.Generator().manual_seed(0), "cpu", s.dtype
        )
    return Side(s, run, config, algorithm, template)


def peer_losses(side: Side, m: dict[str, float]) -> dict[str, float]:
    """The peer's logged losses under edp_ref's names and at edp_ref's scale."""
    if side.setting.peer == "dql":
        return {
            "critic_loss": m["critic_loss"],
            "diffusion_loss": m["bc_loss"],
            "guide_loss": side.config.alpha * m["ql_loss"],
            "policy_loss": m["actor_loss"],
        }
    if side.setting.peer == "iql":
        return {
            "value_loss": m["value_loss"],
            "critic_loss": 2.0 * m["q_loss"],
            "policy_loss": m["actor_loss"],
        }
    # CORL's TD3+BC logs the actor loss only on the updates that step the actor.
    out = {"critic_loss": m["critic_loss"]}
    if "actor_loss" in m:
        out["policy_loss"] = m["actor_loss"]
    return out


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


def compared_batch(setting: TorchSetting, seed: int) -> tuple[Batch, str]:
    """A batch of the check's data (:func:`~edp_ref.fidelity.inputs.powered_rows`: a quarter
    terminals, a quarter time-outs) and the report note on them."""
    arrays = check_arrays(_DATA_SIZE, setting.obs_dim, setting.action_dim, setting.seed)
    rows, note = powered_rows(arrays, setting.batch_size, seed, setting.label)
    fields = ("observations", "actions", "rewards", "next_observations", "terminals")
    batch = Batch(**{f: torch.tensor(arrays[f][rows], dtype=setting.dtype) for f in fields})
    return batch, note


def _last_linears(module: torch.nn.Module) -> list[torch.nn.Linear]:
    """The output layer of each MLP in ``module`` (a Linear with one output)."""
    return [m for m in module.modules() if isinstance(m, torch.nn.Linear) and m.out_features == 1]


def powered_start(side: Side) -> None:
    """Give the peer a start state whose every part a one-update check can see move: its target
    networks (and Diffusion-QL's EMA actor) re-initialised with PyTorch's default init from a
    fixed seed, far from the online ones; the last layer of every critic and value network
    multiplied by :data:`~edp_ref.fidelity.official_edp.Q_SCALE` (as
    :func:`edp_ref.fidelity.official_edp.powered_start` does for the official EDP)."""
    agent, nets = side.run.agent, PEER_NETS[side.setting.peer]
    critics = [n for name, n in nets.items() if name != "policy"]
    # dict.fromkeys: each module once, critics' targets first (the order of the reseeded init).
    online = list(dict.fromkeys(n.module for n in critics))
    target_critics = list(dict.fromkeys(n.target for n in critics if n.target))
    targets = target_critics + [t for t in [nets["policy"].target] if t]
    torch.manual_seed(side.setting.seed + 1000)
    with torch.no_grad(), _default_dtype(side.setting.dtype):
        for name in targets:
            for layer in getattr(agent, name).modules():
                if isinstance(layer, torch.nn.Linear):
                    layer.reset_parameters()
        for name in online + target_critics:
            for layer in _last_linears(getattr(agent, name)):
                layer.weight.mul_(Q_SCALE)
                layer.bias.mul_(Q_SCALE)


def peer_step(side: Side, batch: Batch, seed: int) -> dict[str, float]:
    """One peer update on ``batch`` with its generators reseeded from ``seed``."""
    s, r, d = side.setting, batch.rewards[:, None], batch.terminals[:, None]
    o, a, o2 = batch.observations, batch.actions, batch.next_observations
    with _default_dtype(s.dtype):
        torch.manual_seed(seed)
        np.random.seed(seed)
        if s.peer == "dql":
            out = side.run.update([o, a, o2, r, 1.0 - d])
            return {k: float(v[0]) for k, v in out.items()}
        if s.peer == "iql" and s.iql_order == "iql":
            return _iql_original_order(side.run.agent, [o, a, r, o2, d])
        return {k: float(v) for k, v in side.run.update([o, a, r, o2, d]).items()}
