"""Learning curves of the official EDP agent and of edp_ref side by side (docs/fidelity.md).

Usage::

    # the study of docs/fidelity.md, section 5 (5 seeds x {official, edp_ref, edp_ref + a bug},
    # two runs in parallel, resumable):
    python scripts/fidelity_curves.py run --dataset hopper-medium-v2 --source local \\
        --out runs/fidelity --updates 20000 --eval-every 4000 --episodes 10 \\
        --hidden 64 --layers 2 --mutants eas_ignores_q --jobs 2
    # TOST, power check, per-seed table and figure:
    python scripts/fidelity_curves.py report --out runs/fidelity --margin 10 \\
        --figure docs/fidelity_curves.png

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
