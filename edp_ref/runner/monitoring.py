"""Watching a run: averaged training losses, evaluations and speed in TensorBoard (and W&B), and a
plain-text run log (the paper's training curves, Fig. 3, come from these evaluations).

* :class:`Monitoring`: how a run is watched and how often it checkpoints on the wall clock;
  none of it changes what is trained, so it is not part of the run's configuration.
* :class:`LossWindow`: the update metrics summed on the device over ``log_every`` updates, then
  averaged with one host synchronisation per window (never one per update).
* :class:`RunMonitor`: ``run.log`` (appended: starts, resumes, compile time, checkpoints,
  evaluations), TensorBoard event files in ``tensorboard/`` (``torch.utils.tensorboard``) and,
  when asked and installed, Weights & Biases. A resumed run purges the TensorBoard points after
  its checkpoint (``SummaryWriter(purge_step=...)``), so each step appears once.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, no_type_check

import torch
from torch import Tensor

from edp_ref.config_checks import check_int, check_real, check_text
from edp_ref.runner.spec import check_fields, tyro_readable

__all__ = ["LossWindow", "Monitoring", "RunMonitor"]


@tyro_readable
@no_type_check
@dataclass(frozen=True)
class Monitoring:
    """How a run is watched (none of it changes the trained result)."""

    # Average the training losses over this many updates (on the device) before logging.
    log_every: int = 100
    # Wall-clock minutes between checkpoints besides the evaluations' (checked at the end of
    # each log window; 0: every log window).
    checkpoint_minutes: float = 5.0
    # Write TensorBoard event files to <run folder>/tensorboard.
    tensorboard: bool = True
    # Also log to Weights & Biases (pip install wandb).
    wandb: bool = False
    # Weights & Biases project.
    wandb_project: str = "edp_ref"

    def __post_init__(self) -> None:
        check_fields((f.name for f in fields(self)), self._check)

    def _check(self, name: str) -> None:
        value, where = getattr(self, name), f"Monitoring.{name}"
        if name == "log_every":
            check_int(where, value, 1)
        elif name == "checkpoint_minutes":
            check_real(where, value, 0.0)
        elif name == "wandb_project":
            check_text(where, value)
        elif not isinstance(value, bool):
            raise TypeError(f"{where} must be a bool, got {value!r} ({type(value).__name__})")


class LossWindow:
    """Sums of the update metrics over a window of updates, kept on the device."""

    def __init__(self) -> None:
        self._sums: dict[str, Tensor] = {}
        self.count = 0

    def add(self, metrics: Mapping[str, Tensor]) -> None:
        """Add one update's scalar metrics (no host synchronisation)."""
        for name, value in metrics.items():
            value = value.detach().to(torch.float32)
            self._sums[name] = value if name not in self._sums else self._sums[name] + value
        self.count += 1

    def take_means(self) -> dict[str, float]:
        """The window's means (one host synchronisation), then start a new window."""
        if not self.count:
            return {}
        names = sorted(self._sums)
        means = (torch.stack([self._sums[n] for n in names]) / self.count).tolist()
        self._sums, self.count = {}, 0
        return dict(zip(names, means, strict=True))


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class RunMonitor:
    """``run.log``, TensorBoard and (optionally) W&B for one run folder."""

    def __init__(
        self,
        run_dir: Path,
        name: str,
        document: Mapping[str, Any],
        monitoring: Monitoring,
        *,
        resume_step: int | None,
        notify: Callable[[str], None] = _stderr,
    ) -> None:
        self.run_dir = run_dir
        self._log_path = run_dir / "run.log"
        self._notify = notify
        self._writer: Any = None
        self._wandb: Any = None
        if monitoring.tensorboard:
            self._writer = self._open_tensorboard(resume_step)
        if monitoring.wandb:
            self._wandb = self._open_wandb(name, document, monitoring.wandb_project)

    def _open_tensorboard(self, resume_step: int | None) -> Any:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:  # the package is in edp_ref[train]
            self.warn(
                f"TensorBoard logging is off: the tensorboard package is missing ({exc}); "
                "install it with pip install 'edp_ref[train]'"
            )
            return None
        # purge_step: TensorBoard hides the points a killed attempt logged after the checkpoint.
        return SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=resume_step)

    def _open_wandb(self, name: str, document: Mapping[str, Any], project: str) -> Any:
        try:
            import wandb  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            self.warn(
                "--wandb: Weights & Biases is not installed (pip install wandb), so this run "
                "logs to TensorBoard and its run folder only"
            )
            return None
        # One W&B run per run folder, resumed with it.
        run_id = hashlib.sha256(str(self.run_dir.resolve()).encode()).hexdigest()[:16]
        return wandb.init(
            project=project,
            name=name,
            id=run_id,
            resume="allow",
            dir=str(self.run_dir),
            config=dict(document),
        )

    def log(self, message: str) -> None:
        """Append a time-stamped line to ``run.log``."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with open(self._log_path, "a", encoding="utf-8") as f:
            f.write(f"{stamp} {message}\n")

    def warn(self, message: str) -> None:
        """Log ``message`` and tell the user (standard error)."""
        self.log(f"warning: {message}")
        self._notify(f"edp_ref: {message}")

    def scalars(self, values: Mapping[str, float | None], step: int) -> None:
        """Log named scalars (``train/q1_loss``, ``eval/score``) at a training step."""
        present = {k: float(v) for k, v in values.items() if v is not None}
        if self._writer is not None:
            for tag, value in present.items():
                self._writer.add_scalar(tag, value, step)
        if self._wandb is not None and present:
            self._wandb.log(present, step=step)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._wandb is not None:
            self._wandb.finish()
            self._wandb = None
