"""Train one run with the paper's protocol (Sec. 5): :func:`train_run`.

Training: ``epochs x iterations_per_epoch`` steps of Algorithm 1 (Table 3), each a uniform
minibatch of the preprocessed dataset, the update's randomness and one update
(:class:`edp_ref.algorithms.step.TrainingStep`). Evaluation: at the epochs of
:attr:`RunSpec.evaluation_schedule` (0, every ``eval_every``, the last, the final stretch), by
:func:`edp_ref.runner.policy.evaluate` (diffusion policies by energy-based action selection,
Sec. 4.5, Alg. 2); each records the returns, RAT and OMS.

Randomness: every purpose draws from its own generator seeded from the run's seed
(:meth:`RunSpec.stream_seed`). A checkpoint is written at each evaluation and, at the end of a log
window, every ``Monitoring.checkpoint_minutes``; a run killed at any moment resumes from it bit
for bit (one device, the same compile setting), its logs rewritten from it, and a complete run is
reused after its ``result.json`` is checked.

Faults: one writer per run folder (:func:`~edp_ref.runner.run_folder.run_folder_writer`).
SIGTERM and SIGINT stop the run at the next update boundary after a checkpoint
(:class:`RunInterrupted`). The losses are checked at the end of every log window (the one host
synchronisation): a non-finite one stops the run with :class:`DivergenceError` before anything of
the diverged state is written. The dataset's fingerprint is checked when a run resumes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import torch
from torch import Tensor
from tqdm.auto import tqdm  # type: ignore[import-untyped]

from edp_ref.algorithms.acting import ActingSettings
from edp_ref.algorithms.execution import CompileRecord, compile_records
from edp_ref.algorithms.state import TrainState, load_state_tensors, state_tensors
from edp_ref.algorithms.step import TrainingStep
from edp_ref.atomic_files import atomic_write_text
from edp_ref.runner.config import compile_decision, resolve_config
from edp_ref.runner.dataset import (
    dataset_domain,
    describe_dataset,
    load_run_dataset,
    prepare_training_data,
)
from edp_ref.runner.metrics import RAT_WINDOW, EvaluationRecord, final_stretch_mean
from edp_ref.runner.metrics import online_model_selection as oms_of
from edp_ref.runner.monitoring import LossWindow, Monitoring, RunMonitor
from edp_ref.runner.policy import Policy, acting_data, evaluate, evaluation_seeds
from edp_ref.runner.run_folder import (
    CHECKPOINT_FILE,
    RESULT_FILE,
    Checkpoint,
    CheckpointMismatchError,
    NonFiniteStateError,
    RunResult,
    check_dataset,
    check_logs,
    configuration_document,
    dataset_fingerprint,
    extend_run_folder,
    load_checkpoint,
    load_finished_run,
    open_run_folder,
    record_dataset,
    run_folder_writer,
    save_checkpoint,
    sealed_records,
    write_logs,
    write_result,
)
from edp_ref.runner.spec import BATCHES, INIT, UPDATES, RunSpec

__all__ = ["DivergenceError", "RunInterrupted", "exit_by_signal", "run_device", "train_run"]


class DivergenceError(RuntimeError):
    """The training losses or the state became NaN or inf; nothing of that state was written."""


class RunInterrupted(BaseException):
    """SIGTERM or SIGINT stopped the run at an update boundary, after a checkpoint
    (``signum``: the signal). A BaseException, as KeyboardInterrupt: not a run's failure."""

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message)
        self.signum = signum


def exit_by_signal(signum: int) -> NoReturn:
    """End this process as signal ``signum``'s default action does (a shell then reports
    128 + signum: 143 for SIGTERM, 130 for SIGINT), as a scheduler or a terminal expects."""
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    raise SystemExit(128 + signum)  # pragma: no cover - only if the signal is blocked


