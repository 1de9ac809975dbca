"""What a long training campaign meets besides a kill, each fault injected for real (issue 21): a
full or failing disk at every write of a run and of a dataset generation; two writers of one run
folder (two real processes); a diverging run (a real NaN from a real step with a huge learning
rate); SIGTERM and SIGINT (real signals); the data changed under a run; and extending a
finished run. Each shows that nothing written before the fault is lost (the folder resumes to
the uninterrupted run, bit for bit), that nothing is corrupt, and a clear one-line message.

The runs are tiny (TD3+BC, width 16, the session's 500-transition dataset, one episode per
evaluation) so that the module stays fast. Waits on other processes are scaled by the machine's
measured speed (tests/faults.py), never a fixed deadline.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import h5py  # type: ignore[import-untyped]
import pytest
import torch
from safetensors.torch import load_file

from edp_ref.generation.cli import main as datasets_main
from edp_ref.reproduce.launchers import GridRunError, run_grid
from edp_ref.runner import RunSpec, default_config, load_checkpoint, resolve_config
from edp_ref.runner import run_folder as folder_module
from edp_ref.runner.cli import main
from edp_ref.runner.dataset import load_run_dataset
from edp_ref.runner.monitoring import Monitoring, RunMonitor
from edp_ref.runner.run_folder import (
    Checkpoint,
    dataset_fingerprint,
    open_run_folder,
    run_folder_writer,
    save_checkpoint,
)
from tests.faults import failing_disk, snapshot, temporaries, untimed, wait_for

ROOT = Path(__file__).resolve().parents[1]
#: The process's global torch generator: no draw of a run comes from it (see tests/test_ray.py).
PROCESS_RNG = "rng/torch_global"


def _argv(root: str, out: Path, epochs: int = 2, iterations: int = 10, *extra: str) -> list[str]:
    """edp-train's options for a tiny TD3+BC run in ``out``."""
    return [
        "--algorithm", "td3bc", "--dataset", "hopper-medium-v2", "--out", str(out),
        "--run.data-source", "local", "--run.local-root", root, "--config.network.hidden", "16",
        "--run.epochs", str(epochs), "--run.iterations-per-epoch", str(iterations),
        "--run.batch-size", "32", "--run.eval-every", "1", "--run.eval-episodes", "1",
        "--run.eval-envs", "1", "--threads", "1", "--no-progress", "--log-every", "5",
        "--no-tensorboard", *extra,
    ]  # fmt: skip


def _assert_same_run(a: Path, b: Path) -> None:
    """Two folders of one run: bit-identical checkpoint tensors, the same evaluations, result
    and configuration (timings aside)."""
    ta, tb = load_file(a / "checkpoint.safetensors"), load_file(b / "checkpoint.safetensors")
    assert ta.keys() == tb.keys()
    for key in ta.keys() - {PROCESS_RNG}:
        assert torch.equal(ta[key], tb[key]), (a, key)
    for name in ("evaluations.jsonl", "result.json", "config.json"):
        lines = [(a / name).read_text().splitlines(), (b / name).read_text().splitlines()]
        if name == "evaluations.jsonl":
            lines = [[json.dumps(untimed(json.loads(x))) for x in side] for side in lines]
        else:
            lines = [[json.dumps(untimed(json.loads("\n".join(side))))] for side in lines]
        assert lines[0] == lines[1], (a, name)


def _stderr_line(capsys: pytest.CaptureFixture[str]) -> str:
    """edp-train's standard error: one line, no traceback."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


@pytest.fixture(scope="module")
def reference(tiny_root: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted tiny run of :func:`_argv` (2 epochs of 10 updates)."""
    out = tmp_path_factory.mktemp("reference") / "run"
    assert main(_argv(tiny_root, out)) == 0
    return out


# -- A full or failing disk ----------------------------------------------------------------------

#: (file, which of its writes fails, errno): every file a run writes, ENOSPC and EIO.
DISK_FAULTS = [
    ("config.json", 1, errno.ENOSPC),  # the first write of the run: nothing to keep
    ("config.json", 2, errno.EIO),  # with the dataset's fingerprint
    ("checkpoint.safetensors", 2, errno.ENOSPC),  # after evaluation 1
    ("checkpoint.safetensors", 3, errno.EIO),  # the last one
    ("evaluations.jsonl", 3, errno.ENOSPC),
    ("evaluations.csv", 2, errno.ENOSPC),
    ("data.json", 1, errno.EIO),
    ("result.json", 1, errno.ENOSPC),
]


