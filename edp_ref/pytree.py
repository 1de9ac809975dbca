"""The tensor dataclasses of the updates (batches, randomness) as pytrees.

Every dataclass-of-tensors an update takes (:class:`~edp_ref.data.batch.Batch`, the
``*Randomness`` and noise classes) is registered with PyTorch's pytree facility (the one ``vmap``
and ``torch.compile`` use) by :func:`pytree_dataclass`; :func:`stack_tree` / :func:`unstack_tree`
give several seeds one leading axis, and :func:`named_leaves` / :func:`with_named_leaves` name
every tensor by its field path (``randomness/diffusion/timesteps``). ``None`` fields hold no
leaves.

Unflattening builds the object without calling its ``__init__``: a stacked batch ``[S, B, ...]``
(or a per-seed slice inside ``vmap``) is not what the class's own shape checks expect.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import torch
import torch.utils._pytree as pytree
from torch import Tensor

__all__ = ["named_leaves", "pytree_dataclass", "stack_tree", "unstack_tree", "with_named_leaves"]

T = TypeVar("T")
ClassT = TypeVar("ClassT", bound=type)


def pytree_dataclass(cls: ClassT) -> ClassT:
    """Register the (frozen) dataclass ``cls`` as a pytree node whose children are its fields."""
    names = tuple(f.name for f in dataclasses.fields(cls))

    def present(obj: Any) -> tuple[str, ...]:
        return tuple(n for n in names if getattr(obj, n) is not None)

    def flatten(obj: Any) -> tuple[list[Any], Any]:
        fields = present(obj)
        return [getattr(obj, n) for n in fields], fields

    def flatten_with_keys(obj: Any) -> tuple[list[tuple[Any, Any]], Any]:
        fields = present(obj)
        return [(pytree.GetAttrKey(n), getattr(obj, n)) for n in fields], fields

    def unflatten(values: Iterable[Any], fields: tuple[str, ...]) -> Any:
        obj: Any = object.__new__(cls)
        given = dict(zip(fields, values, strict=True))
        for name in names:
            object.__setattr__(obj, name, given.get(name))
        return obj

    pytree.register_pytree_node(
        cls,
        flatten,
        unflatten,
        serialized_type_name=f"{cls.__module__}.{cls.__qualname__}",
        flatten_with_keys_fn=flatten_with_keys,
    )
    return cls


def _key_name(key: Any) -> str:
    if isinstance(key, pytree.GetAttrKey):
        return key.name
    if isinstance(key, pytree.MappingKey):
        return str(key.key)
    if isinstance(key, pytree.SequenceKey):
        return str(key.idx)
    raise TypeError(f"named_leaves: unsupported pytree key {key!r}")


def named_leaves(tree: Any, prefix: str) -> dict[str, Tensor]:
    """Every tensor of ``tree`` under ``prefix/<field>/<field>...`` (None fields, or a tree that is
    None, hold nothing)."""
    if tree is None:
        return {}
    leaves, _ = pytree.tree_flatten_with_path(tree)
    out: dict[str, Tensor] = {}
    for path, leaf in leaves:
        if not isinstance(leaf, Tensor):
            raise TypeError(
                f"named_leaves: leaf at {path} is a {type(leaf).__name__}, not a tensor"
            )
        out["/".join([prefix, *(_key_name(k) for k in path)])] = leaf
    return out


def with_named_leaves(template: T, named: Mapping[str, Tensor], prefix: str) -> T:
    """``template`` with every tensor replaced by ``named[<its name>]`` (see :func:`named_leaves`).

    Raises:
        KeyError: naming the missing tensor.
    """
    if template is None:
        return template
    paths, spec = pytree.tree_flatten_with_path(template)
    leaves = []
    for path, _leaf in paths:
        name = "/".join([prefix, *(_key_name(k) for k in path)])
        if name not in named:
            raise KeyError(f"with_named_leaves: no tensor named {name!r}")
        leaves.append(named[name])
    out: T = pytree.tree_unflatten(leaves, spec)
    return out


def stack_tree(trees: Sequence[T]) -> T:
    """Stack S trees of one structure along a new leading axis (``[S, ...]`` tensors)."""
    if not trees:
        raise ValueError("stack_tree: need at least one tree")
    out: T = pytree.tree_map(lambda *xs: torch.stack(xs), trees[0], *trees[1:])
    return out


def unstack_tree(tree: T, count: int) -> list[T]:
    """The ``count`` members of a tree stacked by :func:`stack_tree`."""
    return [pytree.tree_map(lambda x, i=i: x[i], tree) for i in range(count)]