@contextlib.contextmanager
def _stop_requests() -> Iterator[list[int]]:
    """Record SIGTERM and SIGINT in the yielded list for the block (main thread only); a second
    signal ends the process at once."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if received:
            exit_by_signal(signum)
        received.append(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield received
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def run_device(spec: RunSpec) -> torch.device:
    """The run's device; ``ValueError`` naming ``RunSpec.device`` when it is not available."""
    device = torch.device(spec.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"RunSpec.device {spec.device!r}: CUDA is not available on this machine "
            "(torch.cuda.is_available() is False; a CPU build of torch, or no GPU)"
        )
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(
            f"RunSpec.device {spec.device!r}: this machine has "
            f"{torch.cuda.device_count()} CUDA device(s)"
        )
    return device


def train_run(
    spec: RunSpec,
    run_dir: Path | str,
    *,
    progress: bool = True,
    position: int = 0,
    threads: int | None = None,
    monitoring: Monitoring | None = None,
    extend: bool = False,
) -> RunResult:
    """Train and evaluate one run in ``run_dir``, resuming from its checkpoint; reuse it if
    complete. ``position``: the progress bar's line; ``threads``: ``torch.set_num_threads``;
    ``extend``: the folder holds this run with fewer epochs, train it on
    (:func:`~edp_ref.runner.run_folder.extend_run_folder`).

    Raises the run folder's errors (:mod:`edp_ref.runner.run_folder`), :class:`DivergenceError`,
    ``WriteError`` (a full disk) and :class:`RunInterrupted`.
    """
    run_dir = Path(run_dir)
    config = resolve_config(spec)
    document = configuration_document(spec, config)
    with _stop_requests() as stop, run_folder_writer(run_dir) as takeover:
        if extend:
            extend_run_folder(run_dir, document)
        open_run_folder(run_dir, document)
        if (run_dir / RESULT_FILE).exists():
            return load_finished_run(spec, run_dir, document)
        if threads is not None:
            torch.set_num_threads(threads)
        training = _Training(spec, config, run_dir, document, monitoring or Monitoring(), stop)
        try:
            if takeover is not None:
                training.monitor.log(takeover)
            return training.run(progress, position)
        finally:
            if training.env is not None:
                training.env.close()


