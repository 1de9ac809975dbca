"""The speed benchmark of Figure 2 (Sec. 5.1) and Appendix C.5 (``scripts/benchmark.py``).

On walker2d-medium-expert shapes it measures, in one process and after warm-up, the median
training iterations per second of every registered algorithm (Diffusion-QL at several K), the
speed of energy-based action selection through DPM-Solver and DDPM, FLOP rates against the
dense-matmul rate of the same machine, S vmapped seeds against S sequential ones, one profiled
update and the peak memory of a run on a 2M-transition dataset; and sets the paper's figures
beside them (modules: ``settings``, ``timing``, ``training``, ``sampling``, ``multiseed``,
``memory``, ``report``, ``run``, ``cli``). ``peers`` times edp_ref beside the official code,
``revisions`` this checkout beside another git revision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edp_ref.lazy_imports import lazy_exports

if TYPE_CHECKING:  # imported on first use: the command's --help needs no torch
    from edp_ref.benchmark.report import format_report
    from edp_ref.benchmark.run import DEFAULT_OUTPUT, SCHEMA, run_benchmark, write_json
    from edp_ref.benchmark.settings import BenchmarkSettings

__getattr__ = lazy_exports(__name__, __file__)

__all__ = [
    "DEFAULT_OUTPUT",
    "SCHEMA",
    "BenchmarkSettings",
    "format_report",
    "run_benchmark",
    "write_json",
]