@pytest.mark.parametrize(("name", "nth", "code"), DISK_FAULTS)
def test_a_full_or_failing_disk_at_any_write_loses_nothing(
    tiny_root: str,
    reference: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    nth: int,
    code: int,
) -> None:
    out = tmp_path / "run"
    with failing_disk(name, nth, code) as failed:
        assert main(_argv(tiny_root, out)) == 1
    # One line naming the file, the cause and the free space; the previous file intact; no
    # temporary file left.
    line = _stderr_line(capsys)
    assert line.startswith(f"edp-train: error: cannot write {out / name}: {os.strerror(code)} (")
    assert " free on the disk that holds " in line
    assert ("is intact" if failed.before is not None else f"no {name} was written") in line
    assert snapshot(out / name) == failed.before
    assert temporaries(out) == []
    # Nothing lost: the same command again ends as the uninterrupted run.
    assert main(_argv(tiny_root, out)) == 0
    _assert_same_run(out, reference)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")
def test_run_log_on_a_full_device_is_said_once_in_one_line(tmp_path: Path) -> None:
    """run.log appended on /dev/full (a device whose every write fails with ENOSPC): one line,
    once, no traceback; the run's own writes name the disk (above)."""
    (tmp_path / "run.log").symlink_to("/dev/full")
    said: list[str] = []
    monitor = RunMonitor(tmp_path, "a/run", {}, Monitoring(tensorboard=False), resume_step=None,
                         notify=said.append)  # fmt: skip
    monitor.log("start")
    monitor.log("checkpoint at step 0")
    monitor.close()
    assert said == [
        f"edp_ref: cannot append to {tmp_path / 'run.log'}: [Errno 28] No space left on device"
    ]


def test_generation_on_a_full_disk_keeps_its_checkpoint_and_datasets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root, work = tmp_path / "minari", tmp_path / "work"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    argv = ["--env", "hopper", "--preset", "small", "--kinds", "medium", "--no-progress"]
    argv += ["--work-dir", str(work), "--threads", "1"]
    train_pt, dataset = (
        work / "hopper-seed0" / "train.pt",
        root / "edp_ref" / "hopper" / "medium-v0",
    )

    def error() -> str:
        err = capsys.readouterr().err
        assert err.count("edp-datasets: error: ") == 1 and "Traceback" not in err, err
        return err

    # The second training checkpoint fails: the first one is kept, nothing else is left.
    with failing_disk("train.pt", 2) as failed:
        assert datasets_main(argv) == 1
    assert f"cannot write {train_pt}: No space left on device (" in error()
    assert train_pt.read_bytes() == failed.before and temporaries(tmp_path) == []
    # Resumed from it, the dataset's folder fails: no dataset, no half-written one.
    with failing_disk("medium-v0", code=errno.EIO):
        assert datasets_main(argv) == 1
    assert f"cannot write {dataset}: Input/output error (" in error()
    assert not dataset.exists() and temporaries(tmp_path) == []
    # Temporaries a killed writer left are removed by the next run, which writes the dataset.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = [train_pt.parent / f".train.pt.tmp-{dead.pid}", dataset.parent / f".x.tmp-{dead.pid}"]
    stale[0].write_bytes(b"partial")
    stale[1].mkdir()
    assert datasets_main(argv) == 0
    assert not any(p.exists() for p in stale)
    written = snapshot(dataset)
    # Overwriting it (--force) on a full disk keeps the dataset that was there.
    with failing_disk("medium-v0"):
        assert datasets_main([*argv, "--force"]) == 1
    assert "the previous medium-v0 is intact" in error()
    assert snapshot(dataset) == written and temporaries(tmp_path) == []


# -- Two writers of one run folder ---------------------------------------------------------------


