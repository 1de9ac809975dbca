"""The peers edp_ref is measured against, loaded unmodified from folders given by the caller
(:mod:`~edp_ref.peers.locate`: arguments or ``EDP_OFFICIAL_ROOT``, ``DQL_OFFICIAL_ROOT``,
``CORL_ROOT``): the official EDP (sail-sg/edp, JAX: EDP + TD3 / CRR / IQL, its DQL (JAX) mode
and the labelled DIAGNOSTIC interpolation variant; :mod:`~edp_ref.peers.edp_official`), the
official Diffusion-QL (PyTorch; :mod:`~edp_ref.peers.diffusion_ql`) and CORL's TD3+BC and IQL
(PyTorch; :mod:`~edp_ref.peers.corl`).

Each loader returns a :class:`PeerRun` (:mod:`~edp_ref.peers.common`). Only import-time adapters
are used (:mod:`edp_ref.peers.isolation`): no peer file is edited or copied. JAX and the other
peer dependencies are imported lazily: ``pip install 'edp_ref[peers]'``.
"""

from edp_ref.peers.common import PeerRun, SyntheticTransitions, synthetic_transitions
from edp_ref.peers.corl import corl_run
from edp_ref.peers.diffusion_ql import diffusion_ql_run, load_diffusion_ql, main_py_settings
from edp_ref.peers.edp_official import (
    DIAGNOSTIC,
    OFFICIAL,
    load_official_edp,
    official_edp_run,
    searchsorted_interpolate,
)
from edp_ref.peers.locate import (
    PEERS,
    PeerUnavailableError,
    available,
    peer_root,
    unavailable_reason,
)

__all__ = [
    "DIAGNOSTIC",
    "OFFICIAL",
    "PEERS",
    "PeerRun",
    "PeerUnavailableError",
    "SyntheticTransitions",
    "available",
    "corl_run",
    "diffusion_ql_run",
    "load_diffusion_ql",
    "load_official_edp",
    "main_py_settings",
    "official_edp_run",
    "peer_root",
    "searchsorted_interpolate",
    "synthetic_transitions",
    "unavailable_reason",
]
