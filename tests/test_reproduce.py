"""scripts/reproduce.py: the smoke preset end to end, table layout, figures, errors, launchers."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from edp_ref.paper import FIGURE2, PAPER_TABLES, paper_table
from edp_ref.reproduce import PRESETS, build_grid, experiment, reproduce, run_grid
from edp_ref.reproduce.figures import read_benchmark
from edp_ref.reproduce.tables import render_table
from edp_ref.runner import (
    EvaluationRecord,
    RunResult,
    RunSpec,
    online_model_selection,
    running_average_at_training,
)

ROOT = Path(__file__).resolve().parents[1]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reproduce", ROOT / "scripts" / "reproduce.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _check_paper_columns(number: int, rows: list[dict[str, str]]) -> None:
    """Every ``paper ...`` cell is the paper's printed value, row by row."""
    table = paper_table(number)
    assert len(rows) == len(table.rows)
    for row, prow in zip(rows, table.rows, strict=True):
        assert row["Dataset"] == prow.label
        for col, value in zip(table.columns, prow.values, strict=True):
            keys = [k for k in row if k.startswith("paper") and k.endswith(f": {col}")]
            assert len(keys) == 1, (col, keys)
            assert row[keys[0]] == ("" if value is None else repr(value))


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, list[str]]:
    """Table 2 with the smoke preset, TD3 only (FF and EDP), in two parallel processes."""
    out = tmp_path_factory.mktemp("reproduce")
    logs: list[str] = []
    output = reproduce(
        "table", 2, preset="smoke", out=out, algos=["td3"], jobs=2, progress=False, log=logs.append
    )
    return out, output, logs


def test_smoke_table2_end_to_end(smoke: tuple[Path, object, list[str]]) -> None:
    out, output, logs = smoke
    task = "hopper-medium-replay-v2"
    assert any(f"generating missing local dataset(s) {task}" in line for line in logs)
    assert any("estimated" in line for line in logs)
    printed: str = output.text  # type: ignore[attr-defined]
    # The printed summary: the rows run only, within 100 columns, the verdict rule stated.
    assert max(len(line) for line in printed.splitlines()) <= 100
    assert "TD3+BC  paper 60.9" in printed and "CRR" not in printed.split("Verdict")[0]
    assert "halfcheetah" not in printed and "Verdict: 'agrees'" in printed
    assert "The smoke preset runs Table 2's TD3 family on hopper-medium-replay only." in printed
    md = (out / "tables" / "table2-smoke.md").read_text()
    assert "| paper RAT: TD3+BC EDP | measured RAT: TD3+BC EDP | measured OMS: TD3+BC EDP |" in md
    assert "200 updates" in md and "0.01% of the paper's updates" in md
    assert "updates 190-200 (the final 5%" in md and "RAT = mean of the 10 evaluations" in md
    assert "```text\n" + printed.split("\nPreset `smoke`")[0].rstrip("\n") in md
    for name in ("table2-smoke-curves.png", "table2-smoke-curves.pdf", "table2-smoke-curves.csv"):
        assert (out / "tables" / name).stat().st_size > 0, name
    rows = _csv((out / "tables" / "table2-smoke.csv").read_text())
    _check_paper_columns(2, rows)
    results: list[RunResult] = list(output.results)  # type: ignore[attr-defined]
    assert {r.spec.algorithm for r in results} == {"td3bc", "edp_td3"}
    for r in results:
        # Evaluations at updates 0 and 100 (sparse), then every update of the last ten (the final
        # 5 %); the table's RAT is the mean of those ten, also the log's last RAT.
        lines = (r.run_dir / "evaluations.jsonl").read_text().splitlines()
        recs = [json.loads(x) for x in lines]
        assert [x["step"] for x in recs] == [0, 100, *range(191, 201)]
        scores = [x["score"] for x in recs]
        assert r.final_rat == pytest.approx(sum(scores[2:]) / 10)
        assert recs[2]["rat"] == pytest.approx(sum(scores[1:3]) / 2)
        assert recs[-1]["rat"] == r.final_rat
        assert recs[-1]["oms"] == max(scores)
    by_label = {"td3bc": "TD3+BC FF", "edp_td3": "TD3+BC EDP"}
    for row in rows:
        measured = {k: v for k, v in row.items() if k.startswith("measured")}
        if row["Dataset"] != task:
            assert all(v == "" for v in measured.values()), row["Dataset"]
            continue
        assert row["data"].startswith("locally generated edp_ref/hopper/medium-replay-v0 (")
        for r in results:
            label = by_label[r.spec.algorithm]
            assert float(row[f"measured RAT: {label}"]) == r.final_rat
            assert float(row[f"measured OMS: {label}"]) == r.final_oms
            assert row[f"measured RAT: {label} (seeds)"] == "1"
        untrained = [k for k in measured if "CRR" in k or "IQL" in k]
        assert untrained and all(row[k] == "" for k in untrained)


