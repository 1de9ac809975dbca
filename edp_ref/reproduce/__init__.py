"""Reproduce the paper's experiments, its tables and figures (Sec. 5, App. C): ``edp-reproduce``.

The layer above :mod:`edp_ref.runner` (one run) and :mod:`edp_ref.benchmark` (speed):

* :mod:`~edp_ref.reproduce.columns`: the columns of the paper's tables and the registered
  algorithm that trains each;
* :mod:`~edp_ref.reproduce.presets`: the budgets (``paper``, ``quick``, ``smoke``) and each
  task's data;
* :mod:`~edp_ref.reproduce.experiments`: what each table or figure measures, and its grid of runs;
* :mod:`~edp_ref.reproduce.launchers`: local processes or a Ray cluster;
* :mod:`~edp_ref.reproduce.cost`: the dry run, priced by the benchmark's timing code;
* :mod:`~edp_ref.reproduce.verdict`, :mod:`~edp_ref.reproduce.tables`,
  :mod:`~edp_ref.reproduce.figures`: the reports beside the paper's numbers;
* :mod:`~edp_ref.reproduce.reproduction`: :func:`reproduce`, one experiment end to end;
* :mod:`~edp_ref.reproduce.cli`: ``edp-reproduce``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edp_ref.lazy_imports import lazy_exports

if TYPE_CHECKING:  # imported on first use: the command's --help needs no torch
    from edp_ref.reproduce.experiments import TABLE_LAYOUTS, build_grid, experiment
    from edp_ref.reproduce.launchers import run_grid
    from edp_ref.reproduce.presets import PRESETS, ensure_datasets, plan_data
    from edp_ref.reproduce.reproduction import reproduce

__getattr__ = lazy_exports(__name__, __file__)

__all__ = [
    "PRESETS",
    "TABLE_LAYOUTS",
    "build_grid",
    "ensure_datasets",
    "experiment",
    "plan_data",
    "reproduce",
    "run_grid",
]
