"""One training run with the paper's protocol (Sec. 5, App. C.4), from its schema to its policy.

Read top to bottom:

* :mod:`~edp_ref.runner.metrics`: RAT and OMS (Sec. 5), one evaluation's record;
* :mod:`~edp_ref.runner.dataset`: what a dataset name refers to, loading and preparing it;
* :mod:`~edp_ref.runner.spec`: the run schema :class:`RunSpec`, checked when built;
* :mod:`~edp_ref.runner.config`: the resolved algorithm config (Table 3, the compile rule);
* :mod:`~edp_ref.runner.run_folder`: the run folder, its sealed checkpoint and integrity errors;
* :mod:`~edp_ref.runner.policy`: :class:`Policy`, :func:`load_policy`, :func:`evaluate`;
* :mod:`~edp_ref.runner.export`: :func:`export_policy`, a policy that acts without edp_ref;
* :mod:`~edp_ref.runner.monitoring`: run.log, TensorBoard, W&B;
* :mod:`~edp_ref.runner.training`: :func:`train_run`, the training loop;
* :mod:`~edp_ref.runner.cli`: ``edp-train``, which parses :class:`RunSpec` itself.

Grids of runs, budgets, launchers, the dry run and the reports of the paper's tables and figures
are the layer above: :mod:`edp_ref.reproduce`.
"""

from edp_ref.runner.config import compile_decision, default_config, resolve_config
from edp_ref.runner.dataset import minari_root
from edp_ref.runner.export import export_policy
from edp_ref.runner.metrics import (
    RAT_WINDOW,
    EvaluationRecord,
    final_stretch_mean,
    online_model_selection,
    running_average_at_training,
)
from edp_ref.runner.monitoring import Monitoring
from edp_ref.runner.policy import Policy, PolicyEvaluation, evaluate, evaluate_policy, load_policy
from edp_ref.runner.run_folder import (
    Checkpoint,
    CheckpointCorruptError,
    CheckpointError,
    CheckpointFormatError,
    CheckpointMismatchError,
    DatasetChangedError,
    RunFolderError,
    RunLockedError,
    RunMismatchError,
    RunResult,
    configuration_document,
    load_checkpoint,
    save_checkpoint,
)
from edp_ref.runner.spec import FieldError, FieldTypeError, RunSpec, evaluation_epochs
from edp_ref.runner.training import DivergenceError, RunInterrupted, train_run

__all__ = [
    "RAT_WINDOW",
    "Checkpoint",
    "CheckpointCorruptError",
    "CheckpointError",
    "CheckpointFormatError",
    "CheckpointMismatchError",
    "DatasetChangedError",
    "DivergenceError",
    "EvaluationRecord",
    "FieldError",
    "FieldTypeError",
    "Monitoring",
    "Policy",
    "PolicyEvaluation",
    "RunFolderError",
    "RunInterrupted",
    "RunLockedError",
    "RunMismatchError",
    "RunResult",
    "RunSpec",
    "compile_decision",
    "configuration_document",
    "default_config",
    "evaluate",
    "evaluate_policy",
    "evaluation_epochs",
    "export_policy",
    "final_stretch_mean",
    "load_checkpoint",
    "load_policy",
    "minari_root",
    "online_model_selection",
    "resolve_config",
    "running_average_at_training",
    "save_checkpoint",
    "train_run",
]
