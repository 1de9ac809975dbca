"""Parameters and Adam states of the PyTorch peers (Diffusion-QL, CORL) in edp_ref's layout.

Both peers are ``nn.Linear`` stacks like edp_ref's, so a layer maps to a layer by name
(:data:`DQL_POLICY`, :data:`CORL_TD3BC`, ...). One layout differs: Diffusion-QL's noise network
(agents/model.py ``MLP``) reads ``[noisy action, time embedding, state]`` where edp_ref's reads
``[state, noisy action, embedding]``, so the columns of its first body layer (and of that
layer's Adam moments) are permuted (:func:`dql_first_layer_columns`). Adam states come from
``torch.optim.Adam``'s per-parameter state (``step``, ``exp_avg``, ``exp_avg_sq``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn

from edp_ref.algorithms.optim import AdamState, Params

__all__ = [
    "CORL_IQL",
    "CORL_TD3BC",
    "DQL_CRITIC",
    "DQL_POLICY",
    "adam_from_torch",
    "dql_first_layer_columns",
    "params_from_torch",
]

#: edp_ref layer -> the peer's, per network (``nn.Linear`` names without .weight / .bias).
DQL_POLICY = {
    "time_mlp.0": "model.time_mlp.1",
    "time_mlp.2": "model.time_mlp.3",
    "body.0": "model.mid_layer.0",
    "body.2": "model.mid_layer.2",
    "body.4": "model.mid_layer.4",
    "body.6": "model.final_layer",
}
DQL_CRITIC = {
    "q1": {f"body.{i}": f"q1_model.{i}" for i in (0, 2, 4, 6)},
    "q2": {f"body.{i}": f"q2_model.{i}" for i in (0, 2, 4, 6)},
}
CORL_TD3BC = {f"body.{i}": f"net.{i}" for i in (0, 2, 4)}
CORL_IQL = {
    "policy": {**{f"body.{i}": f"net.net.{i}" for i in (0, 2, 4)}, "log_std": "log_std"},
    "q1": {f"body.{i}": f"q1.net.{i}" for i in (0, 2, 4)},
    "q2": {f"body.{i}": f"q2.net.{i}" for i in (0, 2, 4)},
    "value": {f"body.{i}": f"v.net.{i}" for i in (0, 2, 4)},
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


def params_from_torch(
    module: nn.Module,
    layers: Mapping[str, str],
    dtype: torch.dtype,
    transform: Transform | None = None,
) -> Params:
    """The peer module's parameters named as edp_ref's (copied, in ``dtype``)."""
    theirs = dict(module.named_parameters())
    out: Params = {}
    for ours, name in _names(layers).items():
        if name not in theirs:
            raise KeyError(f"params_from_torch: the peer module has no parameter {name!r}")
        value = theirs[name].detach().clone().to(dtype)
        out[ours] = transform(ours, value) if transform else value
    return out


def adam_from_torch(
    optimizer: torch.optim.Optimizer,
    module: nn.Module,
    layers: Mapping[str, str],
    dtype: torch.dtype,
    transform: Transform | None = None,
    scale: float = 1.0,
) -> AdamState:
    """edp_ref's :class:`AdamState` from ``torch.optim.Adam``'s state of ``module``'s parameters.

    ``scale`` multiplies the first moments (and its square the second): for a peer whose loss is
    the edp_ref loss divided by ``scale`` (CORL IQL's critic loss is the mean, not the sum, of
    the two critics' losses: ``scale = 2``), the moments edp_ref would have accumulated.
    A parameter without state yet (no step taken) gives zero moments and count 0.
    """
    theirs = dict(module.named_parameters())
    mu: Params = {}
    nu: Params = {}
    counts = set()
    for ours, name in _names(layers).items():
        p = theirs[name]
        st = optimizer.state.get(p, {})
        if st:
            m = st["exp_avg"].detach().clone().to(dtype) * scale
            v = st["exp_avg_sq"].detach().clone().to(dtype) * scale**2
            counts.add(int(st["step"]))
        else:
            m = torch.zeros_like(p, dtype=dtype)
            v = torch.zeros_like(p, dtype=dtype)
            counts.add(0)
        mu[ours] = transform(ours, m) if transform else m
        nu[ours] = transform(ours, v) if transform else v
    if len(counts) != 1:
        raise ValueError(f"adam_from_torch: the parameters have different step counts {counts}")
    return AdamState(count=torch.tensor(counts.pop(), dtype=torch.int64), mu=mu, nu=nu)
