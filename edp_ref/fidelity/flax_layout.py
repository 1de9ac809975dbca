"""Parameters and Adam states of the official EDP code (Flax / optax) in edp_ref's layout.

The official networks (sail-sg/edp, diffusion/nets.py) are Flax ``nn.Dense`` stacks: the noise
network ``PolicyNet`` holds ``TimeEmbedding_0/Dense_{0,1}`` (the 16 -> 32 -> 16 embedding MLP)
and ``Dense_0 .. Dense_L`` (the body on [state, noisy action, embedding]); ``Critic`` and
``Value`` hold ``Dense_0 .. Dense_L`` on [state, action] and on the state. edp_ref's networks
(:mod:`edp_ref.core.networks`) are ``time_mlp.{0,2}`` and ``body.{0,2,..,2L}`` ``nn.Linear``
layers with the same inputs in the same order. A Flax kernel is ``[in, out]`` and
``y = x @ kernel + bias``; a torch weight is ``[out, in]`` and ``y = x @ weight.T + bias``, so the
conversion is a transpose of every kernel (and of its Adam moments, which have the parameters'
layout). Nothing else differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import torch

from edp_ref.algorithms.optim import Params

__all__ = [
    "NetworkKind",
    "find_adam_state",
    "flax_from_params",
    "params_from_flax",
    "replace_adam_state",
]

NetworkKind = Literal["policy", "critic", "value"]


def _tree_get(tree: Any, path: tuple[str, ...]) -> Any:
    node = tree
    for key in path:
        node = node[key]
    return node


def _dense_paths(tree: Mapping[str, Any], kind: NetworkKind) -> dict[str, tuple[str, ...]]:
    """edp_ref layer prefix -> path of the matching Flax ``Dense`` in ``tree`` (the variables
    dict of one official network, ``{"params": ...}``)."""
    if "params" not in tree:
        raise ValueError(
            f"dense_paths: expected a Flax variables dict with 'params', got {list(tree)}"
        )
    root: tuple[str, ...] = ("params", "base_net") if kind == "policy" else ("params",)
    try:
        layers = _tree_get(tree, root)
    except KeyError as err:
        raise ValueError(f"dense_paths: no {'/'.join(root)} in the official {kind} tree") from err
    dense = sorted((k for k in layers if k.startswith("Dense_")), key=lambda k: int(k[6:]))
    if not dense or dense != [f"Dense_{i}" for i in range(len(dense))]:
        raise ValueError(f"dense_paths: official {kind} layers {sorted(layers)} are not Dense_0..n")
    paths = {f"body.{2 * i}": (*root, name) for i, name in enumerate(dense)}
    if kind == "policy":
        if "TimeEmbedding_0" not in layers:
            raise ValueError("dense_paths: the official policy tree has no TimeEmbedding_0")
        paths["time_mlp.0"] = (*root, "TimeEmbedding_0", "Dense_0")
        paths["time_mlp.2"] = (*root, "TimeEmbedding_0", "Dense_1")
    return paths


def params_from_flax(tree: Mapping[str, Any], kind: NetworkKind, dtype: torch.dtype) -> Params:
    """One official network's parameters (or any tree of the same layout, e.g. Adam moments)
    as an edp_ref parameter dict: kernels transposed to torch's ``[out, in]``."""
    out: Params = {}
    for prefix, path in _dense_paths(tree, kind).items():
        layer = _tree_get(tree, path)
        kernel = np.asarray(layer["kernel"])
        out[f"{prefix}.weight"] = torch.tensor(kernel.T.copy(), dtype=dtype)
        out[f"{prefix}.bias"] = torch.tensor(np.asarray(layer["bias"]).copy(), dtype=dtype)
    return out


def flax_from_params(
    template: Mapping[str, Any], kind: NetworkKind, params: Mapping[str, Any]
) -> Any:
    """The inverse of :func:`params_from_flax`: edp_ref-layout parameters (NumPy or torch,
    ``[out, in]`` weights) as a Flax variables dict shaped like ``template`` (an official
    network's ``init`` output); kernels transposed back to ``[in, out]``."""

    def copy(node: Any) -> Any:
        return {k: copy(v) for k, v in node.items()} if isinstance(node, Mapping) else node

    tree = copy(template)
    for prefix, path in _dense_paths(tree, kind).items():
        layer = _tree_get(tree, path)
        for ours, theirs, transpose in (("weight", "kernel", True), ("bias", "bias", False)):
            name = f"{prefix}.{ours}"
            if name not in params:
                raise KeyError(f"flax_from_params: no parameter {name!r} for the official {kind}")
            value = np.asarray(params[name])
            layer[theirs] = value.T.copy() if transpose else value.copy()
    return tree


def find_adam_state(opt_state: Any) -> Any:
    """The optax ``ScaleByAdamState`` (fields count, mu, nu) inside a chained optimiser state
    (the official ``clip_by_global_norm`` + ``adamw`` chain, or ``adamw`` alone)."""
    found: list[Any] = []

    def walk(node: Any) -> None:
        if all(hasattr(node, f) for f in ("count", "mu", "nu")):
            found.append(node)
        elif isinstance(node, tuple):
            for child in node:
                walk(child)

    walk(opt_state)
    if len(found) != 1:
        raise ValueError(f"find_adam_state: expected one ScaleByAdamState, found {len(found)}")
    return found[0]


def replace_adam_state(opt_state: Any, new_adam: Any) -> Any:
    """``opt_state`` with its ``ScaleByAdamState`` replaced by ``new_adam``."""
    if all(hasattr(opt_state, f) for f in ("count", "mu", "nu")):
        return new_adam
    if isinstance(opt_state, tuple):
        children = [replace_adam_state(c, new_adam) for c in opt_state]
        if hasattr(opt_state, "_fields"):  # a NamedTuple state
            return type(opt_state)(*children)
        return tuple(children)
    return opt_state
