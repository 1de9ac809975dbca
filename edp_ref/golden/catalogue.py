"""The kit's list of cases: every core case and one update of every registered algorithm, in
float64 and float32 (:func:`golden_cases`)."""

from __future__ import annotations

import torch

from edp_ref.golden.case import GoldenCase
from edp_ref.golden.cases_equations import equation_cases
from edp_ref.golden.cases_networks import network_cases
from edp_ref.golden.cases_samplers import sampler_cases
from edp_ref.golden.cases_updates import update_cases
from edp_ref.golden.core_inputs import draw_core_inputs

__all__ = ["golden_cases"]


def golden_cases() -> list[GoldenCase]:
    """Every core case and one update of every algorithm, float64 then float32.

    Raises:
        ValueError: if two cases share a name (a bug in a case definition).
    """
    cases: list[GoldenCase] = []
    for dtype in (torch.float64, torch.float32):
        shared = draw_core_inputs(dtype)
        cases.extend(equation_cases(shared))
        cases.extend(sampler_cases(shared))
        cases.extend(network_cases(shared))
        cases.extend(update_cases(dtype))
    names = [case.name for case in cases]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"golden_cases: duplicate case names {duplicates}")
    return cases
