"""Learning curves of the official EDP agent and of edp_ref side by side (docs/fidelity.md).

Usage::

    # 3 seeds x {EDP + TD3, EDP + IQL} x {official, edp_ref}, one run at a time (resumable):
    python scripts/fidelity_curves.py run --dataset hopper-medium-v2 --source local \\
        --edp ../shared/peers/edp --out /tmp/fidelity_curves --updates 10000 --eval-every 1000
    # figure and table from the runs' JSON files:
    python scripts/fidelity_curves.py report --out /tmp/fidelity_curves \\
        --figure docs/fidelity_curves.png --table docs/fidelity_curves.md

The official EDP folder comes from ``--edp`` or ``EDP_OFFICIAL_ROOT``. A run whose JSON says
``complete`` is not repeated. See ``edp_ref.fidelity.curves`` for what each run does.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edp_ref.fidelity.curves_cli import main

if __name__ == "__main__":
    raise SystemExit(main())
