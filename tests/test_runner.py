"""The training runner (Sec. 5 protocol): RAT/OMS arithmetic, logs, checkpoints, resume, errors."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from edp_ref import algorithms as A
from edp_ref.algorithms import REGISTRY
from edp_ref.algorithms.catalog.ablations import EDPWithoutAPConfig
from edp_ref.algorithms.catalog.edp_td3 import EDPTD3Config
from edp_ref.algorithms.catalog.td3bc import TD3BCConfig
from edp_ref.algorithms.diffusion_policy import sample_actions, select_actions
from edp_ref.algorithms.randomness import SamplerNoise
from edp_ref.paper import find_paper_dataset
from edp_ref.reproduce.reproduction import evaluate_final_checkpoint
from edp_ref.runner import (
    CheckpointCorruptError,
    CheckpointFormatError,
    CheckpointMismatchError,
    RunFolderError,
    RunMismatchError,
    RunSpec,
    compile_decision,
    configuration_document,
    default_config,
    evaluation_epochs,
    final_stretch_mean,
    load_checkpoint,
    online_model_selection,
    resolve_config,
    running_average_at_training,
    save_checkpoint,
    train_run,
)
from tests.error_kinds import assert_error_kind
from tests.faults import wait_for

ROOT = Path(__file__).resolve().parents[1]


# -- RAT and OMS (Sec. 5) ----------------------------------------------------------------------


def test_rat_and_oms_by_hand() -> None:
    scores = [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0, 5.0]
    epochs = list(range(len(scores)))
    rat = running_average_at_training(scores, epochs)
    # One RAT: the mean of the last ten evaluations after epoch 0 (the untrained policy's
    # score counts only while it is the only one).
    assert rat[:4] == [0.0, 10.0, 15.0, 20.0]
    assert rat[9] == 50.0  # (10 + ... + 90) / 9
    assert rat[10] == 55.0  # (10 + ... + 100) / 10
    assert rat[11] == 54.5  # (20 + ... + 100 + 5) / 10: the first trained score left the window
    assert rat[-1] == final_stretch_mean(scores, epochs)  # the last logged RAT is the run's
    oms = online_model_selection(scores)
    assert oms == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0, 100.0]
    assert running_average_at_training([1.0, 4.0, 2.0], [0, 1, 2], window=2) == [1.0, 4.0, 3.0]
    assert online_model_selection([3.0, -1.0, 2.0]) == [3.0, 3.0, 3.0]
    with pytest.raises(ValueError, match="score 1 is nan"):
        running_average_at_training([1.0, float("nan")], [0, 1])
    assert evaluation_epochs(25, 10) == [0, 10, 20, 25]
    assert evaluation_epochs(2000, 10)[-3:] == [1980, 1990, 2000]


# -- A tiny run on the tiny generated dataset (the tiny_root fixture: tests/conftest.py) -------


def tiny_spec(root: str, **changes: object) -> RunSpec:
    spec = RunSpec(
        task="hopper-medium-v2",
        algorithm="edp_td3",
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
        config=default_config("edp_td3", "hopper-medium-v2", hidden=32),
    )
    return dataclasses.replace(spec, **changes)  # type: ignore[arg-type]


def document(spec: RunSpec) -> dict[str, Any]:
    """The configuration document a run of ``spec`` stores and seals."""
    return configuration_document(spec, resolve_config(spec))


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_run_logs_metrics_and_reuse(tiny_root: str, tmp_path: Path) -> None:
    spec = tiny_spec(tiny_root)
    result = train_run(spec, tmp_path / "run", progress=False, threads=1)
    lines = read_jsonl(tmp_path / "run" / "evaluations.jsonl")
    assert [r["step"] for r in lines] == [0, 30, 60]
    assert [r["index"] for r in lines] == [0, 1, 2]
    scores = [float(r["score"]) for r in lines]  # type: ignore[arg-type]
    epochs = [int(r["epoch"]) for r in lines]  # type: ignore[call-overload]
    assert [r["rat"] for r in lines] == running_average_at_training(scores, epochs)
    assert [r["oms"] for r in lines] == online_model_selection(scores)
    # Locally generated data carries reference scores: the score is the normalized return.
    assert all(r["score"] == r["normalized_mean"] for r in lines)
    # RAT: the mean of the evaluations after epoch 0 (at most ten: the final stretch, Sec. 5).
    assert result.final_rat == pytest.approx(sum(scores[1:]) / 2)
    assert result.final_oms == max(scores)
    csv_lines = (tmp_path / "run" / "evaluations.csv").read_text().splitlines()
    assert csv_lines[0].startswith("index,epoch,step") and len(csv_lines) == 4
    assert result.data["kind"] == "locally generated" and result.data["transitions"] == 500
    # The final checkpoint holds the full log and the last state.
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint.safetensors", document(spec))
    assert ckpt.step == 60 and ckpt.epoch == 2 and len(ckpt.records) == 3
    assert (ckpt.state_dim, ckpt.action_dim) == (11, 3)
    assert ckpt.environment["env_id"] == "Hopper-v5" and ckpt.environment["ref_max_score"]
    assert {"batches", "updates", "torch_global"} <= set(ckpt.rng)
    # One RAT: the last evaluation logged (evaluations.jsonl, run.log) is the run's RAT.
    log = (tmp_path / "run" / "run.log").read_text()
    assert lines[-1]["rat"] == result.final_rat == result.records[-1].rat
    assert f"evaluation 2 at epoch 2: score {scores[-1]:.3f}, RAT {result.final_rat:.3f}" in log
    assert f"finished: RAT {result.final_rat:.3f} (the mean of the last 10 evaluations" in log
    # A finished run is reused, not retrained: no file of the folder is written again.
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run").iterdir() if p.is_file()}
    again = train_run(spec, tmp_path / "run", progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run").iterdir() if p.is_file()} == (
        stamps
    )
    assert [r.to_json() for r in again.records] == [r.to_json() for r in result.records]
    # The same folder with another configuration is refused, naming the field.
    with pytest.raises(RunMismatchError, match="seed: stored 0 vs asked 1"):
        train_run(dataclasses.replace(spec, seed=1), tmp_path / "run", progress=False)


_CHILD = """
import sys, json, torch
torch.set_num_threads(1)
from edp_ref.runner import Monitoring, RunSpec, train_run
spec = RunSpec.from_json(json.loads(sys.argv[1]))
# A wall-clock checkpoint at the end of every 7-update log window (inside the epochs of 40).
monitoring = Monitoring(log_every=7, checkpoint_minutes=0)
train_run(spec, sys.argv[2], progress=False, monitoring=monitoring)
"""


def _edit_checkpoint_metadata(path: Path, edit: Callable[[dict[str, str]], None]) -> None:
    """Rewrite ``path`` with its tensors unchanged and ``edit`` applied to its metadata (the
    stored SHA-256 is kept, as a hand edit would keep it)."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(path), framework="pt") as f:  # type: ignore[no-untyped-call]
        meta = dict(f.metadata())
    tensors = load_file(str(path))
    edit(meta)
    save_file(tensors, str(path), metadata=meta)


