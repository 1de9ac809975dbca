"""What one conformance case is: its inputs, its computation, and edp_ref's tolerances for it.

A :class:`GoldenCase` names the public function it checks and the paper's equation, holds its
tensor inputs and the non-tensor arguments, and recomputes its outputs from (possibly stored)
inputs. Its tolerances are edp_ref's, written here in the code: ``check`` always compares with
these, never with the numbers a manifest carries (those are informational, for ports).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "SEED",
    "Arrays",
    "CaseList",
    "Compute",
    "GoldenCase",
    "case_tolerances",
    "dtype_tag",
]

#: The seed every case's inputs are drawn from (core cases: this; updates: this + an offset).
SEED = 20231210

#: Named tensors: a case's inputs or outputs.
Arrays = dict[str, Tensor]
#: A case's computation: inputs by name -> outputs by name.
Compute = Callable[[Arrays], Arrays]


@dataclass(frozen=True)
class GoldenCase:
    """One conformance case: the public edp_ref function or update it checks and the paper's
    equation / section, its non-tensor ``params`` (JSON-ready) and tensor ``inputs``, and
    ``compute``, which recomputes the outputs from inputs named as in ``inputs``."""

    # The case (and archive) name, ``<what>_<f64|f32>``.
    name: str
    function: str
    equation: str
    # ``f64`` or ``f32``.
    dtype: str
    params: Mapping[str, Any]
    inputs: Arrays
    compute: Compute
    # edp_ref's tolerances for this case (:func:`case_tolerances`).
    rtol: float
    atol: float
    # Conventions a port needs (argument order, name layout).
    notes: str = ""
    # Further manifest fields (the update cases' ``algorithm`` and ``title``).
    extra: Mapping[str, str] = field(default_factory=dict)


def dtype_tag(dtype: torch.dtype) -> str:
    """``f64`` or ``f32``: the suffix of a case name and its manifest ``dtype``."""
    if dtype == torch.float64:
        return "f64"
    if dtype == torch.float32:
        return "f32"
    raise ValueError(f"dtype_tag: golden cases exist in float64 and float32, got {dtype}")


def case_tolerances(dtype: torch.dtype, chain: bool = False) -> tuple[float, float]:
    """edp_ref's ``(rtol, atol)`` for a case: a value passes when
    ``|ours - golden| <= atol + rtol |golden|``.

    ``chain``: a result of many dependent operations (a sampler's whole chain, a training update
    with its backward pass), where float rounding accumulates.
    """
    if dtype == torch.float64:
        return (1e-9, 1e-10) if chain else (1e-12, 1e-12)
    return (1e-4, 1e-5) if chain else (1e-5, 1e-6)


@dataclass
class CaseList:
    """The cases of one dtype, named ``<name>_<tag>`` with edp_ref's tolerances."""

    dtype: torch.dtype
    cases: list[GoldenCase] = field(default_factory=list)

    def add(
        self,
        name: str,
        function: str,
        equation: str,
        params: Mapping[str, Any],
        inputs: Arrays,
        compute: Compute,
        chain: bool = False,
        notes: str = "",
    ) -> None:
        tag = dtype_tag(self.dtype)
        rtol, atol = case_tolerances(self.dtype, chain)
        self.cases.append(
            GoldenCase(
                f"{name}_{tag}", function, equation, tag, params, inputs, compute, rtol, atol, notes
            )
        )
