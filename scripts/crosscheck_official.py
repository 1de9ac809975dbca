"""Does edp_ref train like the official code? One update, many updates, samplers and EAS.

Usage::

    python scripts/crosscheck_official.py --edp ../shared/peers/edp --dql ../shared/peers/dql \\
        --corl ../shared/peers/corl                 # full plan (K = 1000, f32 + f64, drift)
    python scripts/crosscheck_official.py --plan quick --fast-compile   # what the tests run

Peer folders come from the arguments or EDP_OFFICIAL_ROOT / DQL_OFFICIAL_ROOT / CORL_ROOT; a
check whose peer is absent is skipped with the reason. One line per comparison, then
``crosscheck: N passed, M failed``; exit status 1 on any failure. See docs/fidelity.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edp_ref.fidelity.crosscheck_cli import main

if __name__ == "__main__":
    raise SystemExit(main())