def test_second_call_reuses_finished_runs(smoke: tuple[Path, object, list[str]]) -> None:
    out, output, _ = smoke
    logs: list[str] = []
    again = reproduce(
        "table", 2, preset="smoke", out=out, algos=["td3"], progress=False, log=logs.append
    )
    assert any("2 finished (reused), 0 to run" in line for line in logs)
    timing = "Wall time of this command by phase"
    table = output.text.split(timing)[0]  # type: ignore[attr-defined]
    assert again.text.split(timing)[0] == table and timing in again.text
    # Without --algos / --policies the preset's subset runs; with them, the filters decide.
    runs, _ = build_grid(experiment("table", 2), PRESETS["smoke"], out)
    assert sorted({s.algorithm for s, _ in runs}) == ["edp_td3", "td3bc"]
    assert runs[0][0].algorithm == "edp_td3"  # diffusion first: parallel workers end together
    runs, _ = build_grid(experiment("table", 2), PRESETS["smoke"], out, policies=["ff"])
    assert sorted({s.algorithm for s, _ in runs}) == ["gaussian_crr", "gaussian_iql", "td3bc"]


def test_figure_sweep_reuses_the_training_run(smoke: tuple[Path, object, list[str]]) -> None:
    out, _, _ = smoke
    logs: list[str] = []
    fig = reproduce("figure", 6, preset="smoke", out=out, progress=False, log=logs.append)
    assert any("1 finished (reused), 0 to run" in line for line in logs)
    png = out / "figures" / "figure6-smoke.png"
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"
    points = _csv((out / "figures" / "figure6-smoke.csv").read_text())
    assert [float(p["policy scale tau"]) for p in points] == [0.5, 1.0]
    assert "best performance is at tau = 1.0" in fig.text
    curves = reproduce(
        "figure",
        3,
        preset="smoke",
        out=out,
        tasks=["hopper-medium-replay-v2"],
        progress=False,
        log=logs.append,
    )
    assert (out / "figures" / "figure3-smoke.png").exists() and "final RAT" in curves.text
    assert (out / "figures" / "figure3-smoke.pdf").exists()


def _fake(task: str, algorithm: str, seed: int, scores: list[float]) -> RunResult:
    spec = RunSpec(task, algorithm, seed=seed, epochs=len(scores) - 1, eval_every=1)
    epochs = list(range(len(scores)))
    rat, oms = running_average_at_training(scores, epochs), online_model_selection(scores)
    recs = [
        EvaluationRecord(i, i, i * 1000, 10, s, 0.0, s, 0.0, s, rat[i], oms[i])
        for i, s in enumerate(scores)
    ]
    data = {"kind": "D4RL file", "id": task, "transitions": 1, "normalized": True}
    return RunResult(spec, Path("/nonexistent"), recs, data)