def _edit_records(meta: dict[str, str], edit: Callable[[list[dict[str, Any]]], None]) -> None:
    records = json.loads(meta["records"])
    edit(records)
    meta["records"] = json.dumps(records)
    meta["num_records"] = str(len(records))


def _checkpoint_position(path: Path) -> tuple[int, int]:
    """(evaluations, step) of the checkpoint in ``path``; (0, 0) while there is none."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:  # type: ignore[no-untyped-call]
            meta = f.metadata()
            return int(meta["num_records"]), int(meta["step"])
    except Exception:
        return 0, 0


def test_sigkill_after_a_mid_epoch_checkpoint_resumes_bit_identically(
    tiny_root: str, tmp_path: Path
) -> None:
    spec = tiny_spec(tiny_root, epochs=6, iterations_per_epoch=40)
    assert resolve_config(spec).compile is False  # the uninterrupted run below is eager too
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

    def running() -> None:
        assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""

    # Kill right after a wall-clock checkpoint early in the fourth epoch (steps 121-149).
    wait_for(lambda: 120 < _checkpoint_position(ckpt)[1] < 150,
             "a checkpoint inside the fourth epoch", 60, running)  # fmt: skip
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    evaluations, step = _checkpoint_position(ckpt)
    assert not (run_dir / "result.json").exists()
    assert step % spec.iterations_per_epoch != 0 and evaluations == 4, (evaluations, step)
    logged = read_jsonl(run_dir / "evaluations.jsonl")
    assert 3 <= len(logged) <= 4
    # Leftovers of writes a kill interrupts (atomic_files' temporary names, the dead pid).
    stale = [run_dir / f".{name}.tmp-{child.pid}" for name in ("checkpoint.safetensors", "x")]
    for path in stale:
        path.write_bytes(b"partial write")
    killed_copy = tmp_path / "killed-copy"
    shutil.copytree(run_dir, killed_copy)
    resumed = train_run(spec, run_dir, progress=False, threads=1)
    assert not any(path.exists() for path in stale)  # removed when the run started again
    assert f"start from the checkpoint at step {step}:" in (run_dir / "run.log").read_text()
    lines = read_jsonl(run_dir / "evaluations.jsonl")
    assert [r["index"] for r in lines] == list(range(7))
    assert [r["epoch"] for r in lines] == list(range(7))
    assert len(resumed.records) == 7
    # Resuming redoes the training since the mid-epoch checkpoint with the saved generator
    # states: bit for bit the results of an uninterrupted run (timings aside).
    reference = train_run(spec, tmp_path / "uninterrupted", progress=False, threads=1)
    timings = {"eval_seconds", "train_seconds"}
    for a, b in zip(resumed.records, reference.records, strict=True):
        got = {k: v for k, v in a.to_json().items() if k not in timings}
        want = {k: v for k, v in b.to_json().items() if k not in timings}
        assert json.dumps(got) == json.dumps(want)  # text: exact, and NaN-safe
    final = load_checkpoint(ckpt, document(spec))
    uninterrupted = load_checkpoint(tmp_path / "uninterrupted" / "checkpoint.safetensors")
    assert final.state.keys() == uninterrupted.state.keys()
    for key, tensor in final.state.items():
        assert torch.equal(tensor, uninterrupted.state[key]), key
    # The killed folder edited by hand: every edit of the sealed log is refused on resume.
    for case, edit, error, words in _KILLED_EDITS:
        folder = tmp_path / f"edited-{case}"
        shutil.copytree(killed_copy, folder)
        edit(folder)
        with pytest.raises(error, match=words) as caught:
            train_run(spec, folder, progress=False, threads=1)
        assert_error_kind(caught.type, error)
        assert not (folder / "result.json").exists(), case


def _edited_score(folder: Path) -> None:
    def raise_score(records: list[dict[str, Any]]) -> None:
        records[1]["score"] += 5.0
        records[1]["normalized_mean"] += 5.0

    _edit_checkpoint_metadata(
        folder / "checkpoint.safetensors", lambda meta: _edit_records(meta, raise_score)
    )


def _dropped_evaluation(folder: Path) -> None:
    def drop(meta: dict[str, str]) -> None:
        _edit_records(meta, lambda records: records.pop())
        meta["epoch"] = str(int(meta["epoch"]) - 1)

    _edit_checkpoint_metadata(folder / "checkpoint.safetensors", drop)


def _resealed_wrong_rat(folder: Path) -> None:
    """Someone who recomputes the checksum too: the log must still follow the protocol."""
    path = folder / "checkpoint.safetensors"
    ckpt = load_checkpoint(path)
    records = [dict(r) for r in ckpt.records]
    records[1]["rat"] += 1.0
    save_checkpoint(path, dataclasses.replace(ckpt, records=records))


def _edited_jsonl(folder: Path) -> None:
    path = folder / "evaluations.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    record = json.loads(lines[1])
    record["oms"] = 1e6
    lines[1] = json.dumps(record) + "\n"
    path.write_text("".join(lines))


_KILLED_EDITS: list[tuple[str, Callable[[Path], None], type[Exception], str]] = [
    ("score", _edited_score, CheckpointCorruptError, "SHA-256 of its tensors and metadata"),
    ("dropped", _dropped_evaluation, CheckpointCorruptError, "damaged or edited"),
    (
        "resealed-rat",
        _resealed_wrong_rat,
        CheckpointCorruptError,
        r"evaluation 1 has rat .*delete .*checkpoint\.safetensors to restart the run from scratch",
    ),
    ("jsonl", _edited_jsonl, RunFolderError, r"evaluations\.jsonl disagrees .* line 2"),
]


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
    with pytest.raises(CheckpointMismatchError, match=r"run\.seed: checkpoint 0 vs this run 3"):
        load_checkpoint(ckpt, document(other))
    shutil.copy(ckpt, tmp_path / "ckpt")
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    shutil.copy(tmp_path / "ckpt", other_dir / "checkpoint.safetensors")
    with pytest.raises(CheckpointMismatchError, match="different configuration"):
        train_run(other, other_dir, progress=False)
    # The intact file resumes and finishes.
    assert len(train_run(spec, run_dir, progress=False).records) == 2


def _edit_result(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        data = json.loads((folder / "result.json").read_text())
        edit(data)
        (folder / "result.json").write_text(json.dumps(data))

    return apply


def _rescore(data: dict[str, Any]) -> None:
    """Recompute result.json's summary from its (edited) records, as a careful editor would."""
    records = data["records"]
    data["final_rat"] = final_stretch_mean(
        [r["score"] for r in records], [r["epoch"] for r in records]
    )
    data["final_oms"] = records[-1]["oms"]


