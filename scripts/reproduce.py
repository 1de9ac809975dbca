"""Reproduce a table or figure of "Efficient Diffusion Policies for Offline RL" (Kang et al. 2023).

A thin wrapper of ``edp-reproduce``: the options, the checks and the run are in
:mod:`edp_ref.reproduce.cli` (``python scripts/reproduce.py --help``). Examples::

    python scripts/reproduce.py --table 2                  # quick preset (docs/reproduction.md)
    python scripts/reproduce.py --table 2 --preset smoke   # a check of the pipeline
"""

from __future__ import annotations

import sys

from edp_ref.reproduce.cli import main, parse_args

__all__ = ["main", "parse_args"]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