def test_rendered_table_keeps_measured_and_paper_numbers_apart() -> None:
    agents = ["edp_td3", "edp_crr", "edp_iql"]
    locomotion = [r.label for r in paper_table(5).task_rows() if r.domain == "locomotion"]
    results = [
        _fake(task, agent, seed, [1.0 + seed, 3.0 + seed, 2.0 + 10 * j])
        for j, agent in enumerate(agents)
        for task in locomotion
        for seed in (0, 1)
    ]
    table = render_table(5, results, PRESETS["paper"], locomotion)
    rows = _csv(table.csv)
    _check_paper_columns(5, rows)
    for row in rows:
        if row["domain"] != "locomotion":
            assert all(v == "" for k, v in row.items() if k.startswith("measured")), row
            continue
        if row["average row"] == "True":
            continue
        # EDP + IQL (j = 2): seed 0 scores 1, 3, 22 and seed 1 scores 2, 4, 22 at epochs 0-2.
        # RAT, the evaluations after epoch 0: (3 + 22) / 2 and (4 + 22) / 2 -> mean 12.75;
        # OMS 22 for both.
        assert float(row["measured RAT: EDP + IQL"]) == pytest.approx(12.75)
        assert float(row["measured RAT: EDP + IQL (std)"]) == pytest.approx(0.25)
        assert float(row["measured OMS: EDP + IQL"]) == 22.0
        # EDP + TD3 (j = 0): seed 0 scores 1, 3, 2 and seed 1 scores 2, 4, 2.
        assert float(row["measured OMS: EDP + TD3"]) == 3.5
    # The locomotion average row is measured because all nine datasets were run.
    avg = next(r for r in rows if r["average row"] == "True" and r["domain"] == "locomotion")
    assert (
        float(avg["measured OMS: EDP + IQL"]) == 22.0 and avg["paper OMS: EDP + IQL Best"] == "84.7"
    )
    # Paper numbers never appear in measured columns and vice versa (headers say which).
    assert all(h.startswith(("paper", "measured", "Dataset", "data")) for h in table.header)
    assert "| hopper-medium-v2 | 81.9 | 98.6 | 2.8 ± 0.2 | 3.5 ± 0.5 |" in table.markdown
    assert set(PAPER_TABLES) == {1, 2, 4, 5, 6, 7}