def _drop_last_result_record(data: dict[str, Any]) -> None:
    data["records"].pop()
    data["num_evaluations"] -= 1
    _rescore(data)


def _edit_config(path: tuple[str, ...], value: object) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        data = json.loads((folder / "config.json").read_text())
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        (folder / "config.json").write_text(json.dumps(data))

    return apply


def _write(name: str, content: bytes) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_bytes(content)


def _older_format(version: int) -> Callable[[Path], None]:
    def to_format(meta: dict[str, str]) -> None:
        meta["format"] = f"edp_ref.runner.checkpoint/{version}"

    return lambda folder: _edit_checkpoint_metadata(folder / "checkpoint.safetensors", to_format)


_EDITED = "it was damaged or edited; delete result.json"
#: (case, edit of a finished run folder, error, words naming what is wrong and what to do).
_FINISHED_EDITS: list[tuple[str, Callable[[Path], None], type[Exception], str]] = [
    ("result not JSON", _write("result.json", b"{"),
     RunFolderError, r"result\.json is damaged: not valid JSON .*; delete it"),
    ("result a list", _write("result.json", b"[]"),
     RunFolderError, r"result\.json is damaged: expected a JSON object, got list"),
    ("result score", _edit_result(lambda d: (d["records"][1].update(score=99.0), _rescore(d))),
     RunFolderError, r"result\.json disagrees with the evaluation log sealed in .*checkpoint"
     r"\.safetensors \(evaluation 1: score\): " + _EDITED),
    ("result final OMS", _edit_result(lambda d: d.update(final_oms=1e9)),
     RunFolderError, r"result\.json is damaged: .*'final_oms': 1000000000\.0.* disagree"),
    ("result evaluation dropped", _edit_result(_drop_last_result_record),
     RunFolderError, r"\(evaluation 1: 1 evaluations vs 2\): " + _EDITED),
    ("result unknown field", _edit_result(lambda d: d["records"][0].update(bonus=1)),
     RunFolderError, r"result\.json is damaged: .*unknown field\(s\) \['bonus'\]"),
    ("result bool seed", _edit_result(lambda d: d["spec"].update(seed=False)),
     RunFolderError, r"RunSpec\.seed must be an int in \[0, 4294967295\], got False \(bool\)"),
    ("result other spec", _edit_result(lambda d: d["spec"].update(seed=1)),
     RunMismatchError, r"result\.json belongs to another configuration"),
    ("config not JSON", _write("config.json", b"nonsense"),
     RunFolderError, r"config\.json is damaged: not valid JSON .*delete it to have it rewritten"),
    ("config a list", _write("config.json", b"[1, 2]"),
     RunFolderError, r"config\.json is damaged: expected a JSON object, got list"),
    ("config without its run", _write("config.json", b'{"algorithm": {}}'),
     RunFolderError, r"config\.json is damaged: it lacks its 'run' or 'algorithm' part"),
    ("config of another learning rate", _edit_config(("algorithm", "config", "optimizer",
                                                      "learning_rate"), 1e-4),
     RunMismatchError, r"another configuration \(algorithm\.config\.optimizer\.learning_rate: "
     r"stored 0\.0001 vs asked 0\.0003\)"),
    ("jsonl edited", _write("evaluations.jsonl", b'{"index": 0}\n'),
     RunFolderError, r"evaluations\.jsonl disagrees with the evaluation log sealed in .*"
     r"line 1\): it was damaged or edited; delete evaluations\.jsonl and evaluations\.csv"),
    ("csv truncated", _write("evaluations.csv", b"index,epoch\n"),
     RunFolderError, r"evaluations\.csv disagrees"),
    ("jsonl not UTF-8", _write("evaluations.jsonl", b"\xff\xfe\x00"),
     RunFolderError, r"evaluations\.jsonl cannot be read"),
    ("checkpoint resealed with a wrong RAT", _resealed_wrong_rat,
     CheckpointCorruptError, r"evaluation 1 has rat .*; delete the run folder .* to train the run "
     r"again"),
    ("checkpoint deleted", lambda folder: (folder / "checkpoint.safetensors").unlink(),
     RunFolderError, r"result\.json cannot be checked: .*checkpoint\.safetensors is missing"),
    ("checkpoint format 1", _older_format(1),
     CheckpointFormatError, r"is of an older format \('edp_ref\.runner\.checkpoint/1'.*"
     r"checksum covers the tensors only"),
    ("checkpoint format 2", _older_format(2),
     CheckpointFormatError, r"is of an older format \('edp_ref\.runner\.checkpoint/2'.*"
     r"lacks the training position inside an epoch"),
]  # fmt: skip


