"""The local D4RL-protocol generation (edp_ref.generation, scripts/make_datasets.py): a whole
small-preset run through the script, configuration errors naming the field, command-line
mistakes refused with a usage error naming the argument before any work, the training
checkpoint (other settings, inconsistent contents), the snapshot choice, and the per-budget
quality read from one checkpoint."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from edp_ref.compilation import shape_checks_disabled
from edp_ref.config_checks import ConfigError
from edp_ref.data import load_minari
from edp_ref.generation import GenerationConfig, choose_snapshots, generate, small_preset
from edp_ref.generation.checkpoint import read_checkpoint
from edp_ref.generation.quality import (
    budget_quality,
    replay_episode_returns,
    snapshot_evaluations,
)
from edp_ref.generation.training import train_behaviour


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_datasets", Path(__file__).parents[1] / "scripts" / "make_datasets.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


# -- A whole run -------------------------------------------------------------------------------


def test_generation_small_preset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    script = load_script()
    work = tmp_path / "work"
    argv = [
        "--env",
        "invertedpendulum",
        "--preset",
        "small",
        "--work-dir",
        str(work),
        "--no-progress",
    ]
    written = script.generate_datasets(argv)["invertedpendulum"]
    out = capsys.readouterr().out
    assert "estimated" in out and "per update" in out
    assert set(written) == {"random", "medium", "medium-replay", "expert", "medium-expert"}
    record = json.loads((work / "invertedpendulum-seed0" / "generation.json").read_text())
    assert record["seeds"]["training"] == 0 and record["config"]["train_steps"] == 300
    assert [s for s, _ in record["evaluations"]] == [100, 200, 300]
    assert len(record["evaluation_seconds"]) == 3
    assert record["evaluation_seconds"] == sorted(record["evaluation_seconds"])
    best = max(r for _, r in record["evaluations"])
    assert dict(record["evaluations"])[record["expert_step"]] == best
    sizes = {}
    for kind, dataset_id in written.items():
        ds = load_minari(dataset_id)
        sizes[kind] = len(ds)
        assert ds.ref_min_score == pytest.approx(record["ref_min_score"])
        assert ds.ref_max_score == pytest.approx(record["ref_max_score"])
        assert ds.env_id == "InvertedPendulum-v5"
        assert float(ds.actions.abs().max()) <= 3.0
    assert sizes["random"] == sizes["medium"] == sizes["expert"] == 500
    assert sizes["medium-expert"] == 1000
    assert sizes["medium-replay"] == record["medium_step"]
    assert os.path.exists(work / "invertedpendulum-seed0" / "train.pt")
    # Existing datasets are refused before any work unless --force; resuming a finished run
    # does not train again and gives the same medium step.
    with pytest.raises(FileExistsError, match=r"edp_ref/invertedpendulum/random-v0 at .*force"):
        script.generate_datasets(argv)
    script.generate_datasets([*argv, "--force", "--kinds", "medium-replay"])
    assert len(load_minari(written["medium-replay"])) == record["medium_step"]


def test_existing_dataset_refused_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    (tmp_path / "minari" / "edp_ref" / "invertedpendulum" / "expert-v0").mkdir(parents=True)
    config = dataclasses.replace(small_preset(), kinds=("medium", "expert"))
    with pytest.raises(FileExistsError, match=r"edp_ref/invertedpendulum/expert-v0 at "):
        generate(config, str(tmp_path / "work"), progress=False)
    assert not (tmp_path / "work").exists()  # no training was started


# -- GenerationConfig validation ---------------------------------------------------------------

CONFIG_ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"env": "ant"}, r"GenerationConfig\.env must be one of 'halfcheetah', .*got 'ant'"),
    ({"size": 0}, r"GenerationConfig\.size must be >= 1, got 0"),
    ({"size": 2.5}, r"GenerationConfig\.size must be an int, got 2\.5 \(float\)"),
    ({"size": True}, r"GenerationConfig\.size must be an int, got True \(bool\)"),
    ({"train_steps": -3}, r"GenerationConfig\.train_steps must be >= 1, got -3"),
    ({"start_steps": -1}, r"GenerationConfig\.start_steps must be >= 0, got -1"),
    (
        {"start_steps": 300},
        r"GenerationConfig\.start_steps must be < train_steps = 300, got 300",
    ),
    ({"batch_size": 0}, r"GenerationConfig\.batch_size must be >= 1, got 0"),
    ({"eval_every": 0}, r"GenerationConfig\.eval_every must be >= 1, got 0"),
    ({"eval_episodes": 0}, r"GenerationConfig\.eval_episodes must be >= 1, got 0"),
    ({"reference_episodes": 0}, r"GenerationConfig\.reference_episodes must be >= 1, got 0"),
    ({"checkpoint_every": 0}, r"GenerationConfig\.checkpoint_every must be >= 1, got 0"),
    ({"collect_envs": 0}, r"GenerationConfig\.collect_envs must be >= 1, got 0"),
    ({"hidden": 0}, r"GenerationConfig\.hidden must be >= 1, got 0"),
    ({"layers": 0}, r"GenerationConfig\.layers must be >= 1, got 0"),
    ({"seed": -1}, r"GenerationConfig\.seed must be >= 0, got -1"),
    ({"medium_fraction": 0.0}, r"GenerationConfig\.medium_fraction must be > 0, got 0\.0"),
    (
        {"medium_fraction": 1.5},
        r"GenerationConfig\.medium_fraction must be in \[0\.0, 1\.0\], got 1\.5",
    ),
    (
        {"medium_fraction": float("nan")},
        r"GenerationConfig\.medium_fraction must be a finite number, got nan",
    ),
    (
        {"kinds": ("medium", "bogus")},
        r"GenerationConfig\.kinds must be a non-empty tuple .*\(unknown: \['bogus'\]\)",
    ),
    ({"kinds": ()}, r"GenerationConfig\.kinds must be a non-empty tuple .*, got \(\)"),
    ({"kinds": ["medium"]}, r"GenerationConfig\.kinds must be a tuple, got \['medium'\] \(list\)"),
    (
        {"kinds": ("medium", "medium")},
        r"GenerationConfig\.kinds must name each kind once, .*repeated: \['medium'\]",
    ),
]


@pytest.mark.parametrize(("changes", "message"), CONFIG_ERRORS)
def test_config_errors_name_the_field(changes: dict[str, Any], message: str) -> None:
    # The config's own validation (what users get); pytest's jaxtyping hook would otherwise
    # reject wrongly typed arguments first, with its own message.
    with shape_checks_disabled(), pytest.raises(ConfigError, match=message):
        dataclasses.replace(small_preset(), **changes)


def test_presets_are_valid() -> None:
    from edp_ref.generation import quick_preset

    for env in ("hopper", "halfcheetah", "walker2d", "invertedpendulum"):
        assert GenerationConfig(env=env).size == 1_000_000
        assert quick_preset(env).env_id.endswith("-v5")
        assert small_preset(env).train_steps == 300


# -- make_datasets.py: command-line mistakes ---------------------------------------------------

CLI_ERRORS: list[tuple[list[str], str]] = [
    (["--env", "ant"], r"argument --env: invalid choice: 'ant'"),
    (["--env", "hopper", "hopper"], r"argument --env: hopper given more than once"),
    (["--kinds", "bogus"], r"argument --kinds: invalid choice: 'bogus'"),
    (["--kinds", "medium", "medium"], r"argument --kinds: medium given more than once"),
    (["--size", "0"], r"argument --size: expected an integer >= 1, got '0'"),
    (["--size", "-5"], r"argument --size: expected an integer >= 1, got '-5'"),
    (["--size", "ten"], r"argument --size: expected an integer, got 'ten'"),
    (["--train-steps", "-1"], r"argument --train-steps: expected an integer >= 1, got '-1'"),
    (["--train-steps", "0"], r"argument --train-steps: expected an integer >= 1, got '0'"),
    (["--seed", "-2"], r"argument --seed: expected an integer >= 0, got '-2'"),
    (["--threads", "0"], r"argument --threads: expected an integer >= 1, got '0'"),
    (["--preset", "huge"], r"argument --preset: invalid choice: 'huge'"),
    (["--work-dir", "{file}"], r"argument --work-dir: '.*a_file' is a file, not a folder"),
    (["--work-dir", "{file}/sub"], r"argument --work-dir: '.*sub' lies under the file"),
]


@pytest.mark.parametrize(("extra", "message"), CLI_ERRORS)
def test_cli_mistakes_are_usage_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    argv = ["--env", "invertedpendulum", "--preset", "small", "--work-dir", str(tmp_path / "w")]
    argv += [e.replace("{file}", str(a_file)) for e in extra]
    with pytest.raises(SystemExit) as exit_info:
        load_script().generate_datasets(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert "usage: edp-datasets" in captured.err
    assert captured.out == ""  # no estimate printed: no work started
    assert re.search(message, captured.err), captured.err
    assert not (tmp_path / "w").exists() and not (tmp_path / "minari").exists()


def test_cli_minari_root_that_is_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(a_file))
    with pytest.raises(SystemExit) as exit_info:
        load_script().generate_datasets(["--env", "hopper", "--work-dir", str(tmp_path / "w")])
    assert exit_info.value.code == 2
    assert "$MINARI_DATASETS_PATH (where the datasets go): " in capsys.readouterr().err


def test_cli_builds_the_requested_configs(tmp_path: Path) -> None:
    args, configs = load_script().parse_args(
        ["--env", "hopper", "walker2d", "--preset", "quick", "--kinds", "medium", "--seed", "3"]
    )
    assert [c.env for c in configs] == ["hopper", "walker2d"]
    assert all(c.kinds == ("medium",) and c.seed == 3 for c in configs)
    assert configs[0].train_steps == 60_000 and args.force is False
    _, (small,) = load_script().parse_args(["--env", "hopper", "--train-steps", "5"])
    assert (small.train_steps, small.start_steps, small.eval_every) == (5, 0, 1)


# -- The training checkpoint -------------------------------------------------------------------


#: The small preset with narrower networks (the checkpoint tests train twice).
TINY = dataclasses.replace(small_preset(), hidden=32, batch_size=32)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished training of TINY (InvertedPendulum, 300 steps) and its train.pt."""
    work = tmp_path_factory.mktemp("trained")
    train_behaviour(TINY, str(work), progress=False)
    return work


