"""The speed benchmark (edp_ref.benchmark, scripts/benchmark.py; Fig. 2 and App. C.5) runs end to
end on a tiny configuration and writes the documented JSON; its training cases cover the
algorithm registry; its command line rejects bad arguments before any work. No timing is
asserted."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from edp_ref import benchmark
from edp_ref.algorithms import REGISTRY, DiffusionAlgorithmConfig
from edp_ref.benchmark import cli
from edp_ref.benchmark import run as benchmark_run
from edp_ref.benchmark.settings import BenchmarkSettings
from edp_ref.benchmark.training import CHAIN_ALGORITHM, extrapolate_dql, training_cases
from edp_ref.paper import FIGURE2

ROOT = Path(__file__).resolve().parents[1]

TOP_KEYS = {
    "schema",
    "created",
    "elapsed_seconds",
    "machine",
    "settings",
    "matmul",
    "training",
    "sampling",
    "sampling_paper",
    "multiseed",
    "memory",
    "profile",
    "targets",
}
TRAINING_KEYS = {
    "name",
    "label",
    "mode",
    "num_steps",
    "iterations",
    "seconds_per_iteration",
    "iterations_per_second",
    "extrapolated",
    "note",
    "flops_per_iteration",
    "flops_per_second",
    "fraction_of_matmul_rate",
    "ratio_to_edp_td3",
    "paper",
    "loadavg",
    "compile_seconds",
    "error",
}
SAMPLING_KEYS = {
    "sampler",
    "model_calls",
    "candidates",
    "states",
    "mode",
    "calls",
    "seconds_per_call",
    "actions_per_second",
    "ratio_dpm_to_ddpm",
    "loadavg",
    "error",
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    spec = importlib.util.spec_from_file_location("benchmark_script", ROOT / "scripts/benchmark.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path_factory.mktemp("bench") / "nested" / "benchmark.json"
    threads = torch.get_num_threads()
    try:
        assert script.main(["--tiny", "--threads", "1", "--output", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    return json.loads(out.read_text()), out.read_text()


def test_tiny_benchmark_writes_the_documented_json(tiny_run: tuple[dict[str, Any], str]) -> None:
    result, _ = tiny_run
    assert set(result) == TOP_KEYS
    assert result["schema"] == benchmark.SCHEMA
    assert result["settings"]["preset"] == "tiny"
    machine = result["machine"]
    assert machine["torch_threads"] == 1 and len(machine["loadavg_start"]) == 3
    assert result["matmul"]["flops_per_second"] > 0
    names = {r["name"] for r in result["training"]}
    registered = set(REGISTRY) - {CHAIN_ALGORITHM}
    assert names == registered | {f"{CHAIN_ALGORITHM}_k{k}" for k in (5, 10, 40)}
    for r in result["training"]:
        assert set(r) == TRAINING_KEYS, r["name"]
        assert r["error"] is None, r
        assert r["iterations_per_second"] > 0 and math.isfinite(r["iterations_per_second"])
        assert r["flops_per_iteration"] > 0
    edp = next(r for r in result["training"] if r["name"] == "edp_td3")
    assert edp["ratio_to_edp_td3"] == pytest.approx(1.0)
    assert [p["ips"] for p in edp["paper"]] == [116.21, 412.0]
    assert [p["source"] for p in edp["paper"]] == ["Fig. 2", "App. C.5"]
    dql5 = next(r for r in result["training"] if r["name"] == "dql_k5")
    assert [p["ips"] for p in dql5["paper"]] == [22.30]  # DQL (JAX) only, as in Figure 2's bars
    td3bc = next(r for r in result["training"] if r["name"] == "td3bc")
    assert td3bc["paper"] == [
        {"label": "TD3+BC", "ips": 689.0, "ratio_to_edp": round(689 / 412, 4), "source": "App. C.5"}
    ]
    longest = next(r for r in result["training"] if r["name"] == "dql_k40")
    assert longest["extrapolated"] and "extrapolated" in longest["note"]
    for r in result["sampling"]:
        assert set(r) == SAMPLING_KEYS
        assert r["error"] is None and r["actions_per_second"] > 0
    assert {r["sampler"] for r in result["sampling"]} == {"dpm_solver", "ddpm"}
    ms = result["multiseed"]
    assert ms["error"] is None and ms["seeds"] == 2 and ms["speedup_vmap"] > 0
    assert ms["faster_path"] in {"sequential", "vmap"}
    mem = result["memory"]
    assert mem["error"] is None and mem["peak_rss_bytes"] >= mem["baseline_rss_bytes"] > 0
    assert mem["transitions"] == 1000
    assert result["profile"]["dpm_plan_builds"] == 0
    for t in result["targets"]:
        assert set(t) == {"name", "value", "threshold", "met", "note"}


def test_report_prints_paper_figures_only_in_paper_columns(
    tiny_run: tuple[dict[str, Any], str],
) -> None:
    result, _ = tiny_run
    report = benchmark.format_report(result)
    assert "paper IPS" in report and "116.21 / 412" in report and "689" in report
    assert "Targets (FLOP rate" in report and "issue" not in report.lower()
    assert result["sampling_paper"]["steps_per_second"] == {
        label: f.sample_sps for label, f in FIGURE2.items()
    }


def test_dql_extrapolation_is_affine_in_k() -> None:
    def rec(k: int, sec: float, flops: int) -> dict[str, Any]:
        return {
            "name": f"dql_k{k}",
            "mode": "eager",
            "num_steps": k,
            "seconds_per_iteration": sec,
            "flops_per_iteration": flops,
            "extrapolated": False,
        }

    est = extrapolate_dql([rec(5, 0.1, 50), rec(100, 1.05, 1000)], 1000, "eager")
    assert est is not None
    assert est["seconds_per_iteration"] == pytest.approx(10.05)
    assert est["flops_per_iteration"] == 10000
    assert extrapolate_dql([rec(5, 0.1, 50)], 1000, "eager") is None


@pytest.mark.parametrize("make", [BenchmarkSettings.tiny, BenchmarkSettings.full])
def test_every_registered_algorithm_is_a_training_case(
    make: Any,
) -> None:
    settings = make()
    cases = training_cases(settings)
    assert {c.spec.name for c in cases} == set(REGISTRY)
    chain = [c for c in cases if c.spec.name == CHAIN_ALGORITHM]
    assert [c.num_steps for c in chain] == list(settings.dql_steps)
    assert [c.name for c in chain] == [f"dql_k{k}" for k in settings.dql_steps]
    for case in cases:
        assert isinstance(case.config, REGISTRY[case.spec.name].config_class), case.name
        net = case.config.network
        assert (net.hidden, net.layers) == (settings.hidden, settings.layers), case.name
        assert case.config.check_batch is False and case.config.compile is False
        if isinstance(case.config, DiffusionAlgorithmConfig):
            assert case.config.diffusion.num_steps == case.num_steps, case.name
            if case not in chain:
                assert case.num_steps == settings.num_steps
        else:
            assert case.num_steps is None, case.name
    # Diffusion-QL keeps its own schedule (vp) at every K; EDP keeps the linear one.
    assert {c.config.diffusion.schedule for c in chain} == {"vp"}
    edp = next(c for c in cases if c.name == "edp_td3")
    assert edp.config.diffusion.schedule == "linear"


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--preset", "huge"], "--preset"),
        (["--device", "gpu"], "--device"),
        (["--device", "cuda:x"], "--device"),
        (["--threads", "0"], "--threads"),
        (["--threads", "two"], "--threads"),
        (["--seeds", "-1"], "--seeds"),
        (["--warmup", "-1"], "--warmup"),
        (["--min-iterations", "-3"], "--min-iterations"),
        (["--max-iterations", "0"], "--max-iterations"),
        (["--min-seconds", "-0.5"], "--min-seconds"),
        (["--max-seconds", "nan"], "--max-seconds"),
        (["--max-seconds", "0"], "--max-seconds"),
        (["--tiny", "--min-iterations", "10"], "--min-iterations"),
        (["--min-seconds", "9", "--max-seconds", "2"], "--min-seconds / --max-seconds"),
        (["--tiny", "--quick"], "--quick"),
    ],
)
def test_bad_arguments_are_usage_errors_before_any_work(
    argv: list[str], named: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the benchmark ran despite a bad argument")

    monkeypatch.setattr(benchmark_run, "run_benchmark", no_run)
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err, err


def test_bad_output_path_and_missing_cuda_are_usage_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(benchmark_run, "run_benchmark", lambda *a, **k: pytest.fail("ran"))
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    cases = [
        (["--output", str(tmp_path)], "is a folder"),
        (["--output", f"{a_file}/x.json"], "is a file"),
    ]
    if not torch.cuda.is_available():
        cases.append((["--device", "cuda"], "CUDA is not available"))
    for argv, words in cases:
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert f"argument {argv[0]}" in err and words in err, err


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"threads": 0}, "BenchmarkSettings.threads must be > 0, got 0"),
        ({"dql_steps": ()}, "BenchmarkSettings.dql_steps = ()"),
        ({"candidates": (0, 2)}, "BenchmarkSettings.candidates = (0, 2)"),
        ({"modes": ("lazy",)}, "modes"),
        ({"device": "gpu"}, "BenchmarkSettings.device = 'gpu'"),
        ({"preset": "huge"}, "preset"),
        ({"min_iterations": 9, "max_iterations": 3}, "max_iterations = 3"),
    ],
)
def test_settings_reject_bad_fields(changes: dict[str, Any], words: str) -> None:
    # A value outside a Literal: under pytest jaxtyping's TypeCheckError (a TypeError) fires
    # first; without the import hook __post_init__ raises ConfigError (a ValueError).
    with pytest.raises((ValueError, TypeError)) as exc:
        BenchmarkSettings.tiny(**changes)
    assert words in str(exc.value)


def test_unknown_compile_name_is_refused_before_any_measurement() -> None:
    settings = BenchmarkSettings.tiny(compile_names=("edp_td3", "iql"))
    with pytest.raises(ValueError, match=r"compile_names.*\['iql'\].*gaussian_iql"):
        benchmark.run_benchmark(settings)