def test_damaged_or_edited_run_folder_files_give_clear_errors(
    tiny_root: str, tmp_path: Path
) -> None:
    spec = tiny_spec(tiny_root, epochs=1)
    done = tmp_path / "done"
    reference = train_run(spec, done, progress=False)
    for case, edit, error, words in _FINISHED_EDITS:
        folder = tmp_path / case.replace(" ", "-")
        shutil.copytree(done, folder)
        edit(folder)
        with pytest.raises(error, match=words) as caught:
            train_run(spec, folder, progress=False)
        assert_error_kind(caught.type, error)
    # Re-evaluation (Figs. 4-7) checks the folder the same way before it evaluates.
    with pytest.raises(RunFolderError, match=r"result\.json disagrees"):
        evaluate_final_checkpoint(
            spec, tmp_path / "result-score", A.ActingSettings(eas_candidates=1)
        )
    # Deleted logs are rewritten from the checkpoint when the run is reused.
    logs = {name: (done / name).read_text() for name in ("evaluations.jsonl", "evaluations.csv")}
    for name in logs:
        (done / name).unlink()
    again = train_run(spec, done, progress=False)
    assert [r.to_json() for r in again.records] == [r.to_json() for r in reference.records]
    assert {name: (done / name).read_text() for name in logs} == logs