def test_checkpoint_of_other_settings_names_them(trained: Path) -> None:
    other = dataclasses.replace(TINY, seed=1, eval_every=50)
    with pytest.raises(
        ValueError,
        match=r"train\.pt was written with other training settings \(eval_every: stored 100, "
        r"now 50; seed: stored 0, now 1\); delete it",
    ):
        train_behaviour(other, str(trained), progress=False)


def test_checkpoint_with_inconsistent_evaluations(trained: Path, tmp_path: Path) -> None:
    state = torch.load(trained / "train.pt", weights_only=True)
    state["snapshots"] = state["snapshots"][:-1]
    torch.save(state, tmp_path / "train.pt")
    with pytest.raises(
        ValueError,
        match=r"train\.pt is damaged .*\(3, 3, 2\) evaluations / evaluation times / snapshots "
        r"after step 300, expected 3 of each",
    ):
        train_behaviour(TINY, str(tmp_path), progress=False)


def test_shorter_run_is_a_prefix_of_a_longer_one(trained: Path, tmp_path: Path) -> None:
    """What quality.budget_quality relies on: nothing before step B depends on train_steps."""
    short = train_behaviour(
        dataclasses.replace(TINY, train_steps=200), str(tmp_path), progress=False
    )
    long_evaluations = read_checkpoint(trained / "train.pt")["evaluations"].tolist()
    assert [tuple(e) for e in long_evaluations[:2]] == [(s, r) for s, r in short.evaluations]


