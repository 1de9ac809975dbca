"""Training speed of edp_ref next to the official peers (Fig. 2 and App. C.5 of the EDP paper).

Times, on the same synthetic walker2d-shaped data and one thread, the official EDP (JAX:
EDP + TD3 / CRR / IQL at K = 1000 with DPM-Solver-15, and its DQL (JAX) mode), the official
Diffusion-QL (PyTorch, vp K = 5) and CORL's TD3+BC and IQL, each next to the matching edp_ref
update (eager and compiled), in interleaved rounds. See edp_ref.benchmark.peers for the method
and the JSON schema. Example (pinned to one core)::

    EDP_OFFICIAL_ROOT=../shared/peers/edp DQL_OFFICIAL_ROOT=../shared/peers/dql \\
    CORL_ROOT=../shared/peers/corl taskset -c 1 python scripts/benchmark_peers.py --rounds 5

``--tiny`` is a smoke test of tiny sizes; peers whose folder is not given are skipped and
their rows show edp_ref alone.
"""

from __future__ import annotations

import sys

from edp_ref.benchmark.cli import peers_main as main

if __name__ == "__main__":
    sys.exit(main())
