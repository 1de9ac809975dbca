"""Training runner and reproduction of the paper's tables and figures (Sec. 5, Appendix C).

* :mod:`~edp_ref.runner.train`: one run (algorithm, policy class, dataset, seed) with the
  paper's protocol: epochs x 1000 iterations, batch 256, evaluation every ``eval_every`` epochs
  (EAS over DPM-Solver samples for diffusion policies), RAT and OMS per evaluation, JSONL + CSV
  logs, tqdm progress, atomic resumable checkpoints.
* :mod:`~edp_ref.runner.metrics`: RAT (running average of the last 10 evaluations) and OMS
  (best so far), Sec. 5's evaluation protocol.
* :mod:`~edp_ref.runner.checkpoint`: safetensors checkpoints with generator states and log
  position; clear errors for corrupt or mismatched files.
* :mod:`~edp_ref.runner.agents`: the (algorithm, policy class) pairs of the tables.
* :mod:`~edp_ref.runner.grid`: presets (paper, quick, smoke), grids, data plans and generation,
  local / parallel / Ray launchers.
* :mod:`~edp_ref.runner.report`: tables and figures beside :mod:`edp_ref.runner.paper_results`.
* :mod:`~edp_ref.runner.reproduce`: one call per table or figure (``scripts/reproduce.py``).
"""

from edp_ref.runner.agents import AGENTS, ALGORITHMS, POLICIES, AgentSpec, agent_spec
from edp_ref.runner.checkpoint import (
    CheckpointCorruptError,
    CheckpointError,
    CheckpointMismatchError,
    load_checkpoint,
    save_checkpoint,
)
from edp_ref.runner.grid import PRESETS, Preset, build_grid, ensure_datasets, run_grid, target
from edp_ref.runner.metrics import (
    RAT_WINDOW,
    EvaluationRecord,
    online_model_selection,
    running_average_at_training,
)
from edp_ref.runner.report import TABLE_LAYOUTS, read_benchmark, render_table
from edp_ref.runner.reproduce import ReproduceOutput, reproduce
from edp_ref.runner.train import (
    EvalSettings,
    RunMismatchError,
    RunResult,
    RunSpec,
    evaluate_final_checkpoint,
    evaluation_epochs,
    train_run,
)

__all__ = [
    "AGENTS",
    "ALGORITHMS",
    "POLICIES",
    "PRESETS",
    "RAT_WINDOW",
    "TABLE_LAYOUTS",
    "AgentSpec",
    "CheckpointCorruptError",
    "CheckpointError",
    "CheckpointMismatchError",
    "EvalSettings",
    "EvaluationRecord",
    "Preset",
    "ReproduceOutput",
    "RunMismatchError",
    "RunResult",
    "RunSpec",
    "agent_spec",
    "build_grid",
    "ensure_datasets",
    "evaluate_final_checkpoint",
    "evaluation_epochs",
    "load_checkpoint",
    "online_model_selection",
    "read_benchmark",
    "render_table",
    "reproduce",
    "run_grid",
    "running_average_at_training",
    "save_checkpoint",
    "target",
    "train_run",
]
