"""edp_ref's baselines against the PyTorch peers: DQL against the official Diffusion-QL
(agents/ql_diffusion.py), TD3+BC and IQL against CORL (algorithms/offline/{td3_bc,iql}.py).

Same protocol as :mod:`edp_ref.fidelity.edp_checks`: the peer trains a few updates of its own
(its own draws), its targets are re-initialised and its critics' outputs scaled
(:func:`powered_start`), its state is converted to edp_ref's (:func:`state_from_torch`), then
each side makes one update (or many) on the same batch (a quarter terminals, a quarter
time-outs) with the same draws; state groups are compared relative to the peer's change, losses
each at its own scale. The peers draw from torch's global generator (and Diffusion-QL's Q head
from ``np.random.uniform``): before each peer update the generators are reseeded, and edp_ref's
randomness is the same calls replayed from the same seed (:func:`peer_draws`: Diffusion-QL's
order is a' chain ``randn`` + K ``randn_like``, ``randint`` of k, ``randn_like`` of eps, the L_pi
chain, then the coin; TD3+BC's is one ``randn_like``; IQL draws nothing). In float64 the peer
runs with torch's default dtype set to float64 (its modules converted; Diffusion-QL's schedule
buffers stay float32 as its code computes them).

CORL's IQL differs from IQL's original update (and from edp_ref's and the official EDP's): it
computes V(s') before the value step and uses the pre-update V both in the Q target and in the
policy's advantage, and updates V -> Q -> policy; its critic loss is the mean, not the sum, of
the two critics' losses, and its actor's learning rate follows a cosine schedule
(``CosineAnnealingLR``, T_max = max_timesteps). ``iql_order="corl"`` runs CORL's ``train`` as
shipped, against edp_ref's ``GaussianIQLConfig(update_order="corl")``; ``iql_order="iql"``
composes CORL's own methods (``_update_v``, ``_update_policy``, ``_update_q``) in IQL's order
V -> policy -> Q with the updated V, against edp_ref's default. Both are checked. CORL's Adam
moments of Q are compared at edp_ref's loss scale (x2 and x4); its critics' half loss makes its
critic steps edp_ref's with Adam's epsilon doubled, so the critics are checked on a second line
with ``q_adam_eps=2e-8`` (INFO on the first). Its cosine actor learning rate moves the first
updates' rate by about 1e-11 relative, below round-off.

The peers' state is converted layer by layer (:data:`PEER_NETS`): both are ``nn.Linear`` stacks
like edp_ref's. Diffusion-QL's noise network (agents/model.py ``MLP``) reads ``[noisy action,
time embedding, state]`` where edp_ref's reads ``[state, noisy action, embedding]``, so the
columns of its first body layer (and of that layer's Adam moments) are permuted
(:func:`dql_first_layer_columns`). Adam states come from ``torch.optim.Adam``'s per-parameter
state (``step``, ``exp_avg``, ``exp_avg_sq``).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

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
from edp_ref.algorithms.optim import AdamState, Params
from edp_ref.algorithms.randomness import DiffusionNoise, SamplerNoise
from edp_ref.fidelity.compare import Comparison, Rules, compare_values
from edp_ref.fidelity.edp_checks import Drift, compare_states, state_groups
from edp_ref.fidelity.inputs import Root, check_arrays, check_data, powered_rows
from edp_ref.fidelity.official_edp import Q_SCALE
from edp_ref.peers import corl_run, diffusion_ql_run, main_py_settings

__all__ = [
    "PEER_NETS",
    "PeerNet",
    "Side",
    "TorchSetting",
    "make_side",
    "peer_draws",
    "torch_many_updates",
    "torch_one_update",
]


# -- the peers' layout --------------------------------------------------------------------


class PeerNet(NamedTuple):
    """Where one edp_ref network lives in a peer's agent (attribute names)."""

    module: str
    optimizer: str
    target: str | None
    #: edp_ref layer -> the peer's (``nn.Linear`` names without .weight / .bias).
    layers: Mapping[str, str]
    #: Multiplies the Adam moments: CORL IQL's critic loss is the mean, not the sum, of the two
    #: critics' losses, so edp_ref's moments are its own times 2 (and 4).
    moment_scale: float = 1.0


_DQL_POLICY = {
    "time_mlp.0": "model.time_mlp.1",
    "time_mlp.2": "model.time_mlp.3",
    "body.0": "model.mid_layer.0",
    "body.2": "model.mid_layer.2",
    "body.4": "model.mid_layer.4",
    "body.6": "model.final_layer",
}
_CORL = {f"body.{i}": f"net.{i}" for i in (0, 2, 4)}


