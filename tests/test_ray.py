"""The Ray launcher for real (docs/scale_out.md): a local 2-CPU Ray cluster started here runs the
smoke grid of Table 2 (its TD3+BC columns, FF and EDP, to keep the test short); faults on the
cluster; failure reports of the launchers.

* The grid through Ray renders the same table as through the local launcher, with bit-identical
  run folders (CPU), and writes nothing outside the run folders but the table it renders.
* A worker process killed (SIGKILL) in the middle of a run: Ray retries the task, the run resumes
  from its last checkpoint and ends exactly as the uninterrupted run of the local launcher.
* A run that fails for a reason of its own (a damaged checkpoint) is reported by name with its
  error after all other runs finished; the driver killed mid-grid: the same command again reuses
  the finished runs and resumes the unfinished one.

The cluster tests are skipped only when Ray is not installed (``pip install edp_ref[ray]``).
Ray keeps its session files in a temporary folder and its authentication token in that folder
too (``RAY_AUTH_TOKEN_PATH``: else Ray writes ``~/.ray/auth_token``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from edp_ref.reproduce import PRESETS, build_grid, experiment, reproduce
from edp_ref.reproduce.launchers import GridRunError, ray_task_name, run_grid
from edp_ref.runner import RunSpec, configuration_document, resolve_config
from edp_ref.runner.run_folder import open_run_folder, run_folder_writer
from tests.faults import untimed, wait_for

ROOT = Path(__file__).resolve().parents[1]
# The process's global torch generator, saved in the checkpoint and restored on resume: no draw
# of a run comes from it (each purpose has its own seeded generator), so its state is whatever
# the worker process did before the run, and differs between launchers.
PROCESS_RNG = "rng/torch_global"


@dataclass(frozen=True)
class Cluster:
    address: str
    temp: Path


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A Ray head node on this machine with 2 CPUs, shut down after the module."""
    ray = pytest.importorskip("ray", reason="Ray is optional (pip install edp_ref[ray])")
    # Not pytest's tmp_path: Ray's sockets live in its session folder and a Unix socket's path
    # may not exceed 107 bytes.
    temp = Path(tempfile.mkdtemp(prefix="edpray-"))
    token = temp / "auth_token"
    token.write_text(secrets.token_hex(32))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_AUTH_TOKEN_PATH", str(token))
        patch.delenv("RAY_ADDRESS", raising=False)
        _forget_ray_token()
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            _temp_dir=str(temp),
            object_store_memory=80 * 2**20,
            log_to_driver=False,
        )
        try:
            yield Cluster(ray.get_runtime_context().gcs_address, temp)
        finally:
            ray.shutdown()
            shutil.rmtree(temp, ignore_errors=True)
    _forget_ray_token()


def _forget_ray_token() -> None:
    """Drop the token Ray caches per process, so that this module's cluster and any other
    ``ray.init`` of the test session each read their own token (Ray keeps the first one it read
    for the whole process: a later cluster then refuses the driver)."""
    from ray._raylet import AuthenticationTokenLoader  # private; Ray's own setup calls it so

    AuthenticationTokenLoader.instance().reset_cache()


def _python_env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }


# -- Helpers -------------------------------------------------------------------------------------


def _descendants(root: int) -> set[int]:
    """The processes below ``root`` (Ray's raylet and its workers descend from this test)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {p for p, pp in parent.items() if pp in frontier} - found
        found |= frontier
    return found


def _workers_running(prefix: str) -> list[int]:
    """PIDs of this test's Ray workers whose process title (``ray::<task>``) starts so."""
    pids = []
    for pid in _descendants(os.getpid()):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(f"ray::{prefix}".encode()):
            pids.append(pid)
    return pids


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


def _assert_same_run(a: Path, b: Path) -> None:
    """Two folders of one run: the same files, bit-identical tensors, the same results."""
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    ta, tb = load_file(a / "checkpoint.safetensors"), load_file(b / "checkpoint.safetensors")
    assert ta.keys() == tb.keys()
    for key in ta.keys() - {PROCESS_RNG}:
        assert torch.equal(ta[key], tb[key]), (a, key)
    for name in ("result.json", "config.json", "data.json"):
        assert untimed(json.loads((a / name).read_text())) == untimed(
            json.loads((b / name).read_text())
        ), (a, name)


