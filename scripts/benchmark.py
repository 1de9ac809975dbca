"""Speed benchmark of edp_ref: Figure 2 (Sec. 5.1) and Appendix C.5 of the EDP paper.

A thin wrapper: the options, the run and the report are in :mod:`edp_ref.benchmark.cli`
(``python scripts/benchmark.py --help``). Examples::

    scripts/run python scripts/benchmark.py --threads 1   # everything (about 15 min, 2 cores)
    scripts/run python scripts/benchmark.py --quick       # a few minutes: fewer iterations
    scripts/run python scripts/benchmark.py --tiny        # seconds: small networks (a smoke test)
    scripts/run python scripts/benchmark.py --peers       # beside the official peers
"""

from __future__ import annotations

import sys

from edp_ref.benchmark.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
