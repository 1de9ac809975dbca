"""Parameters and Adam states of the PyTorch peers (Diffusion-QL, CORL) in edp_ref's layout.

Both peers are ``nn.Linear`` stacks like edp_ref's, so a layer maps to a layer by name
(:data:`PEER_NETS`). One layout differs: Diffusion-QL's noise network (agents/model.py ``MLP``)
reads ``[noisy action, time embedding, state]`` where edp_ref's reads ``[state, noisy action,
embedding]``, so the columns of its first body layer (and of that layer's Adam moments) are
permuted (:func:`dql_first_layer_columns`). Adam states come from ``torch.optim.Adam``'s
per-parameter state (``step``, ``exp_avg``, ``exp_avg_sq``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from edp_ref.algorithms.optim import AdamState, Params

__all__ = ["PEER_NETS", "PeerNet", "dql_first_layer_columns", "state_from_torch"]


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
