"""Reproduce the paper's experiments, its tables and figures (Sec. 5, App. C): ``edp-reproduce``.

The layer above :mod:`edp_ref.runner` (one run) and :mod:`edp_ref.benchmark` (speed): the
tables' columns (:mod:`~edp_ref.reproduce.columns`), the budgets and each task's data
(:mod:`~edp_ref.reproduce.presets`), each experiment's grid of runs
(:mod:`~edp_ref.reproduce.experiments`), the launchers (:mod:`~edp_ref.reproduce.launchers`),
the dry run's cost (:mod:`~edp_ref.reproduce.cost`), the reports beside the paper's numbers
(:mod:`~edp_ref.reproduce.verdict`, :mod:`~edp_ref.reproduce.tables`,
:mod:`~edp_ref.reproduce.figures`), and :func:`reproduce`, one experiment end to end
(:mod:`~edp_ref.reproduce.reproduction`, :mod:`~edp_ref.reproduce.cli`).
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
