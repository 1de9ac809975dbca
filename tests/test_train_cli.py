"""``edp-train``: generated options and help, usage errors before any work, a run end to end
(config.json, TensorBoard, run.log), resume, --eval-only and the three-line policy example."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

import edp_ref
from edp_ref.algorithms.catalog.edp_td3 import EDPTD3Config
from edp_ref.runner import RunSpec, configuration_document, default_config, resolve_config
from edp_ref.runner.cli import main, parse
from edp_ref.runner.monitoring import Monitoring, RunMonitor


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """tyro's messages are boxed to the terminal width: no wrapping inside option names."""
    monkeypatch.setenv("COLUMNS", "400")


def _tiny(root: str) -> list[str]:
    """A tiny run's options: width 16, 2 epochs of 20 updates, 2 episodes per evaluation."""
    return [
        "--run.data-source", "local", "--run.local-root", root, "--config.network.hidden", "16",
        "--run.epochs", "2", "--run.iterations-per-epoch", "20", "--run.batch-size", "32",
        "--run.eval-every", "1", "--run.eval-episodes", "2", "--run.eval-envs", "2",
        "--run.eas-candidates", "3", "--threads", "1", "--no-progress", "--log-every", "10",
    ]  # fmt: skip


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as caught:
        parse([*argv, "--help"])
    assert caught.value.code == 0
    return capsys.readouterr().out


def test_help_shows_each_field_with_type_default_and_comment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")  # one column of option groups
    text = _help(capsys)
    # A config field: type, default, and the comment above it in edp_ref/algorithms/config.py.
    gap = r"[\s│]+"  # newlines, indentation and the box's border
    assert re.search(
        rf"--config\.optimizer\.learning-rate FLOAT{gap}Adam step size for every", text
    )
    assert "(default: 0.0003)" in text and "--config.diffusion.num-steps INT" in text
    assert re.search(rf"--run\.epochs INT{gap}Training epochs \(Table 3: 2000 locomotion", text)
    assert "--run.compile {auto,on,off}" in text and "--wandb, --no-wandb" in text
    # The defaults follow --dataset's domain (Table 3) and --algorithm's config class.
    adroit = _help(capsys, "--dataset", "pen-human-v1", "--algorithm", "edp_iql")
    assert re.search(rf"--run\.epochs INT{gap}Training epochs[^\n]*\(default: 1000\)", adroit)
    assert re.search(rf"learning-rate FLOAT{gap}Adam step[^\n]*\(default: 3e-05\)", adroit)
    assert "--config.expectile FLOAT" in adroit and "--config.alpha " not in adroit