def test_unknown_task_and_algorithm_are_named() -> None:
    with pytest.raises(ValueError, match="unknown dataset name 'hopper-mediun-v2'"):
        RunSpec(task="hopper-mediun-v2", algorithm="edp_td3")
    with pytest.raises(ValueError, match="unknown algorithm 'td3'; registered algorithms: edp_td3"):
        RunSpec(task="hopper-medium-v2", algorithm="td3")


def test_eas_noise_scale_zero_is_the_deterministic_sampler() -> None:
    # App. C.4: initial noise scale 0 with one candidate is DPM-Solver from a^K = 0.
    config = EDPTD3Config(network=A.NetworkConfig(hidden=16))
    state = REGISTRY["edp_td3"].init(config, 3, 2, torch.Generator().manual_seed(0))
    obs = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    noise = SamplerNoise(initial=torch.randn(4, 2, generator=torch.Generator().manual_seed(2)))
    u = torch.rand(4, generator=torch.Generator().manual_seed(3))
    got = select_actions(state, obs, noise, u, 1, config.diffusion, initial_noise_scale=0.0)
    zero = sample_actions(state, obs, SamplerNoise(initial=torch.zeros(4, 2)), config.diffusion)
    torch.testing.assert_close(got, zero)
    # Policy scaling changes the samples.
    scaled = select_actions(state, obs, noise, u, 1, config.diffusion, policy_scale=2.0)
    plain = select_actions(state, obs, noise, u, 1, config.diffusion)
    assert not torch.allclose(scaled, plain)
    assert A.ActingSettings().eas_candidates == 10  # the paper's N by default (official code: 50)


