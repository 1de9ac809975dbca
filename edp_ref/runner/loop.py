"""Train one (algorithm, config, dataset, seed) run with the paper's protocol (Sec. 5).

Training: ``epochs x iterations_per_epoch`` updates (the paper: 2000 epochs on locomotion, 1000
elsewhere, 1000 iterations an epoch, batch 256; Table 3), uniform minibatches of the dataset after
the official per-domain preprocessing. Evaluation: before training (epoch 0) and every
``eval_every`` epochs (official: 10), plus the last epoch and the final stretch
(``RunSpec.final_eval_every``, :attr:`RunSpec.evaluation_schedule`), ``eval_episodes`` episodes each
(official: 10) in the dataset's own environment; diffusion policies act by energy-based action
selection over DPM-Solver samples (Sec. 4.5, Alg. 2; N candidates, paper 10, official code 50).
Each evaluation records the step, raw and normalized return, RAT and OMS
(:mod:`edp_ref.runner.metrics`).

The run folder (:mod:`edp_ref.runner.run_folder`) gets its resolved configuration
(``config.json``) and a checkpoint, written atomically at each evaluation and, between
evaluations, every ``Monitoring.checkpoint_minutes`` of wall time (at the end of a log window, so
a checkpoint may lie inside an epoch), with the generator states and the evaluation log. A run
killed at any moment resumes from its last checkpoint: the training since then is redone with the
restored generators, bit for bit (on one device, with the same compile setting), the evaluation
schedule is kept and the logs are rewritten from the checkpoint, so every evaluation appears
exactly once. A complete run is reused after its ``result.json`` is checked against the
checkpoint. Losses, evaluations, speed and compile time go to ``run.log``, TensorBoard and
optionally W&B (:mod:`edp_ref.runner.monitoring`).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm  # type: ignore[import-untyped]

from edp_ref import algorithms as A
from edp_ref.algorithms.acting import ActingSettings
from edp_ref.algorithms.execution import CompileRecord, compile_records
from edp_ref.atomic_files import atomic_write_text
from edp_ref.data import UniformSampler
from edp_ref.runner.checkpoint import (
    CheckpointCorruptError,
    CheckpointMismatchError,
    load_checkpoint,
    save_checkpoint,
)
from edp_ref.runner.metrics import EvaluationRecord
from edp_ref.runner.metrics import online_model_selection as oms_of
from edp_ref.runner.metrics import running_average_at_training as rat_of
from edp_ref.runner.monitoring import LossWindow, Monitoring, RunMonitor
from edp_ref.runner.prepared_run import PreparedRun
from edp_ref.runner.run_config import compile_reason, configuration_document, resolve_config
from edp_ref.runner.run_folder import (
    CHECKPOINT_FILE,
    check_logs,
    evaluation_log_problem,
    load_finished_run,
    open_run_folder,
    records_from_json,
    write_logs,
    write_result,
)
from edp_ref.runner.spec import RunResult, RunSpec

__all__ = ["train_run"]


def train_run(
    spec: RunSpec,
    run_dir: Path | str,
    *,
    progress: bool = True,
    position: int = 0,
    threads: int | None = None,
    monitoring: Monitoring | None = None,
) -> RunResult:
    """Train and evaluate one run, resuming from its checkpoint; reuse it if complete.

    Args:
        spec: the run.
        run_dir: its folder (created if missing).
        progress: show a tqdm bar (iterations per second, compile time, score, RAT and OMS).
        position: the bar's line (parallel runs).
        threads: ``torch.set_num_threads`` for this process (None: leave as is).
        monitoring: log window, wall-clock checkpoint interval, TensorBoard and W&B (None: the
            defaults of :class:`~edp_ref.runner.monitoring.Monitoring`).

    Raises:
        RunMismatchError: the folder holds another configuration.
        RunFolderError: a file of the folder is damaged or disagrees with the checkpoint.
        CheckpointCorruptError, CheckpointFormatError, CheckpointMismatchError: the checkpoint
            cannot be resumed.
    """
    run_dir = Path(run_dir)
    config = resolve_config(spec)
    document = configuration_document(spec, config)
    open_run_folder(run_dir, document)
    if (run_dir / "result.json").exists():
        return load_finished_run(spec, run_dir, document).result
    if threads is not None:
        torch.set_num_threads(threads)
    t_start = time.perf_counter()
    run = PreparedRun(spec, config)
    try:
        training = _Training(run, run_dir, document, monitoring or Monitoring())
        return training.run(progress, position, t_start)
    finally:
        run.close()


def _rng_states(generators: dict[str, torch.Generator]) -> dict[str, Tensor]:
    out = {name: g.get_state() for name, g in generators.items()}
    out["torch_global"] = torch.get_rng_state()
    return out


class _Training:
    """The state of one training run between updates (see the module docstring)."""

    def __init__(
        self, run: PreparedRun, run_dir: Path, document: dict[str, Any], monitoring: Monitoring
    ) -> None:
        self.run_, self.run_dir, self.document = run, run_dir, document
        self.monitoring = monitoring
        self.spec = run.spec
        self.ckpt = run_dir / CHECKPOINT_FILE
        self.state = run.init_state()
        self.generators = run.generators()
        self.records: list[EvaluationRecord] = []
        self.step = 0
        self.train_seconds = 0.0
        resumed = self.ckpt.exists()
        if resumed:
            self._resume()
        write_logs(run_dir, self.records)
        atomic_write_text(run_dir / "data.json", json.dumps(run.data, indent=2))
        self.monitor = RunMonitor(
            run_dir,
            self.spec.name,
            document,
            monitoring,
            resume_step=self.step if resumed else None,
        )
        where = f"from the checkpoint at step {self.step}" if resumed else "from scratch"
        self.monitor.log(f"start {where}: {self.spec.name} ({self.spec.total_steps} updates)")
        self.acting_tensors, self.environment = run.acting_data()
        self.bar_info: dict[str, str] = {}

    def _resume(self) -> None:
        """Restore the state, generators, position and evaluation log of the checkpoint."""
        spec, ckpt = self.spec, self.ckpt
        loaded = load_checkpoint(ckpt, self.document)
        hint = f"delete {ckpt} to restart the run from scratch, or restore the file"
        try:
            self.state = A.load_state_tensors(self.state, loaded.state)
        except ValueError as exc:
            raise CheckpointMismatchError(
                f"checkpoint {ckpt} does not fit this run's networks: {exc}"
            ) from exc
        missing = sorted({*self.generators, "torch_global"} - set(loaded.rng))
        if missing:
            raise CheckpointMismatchError(f"checkpoint {ckpt} lacks generator states {missing}")
        for name, g in self.generators.items():
            g.set_state(loaded.rng[name])
        torch.set_rng_state(loaded.rng["torch_global"])
        try:
            records = records_from_json(loaded.records, f"checkpoint {ckpt}")
        except ValueError as exc:
            raise CheckpointCorruptError(f"{exc}; {hint}") from exc
        problem = evaluation_log_problem(records, spec)
        if problem is not None:
            raise CheckpointCorruptError(
                f"checkpoint {ckpt}: its evaluation log breaks the protocol ({problem}); {hint}"
            )
        epoch = loaded.step // spec.iterations_per_epoch
        due = [e for e in spec.evaluation_schedule if e <= epoch]
        if int(self.state.step) != loaded.step or loaded.epoch != epoch or len(records) != len(due):
            raise CheckpointMismatchError(
                f"checkpoint {ckpt}: step {int(self.state.step)} / epoch {loaded.epoch} / "
                f"{len(records)} evaluations disagree with its metadata (step {loaded.step}) and "
                f"the protocol ({len(due)} evaluations by epoch {epoch})"
            )
        check_logs(ckpt.parent, records, finished=False)
        self.records, self.step = records, loaded.step
        self.train_seconds = loaded.train_seconds

    # -- checkpoints, evaluations, logs ---------------------------------------------------------

    def _checkpoint(self, why: str) -> None:
        save_checkpoint(
            self.ckpt,
            state=A.state_tensors(self.state),
            rng=_rng_states(self.generators),
            config=self.document,
            epoch=self.step // self.spec.iterations_per_epoch,
            step=self.step,
            records=[r.to_json() for r in self.records],
            state_dim=self.run_.state_dim,
            action_dim=self.run_.action_dim,
            train_seconds=self.train_seconds,
            data=self.acting_tensors,
            environment=self.environment,
        )
        self.monitor.log(f"checkpoint at step {self.step} ({why})")
        self.monitor.flush()

    def _evaluate(self, epoch: int, metrics: dict[str, Tensor]) -> None:
        spec, index = self.spec, len(self.records)
        settings = ActingSettings(eas_candidates=spec.eas_candidates)
        outcome = self.run_.evaluate(self.state, index, settings, spec.eval_episodes)
        score = outcome.score
        if not math.isfinite(score):
            raise ValueError(f"{spec.name}: evaluation {index} gave a non-finite score {score}")
        scores = [r.score for r in self.records] + [score]
        record = EvaluationRecord(
            index=index,
            epoch=epoch,
            step=epoch * spec.iterations_per_epoch,
            episodes=spec.eval_episodes,
            return_mean=outcome.return_mean,
            return_std=outcome.return_std,
            normalized_mean=outcome.normalized_mean,
            normalized_std=outcome.normalized_std,
            score=score,
            rat=rat_of(scores)[-1],
            oms=oms_of(scores)[-1],
            eval_seconds=outcome.seconds,
            train_seconds=self.train_seconds,
            losses={k: float(v) for k, v in metrics.items()},
        )
        self.records = [*self.records, record]
        self.train_seconds = 0.0
        # Checkpoint first (atomic); the logs are rewritten from it on resume.
        self._checkpoint(f"evaluation {index}")
        write_logs(self.run_dir, self.records)
        self.monitor.scalars(
            {
                "eval/score": score,
                "eval/rat": record.rat,
                "eval/oms": record.oms,
                "eval/return_mean": record.return_mean,
                "eval/normalized_mean": record.normalized_mean,
                "eval/seconds": record.eval_seconds,
            },
            self.step,
        )
        self.monitor.log(
            f"evaluation {index} at epoch {epoch}: score {score:.3f}, RAT {record.rat:.3f}, "
            f"OMS {record.oms:.3f}, return {record.return_mean:.2f}"
        )
        self.bar_info.update(score=f"{score:.1f}", rat=f"{record.rat:.1f}", oms=f"{record.oms:.1f}")

    def _compile_report(self, before: list[CompileRecord]) -> None:
        """After the first update of this process: how the update runs, and what compiling it
        cost (:func:`edp_ref.algorithms.execution.compile_records`)."""
        compiled, reason = bool(self.run_.config.compile), compile_reason(self.spec)
        if not compiled:
            self.monitor.log(f"updates run eagerly ({reason})")
            self.bar_info["compile"] = "off"
            return
        new = [r for r in compile_records() if all(r is not b for b in before)]
        name = getattr(self.run_.agent.update, "__name__", "")
        earlier = [r for r in compile_records() if r.name == name]
        found = new or earlier
        record = found[-1] if found else None
        if record is None:
            self.monitor.log(f"updates compiled ({reason}); no compile record was found")
        elif record.error is not None:
            self.monitor.warn(
                f"torch.compile failed for {record.name} ({record.error}); the updates run "
                "eagerly (same results to round-off, slower)"
            )
            self.bar_info["compile"] = "failed"
        elif record.seconds is not None:
            when = "" if new else " (earlier in this process)"
            self.monitor.log(f"compiled {record.name} in {record.seconds:.1f} s{when} ({reason})")
            self.monitor.scalars({"compile/seconds": record.seconds}, self.step)
            self.bar_info["compile"] = f"{record.seconds:.0f}s"

    # -- the loop --------------------------------------------------------------------------------

    def run(self, progress: bool, position: int, t_start: float) -> RunResult:
        spec, run, config = self.spec, self.run_, self.run_.config
        agent, per_epoch = run.agent, spec.iterations_per_epoch
        eval_at = set(spec.evaluation_schedule)
        sampler = UniformSampler(run.dataset, spec.batch_size, self.generators["batches"])
        self.bar_info["compile"] = "compiling..." if config.compile else "off"
        bar = tqdm(
            total=spec.total_steps,
            initial=self.step,
            desc=f"{spec.task} {spec.algorithm}"
            + (f"/{spec.policy}" if spec.policy else "")
            + f" seed {spec.seed}",
            unit="it",
            disable=not progress,
            position=position,
            dynamic_ncols=True,
            mininterval=0.5,
        )
        bar.set_postfix(self.bar_info)
        window = LossWindow()
        metrics: dict[str, Tensor] = {}
        interval = self.monitoring.checkpoint_minutes * 60.0
        last_checkpoint = time.monotonic()
        before = compile_records()
        try:
            if not self.records:
                self._evaluate(0, metrics)
            t_window = time.perf_counter()
            first = True
            while self.step < spec.total_steps:
                batch = sampler.sample()
                randomness = agent.draw(
                    config, spec.batch_size, run.action_dim, self.generators["updates"], run.device
                )
                self.state, metrics = agent.update(self.state, batch, randomness, config)
                self.step += 1
                window.add(metrics)
                bar.update(1)
                if first:
                    first = False
                    self._compile_report(before)
                    bar.set_postfix(self.bar_info)
                epoch, in_epoch = divmod(self.step, per_epoch)
                evaluate_now = in_epoch == 0 and epoch in eval_at
                if window.count < self.monitoring.log_every and not evaluate_now:
                    continue
                # End of a log window: the one host synchronisation of the window.
                count, means = window.count, window.take_means()
                seconds = time.perf_counter() - t_window
                self.train_seconds += seconds
                self.monitor.scalars({f"train/{k}": v for k, v in means.items()}, self.step)
                self.monitor.scalars({"train/updates_per_second": count / seconds}, self.step)
                if evaluate_now:
                    self._evaluate(epoch, metrics)
                    last_checkpoint = time.monotonic()
                    bar.set_postfix(self.bar_info)
                elif time.monotonic() - last_checkpoint >= interval:
                    self._checkpoint("wall clock")
                    last_checkpoint = time.monotonic()
                t_window = time.perf_counter()
        finally:
            bar.close()
            self.monitor.close()
        result = RunResult(
            spec, self.run_dir, self.records, run.data, time.perf_counter() - t_start
        )
        write_result(result)
        self.monitor.log(f"finished: final RAT {result.final_rat:.3f}, OMS {result.final_oms:.3f}")
        return result
