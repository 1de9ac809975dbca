"""The schema of a training run: what to train and how to evaluate it (Sec. 5, App. C.4).

* :class:`RunSpec`: one (task, algorithm, policy class, seed) run with the paper's protocol
  (Table 3: epochs x 1000 iterations, batch 256; evaluation every 10 epochs with 10 episodes).
* :class:`RunResult`: a finished run (its ``result.json``).
* :func:`evaluation_epochs`: the epochs after which a run evaluates.

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

from edp_ref.config_checks import check_choice, check_int, check_real, check_text
from edp_ref.data import resolve
from edp_ref.runner.agents import AgentSpec, agent_spec
from edp_ref.runner.errors import RunFolderError, read_json_file
from edp_ref.runner.metrics import EvaluationRecord

__all__ = [
    "DATA_SOURCES",
    "MAX_SEED",
    "DataSourceKind",
    "RunResult",
    "RunSpec",
    "evaluation_epochs",
]

DataSourceKind = Literal["auto", "d4rl", "minari", "local"]
#: The values of :attr:`RunSpec.data_source`.
DATA_SOURCES: tuple[str, ...] = ("auto", "d4rl", "minari", "local")
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
        task: the paper's dataset name (``hopper-medium-v2``).
        algorithm, policy: the agent (:data:`edp_ref.runner.agents.AGENTS`).
        seed: the run's seed (initialisation, minibatches, update randomness, evaluation), in
            [0, 2**32 - 1].
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
        for name in ("task", "algorithm", "policy"):
            check_text(f"RunSpec.{name}", getattr(self, name))
        try:
            resolve(self.task)  # names the unknown task and lists the known ones
        except ValueError as exc:
            raise ValueError(f"RunSpec.task: {exc}") from None
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
        check_choice("RunSpec.data_source", self.data_source, DATA_SOURCES)
        check_text("RunSpec.local_root", self.local_root, optional=True)
        check_int("RunSpec.hidden", self.hidden, 1, optional=True)
        check_choice("RunSpec.grad_clip", self.grad_clip, ("paper", "official"))

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
    def from_json(cls, data: Mapping[str, Any]) -> RunSpec:
        """Inverse of :meth:`to_json`; ``ValueError`` / ``TypeError`` naming a bad field."""
        return cls(**_fields_from_json(cls, data, "RunSpec.from_json"))


def evaluation_epochs(epochs: int, eval_every: int) -> list[int]:
    """Epochs after which the run evaluates: 0, eval_every, 2 eval_every, ..., and ``epochs``."""
    check_int("evaluation_epochs: epochs", epochs, 0)
    check_int("evaluation_epochs: eval_every", eval_every, 1)
    out = list(range(0, epochs + 1, eval_every))
    if out[-1] != epochs:
        out.append(epochs)
    return out


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
