"""Generate D4RL-protocol datasets on Gymnasium MuJoCo v5.

A thin wrapper of ``edp-datasets``: the options, the checks and the run are in
:mod:`edp_ref.generation.cli` (``python scripts/make_datasets.py --help``). Examples::

    python scripts/make_datasets.py --env hopper                 # D4RL sizes: 1M steps each
    python scripts/make_datasets.py --env invertedpendulum --preset small   # seconds
"""

from __future__ import annotations

import sys

from edp_ref.generation.cli import generate_datasets, main, parse_args

__all__ = ["generate_datasets", "main", "parse_args"]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
