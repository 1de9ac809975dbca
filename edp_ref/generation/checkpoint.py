"""The resumable state of SAC training, ``<work_dir>/train.pt``: what it holds, how it is written
(atomically, tensors only, so ``torch.load(weights_only=True)`` reads it) and how it is read back,
with an error that names the file and what is wrong when it is damaged, comes from another
version of edp_ref or was written with other training settings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from edp_ref.atomic_files import atomic_write
from edp_ref.generation.config import GenerationConfig
from edp_ref.generation.replay import ReplayBuffer
from edp_ref.generation.sac import SAC

__all__ = [
    "TRAINING_FIELDS",
    "Progress",
    "load_checkpoint",
    "read_checkpoint",
    "save_checkpoint",
    "training_key",
]

#: The settings a checkpoint must share to be resumed (dataset sizes and kinds may differ).
TRAINING_FIELDS = (
    "env",
    "train_steps",
    "start_steps",
    "batch_size",
    "eval_every",
    "eval_episodes",
    "hidden",
    "layers",
    "seed",
)


def training_key(config: GenerationConfig) -> str:
    """:data:`TRAINING_FIELDS` of ``config`` as sorted JSON (stored in the checkpoint)."""
    return json.dumps({k: getattr(config, k) for k in TRAINING_FIELDS}, sort_keys=True)


@dataclass
class Progress:
    """Where training stands: counters, the evaluations (step, mean return), the training
    seconds elapsed at each, and the actor snapshot taken at each (the medium/expert candidates).
    ``initial_actor`` is the untrained actor (the "random" dataset's policy)."""

    initial_actor: dict[str, Tensor]
    step: int = 0
    episode: int = 0
    seconds: float = 0.0
    evaluations: list[tuple[int, float]] = field(default_factory=list)
    evaluation_seconds: list[float] = field(default_factory=list)
    snapshots: list[dict[str, Tensor]] = field(default_factory=list)


def save_checkpoint(
    path: Path | str,
    config: GenerationConfig,
    sac: SAC,
    buffer: ReplayBuffer,
    progress: Progress,
) -> None:
    """Write the whole training state to ``path`` atomically."""
    payload = {
        "config": training_key(config),
        "sac": sac.state_dict(),
        "initial_actor": progress.initial_actor,
        "step": progress.step,
        "episode": progress.episode,
        "seconds": progress.seconds,
        "buffer": buffer.saved(),
        "evaluations": torch.tensor(progress.evaluations, dtype=torch.float64).reshape(-1, 2),
        "evaluation_seconds": torch.tensor(progress.evaluation_seconds, dtype=torch.float64),
        "snapshots": progress.snapshots,
    }
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def _damaged(path: Path | str, exc: Exception) -> str:
    """The one-line message of a damaged ``path`` (the first line of ``exc``'s: torch's run on)."""
    cause = (str(exc).splitlines() or [""])[0]
    return (
        f"the training checkpoint {path} is damaged or not a checkpoint of this version of "
        "edp_ref (an interrupted write, a truncated copy?); delete it to train from the "
        f"start, or use another work directory ({type(exc).__name__}: {cause})"
    )


def read_checkpoint(path: Path | str, config: GenerationConfig | None = None) -> dict[str, Any]:
    """The raw contents of ``path``; with ``config``, checked to come from the same training
    settings (:data:`TRAINING_FIELDS`): the error names each setting that differs.

    Raises:
        ValueError: the file cannot be read as a checkpoint (garbage, truncated, no ``config``)
            or was written with other training settings.
    """
    try:
        state = torch.load(path, weights_only=True)
        stored = json.loads(state["config"])
        if not isinstance(stored, dict):
            raise TypeError(f"config is {type(stored).__name__}, not a mapping")
    except Exception as exc:  # zip / unpickling errors, EOFError, a missing key, bad JSON
        raise ValueError(_damaged(path, exc)) from exc
    if config is not None:
        current = json.loads(training_key(config))
        differences = [
            f"{k}: stored {stored.get(k)!r}, now {current[k]!r}"
            for k in TRAINING_FIELDS
            if stored.get(k) != current[k]
        ]
        if differences:
            raise ValueError(
                f"{path} was written with other training settings ({'; '.join(differences)}); "
                "delete it to train with the new settings (its SAC training is lost), or use "
                "another work directory"
            )
    return dict(state)


def load_checkpoint(
    path: Path | str, config: GenerationConfig, sac: SAC, buffer: ReplayBuffer
) -> Progress:
    """Restore ``sac`` and ``buffer`` from ``path`` and return the progress it records.

    Raises:
        ValueError: as :func:`read_checkpoint`, or when a part is missing or inconsistent
            (wrong shapes, a step outside ``[0, train_steps]``, evaluations that do not match
            the step).
    """
    state = read_checkpoint(path, config)
    try:
        sac.load_state_dict(state["sac"])
        step = int(state["step"])
        if not 0 <= step <= config.train_steps:
            raise ValueError(f"step {step} is outside [0, {config.train_steps}]")
        buffer.restore(state["buffer"], step)
        evaluations = [(int(s), float(r)) for s, r in state["evaluations"].tolist()]
        progress = Progress(
            initial_actor=dict(state["initial_actor"]),
            step=step,
            episode=int(state["episode"]),
            seconds=float(state["seconds"]),
            evaluations=evaluations,
            evaluation_seconds=[float(s) for s in state["evaluation_seconds"].tolist()],
            snapshots=list(state["snapshots"]),
        )
        # One evaluation per eval_every steps, and one at the last step.
        n = step // config.eval_every
        n += step == config.train_steps and step % config.eval_every != 0
        counts = (len(evaluations), len(progress.evaluation_seconds), len(progress.snapshots))
        if counts != (n, n, n):
            raise ValueError(
                f"{counts} evaluations / evaluation times / snapshots after step {step}, "
                f"expected {n} of each"
            )
    except Exception as exc:  # missing keys, wrong shapes or types
        raise ValueError(_damaged(path, exc)) from exc
    return progress
