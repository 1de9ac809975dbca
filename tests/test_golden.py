"""The conformance kit (edp_ref.golden): deterministic export, check, and failure reports."""

import json
from pathlib import Path

import numpy as np
import pytest

from edp_ref.golden import kit as golden


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("golden")
    golden.export(directory)
    return directory


def test_export_is_byte_identical_and_versioned(exported: Path, tmp_path: Path) -> None:
    golden.export(tmp_path)
    for file in sorted(exported.iterdir()):
        assert file.read_bytes() == (tmp_path / file.name).read_bytes(), file.name
    manifest = json.loads((exported / "manifest.json").read_text())
    assert manifest["edp_ref_version"] == golden.edp_ref.__version__
    assert manifest["format_version"] == golden.FORMAT_VERSION
    names = {c["name"] for c in manifest["cases"]}
    for function in (
        "corrupt",
        "approximate_action_clip_1.0",
        "dpm_solver_sample_clip_None",
        "update_edp_td3",
        "update_edp_crr",
        "update_edp_iql",
        "update_dql",
        "update_td3bc",
        "update_gaussian_crr",
        "update_gaussian_iql",
    ):
        assert {f"{function}_f64", f"{function}_f32"} <= names
    case = next(c for c in manifest["cases"] if c["name"] == "corrupt_f64")
    assert case["equation"] == "Eq. 8"
    assert case["inputs"]["a0"] == {"shape": [8, 3], "dtype": "float64"}
    assert case["inputs"]["k"]["dtype"] == "int64"


def test_check_passes_on_a_fresh_export(exported: Path) -> None:
    assert golden.check(exported) == []


def _perturb(path: Path, key: str) -> None:
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k].copy() for k in data.files}
    arrays[key].flat[0] += 1e-3
    golden._write_npz(path, {k.removesuffix(".npy"): v for k, v in arrays.items()})


def test_check_reports_a_single_perturbed_value(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for file in exported.iterdir():
        (tmp_path / file.name).write_bytes(file.read_bytes())
    _perturb(tmp_path / "approximate_action_clip_None_f64.npz", "outputs/a0_hat")
    mismatches = golden.check(tmp_path)
    assert [(m.case, m.output) for m in mismatches] == [
        ("approximate_action_clip_None_f64", "a0_hat")
    ]
    assert mismatches[0].max_abs_error == pytest.approx(1e-3, rel=1e-6)
    assert golden.main(["check", str(tmp_path)]) == 1
    assert "MISMATCH approximate_action_clip_None_f64 [a0_hat]" in capsys.readouterr().out


def test_check_reports_a_perturbed_update_output(exported: Path, tmp_path: Path) -> None:
    for file in exported.iterdir():
        (tmp_path / file.name).write_bytes(file.read_bytes())
    _perturb(tmp_path / "update_edp_iql_f32.npz", "outputs/state/params/policy/body.0.weight")
    mismatches = golden.check(tmp_path)
    assert [(m.case, m.output) for m in mismatches] == [
        ("update_edp_iql_f32", "state/params/policy/body.0.weight")
    ]


def test_corrupt_golden_file_gives_a_clear_error(exported: Path, tmp_path: Path) -> None:
    for file in exported.iterdir():
        (tmp_path / file.name).write_bytes(file.read_bytes())
    (tmp_path / "corrupt_f32.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match=r"corrupt_f32\.npz for case 'corrupt_f32' is unreadable"):
        golden.check(tmp_path)
    with pytest.raises(ValueError, match="cannot read the golden manifest"):
        golden.check(tmp_path / "missing")


def test_numpy_port_of_approximate_action_passes(exported: Path) -> None:
    """The README's worked example: check a NumPy re-implementation against the files."""
    manifest = json.loads((exported / "manifest.json").read_text())
    betas = np.linspace(1e-4, 0.02, 1000)  # the linear schedule, K = 1000 (x 1000/K = 1)
    alpha_bars = np.cumprod(1.0 - betas)
    checked = 0
    for case in manifest["cases"]:
        if case["function"] != "approximate_action":
            continue
        with np.load(exported / case["file"], allow_pickle=False) as data:
            a_k, k, eps_hat = data["inputs/a_k"], data["inputs/k"], data["inputs/eps_hat"]
            expected = data["outputs/a0_hat"]
        ab = alpha_bars[k][:, None]
        ours = np.sqrt(1 / ab) * a_k - np.sqrt(1 / ab - 1) * eps_hat
        if case["params"]["clip"] is not None:
            ours = np.clip(ours, -case["params"]["clip"], case["params"]["clip"])
        ours = ours.astype(expected.dtype)
        np.testing.assert_allclose(ours, expected, rtol=case["rtol"], atol=case["atol"])
        checked += 1
    assert checked == 4