class _WorkerKiller(threading.Thread):
    """SIGKILLs the Ray worker of a run once the run has checkpointed an evaluation."""

    def __init__(self, spec: RunSpec, run_dir: Path) -> None:
        super().__init__(daemon=True)
        self.task, self.run_dir = ray_task_name(spec), run_dir
        self.killed: int | None = None
        self.log_at_kill = ""
        self.finished_at_kill = True
        self.grid_ended = threading.Event()  # set by the test: no deadline, the grid's end

    def run(self) -> None:
        log = self.run_dir / "evaluations.jsonl"
        while not self.grid_ended.is_set():
            pids = _workers_running(self.task)
            if pids and log.exists() and log.read_text().strip():
                self.log_at_kill = log.read_text()
                os.kill(pids[0], signal.SIGKILL)
                self.killed = pids[0]
                self.finished_at_kill = (self.run_dir / "result.json").exists()
                return
            time.sleep(0.05)


# -- The grid on the cluster ----------------------------------------------------------------------


def _results(text: str) -> str:
    """A table's text without the command's wall-time breakdown (measured anew each time)."""
    return text.split("Wall time of this command by phase")[0]


def _tables(out: Path) -> dict[str, str | bytes]:
    """The files of ``out/tables``, Markdown without the wall-time breakdown."""
    return {
        p.name: _results(p.read_text()) if p.suffix == ".md" else p.read_bytes()
        for p in (out / "tables").iterdir()
    }


def test_smoke_grid_on_ray_equals_local_and_survives_a_killed_worker(
    cluster: Cluster, smoke_out: Path, tmp_path: Path
) -> None:
    out, quiet = smoke_out, lambda _: None
    grid = {"preset": "smoke", "out": out, "algos": ["td3"], "progress": False}
    local = reproduce("table", 2, jobs=2, log=quiet, **grid)  # type: ignore[arg-type]
    local_runs = tmp_path / "local-runs"
    shutil.move(out / "runs", local_runs)
    before, cwd_before = _snapshot(out), sorted(os.listdir(Path.cwd()))
    tables = _tables(out)
    victim = next(r for r in local.results if r.spec.algorithm == "edp_td3")
    victim_dir = out / "runs" / "smoke" / victim.spec.name
    killer = _WorkerKiller(victim.spec, victim_dir)
    killer.start()
    logs: list[str] = []
    on_ray = reproduce("table", 2, launcher="ray", jobs=4, log=logs.append, **grid)  # type: ignore[arg-type]
    killer.grid_ended.set()
    killer.join()

    # Every run finished and the table is the local launcher's, byte for byte.
    assert "grid: 2 run(s), 0 finished (reused), 2 to run" in logs
    assert sum(line.startswith("run ") and " ended: " in line for line in logs) == 2
    assert _results(on_ray.text) == _results(local.text) and len(on_ray.results) == 2
    for r in local.results:
        _assert_same_run(local_runs / "smoke" / r.spec.name, out / "runs" / "smoke" / r.spec.name)

    # The killed worker: mid-run (after its first evaluation, before its result), retried by
    # Ray in another process, resumed from its checkpoint (the evaluation logged before the kill
    # is kept as it was, with its measured time) and ended as the uninterrupted local run.
    assert killer.killed is not None, "the run's Ray worker was never seen running"
    assert not killer.finished_at_kill
    ended = next(line for line in logs if f"ended: {victim.spec.name}," in line)
    assert f"pid {killer.killed} " not in ended and "FAILED" not in ended
    first_line = killer.log_at_kill.splitlines()[0]
    assert (victim_dir / "evaluations.jsonl").read_text().splitlines()[0] == first_line

    # Nothing written outside the run folders but the table (rewritten with the same results);
    # nothing in the working directory; Ray's session files in its own temporary folder.
    after = _snapshot(out)
    folders = tuple(f"runs/smoke/{r.spec.name}/" for r in local.results)
    assert {k for k in after if not k.startswith(folders)} == set(before)
    for name, stamp in before.items():
        if not name.startswith("tables/"):
            assert after[name] == stamp, name
    assert _tables(out) == tables
    assert sorted(os.listdir(Path.cwd())) == cwd_before
    assert list(cluster.temp.glob("session_*")), "Ray's session folder is not in its temp dir"


