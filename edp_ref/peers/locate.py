"""Where the peers live: folders from arguments or environment variables, checked before use.

The peers (:data:`PEERS`: the official EDP code, the official Diffusion-QL, CORL) are never
imported by edp_ref itself. A caller passes a folder explicitly, or sets ``EDP_OFFICIAL_ROOT``,
``DQL_OFFICIAL_ROOT`` or ``CORL_ROOT``. :func:`peer_root` returns the checked folder or raises
:class:`PeerUnavailableError` naming the variable; :func:`unavailable_reason` /
:func:`available` let tests and benchmarks skip cleanly (a missing folder, a folder without the
expected files, or a missing framework such as JAX).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PEERS",
    "PeerSpec",
    "PeerUnavailableError",
    "available",
    "checked_root",
    "peer_root",
    "unavailable_reason",
]


class PeerUnavailableError(FileNotFoundError):
    """A peer's folder is not given, does not exist, lacks its files, or its framework is absent."""


@dataclass(frozen=True)
class PeerSpec:
    """One peer (``name`` as the loaders call it): what it is, its environment variable, the
    files (relative to its folder) its loader reads and the top-level Python modules (besides
    torch and NumPy) its agent code imports."""

    name: str
    description: str
    env_var: str
    required_files: tuple[str, ...]
    required_modules: tuple[str, ...]


PEERS: dict[str, PeerSpec] = {
    "edp": PeerSpec(
        "edp",
        "the official EDP code (github.com/sail-sg/edp, JAX)",
        "EDP_OFFICIAL_ROOT",
        (
            "diffusion/__init__.py",
            "diffusion/dql.py",
            "diffusion/nets.py",
            "diffusion/diffusion.py",
            "diffusion/dpm_solver.py",
            "diffusion/hps.py",
            "utilities/__init__.py",
            "utilities/jax_utils.py",
            "utilities/replay_buffer.py",
            "utilities/traj_dataset.py",
            "core/__init__.py",
            "core/core_api.py",
        ),
        ("jax", "jaxlib", "flax", "optax", "distrax", "ml_collections"),
    ),
    "dql": PeerSpec(
        "dql",
        "the official Diffusion-QL code "
        "(github.com/Zhendong-Wang/Diffusion-Policies-for-Offline-RL)",
        "DQL_OFFICIAL_ROOT",
        (
            "main.py",
            "agents/__init__.py",
            "agents/ql_diffusion.py",
            "agents/diffusion.py",
            "agents/model.py",
            "agents/helpers.py",
            "utils/__init__.py",
            "utils/logger.py",
            "utils/utils.py",
            "utils/data_sampler.py",
        ),
        ("tabulate", "dateutil"),
    ),
    "corl": PeerSpec(
        "corl",
        "CORL's single-file offline algorithms (github.com/corl-team/CORL)",
        "CORL_ROOT",
        (
            "algorithms/offline/td3_bc.py",
            "algorithms/offline/iql.py",
            "configs/offline/td3_bc/walker2d/medium_expert_v2.yaml",
            "configs/offline/iql/walker2d/medium_expert_v2.yaml",
        ),
        ("yaml",),
    ),
}


def _spec(peer: str) -> PeerSpec:
    if peer not in PEERS:
        raise ValueError(f"edp_ref.peers: unknown peer {peer!r}; expected one of {sorted(PEERS)}")
    return PEERS[peer]


def _folder_problem(spec: PeerSpec, root: str | os.PathLike[str] | None) -> tuple[Path | None, str]:
    """(checked folder, "") or (None, why not)."""
    if root is None:
        value = os.environ.get(spec.env_var, "").strip()
        if not value:
            return None, (
                f"{spec.env_var} is not set: point it (or pass the folder explicitly) at a "
                f"checkout of {spec.description}"
            )
        source = f"{spec.env_var}={value!r}"
        folder = Path(value).expanduser()
    else:
        folder = Path(root).expanduser()
        source = f"the folder argument {str(root)!r} (instead of {spec.env_var})"
    if not folder.is_dir():
        return None, f"{source} is not a folder; expected a checkout of {spec.description}"
    absent = [f for f in spec.required_files if not (folder / f).is_file()]
    if absent:
        return None, (
            f"{source} lacks the expected files of {spec.description}: {', '.join(absent)}"
        )
    return folder.resolve(), ""


def peer_root(peer: str, root: str | os.PathLike[str] | None = None) -> Path:
    """The checked folder of ``peer`` ("edp", "dql" or "corl"): ``root``, or None for the
    peer's environment variable.

    Raises:
        PeerUnavailableError: naming the variable (or argument) when the folder is not given,
            is not a folder, or lacks one of the files the loaders use.
    """
    spec = _spec(peer)
    folder, problem = _folder_problem(spec, root)
    if folder is None:
        raise PeerUnavailableError(f"edp_ref.peers: {problem}")
    return folder


def unavailable_reason(peer: str, root: str | os.PathLike[str] | None = None) -> str | None:
    """Why ``peer`` cannot be loaded here (folder or Python modules), or None when it can."""
    spec = _spec(peer)
    folder, problem = _folder_problem(spec, root)
    if folder is None:
        return problem
    missing = [m for m in spec.required_modules if importlib.util.find_spec(m) is None]
    if missing:
        return (
            f"{spec.description} needs the Python modules {', '.join(missing)} "
            "(pip install 'edp_ref[peers]')"
        )
    return None


def available(peer: str, root: str | os.PathLike[str] | None = None) -> bool:
    """True when ``peer``'s folder holds its files and the modules its agent needs are present."""
    return unavailable_reason(peer, root) is None


def checked_root(peer: str, root: str | os.PathLike[str] | None = None) -> Path:
    """:func:`peer_root`, raising :class:`PeerUnavailableError` also when the Python modules the
    peer's agent needs are missing (what a loader calls first)."""
    reason = unavailable_reason(peer, root)
    if reason is not None:
        raise PeerUnavailableError(f"edp_ref.peers: {reason}")
    return peer_root(peer, root)