def _dql_q(head: str) -> dict[str, str]:
    return {f"body.{i}": f"{head}_model.{i}" for i in (0, 2, 4, 6)}


def _iql(prefix: str) -> dict[str, str]:
    return {f"body.{i}": f"{prefix}.net.{i}" for i in (0, 2, 4)}


#: Per peer ("dql", "td3bc", "iql"), edp_ref network -> its place in the peer's agent.
PEER_NETS: dict[str, dict[str, PeerNet]] = {
    "dql": {
        "policy": PeerNet("actor", "actor_optimizer", "ema_model", _DQL_POLICY),
        "q1": PeerNet("critic", "critic_optimizer", "critic_target", _dql_q("q1")),
        "q2": PeerNet("critic", "critic_optimizer", "critic_target", _dql_q("q2")),
    },
    "td3bc": {
        "policy": PeerNet("actor", "actor_optimizer", "actor_target", _CORL),
        "q1": PeerNet("critic_1", "critic_1_optimizer", "critic_1_target", _CORL),
        "q2": PeerNet("critic_2", "critic_2_optimizer", "critic_2_target", _CORL),
    },
    "iql": {
        "policy": PeerNet("actor", "actor_optimizer", None, {**_iql("net"), "log_std": "log_std"}),
        "q1": PeerNet("qf", "q_optimizer", "q_target", _iql("q1"), 2.0),
        "q2": PeerNet("qf", "q_optimizer", "q_target", _iql("q2"), 2.0),
        "value": PeerNet("vf", "v_optimizer", None, _iql("v")),
    },
}

Transform = Callable[[str, Tensor], Tensor]


def dql_first_layer_columns(state_dim: int, action_dim: int, time_dim: int = 16) -> Transform:
    """Reorders Diffusion-QL's first body layer's input columns [a, emb, s] to edp_ref's
    [s, a, emb] (weights and their Adam moments; everything else passes through)."""

    def transform(name: str, value: Tensor) -> Tensor:
        if name != "body.0.weight":
            return value
        a = value[:, :action_dim]
        emb = value[:, action_dim : action_dim + time_dim]
        s = value[:, action_dim + time_dim :]
        if s.shape[1] != state_dim:
            raise ValueError(
                f"dql_first_layer_columns: expected {action_dim + time_dim + state_dim} input "
                f"columns, got {value.shape[1]}"
            )
        return torch.cat([s, a, emb], dim=1)

    return transform


def _names(layers: Mapping[str, str]) -> dict[str, str]:
    """edp_ref parameter name -> the peer's (``log_std`` is a bare parameter)."""
    out: dict[str, str] = {}
    for ours, theirs in layers.items():
        if ours == "log_std":
            out[ours] = theirs
        else:
            out[f"{ours}.weight"] = f"{theirs}.weight"
            out[f"{ours}.bias"] = f"{theirs}.bias"
    return out


def _params(
    module: nn.Module, layers: Mapping[str, str], dtype: torch.dtype, transform: Transform
) -> Params:
    theirs = dict(module.named_parameters())
    out: Params = {}
    for ours, name in _names(layers).items():
        if name not in theirs:
            raise KeyError(f"state_from_torch: the peer module has no parameter {name!r}")
        out[ours] = transform(ours, theirs[name].detach().clone().to(dtype))
    return out


def _adam(
    optimizer: torch.optim.Optimizer, module: nn.Module, net: PeerNet, dtype: torch.dtype,
    transform: Transform,
) -> AdamState:  # fmt: skip
    """A parameter without state yet (no step taken) gives zero moments and count 0."""
    theirs = dict(module.named_parameters())
    mu: Params = {}
    nu: Params = {}
    counts = set()
    for ours, name in _names(net.layers).items():
        p = theirs[name]
        st = optimizer.state.get(p, {})
        if st:
            m = st["exp_avg"].detach().clone().to(dtype) * net.moment_scale
            v = st["exp_avg_sq"].detach().clone().to(dtype) * net.moment_scale**2
            counts.add(int(st["step"]))
        else:
            m = torch.zeros_like(p, dtype=dtype)
            v = torch.zeros_like(p, dtype=dtype)
            counts.add(0)
        mu[ours], nu[ours] = transform(ours, m), transform(ours, v)
    if len(counts) != 1:
        raise ValueError(f"state_from_torch: the parameters have different step counts {counts}")
    return AdamState(count=torch.tensor(counts.pop(), dtype=torch.int64), mu=mu, nu=nu)