# -- Choosing snapshots, measuring them ---------------------------------------------------------

CHOICES: list[tuple[list[tuple[int, float]], tuple[int, int]]] = [
    ([(1, 10.0), (2, 40.0), (3, 100.0), (4, 90.0)], (1, 2)),  # 40 >= 100 / 3
    ([(1, 10.0), (2, 33.0), (3, 100.0), (4, 100.0)], (2, 2)),  # the first of equal bests
    ([(1, 50.0), (2, 20.0), (3, 120.0)], (0, 2)),  # the first to reach, not the last
    ([(1, -50.0), (2, -10.0), (3, -20.0)], (1, 1)),  # best <= 0: the first to reach the best
]


@pytest.mark.parametrize(("evaluations", "expected"), CHOICES)
def test_choose_snapshots(evaluations: list[tuple[int, float]], expected: tuple[int, int]) -> None:
    assert choose_snapshots(evaluations, 1.0 / 3.0) == expected


def test_choose_snapshots_without_evaluations() -> None:
    with pytest.raises(ValueError, match="choose_snapshots: no evaluations"):
        choose_snapshots([], 1.0 / 3.0)


def test_replay_episode_returns() -> None:
    rewards = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    ends = torch.tensor([0, 1, 0, 0, 1]) > 0
    assert replay_episode_returns(rewards, ends, 5) == [3.0, 12.0]
    assert replay_episode_returns(rewards, ends, 3) == [3.0, 3.0]  # the unfinished one too


def test_budget_quality(trained: Path) -> None:
    (q200, q300) = budget_quality(str(trained / "train.pt"), [200, 300], episodes=2)
    state = read_checkpoint(trained / "train.pt")
    evaluations = [(int(s), r) for s, r in state["evaluations"].tolist()]
    medium, expert = choose_snapshots(evaluations, 1.0 / 3.0)
    assert (q300.medium.step, q300.expert.step) == (evaluations[medium][0], evaluations[expert][0])
    assert q200.expert.step <= 200 and q200.budget == 200
    assert q300.replay_transitions == q300.medium.step
    assert q300.training_seconds is not None and q300.training_seconds > 0
    # Training's evaluations used the mean action too: re-measured on 2 other start states the
    # return differs, but both are returns of the same snapshot.
    assert q300.expert.episodes == 2 and q300.expert.deterministic_std >= 0
    with pytest.raises(ValueError, match=r"budget 250: not an evaluation step of .*train\.pt"):
        budget_quality(str(trained / "train.pt"), [250], episodes=1)


def test_snapshot_evaluations_reproduce_training(trained: Path) -> None:
    """Re-run with the run's eval_episodes, the evaluations are the stored ones exactly (so with
    more episodes they are what a run with more evaluation episodes would have measured)."""
    stored = read_checkpoint(trained / "train.pt")["evaluations"].tolist()
    again = snapshot_evaluations(str(trained / "train.pt"), TINY.eval_episodes)
    assert again == [(int(s), r) for s, r in stored]
    assert snapshot_evaluations(str(trained / "train.pt"), 1, up_to=200)[-1][0] == 200
    (q,) = budget_quality(str(trained / "train.pt"), [300], episodes=1, selection_episodes=3)
    assert q.expert.selection_evaluation == max(
        r for _, r in snapshot_evaluations(str(trained / "train.pt"), 3)
    )
