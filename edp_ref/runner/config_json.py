"""Algorithm configs as JSON and back: the resolved configuration a run folder stores (Sec. 5).

A config (:class:`edp_ref.algorithms.AlgorithmConfig` and its subclasses) is a tree of frozen
dataclasses whose leaves are numbers, strings, booleans and None, so ``dataclasses.asdict`` writes
it and :func:`config_from_json` reads it back, rebuilding the nested dataclasses from the field
annotations. Every config checks its own field types and ranges when it is built
(:mod:`edp_ref.config_checks`); this module adds what JSON loses: unknown or missing fields are
an error naming the path (``config.optimizer.learnig_rate``), never silently dropped or defaulted.

Hand-written rather than a library (dacite, cattrs): the configs need only nested dataclasses,
and the two dozen lines here keep the error messages in edp_ref's style without a dependency.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = ["config_diff", "config_from_json", "config_to_json"]

T = TypeVar("T")


def config_to_json(config: object) -> dict[str, Any]:
    """A config as a JSON-ready dict (nested configs as nested dicts)."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"config_to_json: expected a config dataclass, got {type(config).__name__}")
    return dataclasses.asdict(config)


def _dataclass_in(hint: Any) -> type | None:
    """The dataclass of an annotation (``X`` or ``X | None``), else None."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        found = [a for a in typing.get_args(hint) if isinstance(a, type)]
        classes = [a for a in found if dataclasses.is_dataclass(a)]
        return classes[0] if len(classes) == 1 else None
    return None


def config_from_json(cls: type[T], data: object, where: str = "config") -> T:
    """Rebuild a config of class ``cls`` from :func:`config_to_json`'s dict.

    Raises:
        TypeError: ``data`` (or a nested part) is not a JSON object, or a value has the wrong
            type (raised by the config's own checks).
        ValueError: unknown or missing fields (named with their path ``where.field``), or a value
            out of range (the config's own checks).
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"{where}: expected a JSON object, got {type(data).__name__} {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    missing = sorted(set(fields) - set(data))
    if unknown or missing:
        raise ValueError(
            f"{where}: unknown field(s) {[f'{where}.{n}' for n in unknown]}, missing field(s) "
            f"{[f'{where}.{n}' for n in missing]}; {cls.__name__} has the fields {sorted(fields)}"
        )
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, value in data.items():
        nested = _dataclass_in(hints[name])
        if nested is not None and isinstance(value, Mapping):
            values[name] = config_from_json(nested, value, f"{where}.{name}")
        else:
            values[name] = value
    return cls(**values)


def config_diff(
    first: object, second: object, labels: tuple[str, str] = ("stored", "asked"), where: str = ""
) -> list[str]:
    """The paths at which two JSON documents differ, each as ``path: stored X vs asked Y``
    (``labels`` name the two documents)."""
    if isinstance(first, Mapping) and isinstance(second, Mapping):
        out: list[str] = []
        for key in sorted(set(first) | set(second), key=str):
            path = f"{where}.{key}" if where else str(key)
            if key not in first:
                out.append(f"{path}: absent from the {labels[0]} configuration")
            elif key not in second:
                out.append(f"{path}: absent from the {labels[1]} configuration")
            else:
                out += config_diff(first[key], second[key], labels, path)
        return out
    if first != second:
        return [f"{where or 'value'}: {labels[0]} {first!r} vs {labels[1]} {second!r}"]
    return []
