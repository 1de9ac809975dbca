"""The five commands in one style (issue 22): tyro options, each with its help and default, within
100 columns, ``--version``, a ``--help`` that imports no torch, and one clear usage error for each
command-line mistake. ``scripts/check_core_install`` runs every ``--help`` on a core install."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from edp_ref.command_line import HELP_WIDTH

#: command -> (module of its main, the main's name).
COMMANDS = {
    "edp-train": ("edp_ref.runner.cli", "main"),
    "edp-reproduce": ("edp_ref.reproduce.cli", "main"),
    "edp-benchmark": ("edp_ref.benchmark.cli", "main"),
    "edp-benchmark --peers": ("edp_ref.benchmark.cli", "peers_main"),
    "edp-datasets": ("edp_ref.generation.cli", "main"),
    "edp-golden": ("edp_ref.golden.cli", "main"),
}


def _main(command: str) -> Callable[[list[str]], int]:
    module, name = COMMANDS[command]
    main: Callable[[list[str]], int] = getattr(importlib.import_module(module), name)
    return main


def _run(command: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as caught:
        _main(command)(argv)
    captured = capsys.readouterr()
    code = caught.value.code
    return (code if isinstance(code, int) else 1), captured.out + captured.err


@pytest.mark.parametrize("command", COMMANDS)
def test_help_lists_every_option_within_100_columns(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # a wide terminal still gets HELP_WIDTH
    code, text = _run(command, ["--help"], capsys)
    assert code == 0, text
    assert max(len(line) for line in text.splitlines()) <= HELP_WIDTH, text
    assert "--version" in text and "Traceback" not in text
    options = [line for line in text.splitlines() if re.match(r"\W*--[a-z]", line)]
    assert options, text
    # Every option has its help: a text beside or below its name, then its default.
    assert "(default: " in text or "(required)" in text


@pytest.mark.parametrize("command", COMMANDS)
def test_version(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _run(command, ["--version"], capsys)
    assert code == 0 and text.startswith(f"{command.split()[0]}") and "(edp_ref " in text, text


@pytest.mark.parametrize("module", ["reproduce", "benchmark", "generation", "golden"])
def test_help_imports_no_torch(module: str) -> None:
    """The command module of every command but edp-train imports neither torch nor the training
    stack: --help answers without them (edp-train's options are the algorithms' configs)."""
    code = (
        f"import sys; import edp_ref.{module}.cli; "
        "heavy = [m for m in ('torch', 'gymnasium', 'h5py', 'minari') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


#: (command, arguments, words of the one usage error).
MISTAKES: list[tuple[str, list[str], str]] = [
    ("edp-train", ["--algorithm", "td3bc", "--config.diffusion.num-steps", "10"],
     "argument --config.diffusion.num-steps: td3bc has no diffusion config (TD3BCConfig)"),
    ("edp-train", ["--config.diffusion.num-stepz", "10"],
     "argument --config.diffusion.num-stepz: edp_td3 has no num-stepz field in its diffusion"),
    ("edp-benchmark", ["--tiny", "--quick"], "argument --quick / --tiny / --preset"),
    ("edp-benchmark", ["--threads", "0"], "argument --threads: expected a number >= 1, got 0"),
    ("edp-benchmark --peers", ["--only", "nothing"], "argument --only: expected some of"),
    ("edp-benchmark --peers", ["--rounds", "0"], "argument --rounds: expected a number >= 1"),
    ("edp-datasets", [], "--env"),
    ("edp-golden", [], "Expected one of {export, check}"),
    ("edp-golden", ["check"], "DIR"),
    ("edp-reproduce", [], "argument --table/--figure: give exactly one of them"),
    ("edp-reproduce", ["--table", "2", "--figure", "3"], "argument --table/--figure"),
    ("edp-reproduce", ["--figure", "8"], "argument --figure: expected one of 2, 3, 4, 5, 6, 7"),
]  # fmt: skip


@pytest.mark.parametrize(("command", "argv", "words"), MISTAKES)
def test_a_mistake_is_one_usage_error(
    command: str, argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = _run(command, argv, capsys)
    assert code == 2 and words in text and "Traceback" not in text, text


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("edp-datasets", ["--seed INT", "--work-dir PATH", "--kinds"]),
        ("edp-benchmark", ["--peers", "--quick", "--tiny"]),
        ("edp-golden export", ["DIR", "--force"]),
        ("edp-golden check", ["DIR"]),
    ],
)
def test_the_options_the_issue_missed_have_help_and_defaults(
    command: str, options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    words = command.split()
    code, text = _run(words[0], [*words[1:], "--help"], capsys)
    assert code == 0 and text.startswith(f"usage: {command}"), text
    for option in options:
        line = next(i for i, t in enumerate(text.splitlines()) if re.match(rf"\W*{option}", t))
        block = " ".join(text.splitlines()[line : line + 3])
        assert "(default: " in block or "(required)" in block, block


def test_golden_export_refuses_a_folder_that_holds_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "kit").mkdir()
    (tmp_path / "kit" / "notes.txt").write_text("mine")
    code, text = _run("edp-golden", ["export", str(tmp_path / "kit")], capsys)
    assert code == 2 and f"argument DIR: {tmp_path / 'kit'} already holds files" in text
    assert "--force" in text and sorted(p.name for p in (tmp_path / "kit").iterdir()) == [
        "notes.txt"
    ]


def test_choices_written_in_the_light_command_modules_match_their_sources() -> None:
    """edp-reproduce's choices are written out (their sources import torch): they must agree."""
    import typing

    from edp_ref.reproduce.cli import ReproduceCommand
    from edp_ref.reproduce.launchers import DEFAULT_MAX_RETRIES
    from edp_ref.reproduce.presets import PRESETS
    from edp_ref.runner.spec import COMPILE_CHOICES

    hints = typing.get_type_hints(ReproduceCommand)
    assert set(typing.get_args(hints["preset"])) == set(PRESETS)
    assert typing.get_args(hints["compile"]) == COMPILE_CHOICES
    assert ReproduceCommand.max_retries == DEFAULT_MAX_RETRIES


