"""The dry run of a reproduction (edp_ref.reproduce.cost): the grid, what is finished, the datasets
to prepare and the cost, timed here or read from a benchmark JSON; checked against a measured
smoke run.

The smoke runs are tiny (200 updates of width-64 networks), so their wall time is dominated by
fixed costs the estimate prices only roughly (the start-up measured once per task, the first
calls of each network, checkpoint and log writes) and by the evaluation, whose length the
estimate can only bound (from episodes that end at once to every episode running 1000 steps;
untrained smoke policies fall early). The measured grid must therefore lie within the
estimate's range widened by a factor of 3; the training part alone (updates x the calibrated
time per update), which dominates a paper-scale grid, is checked against the training time the
runs log, within the same factor (the machine is shared, so its load changes between the
calibration and the run).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from edp_ref.reproduce import PRESETS, build_grid, experiment, plan_data, reproduce, run_grid
from edp_ref.reproduce.cost import (
    dry_run_estimate,
    estimate_grid,
    read_progress,
    speeds_from_benchmark,
)
from edp_ref.runner import Checkpoint, RunSpec, save_checkpoint

SMOKE = PRESETS["smoke"]
FACTOR = 3.0


def test_dry_run_lists_the_grid_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    logs: list[str] = []
    dry = reproduce(
        "table",
        2,
        preset="smoke",
        out=out,
        algos=["td3", "crr", "iql"],
        dry_run=True,
        calibration_updates=5,
        log=logs.append,
    )
    text = dry.text
    assert dry.files == () and dry.results == ()
    assert "grid: 6 run(s): 0 finished (reused), 0 to resume, 6 new" in text
    # Per run: evaluations at updates 0 and 100, then each of the last ten (the final stretch).
    assert "updates: 1,200 in all, 1,200 to run; evaluations to run: 72" in text
    data = out.resolve() / "datasets" / "smoke"
    assert (
        "datasets to prepare: generate hopper-medium-replay-v2 (Hopper-v5, SAC for 300 steps, "
        "500 transitions; writes random, medium, medium-replay, expert, medium-expert) into "
        f"{data} (" in text
    )
    for name in ("td3bc", "edp_td3", "gaussian_crr", "edp_crr", "gaussian_iql", "edp_iql"):
        assert f"| {name} | 1 | 1 | 200 | " in text
        assert f"calibrating {name} on hopper-medium-replay-v2: 5 updates" in logs
    assert "calibrated here: 5 updates after 3 warm-up, eager, cpu" in text
    assert "note: start-up is not measured for datasets still to be generated" in text
    assert " device-hours (one run per device or process at a time)" in text
    assert not out.exists()
    figure2 = reproduce("figure", 2, out=out, dry_run=True, benchmark=tmp_path / "none.json")
    assert "Figure 2 trains no run" in figure2.text and not out.exists()


def test_estimate_brackets_a_measured_smoke_run(smoke_out: Path) -> None:
    runs, plans = build_grid(experiment("table", 2), SMOKE, smoke_out, algos=["td3"])
    estimate = dry_run_estimate("table 2 (TD3)", runs, plans, log=lambda _: None)
    assert [p.state for p in estimate.progress] == ["new", "new"]
    assert all(s is not None for s, _, _ in estimate.run_seconds)  # start-up measured: data here
    t0 = time.perf_counter()
    results = run_grid(runs, progress=False, log=lambda _: None)
    measured = time.perf_counter() - t0
    low, high = estimate.low_seconds, estimate.high_seconds
    assert low / FACTOR <= measured <= FACTOR * high, (low, measured, high)
    trained = sum(rec.train_seconds for r in results for rec in r.records)
    priced = sum(t for _, t, _ in estimate.run_seconds)
    assert priced / FACTOR <= trained <= FACTOR * priced, (priced, trained)

    # Finished: nothing left to price, nothing calibrated.
    logs: list[str] = []
    again = dry_run_estimate("table 2 (TD3)", runs, plans, log=logs.append)
    assert again.high_seconds == 0.0 and logs == []
    assert "grid: 2 run(s): 2 finished (reused), 0 to resume, 0 new" in again.text()
    assert "updates: 400 in all, 0 to run; evaluations to run: 0" in again.text()

    # A complete checkpoint without result.json: resumed with nothing left to train.
    result = runs[0][1] / "result.json"
    kept = result.read_bytes()
    result.unlink()
    try:
        progress = read_progress(*runs[0])
        epochs = runs[0][0].epochs
        assert (progress.state, progress.epochs_done, progress.updates_left) == (
            "partial",
            epochs,
            0,
        )
        assert progress.evaluations_left == 0
    finally:
        result.write_bytes(kept)


def _checkpoint(path: Path, spec: RunSpec, epoch: int) -> None:
    checkpoint = Checkpoint(
        state={"x": torch.zeros(1)},
        rng={},
        config=spec.to_json(),
        epoch=epoch,
        step=epoch * spec.iterations_per_epoch,
        records=[],
        state_dim=11,
        action_dim=3,
    )
    save_checkpoint(path, checkpoint)


PROGRESS_CASES: list[tuple[str, dict[str, Any]]] = [
    ("new", {"state": "new", "epochs_done": 0, "updates_left": 500, "evaluations_left": 6}),
    ("finished", {"state": "finished", "updates_left": 0, "evaluations_left": 0}),
    ("partial", {"state": "partial", "epochs_done": 2, "updates_left": 300, "evaluations_left": 3}),
    ("damaged", {"state": "damaged", "updates_left": 500, "evaluations_left": 6}),
]  # fmt: skip


@pytest.mark.parametrize(("folder", "expected"), PROGRESS_CASES)
def test_progress_is_read_from_the_run_folder(
    tmp_path: Path, folder: str, expected: dict[str, Any]
) -> None:
    spec = RunSpec("hopper-medium-v2", "td3bc", epochs=5, iterations_per_epoch=100, eval_every=1)
    run_dir = tmp_path / folder
    run_dir.mkdir()
    if folder == "finished":
        (run_dir / "result.json").write_text("{}")
    elif folder == "partial":
        _checkpoint(run_dir / "checkpoint.safetensors", spec, 2)
    elif folder == "damaged":
        (run_dir / "checkpoint.safetensors").write_bytes(b"\x07 not safetensors")
    progress = read_progress(spec, run_dir)
    for name, value in expected.items():
        assert getattr(progress, name) == value, name
    if folder == "damaged":
        assert str(run_dir / "checkpoint.safetensors") in progress.problem
    assert not (run_dir / "spec.json").exists()  # read only


def _benchmark(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text(
        json.dumps(
            {
                "schema": "edp_ref.benchmark/1",
                "machine": {"device": "cpu", "device_name": None},
                "settings": {"hidden": 256, "layers": 3, "batch_size": 256},
                "training": records,
            }
        )
    )
    return path


RECORDS = [
    {"name": "td3bc", "mode": "eager", "iterations_per_second": 50.0, "num_steps": None},
    {"name": "edp_td3", "mode": "eager", "iterations_per_second": 20.0, "num_steps": 1000},
    {"name": "edp_td3", "mode": "compiled", "iterations_per_second": 99.0, "num_steps": 1000},
]


def test_a_benchmark_json_prices_the_training(smoke_out: Path, tmp_path: Path) -> None:
    bench = _benchmark(tmp_path / "bench.json", RECORDS)
    runs, _ = build_grid(experiment("table", 2), SMOKE, smoke_out, algos=["td3"], seeds=[5])
    speeds, notes = speeds_from_benchmark(bench, runs)
    estimate = estimate_grid("t", runs, [], speeds, notes=notes)
    # 200 updates at 50 and at 20 iterations per second (eager: the runner's mode on the CPU).
    assert estimate.low_seconds == pytest.approx(200 / 50 + 200 / 20)
    assert estimate.high_seconds == estimate.low_seconds  # no acting time in a benchmark
    assert any(
        "width 256 x 3 layers, batch 256; the grid's runs use width [64]" in n for n in notes
    )
    dry = reproduce(
        "table",
        2,
        preset="smoke",
        out=smoke_out,
        algos=["td3"],
        seeds=[5],
        dry_run=True,
        cost_benchmark=bench,
        log=lambda _: None,
    )
    assert (
        "| td3bc | 1 | 1 | 200 | 20 | - | - | 0.00111 | benchmark bench.json: 'td3bc'" in dry.text
    )
    assert "| edp_td3 | 1 | 1 | 200 | 50 | - | - | 0.00278 | benchmark bench.json" in dry.text
    assert "note: a benchmark prices training only" in dry.text
    assert not (smoke_out / "runs" / "smoke" / runs[0][0].name).exists()


BENCHMARK_ERRORS: list[tuple[str | None, type[Exception], str]] = [
    (None, FileNotFoundError, r"benchmark JSON .*missing\.json does not exist"),
    ("{", ValueError, r"benchmark JSON .*bad\.json is not readable JSON"),
    ('{"training": {}}', ValueError, r"bad\.json: no 'training' list"),
    (json.dumps({"training": RECORDS[:1]}), ValueError,
     r"no usable training record for edp_td3 \(record 'edp_td3', eager\)"),
    (json.dumps({"training": [RECORDS[0], {**RECORDS[1], "error": "out of memory"}]}), ValueError,
     r"no usable training record for edp_td3"),
    (json.dumps({"training": [{**RECORDS[0], "iterations_per_second": 0}, RECORDS[1]]}),
     ValueError, r"no usable training record for td3bc \(record 'td3bc', eager\)"),
]  # fmt: skip


@pytest.mark.parametrize(("content", "error", "words"), BENCHMARK_ERRORS)
def test_bad_benchmark_json(
    tmp_path: Path, content: str | None, error: type[Exception], words: str
) -> None:
    runs, _ = build_grid(experiment("table", 2), SMOKE, tmp_path, algos=["td3"])
    path = tmp_path / ("missing.json" if content is None else "bad.json")
    if content is not None:
        path.write_text(content)
    with pytest.raises(error, match=words):
        speeds_from_benchmark(path, runs)


REPRODUCE_CASES: list[tuple[dict[str, Any], str]] = [
    ({"cpus_per_run": 2.0}, r"reproduce: cpus_per_run = 2\.0 is a request to Ray's scheduler"),
    ({"gpus_per_run": 0.25}, r"with the local launcher use jobs and threads"),
    ({"launcher": "ray", "gpus_per_run": 2.5}, r"reproduce: gpus_per_run above 1 must be a whole"),
    ({"launcher": "ray", "max_retries": -1}, r"reproduce: max_retries must be an int >= 0"),
    ({"calibration_updates": 0}, r"reproduce: calibration_updates must be an int >= 1, got 0"),
    ({"launcher": "ray", "device": "cuda"}, r"device 'cuda' but ask Ray for no GPU"),
    ({"launcher": "ray", "gpus_per_run": 0.5}, r"0.5 reserves GPUs for runs on device 'cpu'"),
    ({"device": ""}, r"reproduce: device must be a non-empty str"),
]  # fmt: skip


@pytest.mark.parametrize(("arguments", "words"), REPRODUCE_CASES)
def test_reproduce_refuses_bad_scale_out_arguments_before_any_work(
    tmp_path: Path, arguments: dict[str, Any], words: str
) -> None:
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=words):
        reproduce("table", 2, preset="smoke", out=out, log=lambda _: None, **arguments)
    assert not out.exists()


def test_paper_dry_run_needs_no_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's ``edp-reproduce --table 2 --preset paper --dry-run`` on a machine with no
    data: a kitchen task is listed to download, a locomotion task to generate at D4RL's size."""
    monkeypatch.setenv("D4RL_DATASET_DIR", str(tmp_path / "d4rl"))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    records = [{**r, "mode": "compiled"} for r in RECORDS[:2]]
    dry = reproduce(
        "table",
        2,
        preset="paper",
        out=tmp_path / "out",
        tasks=["kitchen-complete-v0", "hopper-medium-v2"],
        algos=["td3"],
        seeds=[0],
        dry_run=True,
        cost_benchmark=_benchmark(tmp_path / "bench.json", records),
        log=lambda _: None,
    )
    file = "mini_kitchen_microwave_kettle_light_slider-v0.hdf5"
    assert f"datasets to download first: kitchen-complete-v0 ({file} into {tmp_path / 'd4rl'})" in (
        dry.text
    )
    assert "generate hopper-medium-v2 (Hopper-v5, SAC for 1,000,000 steps, 1,000,000" in dry.text
    # priced as ensure_datasets runs it: every kind of hopper not on disk, not only medium
    assert "writes random, medium, medium-replay, expert, medium-expert)" in dry.text
    # The paper's 1000-iteration epochs are compiled runs, priced at the compiled record's speed.
    assert "benchmark bench.json: 'edp_td3' (compiled, cpu)" in dry.text
    assert not (tmp_path / "out").exists()