def state_from_torch(
    agent: Any,
    nets: Mapping[str, PeerNet],
    dtype: torch.dtype,
    policy_transform: Transform | None = None,
) -> tuple[dict[str, Params], dict[str, Params], dict[str, AdamState]]:
    """The peer agent's parameters, target parameters and Adam states named as edp_ref's
    (copied, in ``dtype``; ``policy_transform`` applied to the policy's tensors)."""
    params, targets, optimizers = {}, {}, {}
    for net, n in nets.items():
        transform = (net == "policy" and policy_transform) or _keep
        module = getattr(agent, n.module)
        params[net] = _params(module, n.layers, dtype, transform)
        optimizers[net] = _adam(getattr(agent, n.optimizer), module, n, dtype, transform)
        if n.target is not None:
            targets[net] = _params(getattr(agent, n.target), n.layers, dtype, transform)
    return params, targets, optimizers


def _keep(_name: str, value: Tensor) -> Tensor:
    return value


# -- running the peers --------------------------------------------------------------------

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


def make_side(setting: TorchSetting, root: Root) -> Side:
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


# -- the checks ---------------------------------------------------------------------------


def _start(side: Side, warmup: int, start_step: int | None) -> TrainState:
    for i in range(warmup):
        peer_step(side, compared_batch(side.setting, 1000 + i)[0], 2000 + i)
    powered_start(side)
    if start_step is not None:
        setattr(side.run.agent, "step" if side.setting.peer == "dql" else "total_it", start_step)
    return side.state()


def _steps(side: Side, state: TrainState, batch: Batch, seed: int) -> tuple[Any, Any, Any]:
    """One peer update and one edp_ref update on ``batch`` with the same draws from ``seed``:
    the peer's losses (edp_ref's names), edp_ref's new state and its metrics."""
    peer = peer_losses(side, peer_step(side, batch, seed))
    num_steps = side.config.diffusion.num_steps if side.setting.peer == "dql" else 5
    new, metrics = side.update(state, batch, peer_draws(side.setting, seed, num_steps))
    return peer, new, metrics


def torch_one_update(
    setting: TorchSetting,
    root: Root,
    rules: Rules,
    warmup: int = 3,
    edit_config: Callable[[Any], Any] | None = None,
) -> list[Comparison]:
    """One update of the peer and of edp_ref from the peer's powered state after ``warmup``
    updates (Diffusion-QL's counter set to 1000 so that the update moves its EMA actor; TD3+BC's
    to an odd value so that the actor and the targets move), same batch and draws.
    ``edit_config`` changes edp_ref's config first (negative controls, the power suite)."""
    side = make_side(setting, root)
    if edit_config is not None:
        side.config = edit_config(side.config)
    start_step = {"dql": 1000, "td3bc": 2 * warmup + 1, "iql": None}[setting.peer]
    start = _start(side, warmup, start_step)
    batch, note = compared_batch(setting, 7)
    peer_l, ours, metrics = _steps(side, start, batch, 77)
    prefix = f"{setting.label} one-update"
    peer = state_groups(side.state())
    out = compare_states(prefix, state_groups(ours), peer, state_groups(start), rules)
    informational = False
    if setting.peer == "iql":
        # The critics' groups are checked only with edp_ref's Adam epsilon doubled (CORL's critic
        # loss is half edp_ref's); everything else only without.
        critics_only = setting.q_adam_eps is not None
        why = "CORL's critic loss is the mean of the two (half edp_ref's): checked on the line "
        why += "with edp_ref's Adam eps 2e-08"
        out = [
            dataclasses.replace(
                c,
                informational=(c.name[-2:] in ("q1", "q2")) != critics_only,
                note=c.note
                if c.name[-2:] not in ("q1", "q2") or critics_only
                else f"{c.note}; {why}",
            )
            for c in out
        ]
        informational = critics_only
    ours_l = {k: float(metrics[k]) for k in peer_l}
    out.append(
        compare_values(
            f"{prefix} losses", ours_l, peer_l, rules.values, note, informational=informational
        )
    )
    return out


def torch_many_updates(
    setting: TorchSetting,
    root: Root,
    updates: int,
    record_every: int = 10,
    warmup: int = 3,
) -> Drift:
    """``updates`` updates of the peer and of edp_ref on the same batches and draws, each side
    feeding its own state forward; the drift is recorded every ``record_every`` updates and
    after the last."""
    side = make_side(setting, root)
    ours = _start(side, warmup, None)
    drift = Drift()
    for i in range(1, updates + 1):
        peer_l, ours, metrics = _steps(side, ours, compared_batch(setting, 5000 + i)[0], 6000 + i)
        if i % record_every == 0 or i == updates:
            ours_l = {k: float(metrics[k]) for k in peer_l}
            drift.record(i, ours, side.state(), ours_l, peer_l)
    return drift
