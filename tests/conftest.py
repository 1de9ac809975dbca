"""Fixtures shared by several test modules."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from edp_ref.generation import generate, small_preset


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    """``$MINARI_DATASETS_PATH`` holding edp_ref/hopper/medium-v0 of 500 transitions (the
    generation's small preset), generated once per test session."""
    from edp_ref.runner import minari_root  # imported by the fixtures that need the runner

    base = tmp_path_factory.mktemp("runner-data")
    root = str(base / "minari")
    cfg = dataclasses.replace(small_preset("hopper"), kinds=("medium",))
    with minari_root(root):
        generate(cfg, str(base / "work"), progress=False)
    return root


@pytest.fixture(scope="module")
def smoke_out(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An output folder holding the smoke preset's local dataset of Table 2, generated once per
    test module as the driver of a reproduction does (with one torch thread: two on the 2 busy
    cores crawl). Each module gets its own folder: its tests count the runs they find there."""
    from edp_ref.reproduce import PRESETS, build_grid, ensure_datasets, experiment

    out = tmp_path_factory.mktemp("smoke-out")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _, plans = build_grid(experiment("table", 2), PRESETS["smoke"], out)
        ensure_datasets(plans, out, progress=False, log=lambda _: None)
        yield out
    finally:
        torch.set_num_threads(threads)
