"""Hypothesis profiles for the properties.

``HYPOTHESIS_PROFILE`` selects one (default ``fast``):

- ``fast``: derandomized (the same examples on every run, so CI is reproducible), no example
  database, no deadline; few enough examples that every property together runs in well under
  three minutes on two CPU cores.
- ``thorough``: derandomized too, about 20x the examples of ``fast``; for a long local run
  (``HYPOTHESIS_PROFILE=thorough pytest -q properties``).
- ``noshrink``: ``fast`` without the shrinking phase, so that a failing property reports its
  first failing example at once (shrinking an expensive property can take minutes).
- ``random``: ``thorough`` with fresh random examples on every run (to hunt for new failures;
  a failure prints the seed to reproduce it with ``--hypothesis-seed``).

Expensive properties scale their example count from the active profile with
``properties._helpers.scaled``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch
from hypothesis import HealthCheck, Phase, settings

_COMMON = {
    "deadline": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}

settings.register_profile("fast", max_examples=30, derandomize=True, database=None, **_COMMON)
settings.register_profile("thorough", max_examples=400, derandomize=True, database=None, **_COMMON)
settings.register_profile(
    "noshrink",
    max_examples=30,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    **_COMMON,
)
settings.register_profile("random", max_examples=400, derandomize=False, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


@pytest.fixture(autouse=True)
def _single_torch_thread() -> Iterator[None]:
    """Run each property on one torch thread: the tensors here are small, and on a shared
    two-core machine intra-op threads waiting on each other slow small ops by 10x or more."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