def test_failed_runs_are_reported_and_a_killed_driver_is_resumed(
    cluster: Cluster, smoke_out: Path, tmp_path: Path
) -> None:
    out, root = smoke_out, smoke_out / "runs" / "smoke" / "hopper-medium-replay-v2"
    args = {"preset": "smoke", "algos": ["td3"], "seeds": [1, 2], "launcher": "ray", "jobs": 4}
    # A run with a damaged checkpoint: it fails for a reason of its own, every time.
    damaged = root / "edp_td3" / "seed2"
    damaged.mkdir(parents=True)
    (damaged / "checkpoint.safetensors").write_bytes(b"not a checkpoint")

    # A driver of its own on the cluster, killed once a run finished and another is midway
    # (the grid runs seed by seed: seed 1's runs first).
    code = (
        "from pathlib import Path\nfrom edp_ref.reproduce import reproduce\n"
        f"reproduce('table', 2, out=Path({str(out)!r}), progress=False, **{args!r})\n"
    )
    env = {**_python_env(), "RAY_ADDRESS": cluster.address}
    driver_log = tmp_path / "driver.log"
    with driver_log.open("wb") as sink:
        driver = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=sink, stderr=sink)
    ff1, ff2, edp1 = (
        root / "td3bc" / "seed1",
        root / "td3bc" / "seed2",
        root / "edp_td3" / "seed1",
    )

    def midway() -> bool:
        assert driver.poll() is None, driver_log.read_text()
        log = edp1 / "evaluations.jsonl"
        return (
            (ff1 / "result.json").exists()
            and log.exists()
            and bool(log.read_text().strip())
            and not (edp1 / "result.json").exists()
        )

    try:
        wait_for(midway, "a finished run and another one midway", 240)
        log_at_kill = (edp1 / "evaluations.jsonl").read_text()
    finally:
        workers = _workers_running("edp_ref run ")
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    # Ray ends the tasks of a driver that died (their processes exit: their locks are free).
    wait_for(lambda: all(_ended(pid) for pid in workers), "the dead driver's workers to end", 60)
    assert not (edp1 / "result.json").exists()
    finished = [d for d in (ff1, ff2) if (d / "result.json").exists()]
    stamps = {d: (d / "result.json").stat().st_mtime_ns for d in finished}

    logs: list[str] = []
    with pytest.raises(GridRunError) as caught:
        reproduce("table", 2, out=out, progress=False, log=logs.append, **args)  # type: ignore[arg-type]
    reused = len(finished)
    assert f"grid: 4 run(s), {reused} finished (reused), {4 - reused} to run" in logs
    error = caught.value
    assert [f.spec.name for f in error.failures] == ["hopper-medium-replay-v2/edp_td3/seed2"]
    failure = error.failures[0]
    assert failure.error.startswith("Checkpoint") and "Error" in failure.error
    assert str(damaged / "checkpoint.safetensors") in failure.message
    assert "1 of 4 run(s) failed (3 finished" in str(error)
    assert f"hopper-medium-replay-v2/edp_td3/seed2 ({damaged}" in str(error)
    assert str(error) not in logs  # printed once, by the command that catches it
    assert sorted(r.spec.name for r in error.results) == sorted(
        f"hopper-medium-replay-v2/{a}/seed{s}"
        for a, s in (("td3bc", 1), ("td3bc", 2), ("edp_td3", 1))
    )
    # Finished runs reused as they were; the unfinished one resumed from its checkpoint.
    assert {d: (d / "result.json").stat().st_mtime_ns for d in finished} == stamps
    resumed = (edp1 / "evaluations.jsonl").read_text().splitlines()
    assert resumed[0] == log_at_kill.splitlines()[0]
    assert len(resumed) == len(json.loads((edp1 / "result.json").read_text())["records"])


