"""Train one (algorithm, policy class, dataset, seed) run with the paper's protocol (Sec. 5).

Training: ``epochs x iterations_per_epoch`` updates (the paper: 2000 epochs on locomotion, 1000
elsewhere, 1000 iterations an epoch, batch 256; Table 3), uniform minibatches of the dataset after
the official per-domain preprocessing. Evaluation: before training (epoch 0) and every
``eval_every`` epochs (official: 10), plus the last epoch, ``eval_episodes`` episodes each
(official: 10) in the dataset's own environment; diffusion policies act by energy-based action
selection over DPM-Solver samples (Sec. 4.5, Alg. 2; N candidates, paper 10, official code 50).
Each evaluation records the step, raw and normalised return, RAT and OMS
(:mod:`edp_ref.runner.metrics`).

Files of a run folder: ``spec.json`` (the configuration), ``evaluations.jsonl`` and
``evaluations.csv`` (one line per evaluation), ``checkpoint.safetensors`` (written atomically at
each evaluation, with the generator states and the evaluation log; see
:mod:`edp_ref.runner.checkpoint`) and ``result.json`` once the run is complete. A run killed at
any moment resumes from its last checkpoint: training since that evaluation is redone with the
restored generators (bit-identical on CPU), the logs are rewritten from the checkpoint, so every
evaluation appears exactly once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor
from tqdm.auto import tqdm  # type: ignore[import-untyped]

from edp_ref import algorithms as A
from edp_ref.atomic_files import atomic_write_text
from edp_ref.data import (
    TransitionDataset,
    UniformSampler,
    load_dataset,
    official_preprocessing,
    rescale_actions,
    resolve,
)
from edp_ref.data import domain_of as data_domain_of
from edp_ref.data.evaluation import eval_env_for, evaluate, reference_for
from edp_ref.runner.agents import AgentSpec, agent_spec, build_config
from edp_ref.runner.checkpoint import (
    CheckpointMismatchError,
    load_checkpoint,
    save_checkpoint,
)
from edp_ref.runner.metrics import (
    EvaluationRecord,
    online_model_selection,
    running_average_at_training,
)

__all__ = [
    "DataSourceKind",
    "EvalSettings",
    "RunMismatchError",
    "RunResult",
    "RunSpec",
    "evaluate_final_checkpoint",
    "evaluation_epochs",
    "load_run_dataset",
    "minari_root",
    "train_run",
]

DataSourceKind = Literal["auto", "d4rl", "minari", "local"]


class RunMismatchError(RuntimeError):
    """A run folder holds another configuration than the one asked for."""


@dataclass(frozen=True)
class RunSpec:
    """One training run: what to train, on what data, for how long, and how to evaluate it.

    Attributes:
        task: the paper's dataset name (``hopper-medium-v2``).
        algorithm, policy: the agent (:data:`edp_ref.runner.agents.AGENTS`).
        seed: the run's seed (initialisation, minibatches, update randomness, evaluation).
        epochs: training epochs (paper: 2000 locomotion, 1000 otherwise).
        iterations_per_epoch: updates per epoch (paper: 1000).
        batch_size: minibatch size (paper: 256).
        eval_every: epochs between evaluations (official: 10); also at epoch 0 and the last.
        eval_episodes: episodes per evaluation (official: 10).
        eas_candidates: N of EAS (paper: 10; official code: 50).
        eval_envs: vector environments an evaluation runs at once (at most ``eval_episodes``).
        data_source: where the dataset comes from: ``d4rl``, ``minari``, ``local`` or ``auto``.
        local_root: ``$MINARI_DATASETS_PATH`` that holds the locally generated dataset (None: the
            default Minari folder).
        hidden: network width (None: the paper's 256; smaller only for smoke runs).
        grad_clip: ``paper`` (Table 3: 5) or ``official`` (per-task).
    """

    task: str
    algorithm: str
    policy: str
    seed: int = 0
    epochs: int = 2000
    iterations_per_epoch: int = 1000
    batch_size: int = 256
    eval_every: int = 10
    eval_episodes: int = 10
    eas_candidates: int = 10
    eval_envs: int = 10
    data_source: DataSourceKind = "auto"
    local_root: str | None = None
    hidden: int | None = None
    grad_clip: Literal["paper", "official"] = "paper"

    def __post_init__(self) -> None:
        resolve(self.task)  # ValueError naming the unknown task and listing the known ones
        agent_spec(self.algorithm, self.policy)  # ValueError naming the unknown agent
        for name in (
            "epochs",
            "iterations_per_epoch",
            "batch_size",
            "eval_every",
            "eval_episodes",
            "eas_candidates",
            "eval_envs",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"RunSpec.{name} must be >= 1, got {getattr(self, name)}")
        if self.data_source not in ("auto", "d4rl", "minari", "local"):
            raise ValueError(f"RunSpec.data_source: unknown source {self.data_source!r}")
        if self.grad_clip not in ("paper", "official"):
            raise ValueError(f"RunSpec.grad_clip must be 'paper' or 'official': {self.grad_clip}")

    @property
    def agent(self) -> AgentSpec:
        return agent_spec(self.algorithm, self.policy)

    @property
    def total_steps(self) -> int:
        return self.epochs * self.iterations_per_epoch

    @property
    def name(self) -> str:
        """``<task>/<algorithm>-<policy>/seed<k>``: the run's folder below a grid's root."""
        return f"{self.task}/{self.algorithm}-{self.policy}/seed{self.seed}"

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunSpec:
        return cls(**data)


@dataclass(frozen=True)
class EvalSettings:
    """How a policy acts at evaluation (Sec. 4.5, App. C.4).

    Attributes:
        eas_candidates: N of EAS (1: one plain sample, no selection).
        dpm_steps: DPM-Solver model calls (None: the agent's, 15; Fig. 5 varies it).
        policy_scale: tau of App. C.4 (Fig. 6), multiplies the predicted noise.
        initial_noise_scale: multiplies a^K (App. C.4, Fig. 7; 0 = deterministic).
        feedforward_noise: std of the Gaussian perturbations of a deterministic actor whose
            perturbed copies are EAS's candidates (Table 6's TD3+EAS; edp_ref's choice, the paper
            does not say how it drew candidates).
    """

    eas_candidates: int = 10
    dpm_steps: int | None = None
    policy_scale: float = 1.0
    initial_noise_scale: float = 1.0
    feedforward_noise: float = 0.1


@dataclass
class RunResult:
    """A finished (or reused) run: its spec, folder, evaluations and final metrics."""

    spec: RunSpec
    run_dir: Path
    records: list[EvaluationRecord]
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def final_rat(self) -> float:
        return self.records[-1].rat

    @property
    def final_oms(self) -> float:
        return self.records[-1].oms

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": self.spec.to_json(),
            "final_rat": self.final_rat,
            "final_oms": self.final_oms,
            "num_evaluations": len(self.records),
            "data": self.data,
            "seconds": self.seconds,
            "records": [r.to_json() for r in self.records],
        }

    @classmethod
    def load(cls, run_dir: Path) -> RunResult:
        data = json.loads((Path(run_dir) / "result.json").read_text())
        return cls(
            RunSpec.from_json(data["spec"]),
            Path(run_dir),
            [EvaluationRecord.from_json(r) for r in data["records"]],
            data.get("data", {}),
            float(data.get("seconds", 0.0)),
        )


def evaluation_epochs(epochs: int, eval_every: int) -> list[int]:
    """Epochs after which the run evaluates: 0, eval_every, 2 eval_every, ..., and ``epochs``."""
    out = list(range(0, epochs + 1, eval_every))
    if out[-1] != epochs:
        out.append(epochs)
    return out


# ------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def minari_root(path: str | None) -> Iterator[None]:
    """Point ``$MINARI_DATASETS_PATH`` at ``path`` for the block (None: leave it alone)."""
    if path is None:
        yield
        return
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = old


def describe_dataset(dataset: TransitionDataset) -> dict[str, Any]:
    """Where a dataset came from, for the tables: kind (D4RL file, Minari, locally generated),
    id or file, size, and whether normalised scores use D4RL's constants."""
    if dataset.minari_id is None:
        kind = "D4RL file"
        ident = dataset.source
    elif dataset.minari_id.startswith("edp_ref/"):
        kind = "locally generated"
        ident = dataset.minari_id
    else:
        kind = "Minari"
        ident = dataset.minari_id
    reference = reference_for(dataset)
    return {
        "kind": kind,
        "id": ident,
        "transitions": len(dataset),
        "reference": None if reference is None else reference.source,
        "normalized": reference is not None,
    }


def load_run_dataset(spec: RunSpec) -> TransitionDataset:
    """The run's dataset, from ``spec.data_source`` (inside ``minari_root(spec.local_root)``)."""
    with minari_root(spec.local_root):
        return load_dataset(spec.task, source=spec.data_source)


def _prepare(dataset: TransitionDataset, spec: RunSpec) -> tuple[TransitionDataset, bool, Any]:
    """Rescale actions to [-1, 1] if the environment's bounds differ, then the official
    per-domain preprocessing. Returns the dataset, whether actions were rescaled, and the
    observation transform evaluation must apply."""
    rescaled = False
    if dataset.action_low is not None and dataset.action_high is not None:
        bounds = torch.stack([dataset.action_low, dataset.action_high])
        if not torch.equal(bounds, torch.tensor([[-1.0], [1.0]]).expand_as(bounds)):
            dataset = rescale_actions(dataset)
            rescaled = True
    pre = official_preprocessing(dataset, data_domain_of(spec.task), spec.agent.family)
    return pre.dataset, rescaled, pre.observation_transform


# ------------------------------------------------------------------------------------------
# Acting at evaluation
# ------------------------------------------------------------------------------------------


def _policy(
    agent: AgentSpec,
    config: Any,
    state: A.TrainState,
    settings: EvalSettings,
    generator: torch.Generator,
) -> Callable[[Tensor], Tensor]:
    """observations -> actions of the agent at evaluation (its registered ``act``)."""
    acting = A.ActingSettings(
        eas_candidates=settings.eas_candidates,
        dpm_steps=settings.dpm_steps,
        policy_scale=settings.policy_scale,
        initial_noise_scale=settings.initial_noise_scale,
        perturbation_std=settings.feedforward_noise,
    )
    return lambda obs: agent.act(state, obs, config, acting, generator)


def _stream_seed(seed: int, stream: int) -> int:
    """A deterministic seed per (run seed, purpose)."""
    return (seed * 1_000_003 + stream * 7_919 + 12_345) % (2**31 - 1)


# ------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------


class _Run:
    """Everything a run builds from its spec: data, config, state template, environment."""

    def __init__(self, spec: RunSpec) -> None:
        self.spec = spec
        self.agent = spec.agent
        raw = load_run_dataset(spec)
        self.data = describe_dataset(raw)
        self.dataset, self.rescaled, self.obs_transform = _prepare(raw, spec)
        self.raw = raw
        self.config = build_config(
            self.agent, spec.task, hidden=spec.hidden, grad_clip=spec.grad_clip
        )
        self.state_dim, self.action_dim = self.dataset.state_dim, self.dataset.action_dim
        self.reference = reference_for(raw)
        self._env: Any = None

    def init_state(self) -> A.TrainState:
        g = torch.Generator().manual_seed(_stream_seed(self.spec.seed, 0))
        return self.agent.init(self.config, self.state_dim, self.action_dim, g)

    def env(self) -> Any:
        if self._env is None:
            n = min(self.spec.eval_envs, self.spec.eval_episodes)
            with minari_root(self.spec.local_root):
                self._env = eval_env_for(self.raw, n, rescale_actions=self.rescaled)
        return self._env

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None

    def evaluate(
        self, state: A.TrainState, index: int, settings: EvalSettings, episodes: int
    ) -> tuple[float, float, float | None, float | None, float]:
        """Mean/std of return and normalised return, and the seconds it took."""
        t0 = time.perf_counter()
        generator = torch.Generator().manual_seed(_stream_seed(self.spec.seed, 1000 + index))
        policy = _policy(self.agent, self.config, state, settings, generator)
        result = evaluate(
            policy,
            self.env(),
            episodes,
            seed=_stream_seed(self.spec.seed, 2000 + index),
            reference=self.reference,
            observation_transform=self.obs_transform,
        )
        norm = result.normalized
        return (
            float(result.returns.mean()),
            float(result.returns.std()),
            None if norm is None else float(norm.mean()),
            None if norm is None else float(norm.std()),
            time.perf_counter() - t0,
        )


def _write_logs(run_dir: Path, records: list[EvaluationRecord]) -> None:
    """Rewrite ``evaluations.jsonl`` and ``evaluations.csv`` atomically from ``records``."""
    import csv
    import io

    atomic_write_text(
        run_dir / "evaluations.jsonl",
        "".join(json.dumps(r.to_json()) + "\n" for r in records),
    )
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(EvaluationRecord.CSV_COLUMNS)
    for r in records:
        writer.writerow(r.csv_row())
    atomic_write_text(run_dir / "evaluations.csv", buf.getvalue())


def _check_spec_file(run_dir: Path, spec: RunSpec) -> None:
    path = run_dir / "spec.json"
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise RunMismatchError(f"{path} is not valid JSON ({exc}); delete {run_dir}") from exc
        if stored != spec.to_json():
            diffs = sorted(
                f"{k}: stored {stored.get(k)!r} vs asked {v!r}"
                for k, v in spec.to_json().items()
                if stored.get(k) != v
            )
            raise RunMismatchError(
                f"run folder {run_dir} holds a run with another configuration ("
                + "; ".join(diffs)
                + "); use another output folder or delete this run folder"
            )
    else:
        atomic_write_text(path, json.dumps(spec.to_json(), indent=2, sort_keys=True))


def _rng_states(generators: dict[str, torch.Generator]) -> dict[str, Tensor]:
    out = {name: g.get_state() for name, g in generators.items()}
    out["torch_global"] = torch.get_rng_state()
    return out


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
        CheckpointCorruptError, CheckpointMismatchError: the checkpoint cannot be resumed.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    _check_spec_file(run_dir, spec)
    if (run_dir / "result.json").exists():
        done = RunResult.load(run_dir)
        if done.spec != spec:
            raise RunMismatchError(f"{run_dir}/result.json belongs to another configuration")
        return done
    if threads is not None:
        torch.set_num_threads(threads)
    t_start = time.perf_counter()
    run = _Run(spec)
    try:
        return _train(run, run_dir, progress, position, t_start)
    finally:
        run.close()


def _train(run: _Run, run_dir: Path, progress: bool, position: int, t_start: float) -> RunResult:
    spec, agent, config = run.spec, run.agent, run.config
    state = run.init_state()
    generators = {
        "batches": torch.Generator().manual_seed(_stream_seed(spec.seed, 1)),
        "updates": torch.Generator().manual_seed(_stream_seed(spec.seed, 2)),
    }
    ckpt = run_dir / "checkpoint.safetensors"
    records: list[EvaluationRecord] = []
    epoch = 0
    if ckpt.exists():
        loaded = load_checkpoint(ckpt, spec.to_json())
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
        records = [EvaluationRecord.from_json(r) for r in loaded.records]
        epoch = loaded.epoch
        if int(state.step) != loaded.step or (records and records[-1].epoch != epoch):
            raise CheckpointMismatchError(
                f"checkpoint {ckpt}: step {int(state.step)} / epoch {epoch} disagree with its "
                "metadata and log"
            )
    _write_logs(run_dir, records)
    data_path = run_dir / "data.json"
    atomic_write_text(data_path, json.dumps(run.data, indent=2))

    settings = EvalSettings(eas_candidates=spec.eas_candidates)
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
        ret, ret_std, norm, norm_std, secs = run.evaluate(
            state, index, settings, spec.eval_episodes
        )
        score = norm if norm is not None else ret
        if not math.isfinite(score):
            raise ValueError(f"{desc}: evaluation {index} gave a non-finite score {score}")
        scores = [r.score for r in records] + [score]
        record = EvaluationRecord(
            index=index,
            epoch=epoch,
            step=epoch * spec.iterations_per_epoch,
            episodes=spec.eval_episodes,
            return_mean=ret,
            return_std=ret_std,
            normalized_mean=norm,
            normalized_std=norm_std,
            score=score,
            rat=running_average_at_training(scores)[-1],
            oms=online_model_selection(scores)[-1],
            eval_seconds=secs,
            train_seconds=train_seconds,
            losses={k: float(v) for k, v in metrics.items()},
        )
        records = [*records, record]
        # Checkpoint first (atomic); the logs are rewritten from it on resume.
        save_checkpoint(
            run_dir / "checkpoint.safetensors",
            state=A.state_tensors(state),
            rng=_rng_states(generators),
            config=spec.to_json(),
            epoch=epoch,
            step=int(state.step),
            records=[r.to_json() for r in records],
        )
        _write_logs(run_dir, records)
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
    atomic_write_text(run_dir / "result.json", json.dumps(result.to_json(), indent=2))
    return result


def evaluate_final_checkpoint(
    spec: RunSpec,
    run_dir: Path | str,
    settings: EvalSettings,
    *,
    episodes: int | None = None,
    stream: int = 0,
) -> dict[str, Any]:
    """Evaluate a finished run's last checkpoint with other evaluation settings (Figs. 4-7).

    Returns the mean return, normalised return (or None) and the score (normalised if known).
    """
    run_dir = Path(run_dir)
    if not (run_dir / "result.json").exists():
        raise ValueError(f"evaluate_final_checkpoint: {run_dir} holds no finished run")
    run = _Run(spec)
    try:
        loaded = load_checkpoint(run_dir / "checkpoint.safetensors", spec.to_json())
        state = A.load_state_tensors(run.init_state(), loaded.state)
        n = episodes if episodes is not None else spec.eval_episodes
        ret, ret_std, norm, norm_std, secs = run.evaluate(state, 10_000 + stream, settings, n)
    finally:
        run.close()
    return {
        "return_mean": ret,
        "return_std": ret_std,
        "normalized_mean": norm,
        "normalized_std": norm_std,
        "score": norm if norm is not None else ret,
        "episodes": n,
        "eval_seconds": secs,
        "step": loaded.step,
        "data": run.data,
        "settings": dataclasses.asdict(settings),
    }
