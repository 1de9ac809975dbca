"""The speed benchmark of Figure 2 and Appendix C.5 (``scripts/benchmark.py``)."""

from edp_ref.benchmark.suite import (
    DEFAULT_OUTPUT,
    PAPER_C5_IPS,
    PAPER_FIG2_IPS,
    PAPER_FIG2_SPS,
    SCHEMA,
    BenchmarkSettings,
    format_report,
    run_benchmark,
    write_json,
)

__all__ = [
    "DEFAULT_OUTPUT",
    "PAPER_C5_IPS",
    "PAPER_FIG2_IPS",
    "PAPER_FIG2_SPS",
    "SCHEMA",
    "BenchmarkSettings",
    "format_report",
    "run_benchmark",
    "write_json",
]