#: The README's and docs' command lines, as written: each parses (nothing runs).
DOCUMENTED: list[tuple[str, list[str]]] = [
    ("edp-reproduce", ["--table", "2", "--preset", "quick", "--no-progress"]),
    ("edp-reproduce", ["--table", "2", "--algos", "td3", "crr", "iql", "--seeds", "0", "1", "2"]),
    ("edp-reproduce", ["--table", "5", "--preset", "paper", "--jobs", "8", "--eas", "50"]),
    ("edp-reproduce", ["--figure", "3", "--tasks", "hopper-medium-expert-v2", "--seeds", "0"]),
    ("edp-reproduce", ["--table", "2", "--policies", "edp", "ff", "--dry-run"]),
    ("edp-datasets", ["--env", "hopper", "--preset", "small", "--kinds", "medium"]),
    ("edp-datasets", ["--env", "hopper", "walker2d", "--size", "100000", "--train-steps", "9"]),
]  # fmt: skip


@pytest.mark.parametrize(("command", "argv"), DOCUMENTED)
def test_documented_command_lines_parse(command: str, argv: list[str], tmp_path: Path) -> None:
    if command == "edp-reproduce":
        from edp_ref.reproduce.cli import parse_args

        args, kind, number = parse_args([*argv, "--out", str(tmp_path / "out")])
        assert (kind, number) == (argv[0][2:], int(argv[1]))
        assert args.progress is ("--no-progress" not in argv)
    else:
        from edp_ref.generation.cli import parse_args as parse_datasets

        args_, configs = parse_datasets([*argv, "--work-dir", str(tmp_path / "w")])
        assert [c.env for c in configs] == list(args_.env)
