"""The training runner (Sec. 5 protocol): RAT/OMS arithmetic, logs, checkpoints, resume, errors."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from edp_ref import algorithms as A
from edp_ref.generation import generate, small_preset
from edp_ref.runner import (
    CheckpointCorruptError,
    CheckpointMismatchError,
    EvalSettings,
    RunMismatchError,
    RunSpec,
    evaluation_epochs,
    load_checkpoint,
    online_model_selection,
    running_average_at_training,
    train_run,
)
from edp_ref.runner.train import minari_root

ROOT = Path(__file__).resolve().parents[1]


# -- RAT and OMS (Sec. 5) ----------------------------------------------------------------------


def test_rat_and_oms_by_hand() -> None:
    scores = [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0, 5.0]
    rat = running_average_at_training(scores)
    # Fewer than 10 evaluations: the mean of all so far.
    assert rat[:4] == [0.0, 5.0, 10.0, 15.0]
    assert rat[9] == 45.0  # (0 + 10 + ... + 90) / 10
    assert rat[10] == 55.0  # (10 + ... + 100) / 10: the first score left the window
    assert rat[11] == 54.5  # (20 + ... + 100 + 5) / 10
    oms = online_model_selection(scores)
    assert oms == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0, 100.0]
    assert running_average_at_training([1.0, 4.0, 2.0], window=2) == [1.0, 2.5, 3.0]
    assert online_model_selection([3.0, -1.0, 2.0]) == [3.0, 3.0, 3.0]
    with pytest.raises(ValueError, match="score 1 is nan"):
        running_average_at_training([1.0, float("nan")])
    assert evaluation_epochs(25, 10) == [0, 10, 20, 25]
    assert evaluation_epochs(2000, 10)[-3:] == [1980, 1990, 2000]


# -- A tiny generated dataset (the generation code's small preset) ------------------------------


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    """``$MINARI_DATASETS_PATH`` holding edp_ref/hopper/medium-v0 of 500 transitions."""
    base = tmp_path_factory.mktemp("runner-data")
    root = str(base / "minari")
    cfg = dataclasses.replace(small_preset("hopper"), kinds=("medium",))
    with minari_root(root):
        generate(cfg, str(base / "work"), progress=False)
    return root


def tiny_spec(root: str, **changes: object) -> RunSpec:
    spec = RunSpec(
        task="hopper-medium-v2",
        algorithm="td3",
        policy="edp",
        seed=0,
        epochs=2,
        iterations_per_epoch=30,
        batch_size=32,
        eval_every=1,
        eval_episodes=2,
        eas_candidates=3,
        eval_envs=2,
        data_source="local",
        local_root=root,
        hidden=32,
    )
    return dataclasses.replace(spec, **changes)  # type: ignore[arg-type]


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_run_logs_metrics_and_reuse(tiny_root: str, tmp_path: Path) -> None:
    spec = tiny_spec(tiny_root)
    result = train_run(spec, tmp_path / "run", progress=False, threads=1)
    lines = read_jsonl(tmp_path / "run" / "evaluations.jsonl")
    assert [r["step"] for r in lines] == [0, 30, 60]
    assert [r["index"] for r in lines] == [0, 1, 2]
    scores = [float(r["score"]) for r in lines]  # type: ignore[arg-type]
    assert [r["rat"] for r in lines] == running_average_at_training(scores)
    assert [r["oms"] for r in lines] == online_model_selection(scores)
    # Locally generated data carries reference scores: the score is the normalised return.
    assert all(r["score"] == r["normalized_mean"] for r in lines)
    assert result.final_rat == lines[-1]["rat"] and result.final_oms == max(scores)
    csv_lines = (tmp_path / "run" / "evaluations.csv").read_text().splitlines()
    assert csv_lines[0].startswith("index,epoch,step") and len(csv_lines) == 4
    assert result.data["kind"] == "locally generated" and result.data["transitions"] == 500
    # The final checkpoint holds the full log and the last state.
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint.safetensors", spec.to_json())
    assert ckpt.step == 60 and ckpt.epoch == 2 and len(ckpt.records) == 3
    assert {"batches", "updates", "torch_global"} <= set(ckpt.rng)
    # A finished run is reused, not retrained.
    t0 = time.perf_counter()
    again = train_run(spec, tmp_path / "run", progress=False)
    assert time.perf_counter() - t0 < 1.0
    assert [r.to_json() for r in again.records] == [r.to_json() for r in result.records]
    # The same folder with another configuration is refused, naming the field.
    with pytest.raises(RunMismatchError, match="seed: stored 0 vs asked 1"):
        train_run(dataclasses.replace(spec, seed=1), tmp_path / "run", progress=False)


_CHILD = """
import sys, json, torch
torch.set_num_threads(1)
from edp_ref.runner import RunSpec, train_run
spec = RunSpec.from_json(json.loads(sys.argv[1]))
train_run(spec, sys.argv[2], progress=False)
"""


def _num_records(path: Path) -> int:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:  # type: ignore[no-untyped-call]
            return int(f.metadata()["num_records"])
    except Exception:
        return 0


def test_sigkill_mid_training_then_resume_logs_each_evaluation_once(
    tiny_root: str, tmp_path: Path
) -> None:
    spec = tiny_spec(tiny_root, epochs=6, iterations_per_epoch=40)
    run_dir = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, json.dumps(spec.to_json()), str(run_dir)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    ckpt = run_dir / "checkpoint.safetensors"
    deadline = time.time() + 90
    while _num_records(ckpt) < 3:
        assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
        assert time.time() < deadline, "the child never reached its third evaluation"
        time.sleep(0.05)
    time.sleep(0.1)  # now inside the fourth epoch's training
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    assert not (run_dir / "result.json").exists()
    logged = read_jsonl(run_dir / "evaluations.jsonl")
    assert 3 <= len(logged) < 7
    resumed = train_run(spec, run_dir, progress=False, threads=1)
    lines = read_jsonl(run_dir / "evaluations.jsonl")
    assert [r["index"] for r in lines] == list(range(7))
    assert [r["epoch"] for r in lines] == list(range(7))
    assert len(resumed.records) == 7
    # Resuming redoes the lost training with the saved generator states: the same results as
    # an uninterrupted run (to float round-off: the child process is another process).
    reference = train_run(spec, tmp_path / "uninterrupted", progress=False, threads=1)
    for a, b in zip(resumed.records, reference.records, strict=True):
        assert (a.step, a.episodes) == (b.step, b.episodes)
        assert a.score == pytest.approx(b.score, rel=1e-5, abs=1e-4)
        assert a.rat == pytest.approx(b.rat, rel=1e-5, abs=1e-4)
        assert a.oms == pytest.approx(b.oms, rel=1e-5, abs=1e-4)
        assert a.losses == pytest.approx(b.losses, rel=1e-5, abs=1e-5)


def test_corrupt_and_mismatched_checkpoints_give_clear_errors(
    tiny_root: str, tmp_path: Path
) -> None:
    spec = tiny_spec(tiny_root, epochs=1)
    run_dir = tmp_path / "run"
    train_run(spec, run_dir, progress=False)
    ckpt = run_dir / "checkpoint.safetensors"
    good = ckpt.read_bytes()
    (run_dir / "result.json").unlink()  # unfinished: the next call must resume from the file
    # Truncated file.
    ckpt.write_bytes(good[: len(good) // 2])
    with pytest.raises(
        CheckpointCorruptError, match=r"checkpoint .*checkpoint.safetensors is corrupt"
    ):
        train_run(spec, run_dir, progress=False)
    # One flipped byte inside the tensor data: the checksum catches it.
    flipped = bytearray(good)
    flipped[-100] ^= 0xFF
    ckpt.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointCorruptError, match="SHA-256"):
        train_run(spec, run_dir, progress=False)
    # Garbage.
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointCorruptError, match="corrupt or unreadable"):
        train_run(spec, run_dir, progress=False)
    # Another run's checkpoint (a different seed) in this run's folder.
    ckpt.write_bytes(good)
    other = dataclasses.replace(spec, seed=3)
    with pytest.raises(CheckpointMismatchError, match="seed: checkpoint 0 vs this run 3"):
        load_checkpoint(ckpt, other.to_json())
    shutil.copy(ckpt, tmp_path / "ckpt")
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    shutil.copy(tmp_path / "ckpt", other_dir / "checkpoint.safetensors")
    with pytest.raises(CheckpointMismatchError, match="different configuration"):
        train_run(other, other_dir, progress=False)
    # The intact file resumes and finishes.
    assert len(train_run(spec, run_dir, progress=False).records) == 2


def test_unknown_task_and_agent_are_named() -> None:
    with pytest.raises(ValueError, match="unknown dataset name 'hopper-mediun-v2'"):
        RunSpec(task="hopper-mediun-v2", algorithm="td3", policy="edp")
    with pytest.raises(ValueError, match="unknown algorithm 'td4'"):
        RunSpec(task="hopper-medium-v2", algorithm="td4", policy="edp")
    with pytest.raises(ValueError, match="has no policy class 'ff'"):
        RunSpec(task="hopper-medium-v2", algorithm="dql", policy="ff")


def test_eas_noise_scale_zero_is_the_deterministic_sampler() -> None:
    # App. C.4: initial noise scale 0 with one candidate is DPM-Solver from a^K = 0.
    config = A.EDPTD3Config(network=A.NetworkConfig(hidden=16))
    state = A.init_edp_td3(config, 3, 2, torch.Generator().manual_seed(0))
    obs = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    noise = A.SamplerNoise(initial=torch.randn(4, 2, generator=torch.Generator().manual_seed(2)))
    u = torch.rand(4, generator=torch.Generator().manual_seed(3))
    got = A.select_actions(state, obs, noise, u, 1, config.diffusion, initial_noise_scale=0.0)
    zero = A.sample_actions(state, obs, A.SamplerNoise(initial=torch.zeros(4, 2)), config.diffusion)
    torch.testing.assert_close(got, zero)
    # Policy scaling changes the samples.
    scaled = A.select_actions(state, obs, noise, u, 1, config.diffusion, policy_scale=2.0)
    plain = A.select_actions(state, obs, noise, u, 1, config.diffusion)
    assert not torch.allclose(scaled, plain)
    assert EvalSettings().eas_candidates == 10  # the paper's N by default (official code: 50)