def _usage(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as caught:
        parse(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


#: A Minari dataset present in the scratch folder {data}.
MINARI = ["--dataset", "mujoco/hopper/medium-v0", "--run.local-root", "{data}"]
#: (arguments, words of the message naming the argument). Paths: {tmp} is a scratch folder,
#: {run} a run folder of another configuration.
USAGE_CASES: list[tuple[list[str], str]] = [
    (["--algorithm", "edp_td4"],
     r"argument --algorithm: RunSpec\.algorithm: unknown algorithm 'edp_td4'; registered"),
    (["--dataset", "hopper-mediun-v2"],
     r"argument --dataset: RunSpec\.task: unknown dataset name 'hopper-mediun-v2'"),
    (["--dataset", "{tmp}/none.hdf5"],
     r"argument --dataset: the HDF5 file .*none\.hdf5 does not exist"),
    (["--dataset", "mujoco/nothing/here-v0", "--run.local-root", "{tmp}"],
     r"argument --dataset: the Minari dataset mujoco/nothing/here-v0 is not in .*minari download"),
    (["--dataset", "{tmp}/mine.hdf5"],
     r"argument --run.env-id: the HDF5 file .*mine\.hdf5 is not one"),
    (["--dataset", "{tmp}/mine.hdf5", "--run.env-id", "Hopper-v5"],
     r"argument --run\.domain: RunSpec\.domain: cannot tell the domain of dataset"),
    (["--config.optimizer.learning-rate", "abc"],
     r"--config\.optimizer\.learning-rate: could not convert"),
    (["--config.optimizer.learning-rate", "-1"],
     r"config\.optimizer: OptimizerConfig\.learning_rate must be > 0"),
    (["--config.diffusion.num-steps", "0"],
     r"config\.diffusion: DiffusionConfig\.num_steps must be > 0"),
    (["--config.q-head", "q3"], r"invalid choice 'q3' for argument '--config\.q-head'"),
    (["--run.epochs", "0"], r"argument --run\.epochs: RunSpec\.epochs must be an int >= 1, got 0"),
    (["--run.seed", "-1"],
     r"argument --run\.seed: RunSpec\.seed must be an int in \[0, 4294967295\]"),
    (["--run.eval-every", "two"], r"--run\.eval-every: invalid literal for int|--run\.eval-every"),
    (["--run.compile", "maybe"], r"invalid choice 'maybe' for argument '--run\.compile'"),
    (["--run.device", "tpu:x"],
     r"argument --run\.device: RunSpec\.device must name a torch device"),
    (["--run.data-source", "d4rl", *MINARI],
     r"argument --run\.data-source: RunSpec\.data_source must be 'auto' for 'mujoco/hopper/"),
    (["--run.domain", "kitchen"],
     r"argument --run\.domain: .*'hopper-medium-v2' is a locomotion dataset"),
    (["--grad-clip", "official", *MINARI],
     r"argument --grad-clip: grad_clip 'official' needs a dataset of the paper"),
    (["--log-every", "0"],
     r"argument --log-every: Monitoring\.log_every must be an int >= 1, got 0"),
    (["--checkpoint-minutes", "-1"],
     r"argument --checkpoint-minutes: Monitoring\.checkpoint_minutes"),
    (["--threads", "0"], r"argument --threads: expected an integer >= 1, got 0"),
    (["--out", "{tmp}/afile"], r"argument --out: .*afile is a file, not a run folder"),
    (["--resume", "{tmp}/nothing"], r"argument --resume: .*config\.json is missing"),
    (["--eval-only", "{tmp}/nothing"], r"argument --eval-only: .*config\.json is missing"),
    (["--resume", "{tmp}", "--eval-only", "{tmp}"],
     r"argument --eval-only: not allowed with argument --resume"),
    (["--resume", "{run}", "--run.seed", "3"],
     r"argument --resume: .*--run\.seed cannot change it \(it takes --run\.epochs, to extend"),
    (["--resume", "{run}", "--run.epochs", "0"],
     r"argument --run\.epochs: .* holds a run of 1 epochs; --resume extends a run, never "),
    (["--resume", "{run}", "--config-file", "{run}/config.json"],
     r"argument --resume: .*--config-file cannot change it"),
    (["--config-file", "{tmp}/nothing.json"],
     r"argument --config-file: .*nothing\.json cannot be read as JSON"),
    (["--config-file", "{tmp}/unknown.json"],
     r"argument --config-file: .*unknown\.json: unknown field\(s\) \['learning_rate'\]"),
    (["--config-file", "{tmp}/bad.json"],
     r"argument --config-file: .*bad\.json: RunSpec\.epochs must be an int"),
    (["--config-file", "{tmp}/badconfig.json"],
     r"argument --config-file: .*unknown field\(s\) \['config\.optimizer\.rate'\]"),
    (["--eval-only", "{run}", "--episodes", "0"], r"argument --episodes: expected an integer >= 1"),
    (["--out", "{run}"],
     r"argument --out: .* holds a run with another configuration \(.*run\.epochs: stored 1 vs "
     r"asked 2000"),
    (["--bogus", "3"], r"Unrecognized options: --bogus"),
]  # fmt: skip


@pytest.mark.parametrize(("arguments", "words"), USAGE_CASES)
def test_command_line_mistakes_are_usage_errors_naming_the_argument(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], words: str
) -> None:
    (tmp_path / "afile").write_text("x")
    (tmp_path / "unknown.json").write_text('{"learning_rate": 1e-4}')
    (tmp_path / "bad.json").write_text('{"epochs": "ten"}')
    (tmp_path / "badconfig.json").write_text('{"config": {"optimizer": {"rate": 1}}}')
    (tmp_path / "mine.hdf5").write_bytes(b"")
    data = tmp_path / "data"
    (data / "mujoco" / "hopper" / "medium-v0" / "data").mkdir(parents=True)
    run = tmp_path / "run"  # a run folder of another configuration (1 epoch)
    run.mkdir()
    config = default_config("edp_td3", "hopper-medium-v2")  # edp-train's default config
    spec = RunSpec("hopper-medium-v2", "edp_td3", epochs=1, config=config)
    document = configuration_document(spec, resolve_config(spec))
    (run / "config.json").write_text(json.dumps(document))
    argv = [a.format(tmp=tmp_path, data=data, run=run) for a in arguments]
    err = _usage(capsys, argv)
    assert re.search(words, err), err


def test_train_resume_eval_only_and_the_three_line_policy_example(
    tiny_root: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "run"
    monkeypatch.setitem(sys.modules, "wandb", None)  # not installed: said, not a crash
    argv = ["--algorithm", "edp_td3", "--dataset", "hopper-medium-v2", *_tiny(tiny_root)]
    argv += ["--config.optimizer.learning-rate", "1e-4", "--out", str(out), "--wandb"]
    heard: list[str] = []  # run.log goes through logging: an application's handler hears it
    handler = logging.Handler()
    handler.emit = lambda record: heard.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("edp_ref.runner.run").addHandler(handler)
    try:
        assert main(argv) == 0
    finally:
        logging.getLogger("edp_ref.runner.run").removeHandler(handler)
    captured = capsys.readouterr()
    assert "Weights & Biases is not installed (pip install wandb)" in captured.err
    assert "final RAT" in captured.out and "tensorboard --logdir" in captured.out
    # The resolved configuration next to the run: the override and the preset.
    document = json.loads((out / "config.json").read_text())
    config = document["algorithm"]["config"]
    assert config["optimizer"]["learning_rate"] == 1e-4 and config["network"]["hidden"] == 16
    assert config["compile"] is False and document["run"]["epochs"] == 2
    log = (out / "run.log").read_text()
    assert "updates run eagerly (auto: 40 updates < 5000 on the CPU)" in log
    assert "Weights & Biases is not installed" in log and "finished: RAT" in log
    assert [line.split(" ", 2)[2] for line in log.splitlines()] == heard
    # TensorBoard: losses averaged per 10-update window, speed, evaluations.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"eval/score", "eval/rat", "eval/oms", "eval/return_mean"} <= tags
    losses = {t for t in tags if t.startswith("train/")} - {"train/updates_per_second"}
    assert "train/updates_per_second" in tags and losses, tags
    assert [e.step for e in events.Scalars("eval/score")] == [0, 20, 40]
    assert [e.step for e in events.Scalars("train/updates_per_second")] == [10, 20, 30, 40]
    final_rat = json.loads((out / "result.json").read_text())["final_rat"]
    assert events.Scalars("eval/rat")[-1].value == pytest.approx(final_rat)  # one RAT
    # The configuration in TensorBoard's HParams dashboard, beside RAT, OMS and the score.
    hparams = _tensorboard_hparams(out / "tensorboard")
    assert hparams["run.seed"] == 0 and hparams["algorithm.name"] == "edp_td3"
    assert hparams["algorithm.config.optimizer.learning_rate"] == 1e-4
    assert hparams["dataset.sha256"] == document["dataset"]["sha256"]
    # --config-file: this run's config.json with one change is this run with that change.
    _, _, again, _, _ = parse(["--config-file", str(out / "config.json"), "--run.seed", "1"])
    assert again == dataclasses.replace(RunSpec.from_json(document["run"]), seed=1)
    # --resume of a finished run reuses it; --eval-only evaluates its policy.
    assert main(["--resume", str(out), "--no-progress", "--no-tensorboard"]) == 0
    assert "final RAT" in capsys.readouterr().out
    assert main(["--eval-only", str(out), "--episodes", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["env_id"] == "Hopper-v5" and summary["episodes"] == 2 and summary["step"] == 40
    assert np.isfinite(summary["return_mean"]) and summary["normalized_mean"] is not None
    # One evaluation path, one std: the population std over the episodes, 0 for one episode.
    assert main(["--eval-only", str(out), "--episodes", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["return_std"] == 0.0
    # The README's three-line example, in a Gymnasium environment.
    policy, config = edp_ref.load_policy(out)
    env = gym.make(policy.env_id or "Hopper-v5")
    action = policy(env.reset(seed=0)[0])
    assert isinstance(config, EDPTD3Config) and config.optimizer.learning_rate == 1e-4
    assert action.shape == env.action_space.shape and isinstance(action, np.ndarray)
    assert np.all(action >= env.action_space.low) and np.all(action <= env.action_space.high)
    batch = policy(torch.zeros(4, policy.observation_dim))
    assert isinstance(batch, torch.Tensor) and batch.shape == (4, policy.action_dim)
    policy.reset(7)
    first = policy(np.zeros(policy.observation_dim))
    policy.reset(7)
    assert np.array_equal(first, policy(np.zeros(policy.observation_dim)))  # seeded draws
    with pytest.raises(ValueError, match=r"observations must have shape \[11\] or \[B, 11\]"):
        policy(np.zeros(5))


def _tensorboard_hparams(folder: Path) -> dict[str, Any]:
    """The hyper-parameters a run folder's TensorBoard events give the HParams plugin."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.hparams import plugin_data_pb2

    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.tag == "_hparams_/session_start_info":
                    data = plugin_data_pb2.HParamsPluginData.FromString(
                        value.metadata.plugin_data.content
                    )
                    found = data.session_start_info.hparams
                    return {k: getattr(v, v.WhichOneof("kind")) for k, v in found.items()}
    raise AssertionError(f"no hyper-parameters in {folder}")


def test_config_file_sets_defaults_the_command_line_overrides(tmp_path: Path) -> None:
    """A hand-written --config-file: the fields it names (a partial config keeps the other
    defaults, Table 3's for its dataset), then the command line."""
    path = tmp_path / "mine.json"
    mine = {"task": "walker2d-medium-v2", "algorithm": "td3bc", "epochs": 7,
            "config": {"optimizer": {"learning_rate": 1e-4}}}  # fmt: skip
    path.write_text(json.dumps(mine))
    _, _, spec, _, _ = parse(["--config-file", str(path), "--run.seed", "4"])
    table3 = default_config("td3bc", "walker2d-medium-v2")
    assert (spec.task, spec.algorithm, spec.epochs, spec.seed) == (
        "walker2d-medium-v2",
        "td3bc",
        7,
        4,
    )
    assert spec.config == dataclasses.replace(
        table3, optimizer=dataclasses.replace(table3.optimizer, learning_rate=1e-4)
    )
    _, _, spec, _, _ = parse(
        ["--config-file", str(path), "--config.optimizer.learning-rate", "2e-4"]
    )
    assert spec.config is not None and spec.config.optimizer.learning_rate == 2e-4
    assert spec.epochs == 7  # the file's, over Table 3's


def test_wandb_receives_the_same_scalars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, Any]] = []

    class FakeRun:
        def log(self, values: dict[str, float], step: int) -> None:
            calls.append(("log", (values, step)))

        def finish(self) -> None:
            calls.append(("finish", None))

    class FakeWandb:
        @staticmethod
        def init(**kwargs: Any) -> FakeRun:
            calls.append(("init", kwargs))
            return FakeRun()

    monkeypatch.setitem(sys.modules, "wandb", FakeWandb)
    monitor = RunMonitor(
        tmp_path, "a/run", {"run": {}}, Monitoring(wandb=True, tensorboard=False), resume_step=None
    )
    monitor.scalars({"eval/score": 1.5, "eval/normalized_mean": None}, 20)
    monitor.close()
    assert calls[0][0] == "init" and calls[0][1]["resume"] == "allow"
    assert calls[0][1]["config"] == {"run": {}} and calls[0][1]["project"] == "edp_ref"
    assert calls[1] == ("log", ({"eval/score": 1.5}, 20)) and calls[2] == ("finish", None)