# -- Any registered algorithm, an explicit config, a dataset outside the paper's names ----------


def test_registered_algorithm_with_explicit_config_on_a_minari_id(
    tiny_root: str, tmp_path: Path
) -> None:
    config = TD3BCConfig(network=A.NetworkConfig(hidden=16), alpha=3.0)
    spec = RunSpec(
        task="edp_ref/hopper/medium-v0",  # the generated dataset by its Minari id
        algorithm="td3bc",
        config=config,
        local_root=tiny_root,
        epochs=1,
        iterations_per_epoch=20,
        batch_size=32,
        eval_episodes=2,
        eval_envs=2,
    )
    assert spec.name == "edp_ref_hopper_medium-v0/td3bc/seed0"
    result = train_run(spec, tmp_path / "run", progress=False, threads=1)
    assert [r.step for r in result.records] == [0, 20]
    assert result.data["kind"] == "locally generated" and result.data["env_id"] == "Hopper-v5"
    stored = json.loads((tmp_path / "run" / "config.json").read_text())
    assert stored["algorithm"]["name"] == "td3bc" and stored["algorithm"]["config"]["alpha"] == 3.0
    assert RunSpec.from_json(stored["run"]) == spec  # the config round-trips through JSON
    # The explicit config is kept as given (no preset), with the compile decision filled in.
    assert resolve_config(spec) == dataclasses.replace(config, compile=False)


def _spec(**changes: Any) -> RunSpec:
    return RunSpec(**{"task": "hopper-medium-v2", "algorithm": "edp_td3", **changes})


#: Table 7's "DDPM" column: L_pi through 100 DDPM steps (the longest chain auto compiles).
_DDPM_K100 = EDPWithoutAPConfig(
    diffusion=A.DiffusionConfig(num_steps=100), policy_action_sampler="ddpm"
)
#: (RunSpec changes, whether the update compiles, words of the reason).
COMPILE_CASES: list[tuple[dict[str, Any], bool, str]] = [
    ({"epochs": 4, "iterations_per_epoch": 1000}, False, "4000 updates < 5000 on the CPU"),
    ({"epochs": 5, "iterations_per_epoch": 1000}, True, "5000 updates >= 5000"),
    ({"epochs": 1, "compile": "on"}, True, "compile=on"),
    ({"compile": "off"}, False, "compile=off"),
    ({"epochs": 1, "config": EDPTD3Config(compile=True)}, True, "config.compile=True"),
    ({"algorithm": "edp_without_dpm"}, False, "unrolls a 1000-step DDPM chain (> 100)"),
    ({"algorithm": "dql"}, True, "2000000 updates >= 5000"),  # K = 5: compiles
    ({"algorithm": "edp_without_ap", "config": _DDPM_K100}, True, "updates >= 5000"),  # K = 100
    ({"algorithm": "edp_without_dpm", "compile": "on"}, True, "compile=on"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "compiled", "words"), COMPILE_CASES)