def test_bad_names_and_missing_benchmark_give_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _script()
    bad_task = ["--table", "2", "--preset", "smoke", "--tasks", "hopper-mediun-v2"]
    with pytest.raises(SystemExit) as caught:
        script.main([*bad_task, "--out", str(tmp_path)])
    assert caught.value.code == 2
    assert "argument --tasks: unknown dataset name 'hopper-mediun-v2'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown algorithm 'td4'"):
        build_grid(experiment("table", 2), PRESETS["smoke"], tmp_path, algos=["td4"])
    with pytest.raises(ValueError, match="table 7 has no row for hopper-medium-v2; its datasets"):
        build_grid(experiment("table", 7), PRESETS["smoke"], tmp_path, tasks=["hopper-medium-v2"])
    with pytest.raises(ValueError, match="unknown preset 'fast'"):
        reproduce("table", 2, preset="fast", out=tmp_path)
    missing = tmp_path / "nothing.json"
    with pytest.raises(SystemExit) as caught:
        script.main(["--figure", "2", "--benchmark", str(missing), "--out", str(tmp_path)])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "argument --benchmark: benchmark JSON" in err and str(missing) in err
    assert "python scripts/benchmark.py" in err
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"results": {"EDP": {"train_ips": 12.5, "sample_sps": 40.0}}}))
    assert script.main(["--figure", "2", "--benchmark", str(bench), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    edp_row = next(line for line in out.splitlines() if line.startswith("| EDP |"))
    paper = FIGURE2["EDP"]
    assert edp_row.startswith(
        f"| EDP | {paper.train_ips:.2f} | 12.50 | {paper.sample_sps:.2f} | 40.00 |"
    )
    assert "| Diffusion-QL | 4.66 |  | 18.67 |  | not measured |" in out
    # scripts/benchmark.py's own schema: eager records mapped to Figure 2's variants.
    doc = {
        "schema": "edp_ref.benchmark/1",
        "machine": {"device": "cpu", "torch_threads": 1, "loadavg_start": [1.0, 1.0, 1.0]},
        "training": [
            {"name": "edp_td3", "mode": "eager", "iterations_per_second": 30.0},
            {"name": "edp_td3", "mode": "compiled", "iterations_per_second": 99.0},
            {"name": "dql_k5", "mode": "eager", "iterations_per_second": 20.0},
        ],
        "sampling": [
            {"sampler": "dpm_solver", "mode": "eager", "candidates": 50, "states": 10,
             "actions_per_second": 70.0},
            {"sampler": "dpm_solver", "mode": "eager", "candidates": 10, "states": 10,
             "actions_per_second": 300.0},
        ],
    }  # fmt: skip
    bench.write_text(json.dumps(doc))
    rows = read_benchmark(bench)
    assert rows["EDP"]["train_ips"] == 30.0 and rows["EDP"]["sample_sps"] == 300.0
    assert rows["EDP w/o AP"]["sample_sps"] == 300.0 and "train_ips" not in rows["EDP w/o AP"]
    assert rows["DQL (JAX)"] == {"train_ips": 20.0, "train_source": "training 'dql_k5' (eager)"}
    assert "Diffusion-QL" not in rows
    assert script.main(["--figure", "2", "--benchmark", str(bench), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| EDP | 116.21 | 30.00 | 411.79 | 300.00 |" in out and "Machine: cpu, 1 torch" in out


def test_ray_launcher_message_without_ray(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    spec = RunSpec("hopper-medium-v2", "td3bc", epochs=1)
    with pytest.raises(RuntimeError, match="pip install ray"):
        run_grid([(spec, tmp_path / "run")], launcher="ray", progress=False, log=lambda _: None)


def test_ray_launcher_runs_the_grid(smoke: tuple[Path, object, list[str]], tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="Ray is optional (pip install ray); not installed here")
    _, output, _ = smoke
    base = next(r for r in output.results if r.spec.algorithm == "td3bc")  # type: ignore[attr-defined]
    spec = RunSpec.from_json({**base.spec.to_json(), "seed": 7, "epochs": 1})
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        results = run_grid(
            [(spec, tmp_path / "ray-run")], launcher="ray", progress=False, log=lambda _: None
        )
    finally:
        ray.shutdown()
    assert len(results) == 1 and len(results[0].records) == 2
    assert (tmp_path / "ray-run" / "result.json").exists()


#: (arguments after ``--table 2 --preset smoke``, words naming the argument and the mistake).
CLI_CASES: list[tuple[list[str], str]] = [
    (["--tasks", "hopper-mediun-v2"], r"argument --tasks: unknown dataset name 'hopper-mediun-v2'"),
    (["--algos", "td4"], r"invalid choice 'td4' for argument '--algos'"),
    (["--policies", "edpp"], r"invalid choice 'edpp' for argument '--policies'"),
    (["--compile", "maybe"], r"invalid choice 'maybe' for argument '--compile'"),
    (["--policies", "diffusion"], r"argument --algos/--policies: table 2 has no agent left"),
    (["--out", "{file}"], r"argument --out: .*a-file is a file, not a folder"),
    (["--launcher", "slurm"], r"invalid choice 'slurm' for argument '--launcher'"),
    (["--table", "3"], r"argument --table: expected one of 1, 2, 4, 5, 6, 7, got 3"),
    (["--eas", "0"], r"argument --eas: expected an integer >= 1, got 0"),
    (["--jobs", "0"], r"argument --jobs: expected an integer >= 1, got 0"),
    (["--threads", "-1"], r"argument --threads: expected an integer >= 1, got -1"),
    (["--seeds", "-3"], r"argument --seeds: expected integers in \[0, 2\*\*32 - 1\], got \[-3\]"),
    (["--seeds"], r"argument --seeds: expected at least one value"),
    (["--algos"], r"argument --algos: expected at least one value"),
    (["--table", "7", "--tasks", "hopper-medium-v2"],
     r"argument --tasks: table 7 has no row for hopper-medium-v2; its datasets: walker2d-medium"),
    (["--algos", "dql"], r"argument --algos/--policies: table 2 has no agent left"),
    (["--preset", "fast"], r"invalid choice 'fast' for argument '--preset'"),
]  # fmt: skip


@pytest.mark.parametrize(("arguments", "words"), CLI_CASES)
def test_reproduce_command_line_mistakes_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], words: str
) -> None:
    from edp_ref.reproduce.cli import main

    (tmp_path / "a-file").write_text("x")
    argv = ["--table", "2", "--preset", "smoke"]
    argv += [a.format(file=tmp_path / "a-file") for a in arguments]
    if "--out" not in arguments:
        argv += ["--out", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert re.search(words, err), err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


FIGURE2_CASES: list[list[str]] = [
    ["--tasks", "hopper-medium-v2"],
    ["--algos", "td3"],
    ["--policies", "edp"],
    ["--seeds", "0", "1"],
    ["--eas", "5"],
]


@pytest.mark.parametrize("arguments", FIGURE2_CASES)
def test_figure2_refuses_run_filters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str]
) -> None:
    """Figure 2 reads the benchmark's JSON and trains nothing: a filter would be dropped."""
    from edp_ref.reproduce.cli import main

    out = tmp_path / "out"
    with pytest.raises(SystemExit) as caught:
        main(["--figure", "2", "--out", str(out), *arguments])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {arguments[0]}: figure 2 trains no run" in err, err
    assert "select nothing" in err and not out.exists()