def _edp_train(*argv: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "edp_ref.runner.cli", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _running(process: subprocess.Popen[bytes]) -> None:
    assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""


def test_a_second_writer_is_refused_and_a_dead_ones_lock_taken_over(
    tiny_root: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    first = _edp_train(*_argv(tiny_root, out, epochs=10_000))  # runs until killed
    try:
        wait_for(lambda: (out / ".writer.json").exists(), "edp-train to take its folder", 60,
                 lambda: _running(first))  # fmt: skip
        holder = json.loads((out / ".writer.json").read_text())
        assert holder["pid"] == first.pid and holder["host"] == socket.gethostname()
        second = _edp_train("--resume", str(out), "--no-progress")
        _, err = second.communicate()
        assert second.returncode == 1
        assert err.decode().strip() == (
            f"edp-train: error: run folder {out} is being written by pid {first.pid} on host "
            f"{socket.gethostname()}, started {holder['started']}; one process at a time trains "
            "a run: wait for it to end, or stop it (it checkpoints on SIGTERM) and start again"
        )
        _running(first)
    finally:
        first.kill()  # SIGKILL: no chance to release anything
        first.wait()
    # The kernel released the dead writer's lock; its record is left and named on take-over.
    assert (out / ".writer.json").exists()
    with run_folder_writer(out) as note:
        assert note == (
            f"took over the run folder from pid {first.pid} on host {socket.gethostname()}, "
            f"started {holder['started']}, which ended without releasing it (killed)"
        )
        assert json.loads((out / ".writer.json").read_text())["pid"] == os.getpid()
    assert not (out / ".writer.json").exists()


# -- Divergence ----------------------------------------------------------------------------------


def test_a_diverging_run_stops_within_its_log_window_and_keeps_a_finite_checkpoint(
    tiny_root: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    argv = _argv(tiny_root, out, 3, 10, "--config.optimizer.learning-rate", "1e30")
    assert main(argv) == 1
    line = _stderr_line(capsys)
    ckpt = out / "checkpoint.safetensors"
    # Adam steps by about the learning rate: the first critic step throws the weights to 1e30,
    # and the losses computed after it overflow. Found at the end of the 5-update log window.
    assert line.startswith(
        "edp-train: error: hopper-medium-v2/td3bc/seed0: training diverged at update 1: "
        "non-finite training losses (bc_loss nan, critic_loss nan, "
    ), line
    assert ", the means over updates 1-5); the run stopped before writing any of that " in line
    assert f"(the last checkpoint, {ckpt} at update 0, is finite; resuming it repeats" in line
    assert load_checkpoint(ckpt).step == 0  # loads: finite, sealed
    log = (out / "run.log").read_text()
    assert "checkpoint at step 0 (evaluation 0)" in log and "checkpoint at step 5" not in log
    assert "error: hopper-medium-v2/td3bc/seed0: training diverged at update 1" in log
    # A checkpoint with a non-finite state (written by a writer without the check) is refused.
    loaded = load_checkpoint(ckpt)
    state = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
             for k, v in loaded.state.items()}  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(folder_module, "nonfinite_tensors", lambda tensors: [])
        save_checkpoint(ckpt, dataclasses.replace(loaded, state=state))
    with pytest.raises(folder_module.NonFiniteStateError, match="the state holds NaN or inf in"):
        save_checkpoint(tmp_path / "other.safetensors", dataclasses.replace(loaded, state=state))
    assert main(["--resume", str(out), "--no-progress", "--no-tensorboard"]) == 1
    assert f"checkpoint {ckpt} holds a diverged state (NaN or inf in " in _stderr_line(capsys)


def test_a_diverged_run_of_a_grid_is_reported_by_name_and_the_others_finish(
    tiny_root: str, tmp_path: Path
) -> None:
    config = default_config("td3bc", "hopper-medium-v2", hidden=16)
    huge = dataclasses.replace(
        config, optimizer=dataclasses.replace(config.optimizer, learning_rate=1e30)
    )
    base = RunSpec("hopper-medium-v2", "td3bc", epochs=1, iterations_per_epoch=10, batch_size=32,
                   eval_episodes=1, eval_envs=1, data_source="local", local_root=tiny_root,
                   config=config)  # fmt: skip
    runs = [
        (dataclasses.replace(base, seed=1, config=huge), tmp_path / "diverges"),
        (base, tmp_path / "fine"),
    ]
    logs: list[str] = []
    with pytest.raises(GridRunError) as caught:
        run_grid(runs, progress=False, log=logs.append)
    (failure,) = caught.value.failures
    assert failure.spec.name == "hopper-medium-v2/td3bc/seed1"
    assert failure.error == "DivergenceError" and "training diverged at update" in failure.message
    assert [r.spec.name for r in caught.value.results] == ["hopper-medium-v2/td3bc/seed0"]
    assert (tmp_path / "fine" / "result.json").exists()
    assert "1 of 2 run(s) failed" in str(caught.value) and "seed1" in str(caught.value)


# -- SIGTERM and SIGINT --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def longer_reference(tiny_root: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run of 3 epochs of 100 updates the signal test interrupts."""
    out = tmp_path_factory.mktemp("longer") / "run"
    assert main(_argv(tiny_root, out, 3, 100)) == 0
    return out


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_checkpoints_the_next_update_and_resume_is_bit_identical(
    tiny_root: str, longer_reference: Path, tmp_path: Path, signum: int
) -> None:
    out, name = tmp_path / "run", signal.Signals(signum).name
    child = _edp_train(*_argv(tiny_root, out, 3, 100))
    log = out / "run.log"
    # Signalled once it trains its second epoch (the signal then comes during its last 200
    # updates, or at their start).
    wait_for(lambda: log.exists() and "checkpoint at step 100 " in log.read_text(),
             "the checkpoint of evaluation 1", 60, lambda: _running(child))  # fmt: skip
    child.send_signal(signum)
    wait_for(lambda: child.poll() is not None, f"edp-train to stop on {name}", 60)
    err = child.stderr.read().decode() if child.stderr else ""
    # It ended by the signal (a shell reports 128 + signum), after a checkpoint at an update
    # boundary inside training.
    assert child.returncode == -signum, err
    step = load_checkpoint(out / "checkpoint.safetensors").step
    assert 100 <= step < 300 and not (out / "result.json").exists()
    assert err.strip() == (
        f"edp-train: hopper-medium-v2/td3bc/seed0: stopped by {name} at update {step} of 300, "
        f"checkpoint {out / 'checkpoint.safetensors'} written; the same command (or edp-train "
        f"--resume {out}) continues it"
    )
    if step not in (100, 200):  # else the evaluation's checkpoint is that update's
        assert f"checkpoint at step {step} (stopped by {name})" in log.read_text()
    assert not (out / ".writer.json").exists()  # released
    # The same command continues it, bit for bit the uninterrupted run.
    assert main(_argv(tiny_root, out, 3, 100)) == 0
    _assert_same_run(out, longer_reference)


# -- The data changed under a run; a run extended --------------------------------------------------


def test_resume_on_changed_data_is_refused_naming_both_fingerprints(
    tiny_root: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, out = tmp_path / "minari", tmp_path / "run"
    shutil.copytree(tiny_root, root)
    assert main(_argv(str(root), out, 1)) == 0
    loaded = load_run_dataset("hopper-medium-v2", "local", str(root))
    recorded = json.loads((out / "config.json").read_text())["dataset"]
    assert recorded == dataset_fingerprint(loaded)
    assert recorded["transitions"] == 500 and len(recorded["sha256"]) == 64
    # One reward of the dataset changes; the run was killed before its result (or is extended).
    (data_file,) = (root / "edp_ref" / "hopper" / "medium-v0" / "data").glob("*.hdf5")
    with h5py.File(data_file, "r+") as f:
        f["episode_0/rewards"][0] += 1.0
    changed = dataset_fingerprint(load_run_dataset("hopper-medium-v2", "local", str(root)))
    (out / "result.json").unlink()
    for extra in ([], ["--run.epochs", "2"]):
        assert main(["--resume", str(out), "--no-progress", "--no-tensorboard", *extra]) == 1
        assert _stderr_line(capsys) == (
            f"edp-train: error: the dataset changed since the run in {out} started: checkpoint "
            f"{out / 'checkpoint.safetensors'} records 500 transitions, SHA-256 "
            f"{recorded['sha256']}, the data loaded now has 500 transitions, SHA-256 "
            f"{changed['sha256']}; a run resumes on the data it started on only: restore that "
            "dataset, or train in a new folder"
        )


def test_extending_a_finished_run_equals_asking_for_the_epochs_from_the_start(
    tiny_root: str, reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(_argv(tiny_root, out, 1)) == 0
    assert main(["--resume", str(out), "--run.epochs", "2", "--no-progress", "--no-tensorboard",
                 "--threads", "1"]) == 0  # fmt: skip
    _assert_same_run(out, reference)  # the 2-epoch run, bit for bit
    # A run whose evaluations the longer run would not make is not extended (nothing changes).
    spec = RunSpec.from_json(
        {**json.loads((out / "config.json").read_text())["run"], "epochs": 3, "eval_every": 2}
    )
    other = tmp_path / "other"
    open_run_folder(other, folder_module.configuration_document(spec, resolve_config(spec)))
    kept = (other / "config.json").read_bytes()
    assert main(["--resume", str(other), "--run.epochs", "4", "--no-progress"]) == 1
    assert _stderr_line(capsys).endswith(
        "cannot be extended to the configuration asked for: the run evaluated at epochs [3], "
        "which a 4-epoch run does not (its last epoch or its denser final stretch), so the "
        "extension would not be that run; train the longer run in a new folder"
    )
    assert (other / "config.json").read_bytes() == kept


def test_save_checkpoint_writes_nothing_for_a_nonfinite_state(tmp_path: Path) -> None:
    state = {"w": torch.tensor([1.0, float("inf")]), "step": torch.tensor(3)}
    ckpt = Checkpoint(state, {}, {"run": {}}, 0, 0, [], 1, 1)
    with pytest.raises(folder_module.NonFiniteStateError) as caught:
        save_checkpoint(tmp_path / "c.safetensors", ckpt)
    assert caught.value.names == ["w"] and list(tmp_path.iterdir()) == []