def test_paper_preset_refuses_a_local_dataset_below_d4rl_size(
    tiny_root: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("D4RL_DATASET_DIR", str(tmp_path / "d4rl"))
    monkeypatch.setenv("MINARI_DATASETS_PATH", tiny_root)
    with pytest.raises(ValueError) as refused:
        plan_data("hopper-medium-v2", PRESETS["paper"], tmp_path)
    message = str(refused.value)
    assert "hopper-medium-v2: the paper preset needs D4RL's sizes" in message
    assert f"edp_ref/hopper/medium-v0 in {tiny_root}" in message
    assert "holds 500 transitions (generated with 500 transitions per dataset" in message
    assert plan_data("hopper-medium-v2", PRESETS["smoke"], tmp_path).source == "local"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ([], "this machine has no CUDA device: the runs train here (--launcher local)"),
        (["--dry-run"], "--dry-run times each run's update on --device here; price the grid"),
    ],
)
def test_device_cuda_without_a_gpu_is_refused_before_any_work(
    tmp_path: Path, extra: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from edp_ref.reproduce.cli import main

    out = tmp_path / "out"
    with pytest.raises(SystemExit) as caught:
        main(["--table", "2", "--preset", "smoke", "--device", "cuda", "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and err.count("error:") == 1, err
    assert "argument --device: 'cuda', but" in err and words in err and not out.exists()
    # The library checks it too, before generating any dataset.
    with pytest.raises(ValueError, match="CUDA is not available"):
        reproduce("table", 2, preset="smoke", out=out, device="cuda", log=lambda _: None)
    assert not out.exists()
