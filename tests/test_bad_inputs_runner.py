"""Bad input to the runner: run specs, evaluation settings, evaluation records, checkpoints,
grid filters and reproduce's arguments. One row per kind of bad input; each asserts the error
type and the words that name the field or file, the value and what is expected.

The run-folder cases that need a trained run (damaged result.json, edited logs, a SIGKILL then
an edited checkpoint) are in tests/test_runner.py, beside its tiny dataset.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from edp_ref.algorithms.catalog.edp_td3 import EDPTD3Config
from edp_ref.reproduce import PRESETS, build_grid, experiment, reproduce, run_grid
from edp_ref.reproduce.figures import read_benchmark
from edp_ref.reproduce.reproduction import _cached_point
from edp_ref.runner import (
    Checkpoint,
    CheckpointCorruptError,
    CheckpointFormatError,
    EvaluationRecord,
    RunFolderError,
    RunSpec,
    evaluation_epochs,
    load_checkpoint,
    save_checkpoint,
)
from tests.error_kinds import assert_error_kind

ROOT = Path(__file__).resolve().parents[1]
BASE = {"task": "hopper-medium-v2", "algorithm": "edp_td3"}

# -- RunSpec -----------------------------------------------------------------------------------

#: (field, bad value, error type, words of the message).
RUN_SPEC_CASES: list[tuple[str, object, type[Exception], str]] = [
    ("final_eval_every", 0, ValueError, r"RunSpec\.final_eval_every must be an int >= 1 or None"),
    ("final_eval_every", 64.0, TypeError, r"RunSpec\.final_eval_every .* got 64\.0 \(float\)"),
    ("epochs", "2", TypeError, r"RunSpec\.epochs must be an int >= 1, got '2' \(str\)"),
    ("epochs", 1.5, TypeError, r"RunSpec\.epochs must be an int >= 1, got 1\.5 \(float\)"),
    ("epochs", 0, ValueError, r"RunSpec\.epochs must be an int >= 1, got 0"),
    ("epochs", True, TypeError, r"RunSpec\.epochs must be an int >= 1, got True \(bool\)"),
    ("seed", "zero", TypeError, r"RunSpec\.seed must be an int in \[0, 4294967295\], got 'zero'"),
    ("seed", -1, ValueError, r"RunSpec\.seed must be an int in \[0, 4294967295\], got -1"),
    ("seed", 2**32, ValueError, r"RunSpec\.seed must be an int in \[0, 4294967295\], got 42949"),
    ("seed", False, TypeError, r"RunSpec\.seed .* got False \(bool\)"),
    ("iterations_per_epoch", None, TypeError, r"RunSpec\.iterations_per_epoch .* got None"),
    ("batch_size", 0, ValueError, r"RunSpec\.batch_size must be an int >= 1, got 0"),
    ("eval_every", -10, ValueError, r"RunSpec\.eval_every must be an int >= 1, got -10"),
    ("eval_episodes", True, TypeError, r"RunSpec\.eval_episodes .* got True \(bool\)"),
    ("eas_candidates", 0, ValueError, r"RunSpec\.eas_candidates must be an int >= 1, got 0"),
    ("eval_envs", 2.0, TypeError, r"RunSpec\.eval_envs must be an int >= 1, got 2\.0"),
    ("data_source", "hdf5", ValueError,
     r"RunSpec\.data_source must be one of 'auto', 'd4rl', 'minari', 'local', got 'hdf5'"),
    ("data_source", None, TypeError, r"RunSpec\.data_source must be one of .* got None"),
    ("compile", "maybe", ValueError, r"RunSpec\.compile must be one of 'auto', 'on', 'off'"),
    ("compile", 5, TypeError, r"RunSpec\.compile must be one of .* got 5 \(int\)"),
    ("local_root", "", ValueError, r"RunSpec\.local_root must be a non-empty str or None"),
    ("local_root", Path("/tmp"), TypeError, r"RunSpec\.local_root .* \(PosixPath\)"),
    ("task", 3, TypeError, r"RunSpec\.task must be a non-empty str, got 3 \(int\)"),
    ("task", "hopper-mediun-v2", ValueError,
     r"RunSpec\.task: unknown dataset name 'hopper-mediun-v2'"),
    ("algorithm", "td4", ValueError, r"RunSpec\.algorithm: unknown algorithm 'td4'; registered"),
    ("config", {"alpha": 2.0}, TypeError, r"RunSpec\.config must be a EDPTD3Config"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "value", "error", "words"), RUN_SPEC_CASES)
def test_run_spec_field_errors(
    name: str, value: object, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words) as caught:
        RunSpec(**{**BASE, name: value})  # type: ignore[arg-type]
    assert_error_kind(caught.type, error)
    assert caught.value.field == name  # type: ignore[attr-defined]  # edp-train names the option
    if name != "config":  # the same through the JSON a run folder stores
        with pytest.raises(error, match=words):
            RunSpec.from_json({**RunSpec(**BASE).to_json(), name: value})


@pytest.mark.parametrize(
    ("data", "error", "words"),
    [
        ({**BASE, "sed": 1}, ValueError, r"unknown field\(s\) \['sed'\], missing field\(s\) \[\]"),
        ({"algorithm": "edp_td3"}, ValueError, r"missing field\(s\) \['task'\]"),
        ([1, 2], TypeError, r"RunSpec\.from_json: expected a JSON object, got list"),
    ],
)
def test_run_spec_json_errors(data: object, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        RunSpec.from_json(data)  # type: ignore[arg-type]


def test_valid_run_spec_round_trips() -> None:
    spec = RunSpec(**BASE, seed=2**32 - 1, local_root="/data", config=EDPTD3Config(alpha=3.0))
    assert RunSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec


# -- Evaluation records and epochs -------------------------------------------------------------

GOOD_RECORD: dict[str, Any] = EvaluationRecord(
    0, 0, 0, 2, 10.0, 1.0, 5.0, 0.5, 5.0, 5.0, 5.0
).to_json()

RECORD_CASES: list[tuple[object, type[Exception], str]] = [
    ("score", TypeError, r"EvaluationRecord: expected a JSON object, got 'score'"),
    ({k: v for k, v in GOOD_RECORD.items() if k != "rat"}, ValueError,
     r"missing field\(s\) \['rat'\], unknown field\(s\) \[\]"),
    ({**GOOD_RECORD, "bonus": 1}, ValueError, r"unknown field\(s\) \['bonus'\]"),
    ({**GOOD_RECORD, "score": "high"}, TypeError,
     r"EvaluationRecord\.score must be a finite number, got 'high'"),
    ({**GOOD_RECORD, "oms": math.inf}, ValueError, r"EvaluationRecord\.oms .* got inf"),
    ({**GOOD_RECORD, "index": -1}, ValueError, r"EvaluationRecord\.index must be an int >= 0"),
    ({**GOOD_RECORD, "step": 1.0}, TypeError, r"EvaluationRecord\.step .* got 1\.0 \(float\)"),
    ({**GOOD_RECORD, "episodes": 0}, ValueError, r"EvaluationRecord\.episodes .* got 0"),
    ({**GOOD_RECORD, "losses": [1.0]}, TypeError, r"EvaluationRecord\.losses must map names"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "error", "words"), RECORD_CASES)
def test_evaluation_record_errors(data: object, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words) as caught:
        EvaluationRecord.from_json(data)
    assert_error_kind(caught.type, error)


def test_std_is_finite() -> None:
    # The population std over the episodes (0 for one episode): a NaN is a damaged record.
    with pytest.raises(ValueError, match=r"EvaluationRecord\.return_std .* got nan"):
        EvaluationRecord.from_json({**GOOD_RECORD, "return_std": math.nan})


def test_evaluation_epochs_errors() -> None:
    with pytest.raises(ValueError, match=r"evaluation_epochs: eval_every must be an int >= 1"):
        evaluation_epochs(10, 0)
    # A wrong type to a function: under pytest, jaxtyping's import hook checks the annotation
    # first, also naming the parameter and the value; outside pytest the function's own check.
    with pytest.raises(TypeError, match=r"(?s)epochs.* 2\.0"):
        evaluation_epochs(2.0, 1)  # type: ignore[arg-type]


# -- Checkpoints: one checksum seals tensors and metadata -------------------------------------


def _checkpoint(path: Path) -> None:
    records = [GOOD_RECORD, {**GOOD_RECORD, "index": 1, "epoch": 1, "step": 10}]
    checkpoint = Checkpoint(
        state={"w": torch.arange(6.0).reshape(2, 3)},
        rng={"batches": torch.Generator().manual_seed(0).get_state()},
        config={**BASE, "seed": 0},
        epoch=1,
        step=10,
        records=records,
        state_dim=3,
        action_dim=2,
    )
    save_checkpoint(path, checkpoint)


def _rewrite(path: Path, edit: Callable[[dict[str, str]], None]) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(path), framework="pt") as f:  # type: ignore[no-untyped-call]
        meta = dict(f.metadata())
    tensors = load_file(str(path))
    edit(meta)
    save_file(tensors, str(path), metadata=meta)


def _set(key: str, value: str) -> Callable[[dict[str, str]], None]:
    return lambda meta: meta.__setitem__(key, value)


def _drop_record(meta: dict[str, str]) -> None:
    records = json.loads(meta["records"])[:-1]
    meta.update(records=json.dumps(records), num_records=str(len(records)), epoch="0")


def _edit_score(meta: dict[str, str]) -> None:
    records = json.loads(meta["records"])
    records[1]["score"] = 99.0
    meta["records"] = json.dumps(records)


SEALED = "the SHA-256 of its tensors and metadata .* was damaged or edited"
CHECKPOINT_CASES: list[tuple[str, Callable[[dict[str, str]], None], type[Exception], str]] = [
    ("score edited", _edit_score, CheckpointCorruptError, SEALED),
    ("evaluation dropped", _drop_record, CheckpointCorruptError, SEALED),
    ("epoch edited", _set("epoch", "7"), CheckpointCorruptError, SEALED),
    ("step edited", _set("step", "0"), CheckpointCorruptError, SEALED),
    ("config edited", _set("config", json.dumps({**BASE, "seed": 3})), CheckpointCorruptError,
     SEALED),
    ("key added", _set("note", "hello"), CheckpointCorruptError, SEALED),
    ("checksum removed", lambda meta: meta.pop("sha256"), CheckpointCorruptError, SEALED),
    ("format 1", _set("format", "edp_ref.runner.checkpoint/1"), CheckpointFormatError,
     r"is of an older format \('edp_ref\.runner\.checkpoint/1'; this version reads "
     r"'edp_ref\.runner\.checkpoint/4'.*Delete the run folder to train the run again"),
    ("foreign format", _set("format", "other/3"), CheckpointCorruptError,
     r"is not an edp_ref runner checkpoint \(format 'other/3'"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "edit", "error", "words"), CHECKPOINT_CASES)
def test_edited_checkpoint_metadata_is_refused(
    tmp_path: Path,
    case: str,
    edit: Callable[[dict[str, str]], None],
    error: type[Exception],
    words: str,
) -> None:
    path = tmp_path / "checkpoint.safetensors"
    _checkpoint(path)
    assert load_checkpoint(path).records[1]["index"] == 1  # intact: loads
    _rewrite(path, edit)
    with pytest.raises(error, match=words) as caught:
        load_checkpoint(path)
    assert_error_kind(caught.type, error)
    assert str(path) in str(caught.value)


# -- Grids and reproduce's arguments: refused before any work --------------------------------

SMOKE = PRESETS["smoke"]

GRID_CASES: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"eas_candidates": 0}, ValueError, r"build_grid: eas_candidates must be an int >= 1 or None"),
    ({"seeds": [-1]}, ValueError, r"build_grid: seed must be an int in \[0, 4294967295\], got -1"),
    ({"seeds": [True]}, TypeError, r"build_grid: seed .* got True \(bool\)"),
    ({"seeds": []}, ValueError, r"build_grid: seeds is empty, so the grid would hold no run"),
    ({"tasks": []}, ValueError, r"build_grid: tasks is empty"),
    ({"tasks": "hopper-medium-v2"}, TypeError, r"build_grid: tasks must be a list or None"),
    ({"algos": []}, ValueError, r"build_grid: algos is empty"),
    ({"policies": ["diffusion"]}, ValueError, r"table 2 has no agent left after the filters"),
    ({"algos": ["td4"]}, ValueError, r"unknown algorithm 'td4'"),
]  # fmt: skip


@pytest.mark.parametrize(("filters", "error", "words"), GRID_CASES)
def test_grid_filters_selecting_nothing_or_bad_values(
    tmp_path: Path, filters: dict[str, Any], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words) as caught:
        build_grid(experiment("table", 2), SMOKE, tmp_path / "out", **filters)
    assert_error_kind(caught.type, error)
    assert not (tmp_path / "out").exists()


def test_eas_override_is_used_not_replaced(tmp_path: Path) -> None:
    runs, _ = build_grid(experiment("table", 2), SMOKE, tmp_path, algos=["td3"], eas_candidates=1)
    assert runs and {spec.eas_candidates for spec, _ in runs} == {1}


REPRODUCE_CASES: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"jobs": 0}, ValueError, r"reproduce: jobs must be an int >= 1, got 0"),
    ({"jobs": 2.0}, TypeError, r"(?s)jobs.* 2\.0"),  # see test_evaluation_epochs_errors
    ({"threads": 0}, ValueError, r"reproduce: threads must be an int >= 1, got 0"),
    ({"eas_candidates": 0}, ValueError, r"reproduce: eas_candidates must be an int >= 1 or None"),
    ({"launcher": "slurm"}, ValueError, r"reproduce: launcher must be one of 'local', 'ray'"),
    ({"preset": "fast"}, ValueError, r"unknown preset 'fast'; presets: paper, quick, smoke"),
    ({"seeds": [-3]}, ValueError, r"seed must be an int in \[0, 4294967295\], got -3"),
    ({"tasks": []}, ValueError, r"tasks is empty"),
    ({"policies": ["ff"], "number": 5}, ValueError, r"table 5 has no agent left"),
    ({"kind": "plot"}, ValueError, r"reproduce: kind must be one of 'table', 'figure'"),
    ({"number": 3}, ValueError, r"table 3"),
]  # fmt: skip


@pytest.mark.parametrize(("arguments", "error", "words"), REPRODUCE_CASES)
def test_reproduce_refuses_bad_arguments_before_any_work(
    tmp_path: Path, arguments: dict[str, Any], error: type[Exception], words: str
) -> None:
    call = {"kind": "table", "number": 2, "preset": "smoke", **arguments}
    out = tmp_path / "out"
    with pytest.raises(error, match=words) as caught:
        reproduce(out=out, progress=False, log=lambda _: None, **call)
    assert issubclass(caught.type, error)  # jaxtyping's TypeCheckError is a TypeError
    assert not out.exists()


def test_run_grid_refuses_bad_arguments(tmp_path: Path) -> None:
    runs = [(RunSpec(**BASE, epochs=1), tmp_path / "run")]
    for kwargs, words in (
        ({"jobs": 0}, r"run_grid: jobs must be an int >= 1, got 0"),
        ({"threads": -1}, r"run_grid: threads must be an int >= 1, got -1"),
        ({"launcher": "slurm"}, r"run_grid: unknown launcher 'slurm'"),
    ):
        with pytest.raises(ValueError, match=words):
            run_grid(runs, progress=False, log=lambda _: None, **kwargs)
    with pytest.raises(ValueError, match="run_grid: the grid holds no run"):
        run_grid([], progress=False, log=lambda _: None)
    assert not (tmp_path / "run").exists()


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reproduce", ROOT / "scripts" / "reproduce.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCRIPT_CASES: list[tuple[list[str], str]] = [
    (["--jobs", "0"], r"argument --jobs: expected an integer >= 1, got 0"),
    (["--jobs", "two"], r"Error parsing --jobs: invalid literal for int\(\) .* 'two'"),
    (["--threads", "0"], r"argument --threads: expected an integer >= 1, got 0"),
    (["--eas", "0"], r"argument --eas: expected an integer >= 1, got 0"),
    (["--seeds", "0", "-1"], r"argument --seeds: expected integers in \[0, 2\*\*32 - 1\]"),
    (["--preset", "fast"], r"invalid choice 'fast' for argument '--preset'"),
    (["--device", "gpu0"], r"argument --device: not a torch device"),
    (["--launcher", "ray", "--device", "cuda"], r"--gpus-per-run: .*'cuda' but ask Ray for no GPU"),
    (["--launcher", "ray", "--gpus-per-run", "0.5"], r"--gpus-per-run: .*0\.5 reserves GPUs for"),
    (["--gpus-per-run", "0.5"], r"argument --gpus-per-run: .* a request to Ray's scheduler"),
    (["--launcher", "ray", "--cpus-per-run", "0"], r"--cpus-per-run: .*must be > 0 or None, got 0"),
    (["--launcher", "ray", "--max-retries", "-1"], r"--max-retries: .*must be an int >= 0, got -1"),
    (["--cost-benchmark", "x.json"], r"argument --cost-benchmark: only used with --dry-run"),
]  # fmt: skip


@pytest.mark.parametrize(("arguments", "words"), SCRIPT_CASES)
def test_script_refuses_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], words: str
) -> None:
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as caught:
        _script().main(["--table", "2", "--preset", "smoke", "--out", str(out), *arguments])
    assert caught.value.code == 2
    assert re.search(words, capsys.readouterr().err)
    assert not out.exists()


def test_script_reports_errors_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as caught:
        _script().main(["--table", "5", "--policies", "ff", "--out", str(out)])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "edp-reproduce: error: argument --algos/--policies: table 5 has no agent left" in err
    assert "Traceback" not in err
    assert not out.exists()


# -- Damaged files read by the reproduction ----------------------------------------------------


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"{", r"is damaged: not valid JSON .*delete it to have the point evaluated again"),
        (b"[]", r"is damaged: no numeric 'score'"),
        (b'{"score": "high"}', r"is damaged: no numeric 'score'"),
        (b'{"score": NaN}', r"is damaged: its score is nan"),
    ],
)
def test_damaged_sweep_cache(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "figure4-1-ep2.json"
    path.write_bytes(content)
    with pytest.raises(RunFolderError, match=words) as caught:
        _cached_point(path)
    assert str(path) in str(caught.value)


def test_damaged_benchmark_json(tmp_path: Path) -> None:
    path = tmp_path / "benchmark.json"
    path.write_text('{"schema": "edp_ref.benchmark/1", ')
    with pytest.raises(ValueError, match=r"benchmark\.json is not readable JSON .*benchmark\.py"):
        read_benchmark(path)


def test_dataclass_replace_is_validated_too() -> None:
    # dataclasses.replace builds a new object: the checks run again.
    with pytest.raises(ValueError, match=r"RunSpec\.eval_every must be an int >= 1, got 0"):
        dataclasses.replace(RunSpec(**BASE), eval_every=0)
