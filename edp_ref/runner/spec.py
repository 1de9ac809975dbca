"""The schema of a training run: what to train and how to evaluate it (Sec. 5, App. C.4).

* :class:`RunSpec`: one (dataset, algorithm, config, seed) run with the paper's protocol
  (Table 3: epochs x 1000 iterations, batch 256; evaluation every 10 epochs with 10 episodes).
  The agent is a column of the paper's tables (``algorithm="td3", policy="edp"``: Table 3's
  per-domain preset) or any registered algorithm (``algorithm="edp_td3"``, ``policy=None``)
  with an explicit config; the dataset a paper name, a D4RL HDF5 file or a Minari id
  (:mod:`edp_ref.runner.dataset_ref`).
* :class:`RunResult`: a finished run (its ``result.json``).
* :func:`evaluation_epochs`: the epochs after which a run evaluates: every ``eval_every`` epochs,
  and densely (every ``final_eval_every`` epochs) at the end, where the table's RAT is measured.

Every field is checked when the object is built: a wrong type raises ``TypeError`` and a value
out of range ``ValueError``, each naming ``RunSpec.<field>``, the
value and what is expected, so that a bad configuration fails before any data is loaded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, no_type_check

import torch

from edp_ref.algorithms import REGISTRY, AlgorithmConfig
from edp_ref.config_checks import check_choice, check_int, check_real, check_text
from edp_ref.paper import DATA_SOURCES, DataSource, find_paper_dataset
from edp_ref.runner.agents import AgentSpec, agent_spec, registered_agent
from edp_ref.runner.config_json import config_from_json, config_to_json
from edp_ref.runner.dataset_ref import (
    DOMAIN_CHOICES,
    dataset_domain,
    dataset_kind,
    dataset_slug,
)
from edp_ref.runner.errors import RunFolderError, read_json_file
from edp_ref.runner.metrics import RAT_WINDOW, EvaluationRecord, final_stretch_mean

__all__ = [
    "COMPILE_CHOICES",
    "MAX_SEED",
    "CompileChoice",
    "RunResult",
    "RunSpec",
    "evaluation_epochs",
]

CompileChoice = Literal["auto", "on", "off"]
#: The values of :attr:`RunSpec.compile`.
COMPILE_CHOICES: tuple[str, ...] = ("auto", "on", "off")
#: The largest seed a run accepts (seeds are unsigned 32-bit numbers, as in NumPy).
MAX_SEED = 2**32 - 1


def _fields_from_json(cls: type[Any], data: object, where: str) -> dict[str, Any]:
    """``data`` as keyword arguments of the dataclass ``cls``; ``ValueError`` naming unknown or
    missing fields."""
    if not isinstance(data, Mapping):
        raise TypeError(f"{where}: expected a JSON object, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    required = {
        f.name
        for f in fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    unknown = sorted(set(data) - known)
    missing = sorted(required - set(data))
    if unknown or missing:
        raise ValueError(
            f"{where}: unknown field(s) {unknown}, missing field(s) {missing}; "
            f"the fields are {sorted(known)}"
        )
    return dict(data)


# ------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------


# ``no_type_check``: the class checks the type and range of every field itself in
# ``__post_init__``, with messages naming the field; it keeps jaxtyping's import hook (active
# under pytest) from pre-empting those checks with a generic one that says less.
@no_type_check
@dataclass(frozen=True)
class RunSpec:
    """One training run: what to train, on what data, for how long, and how to evaluate it.

    Attributes:
        task: the dataset: a paper dataset name (``hopper-medium-v2``), a D4RL HDF5 file or a
            Minari dataset id (:mod:`edp_ref.runner.dataset_ref`).
        algorithm, policy: a paper agent (:data:`edp_ref.runner.agents.AGENTS`, e.g. ``td3`` /
            ``edp``), or, with ``policy=None``, a registered algorithm
            (:data:`edp_ref.algorithms.REGISTRY`, e.g. ``edp_td3``).
        seed: the run's seed (initialisation, minibatches, update randomness, evaluation), in
            [0, 2**32 - 1].
        epochs: training epochs (paper: 2000 locomotion, 1000 otherwise).
        iterations_per_epoch: updates per epoch (paper: 1000).
        batch_size: minibatch size (paper: 256).
        eval_every: epochs between evaluations (official: 10); also at epoch 0 and the last.
        eval_episodes: episodes per evaluation (official: 10).
        eas_candidates: N of EAS (paper: 10; official code: 50).
        eval_envs: vector environments an evaluation runs at once (at most ``eval_episodes``).
        data_source: where a paper dataset comes from: ``d4rl``, ``minari``, ``local`` or
            ``auto`` (other datasets: ``auto``).
        local_root: ``$MINARI_DATASETS_PATH`` that holds the locally generated or Minari dataset
            (None: the default Minari folder).
        hidden: network width of the preset config (None: the paper's 256; smoke runs).
        grad_clip: gradient clip of the preset config: ``paper`` (Table 3: 5) or ``official``
            (per paper task).
        config: the algorithm's config (None: the agent's defaults with Table 3's preset for the
            dataset's domain, :func:`edp_ref.runner.run_config.resolve_config`).
        env_id: Gymnasium id of the evaluation environment, for HDF5 files outside the paper's
            list (whose files do not name one).
        domain: ``auto`` or a domain (Table 3's preset, official preprocessing) for datasets
            outside the paper's list.
        compile: ``auto``, ``on`` or ``off``: whether the update runs under torch.compile
            (:func:`edp_ref.runner.run_config.compile_decision` states the rule).
        device: where the networks and the dataset live (``cpu``, ``cuda``, ``cuda:1``).
        final_eval_every: epochs between the last :data:`~edp_ref.runner.metrics.RAT_WINDOW`
            evaluations, the final stretch whose mean is the run's RAT (None: ``eval_every``, the
            paper's schedule, whose last ten of 201 evaluations span the final 5 % of training).
            Shorter runs set it so the final stretch is still their last 5 %.
    """

    task: str
    algorithm: str
    policy: str | None = None
    seed: int = 0
    epochs: int = 2000
    iterations_per_epoch: int = 1000
    batch_size: int = 256
    eval_every: int = 10
    eval_episodes: int = 10
    eas_candidates: int = 10
    eval_envs: int = 10
    data_source: DataSource = "auto"
    local_root: str | None = None
    hidden: int | None = None
    grad_clip: Literal["paper", "official"] = "paper"
    config: AlgorithmConfig | None = None
    env_id: str | None = None
    domain: str = "auto"
    compile: CompileChoice = "auto"
    device: str = "cpu"
    final_eval_every: int | None = None

    def __post_init__(self) -> None:
        for name in ("task", "algorithm"):
            check_text(f"RunSpec.{name}", getattr(self, name))
        check_text("RunSpec.policy", self.policy, optional=True)
        try:
            kind = dataset_kind(self.task)  # names the unknown task and the accepted forms
        except ValueError as exc:
            raise ValueError(f"RunSpec.task: {exc}") from None
        if self.policy is None:
            if self.algorithm not in REGISTRY:
                raise ValueError(
                    f"RunSpec.algorithm: unknown algorithm {self.algorithm!r}; registered "
                    f"algorithms: {', '.join(REGISTRY)} (or a paper agent such as td3 with "
                    "RunSpec.policy edp)"
                )
        else:
            try:
                agent_spec(self.algorithm, self.policy)  # names the unknown agent
            except ValueError as exc:
                raise ValueError(f"RunSpec.algorithm / RunSpec.policy: {exc}") from None
        check_int("RunSpec.seed", self.seed, 0, MAX_SEED)
        for name in (
            "epochs",
            "iterations_per_epoch",
            "batch_size",
            "eval_every",
            "eval_episodes",
            "eas_candidates",
            "eval_envs",
        ):
            check_int(f"RunSpec.{name}", getattr(self, name), 1)
        check_int("RunSpec.final_eval_every", self.final_eval_every, 1, optional=True)
        if self.final_eval_every is not None and self.final_eval_every > self.eval_every:
            raise ValueError(
                f"RunSpec.final_eval_every must be <= RunSpec.eval_every ({self.eval_every}): the "
                f"final stretch is evaluated at least as densely as the rest, got "
                f"{self.final_eval_every}"
            )
        check_choice("RunSpec.data_source", self.data_source, DATA_SOURCES)
        if kind != "paper" and self.data_source != "auto":
            raise ValueError(
                f"RunSpec.data_source must be 'auto' for {self.task!r} (a {kind} dataset); it "
                "picks among the sources of the paper's datasets only"
            )
        check_text("RunSpec.local_root", self.local_root, optional=True)
        check_int("RunSpec.hidden", self.hidden, 1, optional=True)
        check_choice("RunSpec.grad_clip", self.grad_clip, ("paper", "official"))
        self._check_config()
        check_text("RunSpec.env_id", self.env_id, optional=True)
        if self.env_id is not None and (
            kind != "hdf5" or find_paper_dataset(self.task) is not None
        ):
            raise ValueError(
                f"RunSpec.env_id applies to HDF5 files outside the paper's list only; "
                f"{self.task!r} names its own evaluation environment"
            )
        check_choice("RunSpec.domain", self.domain, DOMAIN_CHOICES)
        try:
            dataset_domain(self.task, self.domain)
        except ValueError as exc:
            raise ValueError(f"RunSpec.domain: {exc}") from None
        check_choice("RunSpec.compile", self.compile, COMPILE_CHOICES)
        check_text("RunSpec.device", self.device)
        try:
            torch.device(self.device)
        except RuntimeError as exc:
            raise ValueError(
                f"RunSpec.device must name a torch device (cpu, cuda, cuda:1), got "
                f"{self.device!r}: {exc}"
            ) from None

    def _check_config(self) -> None:
        if self.config is None:
            if self.grad_clip == "official" and find_paper_dataset(self.task) is None:
                raise ValueError(
                    "RunSpec.grad_clip 'official' needs a dataset of the paper (the official "
                    f"per-task clip); {self.task!r} is not one"
                )
            return
        expected = self.agent.spec.config_class
        if not isinstance(self.config, expected):
            raise TypeError(
                f"RunSpec.config must be a {expected.__name__} (the config of "
                f"{self.agent.registered}), got {type(self.config).__name__}"
            )
        if self.hidden is not None or self.grad_clip != "paper":
            raise ValueError(
                "RunSpec.hidden and RunSpec.grad_clip shape the preset config only; with an "
                "explicit RunSpec.config set config.network.hidden and "
                "config.optimizer.max_grad_norm instead"
            )
        chosen = {"on": True, "off": False}.get(self.compile)
        if chosen is not None and self.config.compile is not None and self.config.compile != chosen:
            raise ValueError(
                f"RunSpec.compile {self.compile!r} contradicts RunSpec.config.compile "
                f"{self.config.compile!r}; set one of them"
            )

    @property
    def agent(self) -> AgentSpec:
        if self.policy is None:
            return registered_agent(self.algorithm)
        return agent_spec(self.algorithm, self.policy)

    @property
    def total_steps(self) -> int:
        return self.epochs * self.iterations_per_epoch

    @property
    def evaluation_schedule(self) -> list[int]:
        """The epochs after which this run evaluates (:func:`evaluation_epochs`)."""
        return evaluation_epochs(self.epochs, self.eval_every, self.final_eval_every)

    @property
    def name(self) -> str:
        """``<dataset>/<algorithm>[-<policy>]/seed<k>``: the run's folder below a grid's root."""
        agent = self.algorithm if self.policy is None else f"{self.algorithm}-{self.policy}"
        return f"{dataset_slug(self.task)}/{agent}/seed{self.seed}"

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["config"] = None if self.config is None else config_to_json(self.config)
        if self.final_eval_every is None:
            # Absent means the paper's schedule: run folders written before the field existed
            # keep matching their config.json.
            del data["final_eval_every"]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunSpec:
        """Inverse of :meth:`to_json`; ``ValueError`` / ``TypeError`` naming a bad field."""
        values = _fields_from_json(cls, data, "RunSpec.from_json")
        config = values.get("config")
        if config is not None:
            probe = cls(**{**values, "config": None, "hidden": None, "grad_clip": "paper"})
            values["config"] = config_from_json(
                probe.agent.spec.config_class, config, "RunSpec.config"
            )
        return cls(**values)


def evaluation_epochs(
    epochs: int, eval_every: int, final_eval_every: int | None = None
) -> list[int]:
    """Epochs after which a run evaluates: 0, eval_every, 2 eval_every, ..., and ``epochs``; with
    ``final_eval_every``, also the final stretch ``epochs - k final_eval_every`` (k < RAT_WINDOW,
    epoch >= 1), whose mean is the run's RAT (Sec. 5: the paper evaluates every 10 of 2000
    epochs, so its last ten evaluations span the final 5 % of training)."""
    check_int("evaluation_epochs: epochs", epochs, 0)
    check_int("evaluation_epochs: eval_every", eval_every, 1)
    check_int("evaluation_epochs: final_eval_every", final_eval_every, 1, optional=True)
    out = set(range(0, epochs + 1, eval_every)) | {epochs}
    if final_eval_every is not None:
        tail = (epochs - k * final_eval_every for k in range(RAT_WINDOW))
        out |= {e for e in tail if e >= 1}
    return sorted(out)


@dataclass
class RunResult:
    """A finished (or reused) run: its spec, folder, evaluations and final metrics."""

    spec: RunSpec
    run_dir: Path
    records: list[EvaluationRecord]
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def final_stretch(self) -> list[EvaluationRecord]:
        """The evaluations the run's RAT averages: the last RAT_WINDOW after epoch 0
        (:func:`~edp_ref.runner.metrics.final_stretch_mean`)."""
        trained = [r for r in self.records if r.epoch > 0] or self.records[-1:]
        return trained[-RAT_WINDOW:]

    @property
    def final_stretch_updates(self) -> tuple[int, int]:
        """The updates the final stretch covers: from one evaluation interval before its first
        evaluation to the end of training (the paper: 1,900,000 to 2,000,000, the final 5 %)."""
        spacing = self.spec.final_eval_every or self.spec.eval_every
        first = self.final_stretch[0].epoch
        start = max(0, first - spacing) if first > 0 else 0
        return start * self.spec.iterations_per_epoch, self.spec.total_steps

    @property
    def final_rat(self) -> float:
        """RAT (Sec. 5): the mean score over the final stretch of training."""
        return final_stretch_mean([r.score for r in self.records], [r.epoch for r in self.records])

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
    def from_json(cls, data: object, run_dir: Path) -> RunResult:
        """Inverse of :meth:`to_json`; ``ValueError`` / ``TypeError`` naming what is wrong.

        The redundant fields (``final_rat``, ``final_oms``, ``num_evaluations``) must agree with
        the records.
        """
        if not isinstance(data, dict):
            raise TypeError(f"expected a JSON object, got {type(data).__name__}")
        missing = sorted({"spec", "records", "data", "seconds"} - set(data))
        if missing:
            raise ValueError(f"missing field(s) {missing}")
        records = data["records"]
        if not isinstance(records, list) or not records:
            raise ValueError("'records' must be a non-empty list of evaluation records")
        if not isinstance(data["data"], dict):
            raise TypeError(f"'data' must be an object, got {type(data['data']).__name__}")
        check_real("'seconds'", data["seconds"], 0.0)
        result = cls(
            RunSpec.from_json(data["spec"]),
            Path(run_dir),
            [EvaluationRecord.from_json(r) for r in records],
            data["data"],
            float(data["seconds"]),
        )
        stored = {k: data.get(k) for k in ("final_rat", "final_oms", "num_evaluations")}
        expected = {k: result.to_json()[k] for k in stored}
        if stored != expected:
            raise ValueError(f"{stored} disagree with its records, which give {expected}")
        return result

    @classmethod
    def load(cls, run_dir: Path | str) -> RunResult:
        """Read ``<run_dir>/result.json``; :class:`~edp_ref.runner.errors.RunFolderError`
        naming the file when it is damaged (it is not checked against the checkpoint here:
        :func:`edp_ref.runner.run_folder.load_finished_run` does that)."""
        path = Path(run_dir) / "result.json"
        remedy = (
            "delete it: the next start of the run rewrites it from the run's checkpoint "
            "without training again"
        )
        data = read_json_file(path, remedy)
        try:
            return cls.from_json(data, Path(run_dir))
        except (TypeError, ValueError) as exc:
            raise RunFolderError(f"{path} is damaged: {exc}; {remedy}") from exc
