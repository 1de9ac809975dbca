"""Re-evaluate a finished run's final checkpoint with other evaluation settings (Figs. 4-7).

Figures 4-7 vary how a trained EDP acts, not how it is trained: the number of EAS candidates
(Fig. 4), DPM-Solver's model calls (Fig. 5), App. C.4's policy scale (Fig. 6) and initial noise
scale (Fig. 7). Each point evaluates the run's last checkpoint, after checking the run folder
(:func:`edp_ref.runner.run_folder.load_finished_run`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from edp_ref import algorithms as A
from edp_ref.algorithms.acting import ActingSettings
from edp_ref.config_checks import check_int
from edp_ref.runner.prepared_run import PreparedRun
from edp_ref.runner.run_config import configuration_document, resolve_config
from edp_ref.runner.run_folder import load_finished_run
from edp_ref.runner.spec import RunSpec

__all__ = ["REEVALUATION_STREAM", "evaluate_final_checkpoint"]

#: Re-evaluation ``stream`` uses evaluation index ``REEVALUATION_STREAM + stream``, apart from
#: the training's evaluations (0, 1, ...).
REEVALUATION_STREAM = 10_000


def evaluate_final_checkpoint(
    spec: RunSpec,
    run_dir: Path | str,
    settings: ActingSettings,
    *,
    episodes: int | None = None,
    stream: int = 0,
) -> dict[str, Any]:
    """Evaluate a finished run's last checkpoint with other evaluation settings (Figs. 4-7).

    Returns the mean return, normalized return (or None) and the score (normalized if known),
    the episodes, seconds, checkpoint step, data description and settings.

    Raises:
        ValueError: ``run_dir`` holds no finished run; ``episodes`` or ``stream`` out of range.
        RunFolderError, CheckpointError: the run folder fails its checks.
    """
    run_dir = Path(run_dir)
    check_int("evaluate_final_checkpoint: episodes", episodes, 1, optional=True)
    check_int("evaluate_final_checkpoint: stream", stream, 0)
    if not (run_dir / "result.json").exists():
        raise ValueError(f"evaluate_final_checkpoint: {run_dir} holds no finished run")
    config = resolve_config(spec)
    finished = load_finished_run(spec, run_dir, configuration_document(spec, config))
    run = PreparedRun(spec, config)
    try:
        state = A.load_state_tensors(run.init_state(), finished.checkpoint.state)
        n = episodes if episodes is not None else spec.eval_episodes
        outcome = run.evaluate(state, REEVALUATION_STREAM + stream, settings, n)
    finally:
        run.close()
    return {
        "return_mean": outcome.return_mean,
        "return_std": outcome.return_std,
        "normalized_mean": outcome.normalized_mean,
        "normalized_std": outcome.normalized_std,
        "score": outcome.score,
        "episodes": n,
        "eval_seconds": outcome.seconds,
        "step": finished.checkpoint.step,
        "data": run.data,
        "settings": dataclasses.asdict(settings),
    }
