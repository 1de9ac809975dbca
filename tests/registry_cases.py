"""Which registered algorithms the shared algorithm tests run: every one whose updates differ from
its base's under the test's config.

A variant that differs from its base only where a test overrides it (Table 7's K = 100 at the
test's own K) or only in how it acts (Table 6's TD3+EAS) trains exactly like its base, which the
tests already run; running it again adds time, not power.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from edp_ref.algorithms import REGISTRY, Algorithm


def trains_like_its_base(algorithm: Algorithm, test_config: Callable[[Algorithm], Any]) -> bool:
    """Whether ``algorithm`` is a variant whose test config equals its base's, field by field."""
    if algorithm.base is None:
        return False
    base = REGISTRY[algorithm.base]
    return dataclasses.asdict(test_config(algorithm)) == dataclasses.asdict(test_config(base))


def distinct_algorithms(test_config: Callable[[Algorithm], Any]) -> list[str]:
    """The registry's names, in order, less the variants that train like their base."""
    return [n for n, a in REGISTRY.items() if not trains_like_its_base(a, test_config)]
