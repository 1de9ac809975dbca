"""The conformance kit for ports: golden inputs and outputs of every public core function and of
one update of every registered algorithm, in float64 and float32
(``python -m edp_ref.golden export|check DIR``).

``export DIR`` writes one ``.npz`` archive per case (plain NumPy arrays, no pickles; two exports
are identical to the byte) and ``manifest.json``: per case the function and the paper equation
it checks, the non-tensor arguments, the names, shapes and dtypes of its inputs and outputs, the
archive's sha256, and ``rtol`` / ``atol``. ``check DIR`` verifies the kit and recomputes every
case with the installed edp_ref; it trusts nothing the kit says without checking it:

* every archive's sha256 is verified before the archive is used (a file whose bytes differ is
  reported by name as modified);
* only files inside ``DIR`` are read (a case ``file`` that is absolute, contains ``..`` or
  resolves outside ``DIR`` is an error naming the case);
* a missing input or output, an extra array and an array the manifest describes otherwise are
  reported by case and array name;
* outputs are compared with edp_ref's own tolerances for each case (in the code, see
  :func:`~edp_ref.golden.case.case_tolerances`); the manifest's ``rtol`` / ``atol`` are
  informational, for a port, and editing them changes nothing;
* a case of the kit this edp_ref does not know fails the check; a case (or output) of this
  edp_ref that the kit lacks is a note, so that kits made by older versions still check.

``check DIR --adapter MODULE:FUNCTION`` checks a port instead: the same reader hands every case's
stored inputs to the port's function and judges its outputs by the same tolerances
(:class:`~edp_ref.golden.check.PortCase`; docs/fidelity.md has the official EDP as the example).

Modules: :mod:`~edp_ref.golden.case` (a case and its tolerances),
:mod:`~edp_ref.golden.core_inputs` (the shared draws), the cases by what they check
(:mod:`~edp_ref.golden.cases_equations`, :mod:`~edp_ref.golden.cases_samplers`,
:mod:`~edp_ref.golden.cases_networks`, :mod:`~edp_ref.golden.cases_updates`),
:mod:`~edp_ref.golden.catalogue` (all of them), :mod:`~edp_ref.golden.archive` (the ``.npz``
format), :mod:`~edp_ref.golden.manifest`, :mod:`~edp_ref.golden.export`,
:mod:`~edp_ref.golden.check` and :mod:`~edp_ref.golden.cli`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edp_ref.lazy_imports import lazy_exports

if TYPE_CHECKING:  # imported on first use: the command's --help needs no torch
    from edp_ref.golden.case import GoldenCase
    from edp_ref.golden.catalogue import golden_cases
    from edp_ref.golden.check import CheckReport, Finding, check
    from edp_ref.golden.cli import main
    from edp_ref.golden.export import export
    from edp_ref.golden.manifest import FORMAT_VERSION, GoldenKitError

__getattr__ = lazy_exports(__name__, __file__)

__all__ = [
    "FORMAT_VERSION",
    "CheckReport",
    "Finding",
    "GoldenCase",
    "GoldenKitError",
    "check",
    "export",
    "golden_cases",
    "main",
]
