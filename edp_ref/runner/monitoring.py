"""Watching a run: averaged training losses, evaluations and speed in TensorBoard (and W&B), and a
plain-text run log (the training curves of Fig. 3 come from these evaluations).

* :class:`Monitoring`: how a run is watched and how often it checkpoints on the wall clock (not
  part of the run's configuration: none of it changes what is trained).
* :class:`LossWindow`: the update metrics summed on the device over ``log_every`` updates, then
  averaged with one host synchronisation per window, with the number of updates before the first
  non-finite metric.
* :class:`RunMonitor`: ``run.log`` (logger ``edp_ref.runner.run.<folder id>``), TensorBoard
  (with the configuration in the HParams dashboard; a resumed run purges the points after its
  checkpoint) and, when asked, Weights & Biases.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, no_type_check

import torch
from torch import Tensor

from edp_ref.config_checks import check_int, check_real, check_text
from edp_ref.runner.spec import check_fields, tyro_readable

__all__ = ["LossWindow", "Monitoring", "RunMonitor", "flat_hyperparameters"]


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
    """The update metrics of a window of updates, summed on the device (module docstring)."""

    def __init__(self) -> None:
        self._sums: dict[str, Tensor] = {}
        self._finite: Tensor | None = None
        self.count = 0

    def add(self, metrics: Mapping[str, Tensor]) -> None:
        """Add one update's scalar metrics (no host synchronisation)."""
        values = {name: value.detach().to(torch.float32) for name, value in metrics.items()}
        for name, value in values.items():
            self._sums[name] = value if name not in self._sums else self._sums[name] + value
        if values:
            finite = torch.isfinite(torch.stack(list(values.values()))).all()
            if self._finite is None:
                self._finite = finite.to(torch.int64)
            else:  # grows while every update so far was finite
                self._finite = self._finite + (finite & (self._finite == self.count))
        self.count += 1

    def take_means(self) -> tuple[dict[str, float], int]:
        """The window's means and its updates before the first non-finite metric; a new window
        starts."""
        if not self.count or self._finite is None:
            count, self.count = self.count, 0
            return {}, count
        names = sorted(self._sums)
        stacked = torch.stack([self._sums[n] for n in names]) / self.count
        *means, finite = torch.cat([stacked, self._finite.reshape(1).to(stacked)]).tolist()
        self._sums, self._finite, self.count = {}, None, 0
        return dict(zip(names, means, strict=True)), int(finite)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _RunLog(logging.FileHandler):
    """``run.log``'s handler: a line that cannot be appended (a full disk) is said once, instead
    of logging's traceback per line."""

    def __init__(self, path: Path, notify: Callable[[str], None]) -> None:
        super().__init__(path, encoding="utf-8")
        self._notify, self._failed = notify, False

    def handleError(self, record: logging.LogRecord | None) -> None:  # noqa: N802 - logging's
        if not self._failed:
            self._failed = True
            self._notify(f"edp_ref: cannot append to {self.baseFilename}: {sys.exc_info()[1]}")

    def close(self) -> None:
        try:
            super().close()  # flushes what is buffered
        except OSError:
            self.handleError(None)


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
        self._notify = notify
        # One logger per run folder; the handler is this monitor's (closed with it).
        folder_id = hashlib.sha256(str(run_dir.resolve()).encode()).hexdigest()[:16]
        self._logger = logging.getLogger(f"edp_ref.runner.run.{folder_id}")
        self._logger.setLevel(logging.INFO)
        self._handler = _RunLog(run_dir / "run.log", notify)
        stamp = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")
        self._handler.setFormatter(stamp)
        self._logger.addHandler(self._handler)
        self._writer: Any = None
        self._wandb: Any = None
        if monitoring.tensorboard:
            self._writer = self._open_tensorboard(resume_step, document)
        if monitoring.wandb:
            self._wandb = self._open_wandb(name, document, monitoring.wandb_project, folder_id)

    def _open_tensorboard(self, resume_step: int | None, document: Mapping[str, Any]) -> Any:
        try:
            from torch.utils.tensorboard import SummaryWriter
            from torch.utils.tensorboard.summary import hparams
        except ImportError as exc:  # the package is in edp_ref[train]
            self.warn(
                f"TensorBoard logging is off: the tensorboard package is missing ({exc}); "
                "install it with pip install 'edp_ref[train]'"
            )
            return None
        # purge_step: TensorBoard hides the points a killed attempt logged after the checkpoint.
        writer: Any = SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=resume_step)
        # The HParams dashboard: this run's configuration, beside its RAT, OMS and score.
        metrics = {"eval/rat": 0.0, "eval/oms": 0.0, "eval/score": 0.0}
        for summary in hparams(flat_hyperparameters(document), metrics):  # type: ignore[no-untyped-call]
            writer.file_writer.add_summary(summary)
        return writer

    def _open_wandb(self, name: str, document: Mapping[str, Any], project: str, run_id: str) -> Any:
        try:
            import wandb  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            self.warn(
                "--wandb: Weights & Biases is not installed (pip install wandb), so this run "
                "logs to TensorBoard and its run folder only"
            )
            return None
        # One W&B run per run folder, resumed with it.
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
        self._logger.info(message)

    def warn(self, message: str) -> None:
        self._logger.warning("warning: %s", message)
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
        self._logger.removeHandler(self._handler)
        self._handler.close()


def flat_hyperparameters(document: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A configuration document as ``{"run.seed": 0, ...}`` with the values TensorBoard's HParams
    take (numbers, strings, booleans; others as text)."""
    out: dict[str, Any] = {}
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat_hyperparameters(value, f"{name}."))
        elif isinstance(value, bool | int | float | str):
            out[name] = value
        else:
            out[name] = str(value)
    return out
