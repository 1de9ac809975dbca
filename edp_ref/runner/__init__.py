"""Training runner and reproduction of the paper's tables and figures (Sec. 5, Appendix C).

One run (:func:`train_run`, ``edp-train``: :mod:`~edp_ref.runner.train_cli`):

* :mod:`~edp_ref.runner.spec`: the run schema (:class:`RunSpec`, :class:`RunResult`,
  :func:`evaluation_epochs`), every field checked at construction; how a policy acts at
  evaluation is :class:`edp_ref.algorithms.ActingSettings`.
* :mod:`~edp_ref.runner.dataset_ref`: what a dataset name refers to (paper name, D4RL HDF5
  file, Minari id); :mod:`~edp_ref.runner.run_config`: the resolved algorithm config and the
  compile rule; :mod:`~edp_ref.runner.config_json`: configs as JSON.
* :mod:`~edp_ref.runner.monitoring`: losses averaged per log window, run.log, TensorBoard, W&B.
* :mod:`~edp_ref.runner.policy`: :func:`load_policy`, a trained run's policy.
* :mod:`~edp_ref.runner.run_data`: the run's dataset (source, ``$MINARI_DATASETS_PATH``,
  official preprocessing).
* :mod:`~edp_ref.runner.prepared_run`: data, config, state and environment of a run; one
  evaluation of a policy (the algorithm's own ``act``: EAS, App. C.4).
* :mod:`~edp_ref.runner.loop`: the training loop (epochs x 1000 iterations, batch 256,
  evaluation every ``eval_every`` epochs, RAT and OMS, tqdm progress, resumable).
* :mod:`~edp_ref.runner.reevaluation`: the final checkpoint under other evaluation settings.
* :mod:`~edp_ref.runner.checkpoint`: safetensors checkpoints sealed by one checksum.
* :mod:`~edp_ref.runner.run_folder` and :mod:`~edp_ref.runner.errors`: the files of a run
  folder, checked against the checkpoint; clear errors for damaged files.
* :mod:`~edp_ref.runner.metrics`: RAT (the mean of the final stretch's evaluations) and OMS
  (Sec. 5's evaluation protocol).
* :mod:`~edp_ref.runner.agents`: the (algorithm, policy class) pairs of the tables.

Grids and reports (:func:`reproduce`, ``edp-reproduce``: :mod:`~edp_ref.runner.reproduce_cli`):

* :mod:`~edp_ref.runner.presets`: budgets (paper, quick, smoke).
* :mod:`~edp_ref.runner.grid`: what each table or figure measures, and its grid of runs.
* :mod:`~edp_ref.runner.data_plans`: each task's data source; generation of missing data.
* :mod:`~edp_ref.runner.launchers`: local, parallel and Ray launchers.
* :mod:`~edp_ref.runner.report_summary` (the printed summary with
  :mod:`~edp_ref.runner.verdict`'s intervals and verdicts), :mod:`~edp_ref.runner.report_tables`
  (the full tables), :mod:`~edp_ref.runner.report_figures` (learning curves, Figures 3-7),
  :mod:`~edp_ref.runner.figure2`: tables and figures beside :mod:`edp_ref.paper`.
"""

from edp_ref.runner.agents import AGENTS, ALGORITHMS, POLICIES, AgentSpec, agent_spec
from edp_ref.runner.checkpoint import (
    CHECKPOINT_FORMAT,
    CheckpointCorruptError,
    CheckpointError,
    CheckpointFormatError,
    CheckpointMismatchError,
    load_checkpoint,
    save_checkpoint,
)
from edp_ref.runner.data_plans import DataPlan, ensure_datasets, plan_data
from edp_ref.runner.errors import RunFolderError, RunMismatchError
from edp_ref.runner.figure2 import FIGURE2_BENCHMARK_NAMES, read_benchmark, render_figure2
from edp_ref.runner.grid import TABLE_AGENTS, Target, build_grid, target
from edp_ref.runner.launchers import run_grid
from edp_ref.runner.loop import train_run
from edp_ref.runner.metrics import (
    RAT_WINDOW,
    EvaluationRecord,
    final_stretch_mean,
    online_model_selection,
    running_average_at_training,
)
from edp_ref.runner.monitoring import Monitoring
from edp_ref.runner.policy import Policy, evaluate_policy, load_policy
from edp_ref.runner.prepared_run import PolicyEvaluation, evaluation_policy
from edp_ref.runner.presets import PRESETS, Preset
from edp_ref.runner.reevaluation import evaluate_final_checkpoint
from edp_ref.runner.report_figures import (
    render_learning_curves,
    render_sweep_figure,
    render_training_curves,
)
from edp_ref.runner.report_summary import COMPARISONS, render_summary
from edp_ref.runner.report_tables import TABLE_LAYOUTS, budget_text, render_table
from edp_ref.runner.reproduce import ReproduceOutput, reproduce
from edp_ref.runner.run_config import (
    compile_decision,
    configuration_document,
    resolve_config,
)
from edp_ref.runner.run_data import describe_dataset, load_run_dataset, minari_root
from edp_ref.runner.spec import (
    COMPILE_CHOICES,
    CompileChoice,
    RunResult,
    RunSpec,
    evaluation_epochs,
)
from edp_ref.runner.verdict import (
    VERDICT_RULE,
    Interval,
    difference_interval,
    seed_interval,
    verdict,
)

__all__ = [
    "AGENTS",
    "ALGORITHMS",
    "CHECKPOINT_FORMAT",
    "COMPARISONS",
    "COMPILE_CHOICES",
    "FIGURE2_BENCHMARK_NAMES",
    "POLICIES",
    "PRESETS",
    "RAT_WINDOW",
    "TABLE_AGENTS",
    "TABLE_LAYOUTS",
    "VERDICT_RULE",
    "AgentSpec",
    "CheckpointCorruptError",
    "CheckpointError",
    "CheckpointFormatError",
    "CheckpointMismatchError",
    "CompileChoice",
    "DataPlan",
    "EvaluationRecord",
    "Interval",
    "Monitoring",
    "Policy",
    "PolicyEvaluation",
    "Preset",
    "ReproduceOutput",
    "RunFolderError",
    "RunMismatchError",
    "RunResult",
    "RunSpec",
    "Target",
    "agent_spec",
    "budget_text",
    "build_grid",
    "compile_decision",
    "configuration_document",
    "describe_dataset",
    "difference_interval",
    "ensure_datasets",
    "evaluate_final_checkpoint",
    "evaluate_policy",
    "evaluation_epochs",
    "evaluation_policy",
    "final_stretch_mean",
    "load_checkpoint",
    "load_policy",
    "load_run_dataset",
    "minari_root",
    "online_model_selection",
    "plan_data",
    "read_benchmark",
    "render_figure2",
    "render_learning_curves",
    "render_summary",
    "render_sweep_figure",
    "render_table",
    "render_training_curves",
    "reproduce",
    "resolve_config",
    "run_grid",
    "running_average_at_training",
    "save_checkpoint",
    "seed_interval",
    "target",
    "train_run",
    "verdict",
]