class _Training:
    """One run between updates: its data, state, generators, log."""

    def __init__(
        self,
        spec: RunSpec,
        config: Any,
        run_dir: Path,
        document: dict[str, Any],
        monitoring: Monitoring,
        stop: list[int],
    ) -> None:
        self.t_start = time.perf_counter()
        self.spec, self.config, self.run_dir, self.stop = spec, config, run_dir, stop
        self.monitoring, self.ckpt, self.document = monitoring, run_dir / CHECKPOINT_FILE, document
        device = run_device(spec)
        raw = load_run_dataset(spec.task, spec.data_source, spec.local_root, spec.env_id)
        self.data = describe_dataset(raw)
        self.fingerprint = dataset_fingerprint(raw)
        family = spec.registered.family
        prepared = prepare_training_data(raw, dataset_domain(spec.task, spec.domain), family)
        self.acting_tensors, self.environment = acting_data(raw, prepared)
        dataset = prepared.dataset.to(device)
        self.widths = (dataset.state_dim, dataset.action_dim)
        self.step_fn = TrainingStep(
            spec.registered,
            config,
            dataset,
            spec.batch_size,
            batches=torch.Generator(device).manual_seed(spec.stream_seed(BATCHES)),
            randomness=torch.Generator(device).manual_seed(spec.stream_seed(UPDATES)),
        )
        init = torch.Generator().manual_seed(spec.stream_seed(INIT))
        self.state: TrainState = spec.registered.init(config, *self.widths, init, device)
        self.records: list[EvaluationRecord] = []
        self.step, self.train_seconds = 0, 0.0
        self.checkpointed: int | None = None  # the step of the last checkpoint written or read
        self.env: Any = None
        resumed = self.ckpt.exists()
        if resumed:
            self._resume()  # checks the checkpoint's fingerprint first: it is the authority
        self.document = record_dataset(run_dir, self.fingerprint)
        write_logs(run_dir, self.records)
        atomic_write_text(run_dir / "data.json", json.dumps(self.data, indent=2))
        self.monitor = RunMonitor(
            run_dir,
            spec.name,
            self.document,
            monitoring,
            resume_step=self.step if resumed else None,
        )
        where = f"from the checkpoint at step {self.step}" if resumed else "from scratch"
        self.monitor.log(f"start {where}: {spec.name} ({spec.total_steps} updates)")
        self.bar_info: dict[str, str] = {}
        # Wall time of this process on the run, by phase (RunResult.phases).
        self.phases = {
            "setup": time.perf_counter() - self.t_start,
            "compilation": 0.0,
            "training": 0.0,
            "evaluation": 0.0,
        }

    @property
    def generators(self) -> dict[str, torch.Generator]:
        return {"batches": self.step_fn.batches, "updates": self.step_fn.randomness}

    def _resume(self) -> None:
        """Restore the state, generators, position and evaluation log of the checkpoint."""
        spec, ckpt = self.spec, self.ckpt
        loaded = load_checkpoint(ckpt, self.document)
        found = loaded.config.get("dataset")
        check_dataset(f"checkpoint {ckpt}", found, self.fingerprint, self.run_dir)
        try:
            self.state = load_state_tensors(self.state, loaded.state)
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
        records = sealed_records(
            loaded,
            ckpt,
            spec,
            f"delete {ckpt} to restart the run from scratch, or restore the file",
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
        self.train_seconds, self.checkpointed = loaded.train_seconds, loaded.step

    # -- checkpoints, evaluations, logs ---------------------------------------------------------

    def _checkpoint(self, why: str) -> None:
        rng = {name: g.get_state() for name, g in self.generators.items()}
        rng["torch_global"] = torch.get_rng_state()
        checkpoint = Checkpoint(
            state=state_tensors(self.state),
            rng=rng,
            config=self.document,
            epoch=self.step // self.spec.iterations_per_epoch,
            step=self.step,
            records=[r.to_json() for r in self.records],
            state_dim=self.widths[0],
            action_dim=self.widths[1],
            train_seconds=self.train_seconds,
            data=self.acting_tensors,
            environment=self.environment,
        )
        try:
            save_checkpoint(self.ckpt, checkpoint)
        except NonFiniteStateError as exc:
            raise self._diverged(
                f"by update {self.step}: the state holds NaN or inf ({', '.join(exc.names)}) "
                "although the logged losses are finite"
            ) from None
        self.checkpointed = self.step
        self.monitor.log(f"checkpoint at step {self.step} ({why})")
        self.monitor.flush()

    def _diverged(self, what: str) -> DivergenceError:
        if self.checkpointed is None:
            last = "no checkpoint was written yet"
        else:
            last = f"the last checkpoint, {self.ckpt} at update {self.checkpointed}, is finite"
        message = (
            f"{self.spec.name}: training diverged {what}; the run stopped before writing any of "
            f"that state ({last}; resuming it repeats the same updates). Train again in a new "
            "folder with a lower learning rate (--config.optimizer.learning-rate) or a tighter "
            "gradient clip, or check the data"
        )
        self.monitor.log(f"error: {message}")
        return DivergenceError(message)

    def _stop_if_asked(self) -> None:
        if not self.stop:
            return
        name = signal.Signals(self.stop[0]).name
        if self.records and self.checkpointed != self.step:  # before evaluation 0: nothing yet
            self._checkpoint(f"stopped by {name}")
        kept = f"checkpoint {self.ckpt} written" if self.records else "nothing to keep yet"
        message = (
            f"{self.spec.name}: stopped by {name} at update {self.step} of "
            f"{self.spec.total_steps}, {kept}; the same command (or edp-train --resume "
            f"{self.run_dir}) continues it"
        )
        self.monitor.log(message)
        raise RunInterrupted(self.stop[0], message)

    def _evaluate(self, epoch: int, metrics: dict[str, Tensor]) -> None:
        spec, index = self.spec, len(self.records)
        settings = ActingSettings(eas_candidates=spec.eas_candidates)
        policy = Policy(
            spec, self.config, self.state, settings, self.acting_tensors, self.environment
        )
        if self.env is None:
            self.env = policy.environment(min(spec.eval_envs, spec.eval_episodes))
        env_seed, action_seed = evaluation_seeds(spec, index)
        outcome = evaluate(
            policy, self.env, spec.eval_episodes, seed=env_seed, action_seed=action_seed
        )
        self.phases["evaluation"] += outcome.seconds
        score = outcome.score
        if not math.isfinite(score):
            raise ValueError(f"{spec.name}: evaluation {index} gave a non-finite score {score}")
        scores = [r.score for r in self.records] + [score]
        epochs = [r.epoch for r in self.records] + [epoch]
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
            rat=final_stretch_mean(scores, epochs),
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
        """Log how the update runs and what compiling it cost, after its first call."""
        compiled, reason = compile_decision(self.spec)
        if not compiled:
            self.monitor.log(f"updates run eagerly ({reason})")
            self.bar_info["compile"] = "off"
            return
        new = [r for r in compile_records() if all(r is not b for b in before)]
        name = getattr(self.spec.registered.update, "__name__", "")
        found = new or [r for r in compile_records() if r.name == name]
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
            if new:
                self.phases["compilation"] += record.seconds
                self.phases["training"] -= record.seconds
            when = "" if new else " (earlier in this process)"
            self.monitor.log(f"compiled {record.name} in {record.seconds:.1f} s{when} ({reason})")
            self.monitor.scalars({"compile/seconds": record.seconds}, self.step)
            self.bar_info["compile"] = f"{record.seconds:.0f}s"

    # -- the loop --------------------------------------------------------------------------------

    def run(self, progress: bool, position: int) -> RunResult:
        spec, per_epoch = self.spec, self.spec.iterations_per_epoch
        eval_at = set(spec.evaluation_schedule)
        self.bar_info["compile"] = "compiling..." if self.config.compile else "off"
        bar = tqdm(
            total=spec.total_steps,
            initial=self.step,
            desc=f"{spec.task} {spec.algorithm} seed {spec.seed}",
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
            self._stop_if_asked()
            if not self.records:
                self._evaluate(0, metrics)
            t_window = time.perf_counter()
            first = True
            while self.step < spec.total_steps:
                if self.stop:
                    self.train_seconds += time.perf_counter() - t_window
                    self._stop_if_asked()
                self.state, metrics = self.step_fn(self.state)
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
                count, (means, finite) = window.count, window.take_means()
                bad = {k: v for k, v in means.items() if not math.isfinite(v)}
                if bad or finite < count:
                    first_bad = self.step - count + min(finite, count - 1) + 1
                    raise self._diverged(
                        f"at update {first_bad}: non-finite training losses ("
                        + ", ".join(f"{k} {v}" for k, v in sorted(bad.items()))
                        + f", the means over updates {self.step - count + 1}-{self.step})"
                    )
                seconds = time.perf_counter() - t_window
                self.train_seconds += seconds
                self.phases["training"] += seconds
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
            seconds = time.perf_counter() - self.t_start
            self.phases["other"] = seconds - sum(self.phases.values())
            result = RunResult(spec, self.run_dir, self.records, self.data, seconds, self.phases)
            write_result(result)
            self.monitor.log(
                f"finished: RAT {result.final_rat:.3f} (the mean of the last {RAT_WINDOW} "
                f"evaluations after epoch 0), OMS {result.final_oms:.3f}"
            )
            return result
        finally:
            bar.close()
            self.monitor.close()
