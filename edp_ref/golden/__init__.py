"""The conformance kit for ports: golden inputs and outputs of every public core function and of
one update of every registered algorithm, in float64 and float32
(``edp-golden export|check DIR``, :mod:`~edp_ref.golden.cli`).

``export DIR`` writes one ``.npz`` archive per case (plain NumPy arrays, no pickles; two exports
are identical to the byte: :mod:`~edp_ref.golden.archive`) and ``manifest.json``
(:mod:`~edp_ref.golden.manifest`). ``check DIR`` verifies the kit and recomputes every case with
the installed edp_ref, trusting nothing the kit says without checking it, and judging outputs by
edp_ref's own tolerances (:mod:`~edp_ref.golden.checker`); ``check DIR --adapter MODULE:FUNCTION``
checks a port instead (docs/fidelity.md has the official EDP as the example).

The cases: :mod:`~edp_ref.golden.case` (a case and its tolerances),
:mod:`~edp_ref.golden.core_inputs` (the shared draws), the cases by what they check
(``cases_equations``, ``cases_samplers``, ``cases_networks``, ``cases_updates``) and
:mod:`~edp_ref.golden.catalogue` (all of them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edp_ref.lazy_imports import lazy_exports

if TYPE_CHECKING:  # imported on first use: the command's --help needs no torch
    from edp_ref.golden.case import GoldenCase
    from edp_ref.golden.catalogue import golden_cases
    from edp_ref.golden.checker import Adapter, CheckReport, Finding, PortCase, check
    from edp_ref.golden.cli import main
    from edp_ref.golden.exporter import export
    from edp_ref.golden.manifest import FORMAT_VERSION, GoldenKitError

__getattr__ = lazy_exports(__name__, __file__)

__all__ = [
    "FORMAT_VERSION",
    "Adapter",
    "CheckReport",
    "Finding",
    "GoldenCase",
    "GoldenKitError",
    "PortCase",
    "check",
    "export",
    "golden_cases",
    "main",
]
