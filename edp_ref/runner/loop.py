"""Train one (algorithm, policy class, dataset, seed) run with the paper's protocol (Sec. 5).

Training: ``epochs x iterations_per_epoch`` updates (the paper: 2000 epochs on locomotion, 1000
elsewhere, 1000 iterations an epoch, batch 256; Table 3), uniform minibatches of the dataset after
the official per-domain preprocessing. Evaluation: before training (epoch 0) and every
``eval_every`` epochs (official: 10), plus the last epoch, ``eval_episodes`` episodes each
(official: 10) in the dataset's own environment; diffusion policies act by energy-based action
selection over DPM-Solver samples (Sec. 4.5, Alg. 2; N candidates, paper 10, official code 50).
Each evaluation records the step, raw and normalized return, RAT and OMS
(:mod:`edp_ref.runner.metrics`).

The run folder (:mod:`edp_ref.runner.run_folder`) gets a checkpoint, written atomically at each
evaluation with the generator states and the evaluation log. A run killed at any moment resumes
from its last checkpoint: training since that evaluation is redone with the restored generators
(bit-identical on CPU), the logs are rewritten from the checkpoint, so every evaluation appears
exactly once. A complete run is reused after its ``result.json`` is checked against the
checkpoint.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch
from torch import Tensor
from tqdm.auto import tqdm  # type: ignore[import-untyped]

from edp_ref import algorithms as A
from edp_ref.algorithms.acting import ActingSettings
from edp_ref.atomic_files import atomic_write_text
from edp_ref.data import UniformSampler
from edp_ref.runner.checkpoint import (
    CheckpointCorruptError,
    CheckpointMismatchError,
    load_checkpoint,
    save_checkpoint,
)
from edp_ref.runner.metrics import (
    EvaluationRecord,
    online_model_selection,
    running_average_at_training,
)
from edp_ref.runner.prepared_run import BATCHES, UPDATES, PreparedRun, stream_seed
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
from edp_ref.runner.spec import RunResult, RunSpec, evaluation_epochs

__all__ = ["train_run"]


def train_run(
    spec: RunSpec,
    run_dir: Path | str,
    *,
    progress: bool = True,
    position: int = 0,
    threads: int | None = None,
) -> RunResult:
    """Train and evaluate one run, resuming from its checkpoint; reuse it if complete.

    Args:
        spec: the run.
        run_dir: its folder (created if missing).
        progress: show a tqdm bar (iterations per second, latest score, RAT and OMS).
        position: the bar's line (parallel runs).
        threads: ``torch.set_num_threads`` for this process (None: leave as is).

    Raises:
        RunMismatchError: the folder holds another configuration.
        RunFolderError: a file of the folder is damaged or disagrees with the checkpoint.
        CheckpointCorruptError, CheckpointFormatError, CheckpointMismatchError: the checkpoint
            cannot be resumed.
    """
    run_dir = Path(run_dir)
    open_run_folder(run_dir, spec)
    if (run_dir / "result.json").exists():
        return load_finished_run(spec, run_dir).result
    if threads is not None:
        torch.set_num_threads(threads)
    t_start = time.perf_counter()
    run = PreparedRun(spec)
    try:
        return _train(run, run_dir, progress, position, t_start)
    finally:
        run.close()


def _rng_states(generators: dict[str, torch.Generator]) -> dict[str, Tensor]:
    out = {name: g.get_state() for name, g in generators.items()}
    out["torch_global"] = torch.get_rng_state()
    return out


def _resume(
    run: PreparedRun, ckpt: Path, state: A.TrainState, generators: dict[str, torch.Generator]
) -> tuple[A.TrainState, list[EvaluationRecord], int]:
    """Restore the state, generators and evaluation log of the checkpoint ``ckpt``."""
    spec = run.spec
    loaded = load_checkpoint(ckpt, spec.to_json())
    hint = f"delete {ckpt} to restart the run from scratch, or restore the file"
    try:
        state = A.load_state_tensors(state, loaded.state)
    except ValueError as exc:
        raise CheckpointMismatchError(
            f"checkpoint {ckpt} does not fit this run's networks: {exc}"
        ) from exc
    missing = sorted({*generators, "torch_global"} - set(loaded.rng))
    if missing:
        raise CheckpointMismatchError(f"checkpoint {ckpt} lacks generator states {missing}")
    for name, g in generators.items():
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
    epoch = loaded.epoch
    if int(state.step) != loaded.step or (records and records[-1].epoch != epoch):
        raise CheckpointMismatchError(
            f"checkpoint {ckpt}: step {int(state.step)} / epoch {epoch} disagree with its "
            "metadata and log"
        )
    check_logs(ckpt.parent, records, finished=False)
    return state, records, epoch


def _train(
    run: PreparedRun, run_dir: Path, progress: bool, position: int, t_start: float
) -> RunResult:
    spec, agent, config = run.spec, run.agent, run.config
    state = run.init_state()
    generators = {
        "batches": torch.Generator().manual_seed(stream_seed(spec.seed, BATCHES)),
        "updates": torch.Generator().manual_seed(stream_seed(spec.seed, UPDATES)),
    }
    ckpt = run_dir / CHECKPOINT_FILE
    records: list[EvaluationRecord] = []
    epoch = 0
    if ckpt.exists():
        state, records, epoch = _resume(run, ckpt, state, generators)
    write_logs(run_dir, records)
    atomic_write_text(run_dir / "data.json", json.dumps(run.data, indent=2))

    settings = ActingSettings(eas_candidates=spec.eas_candidates)
    eval_at = set(evaluation_epochs(spec.epochs, spec.eval_every))
    sampler = UniformSampler(run.dataset, spec.batch_size, generators["batches"])
    desc = f"{spec.task} {spec.algorithm}/{spec.policy} seed {spec.seed}"
    bar = tqdm(
        total=spec.total_steps,
        initial=epoch * spec.iterations_per_epoch,
        desc=desc,
        unit="it",
        disable=not progress,
        position=position,
        dynamic_ncols=True,
        mininterval=0.5,
    )
    metrics: dict[str, Tensor] = {}
    train_seconds = 0.0

    def do_evaluation(epoch: int) -> None:
        nonlocal records, train_seconds
        index = len(records)
        outcome = run.evaluate(state, index, settings, spec.eval_episodes)
        score = outcome.score
        if not math.isfinite(score):
            raise ValueError(f"{desc}: evaluation {index} gave a non-finite score {score}")
        scores = [r.score for r in records] + [score]
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
            rat=running_average_at_training(scores)[-1],
            oms=online_model_selection(scores)[-1],
            eval_seconds=outcome.seconds,
            train_seconds=train_seconds,
            losses={k: float(v) for k, v in metrics.items()},
        )
        records = [*records, record]
        # Checkpoint first (atomic); the logs are rewritten from it on resume.
        save_checkpoint(
            ckpt,
            state=A.state_tensors(state),
            rng=_rng_states(generators),
            config=spec.to_json(),
            epoch=epoch,
            step=int(state.step),
            records=[r.to_json() for r in records],
        )
        write_logs(run_dir, records)
        train_seconds = 0.0
        bar.set_postfix(score=f"{score:.1f}", rat=f"{record.rat:.1f}", oms=f"{record.oms:.1f}")

    try:
        if not records:
            do_evaluation(0)
        while epoch < spec.epochs:
            t0 = time.perf_counter()
            for _ in range(spec.iterations_per_epoch):
                batch = sampler.sample()
                randomness = agent.draw(
                    config, spec.batch_size, run.action_dim, generators["updates"]
                )
                state, metrics = agent.update(state, batch, randomness, config)
                bar.update(1)
            train_seconds += time.perf_counter() - t0
            epoch += 1
            if epoch in eval_at:
                do_evaluation(epoch)
    finally:
        bar.close()
    result = RunResult(spec, run_dir, records, run.data, time.perf_counter() - t_start)
    write_result(result)
    return result