def test_a_task_relaunched_beside_a_live_one_is_refused_naming_it(
    cluster: Cluster, smoke_out: Path, tmp_path: Path
) -> None:
    """A grid relaunched while a Ray worker of an earlier driver still trains one of its runs:
    the new task is refused (the run folder has one writer), naming the live worker; once that
    worker is gone its lock is taken over."""
    runs, _ = build_grid(experiment("table", 2), PRESETS["smoke"], smoke_out, algos=["td3"])
    spec = dataclasses.replace(runs[0][0], epochs=10_000)  # trains until its driver dies
    run_dir = tmp_path / "run"
    code = (
        "import json\nfrom pathlib import Path\nfrom edp_ref.reproduce.launchers import run_grid"
        "\nfrom edp_ref.runner import RunSpec\n"
        f"spec = RunSpec.from_json(json.loads({json.dumps(spec.to_json())!r}))\n"
        f"run_grid([(spec, Path({str(run_dir)!r}))], launcher='ray', progress=False)\n"
    )
    env = {**_python_env(), "RAY_ADDRESS": cluster.address}
    driver = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE)
    holder_file = run_dir / ".writer.json"
    try:
        wait_for(lambda: holder_file.exists(), "the live task to take its run folder", 240,
                 lambda: _alive(driver))  # fmt: skip
        holder = json.loads(holder_file.read_text())
        assert holder["pid"] in _workers_running(ray_task_name(spec))
        logs: list[str] = []
        with pytest.raises(GridRunError) as caught:
            run_grid([(spec, run_dir)], launcher="ray", progress=False, log=logs.append)
        (failure,) = caught.value.failures
        assert failure.error == "RunLockedError"
        assert failure.message.startswith(
            f"run folder {run_dir} is being written by pid {holder['pid']} on host "
            f"{holder['host']}, started {holder['started']}; one process at a time trains a run"
        )
        _alive(driver)
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    wait_for(lambda: _ended(holder["pid"]), "the live worker to end", 60)
    # Its lock is free again: taken over from the killed worker (or released by a worker that
    # Ray stopped with SIGTERM, which checkpoints first).
    with run_folder_writer(run_dir) as note:
        assert note is None or f"from pid {holder['pid']} " in note


def _ended(pid: int) -> bool:
    """Whether process ``pid`` has exited (gone, or a zombie: its files are closed)."""
    try:
        return "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True


def _alive(process: subprocess.Popen[bytes]) -> None:
    assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""


# -- Without a cluster ----------------------------------------------------------------------------


def test_local_launcher_reports_every_failed_run(smoke_out: Path) -> None:
    """Runs that fail fast: one damaged checkpoint, one folder of another configuration. Both
    are attempted (the first failure stops nothing) and reported by name with their error."""
    runs, _ = build_grid(
        experiment("table", 2), PRESETS["smoke"], smoke_out, algos=["iql"], seeds=[9]
    )
    (ff_spec, ff_dir), (edp_spec, edp_dir) = runs
    ff_dir.mkdir(parents=True)
    (ff_dir / "checkpoint.safetensors").write_bytes(b"\x00" * 10)
    other = RunSpec.from_json({**edp_spec.to_json(), "epochs": 3})
    open_run_folder(edp_dir, configuration_document(other, resolve_config(other)))
    logs: list[str] = []
    with pytest.raises(GridRunError) as caught:
        run_grid(runs, progress=False, log=logs.append)
    error = caught.value
    assert [(f.spec.name, f.error) for f in error.failures] == [
        (ff_spec.name, error.failures[0].error),
        (edp_spec.name, "RunMismatchError"),
    ]
    assert error.failures[0].error.startswith("Checkpoint")
    assert "epochs: stored 3 vs asked 2" in error.failures[1].message
    assert error.results == () and error.total == 2
    assert "2 of 2 run(s) failed" in str(error) and str(error) not in logs


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"launcher": "ray", "cpus_per_run": 0}, r"run_grid: cpus_per_run must be > 0 or None"),
        ({"launcher": "ray", "gpus_per_run": -0.5}, r"run_grid: gpus_per_run must be a finite"),
        ({"launcher": "ray", "gpus_per_run": 1.5}, r"gpus_per_run above 1 must be a whole number"),
        ({"launcher": "ray", "max_retries": -1}, r"run_grid: max_retries must be an int >= 0"),
        ({"gpus_per_run": 0.25}, r"a request to Ray's scheduler; with the local launcher"),
        ({"cpus_per_run": 2.0}, r"a request to Ray's scheduler; with the local launcher"),
    ],
)
def test_run_grid_refuses_bad_resources(
    tmp_path: Path, arguments: dict[str, Any], words: str
) -> None:
    runs = [(RunSpec("hopper-medium-v2", "td3bc", epochs=1), tmp_path / "run")]
    with pytest.raises(ValueError, match=words):
        run_grid(runs, progress=False, log=lambda _: None, **arguments)
    assert not (tmp_path / "run").exists()


@pytest.mark.usefixtures("cluster")
def test_a_run_no_node_can_hold_is_refused_before_any_work(tmp_path: Path) -> None:
    """Ray would wait for ever on a request no node can meet: refused before any dataset."""
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"--cpus-per-run 3 / --gpus-per-run 0: no node of the"):
        reproduce("table", 2, preset="smoke", out=out, launcher="ray", cpus_per_run=3.0)
    assert not out.exists()
