"""The conformance kit for ports: golden inputs and outputs of every public function and of one
update of every algorithm (``python -m edp_ref.golden export|check DIR``)."""

from edp_ref.golden.kit import GoldenCase, check, export, golden_cases, main

__all__ = ["GoldenCase", "check", "export", "golden_cases", "main"]