def test_compile_rule(changes: dict[str, Any], compiled: bool, words: str) -> None:
    spec = _spec(**changes)
    assert resolve_config(spec).compile is compiled
    assert words in compile_decision(spec)[1]


def test_contradicting_compile_settings_are_refused() -> None:
    with pytest.raises(ValueError, match=r"RunSpec\.compile 'off' contradicts RunSpec\.config"):
        _spec(compile="off", config=EDPTD3Config(compile=True))
    with pytest.raises(TypeError, match=r"RunSpec\.config must be a EDPTD3Config"):
        _spec(config=TD3BCConfig())


@pytest.mark.parametrize("fails", [False, True])
def test_compile_time_and_failure_are_reported(
    tiny_root: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails: bool
) -> None:
    """The run log reports the first compiled call's time, or the fallback to eager (a stand-in
    compiler keeps this fast; the real one is tested in test_algorithms_compile)."""
    from edp_ref.algorithms import execution

    def stand_in(fn: Callable[..., Any], **options: Any) -> Callable[..., Any]:
        if fails:
            return lambda *args: (_ for _ in ()).throw(RuntimeError("no compiler here"))
        return fn

    monkeypatch.setattr(execution, "compile_function", stand_in)
    monkeypatch.setattr(execution, "_COMPILED", {})
    monkeypatch.setattr(execution, "_RECORDS", {})
    spec = tiny_spec(tiny_root, epochs=1, iterations_per_epoch=5, compile="on")
    if fails:
        with pytest.warns(RuntimeWarning, match="torch.compile failed"):
            train_run(spec, tmp_path / "run", progress=False)
    else:
        train_run(spec, tmp_path / "run", progress=False)
    log = (tmp_path / "run" / "run.log").read_text()
    if fails:
        assert "warning: torch.compile failed for edp_td3_update (RuntimeError: no compiler" in log
    else:
        assert re.search(r"compiled edp_td3_update in \d+\.\d s \(compile=on\)", log)


def test_a_d4rl_format_hdf5_file_outside_the_papers_list(tmp_path: Path) -> None:
    """A D4RL-format file of one's own: evaluated in the environment named by env_id, scored by
    raw return (no reference scores), domain read from its name."""
    import h5py
    import numpy as np

    rng = np.random.default_rng(0)
    n = 300
    path = tmp_path / "hopper-my-data.hdf5"
    with h5py.File(path, "w") as f:
        f.create_dataset("observations", data=rng.normal(size=(n, 11)).astype(np.float32))
        f.create_dataset("actions", data=rng.uniform(-0.9, 0.9, size=(n, 3)).astype(np.float32))
        f.create_dataset("rewards", data=rng.normal(size=n).astype(np.float32))
        f.create_dataset("terminals", data=np.zeros(n, dtype=bool))
        f.create_dataset("timeouts", data=(np.arange(n) % 100 == 99))
    config = TD3BCConfig(network=A.NetworkConfig(hidden=8))
    common = {"task": str(path), "algorithm": "td3bc", "config": config}
    with pytest.raises(ValueError, match=r"RunSpec\.env_id: the HDF5 file .* names no evaluation"):
        train_run(RunSpec(**common), tmp_path / "no-env", progress=False)
    spec = RunSpec(
        **common,
        env_id="Hopper-v5",
        epochs=1,
        iterations_per_epoch=10,
        batch_size=16,
        eval_episodes=1,
        eval_envs=1,
    )
    assert spec.name == "hopper-my-data/td3bc/seed0"
    result = train_run(spec, tmp_path / "run", progress=False, threads=1)
    assert result.data["kind"] == "D4RL file" and result.data["normalized"] is False
    assert all(r.score == r.return_mean and r.normalized_mean is None for r in result.records)
    # A file named like a paper dataset's D4RL file is that dataset (environment, references).
    entry = find_paper_dataset("/data/d4rl/hopper_medium-v2.hdf5")  # D4RL's file name
    assert entry is not None and entry.name == "hopper-medium-v2"
