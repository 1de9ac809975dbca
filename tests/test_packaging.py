"""Packaging: the core dependencies, the extras, the console scripts, and PEP 561 typing (a strict
type checker of a consumer script sees edp_ref's types). The clean-environment install itself
is checked by ``scripts/check_core_install`` (in .ci/run: it takes minutes)."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0]


def test_core_dependencies_are_torch_numpy_jaxtyping_beartype_tyro_with_lower_bounds() -> None:
    core = PROJECT["dependencies"]
    assert sorted(_name(r) for r in core) == ["beartype", "jaxtyping", "numpy", "torch", "tyro"]
    torch_requirement = next(r for r in core if _name(r) == "torch")
    assert torch_requirement == "torch>=2.4"  # a minimum (verified with 2.4.0), never a pin
    assert not any("==" in r for r in core)


def test_extras() -> None:
    extras = {k: sorted(_name(r) for r in v) for k, v in PROJECT["optional-dependencies"].items()}
    assert extras["train"] == sorted(
        [
            "gymnasium",
            "mujoco",
            "minari",
            "h5py",
            "tqdm",
            "matplotlib",
            "safetensors",
            "tensorboard",
            "filelock",
        ]
    )
    assert extras["test"] == sorted(
        ["pytest", "hypothesis", "scipy", "mypy", "ruff", "import-linter"]
    )
    assert {"peers", "ray", "wandb"} <= set(extras)
    assert "gymnasium[mujoco]>=1.0" in PROJECT["optional-dependencies"]["train"]


def test_constraints_pin_every_requirement_of_the_reproduction() -> None:
    """constraints.txt (scripts/run, .ci/run) fixes one version of every package the extras of
    the reproduction and the tests bring, torch at the 2.13.0 CPU wheel's version."""
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pins = dict(line.split("==") for line in lines if line and not line.startswith("#"))
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+", n) and v for n, v in pins.items()), pins
    assert pins["torch"] == "2.13.0" and pins["mujoco"].split(".")[0] in ("3", "4")
    wanted = [*PROJECT["dependencies"]]
    for extra in ("train", "test", "peers", "ray"):
        wanted += PROJECT["optional-dependencies"][extra]
    normal = {n.lower().replace("_", "-") for n in pins}
    missing = [r for r in wanted if _name(r).lower().replace("_", "-") not in normal]
    assert not missing, f"constraints.txt pins no version of {missing}"
    run = (ROOT / "scripts" / "run").read_text()
    assert '-c "$constraints"' in run and "constraints.txt" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("script", sorted(PROJECT["scripts"]))
def test_console_scripts_point_at_functions(script: str) -> None:
    module_name, _, attribute = PROJECT["scripts"][script].partition(":")
    assert callable(getattr(importlib.import_module(module_name), attribute))


def test_console_script_names() -> None:
    assert set(PROJECT["scripts"]) == {
        "edp-train",
        "edp-reproduce",
        "edp-benchmark",
        "edp-datasets",
        "edp-golden",
    }


def test_py_typed_is_package_data() -> None:
    assert (ROOT / "edp_ref" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["edp_ref"]


CONSUMER = """\
import edp_ref

schedule = edp_ref.make_schedule("linear", 1000)
steps: str = schedule.num_steps  # deliberate: an int
policy, config = edp_ref.load_policy("runs/train/x")
width: str = policy.action_dim  # deliberate: an int
"""


def test_strict_type_checker_of_a_consumer_sees_edp_refs_types(tmp_path: Path) -> None:
    """mypy --strict on a script that uses edp_ref as an installed package (found on the path,
    not as a source tree): without the py.typed marker mypy would skip edp_ref ("missing library
    stubs or py.typed marker") and both deliberate errors would pass unnoticed."""
    (tmp_path / "consumer.py").write_text(CONSUMER)
    cache = ROOT / ".mypy_cache" / "consumer-check"  # git-ignored; warm on a second run
    command = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache), "consumer.py"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "py.typed marker" not in out and "import-untyped" not in out, out
    expected = (
        'Incompatible types in assignment (expression has type "int", variable has type "str")'
    )
    assert f"consumer.py:4: error: {expected}" in out, out
    assert f"consumer.py:6: error: {expected}" in out, out
    assert "Found 2 errors in 1 file" in out, out


def test_no_package_exports_a_name_of_one_of_its_submodules() -> None:
    """A re-export named like a submodule is replaced by the module as soon as anything imports
    that submodule (``import edp_ref.golden.check`` made ``edp_ref.golden.check`` the module, not
    the function, in whatever process had imported it first)."""
    import edp_ref

    package_root = Path(edp_ref.__file__).parent
    clashes = {}
    for init in package_root.rglob("__init__.py"):
        package = importlib.import_module(
            ".".join(("edp_ref", *init.parent.relative_to(package_root).parts))
        )
        submodules = {p.stem for p in init.parent.glob("*.py")} | {
            p.name for p in init.parent.iterdir() if (p / "__init__.py").exists()
        }
        if set(getattr(package, "__all__", ())) & submodules:
            clashes[package.__name__] = sorted(set(package.__all__) & submodules)
    assert not clashes, f"exports named like a submodule: {clashes}"
