"""The conformance kit (edp_ref.golden): deterministic export, a clean check, and every way a
kit can be wrong reported by name (modified bytes, unsafe paths, missing / extra arrays, edited
tolerances, unknown cases, corrupt files and manifests)."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import edp_ref
from edp_ref import golden
from edp_ref.algorithms import REGISTRY
from edp_ref.golden.archive import archive_bytes, read_archive, sha256_hex
from edp_ref.golden.case import SEED
from edp_ref.golden.cases_updates import small_config, update_seed
from tests.faults import failing_disk, snapshot, temporaries

Arrays = dict[str, np.ndarray]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("golden")
    golden.export(directory)
    return directory


def _manifest(directory: Path) -> dict[str, Any]:
    out: dict[str, Any] = json.loads((directory / "manifest.json").read_text())
    return out


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2))


def _small_kit(exported: Path, directory: Path, names: list[str]) -> Path:
    """A kit of a few of the exported cases (the others become notes: a fast check)."""
    manifest = _manifest(exported)
    manifest["cases"] = [c for c in manifest["cases"] if c["name"] in names]
    assert {c["name"] for c in manifest["cases"]} == set(names)
    for case in manifest["cases"]:
        shutil.copyfile(exported / case["file"], directory / case["file"])
    _write_manifest(directory, manifest)
    return directory


def _entry(directory: Path, name: str) -> dict[str, Any]:
    return next(c for c in _manifest(directory)["cases"] if c["name"] == name)


def _edit_entry(directory: Path, name: str, edit: Callable[[dict[str, Any]], None]) -> None:
    manifest = _manifest(directory)
    edit(next(c for c in manifest["cases"] if c["name"] == name))
    _write_manifest(directory, manifest)


def _rewrite(directory: Path, name: str, edit: Callable[[Arrays], None]) -> None:
    """Edit a case's arrays and reseal it (record the new sha256), so that the check gets past
    the integrity check to what was edited."""
    path = directory / _entry(directory, name)["file"]
    arrays = read_archive(path.read_bytes(), str(path))
    edit(arrays)
    data = archive_bytes(arrays)
    path.write_bytes(data)
    _edit_entry(directory, name, lambda e: e.__setitem__("sha256", sha256_hex(data)))


def _perturb(key: str) -> Callable[[Arrays], None]:
    def edit(arrays: Arrays) -> None:
        arrays[key] = arrays[key].copy()
        arrays[key].flat[0] += 1e-3

    return edit


def _problems(report: golden.CheckReport) -> list[tuple[str, str, str]]:
    return [(p.case, p.array, p.kind) for p in report.problems]


# ------------------------------------------------------------------------------------------
# export
# ------------------------------------------------------------------------------------------


def test_export_is_byte_identical_and_versioned(exported: Path, tmp_path: Path) -> None:
    golden.export(tmp_path)
    for file in sorted(exported.iterdir()):
        assert file.read_bytes() == (tmp_path / file.name).read_bytes(), file.name
    manifest = _manifest(exported)
    assert manifest["edp_ref_version"] == edp_ref.__version__
    assert manifest["format_version"] == golden.FORMAT_VERSION
    assert "informational" in manifest["tolerances"]
    assert "sha256" in manifest["integrity"]
    names = {c["name"] for c in manifest["cases"]}
    functions = ["corrupt", "approximate_action_clip_1.0", "dpm_solver_sample_clip_None"]
    functions += ["bellman_target", "clipped_double_q_target", "expectile_loss", "crr_advantage"]
    functions += [f"update_{name}" for name in REGISTRY]  # every registered algorithm
    for function in functions:
        assert {f"{function}_f64", f"{function}_f32"} <= names
    case = next(c for c in manifest["cases"] if c["name"] == "corrupt_f64")
    assert case["equation"] == "Eq. 8"
    assert case["inputs"]["a0"] == {"shape": [8, 3], "dtype": "float64"}
    assert case["inputs"]["k"]["dtype"] == "int64"
    update = next(c for c in manifest["cases"] if c["name"] == "update_edp_without_ap_f32")
    assert update["algorithm"] == "edp_without_ap"
    assert update["function"] == "edp_without_ap_update"
    assert "randomness/diffusion/timesteps" in update["inputs"]


def test_update_cases_are_built_from_the_registry() -> None:
    seeds = [update_seed(name) for name in REGISTRY]
    assert len(set(seeds)) == len(seeds)
    assert update_seed("edp_td3") == SEED + 100  # the first kit's seeds stay
    assert update_seed("gaussian_iql") == SEED + 106
    for name, algorithm in REGISTRY.items():
        config = small_config(algorithm)
        assert (config.network.hidden, config.compile) == (16, False), name
        assert (config.target_networks.ema_start, config.target_networks.ema_every) == (0, 1)
        assert hasattr(config, "diffusion") == algorithm.diffusion, name
    dql = small_config(REGISTRY["dql"]).diffusion
    assert (dql.schedule, dql.num_steps) == ("vp", 5)  # Diffusion-QL keeps its own chain
    edp = small_config(REGISTRY["edp_without_dpm"]).diffusion
    assert (edp.schedule, edp.num_steps, edp.dpm_steps) == ("linear", 50, 6)


# ------------------------------------------------------------------------------------------
# check: clean kits and notes
# ------------------------------------------------------------------------------------------


def test_check_passes_on_a_fresh_export(exported: Path) -> None:
    report = golden.check(exported)
    assert report.passed
    assert (report.problems, report.notes) == ((), ())
    assert report.kit_cases == len(golden.golden_cases())


def test_an_older_kit_checks_with_notes(exported: Path, tmp_path: Path) -> None:
    """Cases and outputs the kit lacks are notes, not failures; so are unlisted archives."""
    kit = _small_kit(exported, tmp_path, ["corrupt_f64", "update_gaussian_iql_f32"])

    def drop(arrays: Arrays) -> None:
        del arrays["outputs/metrics/value_mean"]

    _rewrite(kit, "update_gaussian_iql_f32", drop)
    _edit_entry(kit, "update_gaussian_iql_f32", lambda e: e["outputs"].pop("metrics/value_mean"))
    shutil.copyfile(exported / "corrupt_f32.npz", kit / "stray.npz")
    report = golden.check(kit)
    assert report.passed
    notes = {(n.case, n.array, n.kind) for n in report.notes}
    assert ("update_gaussian_iql_f32", "metrics/value_mean", "output_not_in_kit") in notes
    assert ("corrupt_f32", "-", "case_not_in_kit") in notes
    assert ("stray", "-", "unlisted_file") in notes
    assert len(notes) == len(golden.golden_cases()) - 2 + 2


def test_a_kit_from_before_an_output_was_renamed_checks_clean(
    exported: Path, tmp_path: Path
) -> None:
    """The metric alpha / mean |Q| was logged as ``lambda`` before it became ``q_loss_scale``:
    a kit of that time holds the old name, compared with the new output."""
    kit = _small_kit(exported, tmp_path, ["update_td3bc_f64"])
    old, new = "metrics/lambda", "metrics/q_loss_scale"

    def rename(arrays: Arrays) -> None:
        arrays[f"outputs/{old}"] = arrays.pop(f"outputs/{new}")

    _rewrite(kit, "update_td3bc_f64", rename)
    _edit_entry(
        kit, "update_td3bc_f64", lambda e: e["outputs"].update({old: e["outputs"].pop(new)})
    )
    report = golden.check(kit)
    assert report.passed, report.problems
    assert not [n for n in report.notes if n.case == "update_td3bc_f64"]
    _rewrite(kit, "update_td3bc_f64", _perturb(f"outputs/{old}"))
    assert ("update_td3bc_f64", new, "mismatch") in _problems(golden.check(kit))


# ------------------------------------------------------------------------------------------
# check: problems of one case, reported by case and array
# ------------------------------------------------------------------------------------------


def _flip_a_byte(kit: Path) -> None:
    path = kit / "approximate_action_clip_None_f64.npz"
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01
    path.write_bytes(bytes(data))


def _tamper_sha(kit: Path) -> None:
    _edit_entry(kit, "approximate_action_clip_None_f64", lambda e: e.update(sha256="0" * 64))


def _truncate_and_reseal(kit: Path) -> None:
    path = kit / "approximate_action_clip_None_f64.npz"
    data = path.read_bytes()[:300]
    path.write_bytes(data)
    _edit_entry(
        kit, "approximate_action_clip_None_f64", lambda e: e.update(sha256=sha256_hex(data))
    )


def _remove_file(kit: Path) -> None:
    (kit / "approximate_action_clip_None_f64.npz").unlink()


def _remove(key: str) -> Callable[[Path], None]:
    return lambda kit: _rewrite(kit, "approximate_action_clip_None_f64", lambda a: a.pop(key))


def _add(key: str) -> Callable[[Path], None]:
    def edit(arrays: Arrays) -> None:
        arrays[key] = np.zeros(3)

    return lambda kit: _rewrite(kit, "approximate_action_clip_None_f64", edit)


def _generous_tolerances_and_a_perturbed_value(kit: Path) -> None:
    _rewrite(kit, "approximate_action_clip_None_f64", _perturb("outputs/a0_hat"))
    _edit_entry(kit, "approximate_action_clip_None_f64", lambda e: e.update(atol=1e9, rtol=1e9))


def _truncate_input(kit: Path) -> None:
    def edit(arrays: Arrays) -> None:
        arrays["inputs/eps_hat"] = arrays["inputs/eps_hat"][:4]

    _rewrite(kit, "approximate_action_clip_None_f64", edit)
    _edit_entry(
        kit,
        "approximate_action_clip_None_f64",
        lambda e: e["inputs"].update(eps_hat={"shape": [4, 3], "dtype": "float64"}),
    )


def _misdescribe(kit: Path) -> None:
    _edit_entry(
        kit,
        "approximate_action_clip_None_f64",
        lambda e: e["outputs"].update(a0_hat={"shape": [8, 3], "dtype": "float32"}),
    )


def _rename_case(kit: Path) -> None:
    _edit_entry(kit, "approximate_action_clip_None_f64", lambda e: e.update(name="made_up_f64"))


CASE = "approximate_action_clip_None_f64"
PROBLEMS: list[tuple[str, Callable[[Path], None], list[tuple[str, str, str]], str]] = [
    ("modified bytes", _flip_a_byte, [(CASE, "-", "modified")], "corrupt or was modified"),
    ("tampered sha256", _tamper_sha, [(CASE, "-", "modified")], "the manifest records 0000"),
    ("truncated, resealed", _truncate_and_reseal, [(CASE, "-", "unreadable")], f"{CASE}.npz"),
    ("missing file", _remove_file, [(CASE, "-", "unreadable")], f"cannot read {{kit}}/{CASE}.npz"),
    ("missing output", _remove("outputs/a0_hat"), [(CASE, "a0_hat", "missing_output")], "lists"),
    (
        "missing input",
        _remove("inputs/eps_hat"),
        [(CASE, "eps_hat", "missing_input")],
        "no input 'eps_hat' (the manifest lists it and edp_ref's case takes it)",
    ),
    (
        "extra input",
        _add("inputs/bogus"),
        [(CASE, "bogus", "unexpected_input")],
        "takes no input 'bogus'",
    ),
    (
        "extra output",
        _add("outputs/bogus"),
        [(CASE, "bogus", "unexpected_output")],
        "does not compute an output 'bogus'",
    ),
    ("extra array", _add("bogus"), [(CASE, "bogus", "unexpected_array")], "neither inputs/"),
    (
        "manifest atol 1e9, perturbed value",
        _generous_tolerances_and_a_perturbed_value,
        [(CASE, "a0_hat", "mismatch")],
        "edp_ref's tolerance atol=1e-12 + rtol=1e-12",
    ),
    ("input of another shape", _truncate_input, [(CASE, "eps_hat", "wrong_input")], "[4, 3]"),
    (
        "manifest describes an array otherwise",
        _misdescribe,
        [(CASE, "a0_hat", "manifest_disagrees")],
        "describes the output as float32[8, 3], the archive holds float64[8, 3]",
    ),
    ("unknown case", _rename_case, [("made_up_f64", "-", "unknown_case")], "no case of that name"),
]


@pytest.mark.parametrize(
    ("tamper", "expected", "words"),
    [pytest.param(t, e, w, id=name) for name, t, e, w in PROBLEMS],
)
def test_check_reports_what_is_wrong_by_name(
    exported: Path,
    tmp_path: Path,
    tamper: Callable[[Path], None],
    expected: list[tuple[str, str, str]],
    words: str,
) -> None:
    kit = _small_kit(exported, tmp_path, [CASE, "corrupt_f32"])
    tamper(kit)
    report = golden.check(kit)
    assert not report.passed
    assert _problems(report) == expected
    assert words.format(kit=kit.resolve()) in report.problems[0].detail
    assert report.failed_cases() == [expected[0][0]]  # the untouched case still matches


def test_check_reports_a_single_perturbed_value(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kit = _small_kit(exported, tmp_path, [CASE, "corrupt_f32"])
    _rewrite(kit, CASE, _perturb("outputs/a0_hat"))
    report = golden.check(kit)
    assert _problems(report) == [(CASE, "a0_hat", "mismatch")]
    assert report.problems[0].max_abs_error == pytest.approx(1e-3, rel=1e-6)
    assert golden.main(["check", str(kit)]) == 1
    out = capsys.readouterr().out
    assert f"MISMATCH {CASE} [a0_hat]: max abs error 1.000e-03" in out
    assert "1 of 2 cases match, 1 fail" in out


def test_check_reports_a_perturbed_update_output(exported: Path, tmp_path: Path) -> None:
    name, output = "update_edp_iql_f32", "state/params/policy/body.0.weight"
    kit = _small_kit(exported, tmp_path, [name])
    _rewrite(kit, name, _perturb(f"outputs/{output}"))
    assert _problems(golden.check(kit)) == [(name, output, "mismatch")]


# ------------------------------------------------------------------------------------------
# check: kits that cannot be checked at all
# ------------------------------------------------------------------------------------------


def _set_file(file: str) -> Callable[[Path], None]:
    return lambda kit: _edit_entry(kit, CASE, lambda e: e.update(file=file))


def _symlink_out(kit: Path) -> None:
    outside = kit.parent / f"{kit.name}-outside.npz"
    shutil.copyfile(kit / f"{CASE}.npz", outside)
    (kit / "link.npz").symlink_to(outside)
    _set_file("link.npz")(kit)


def _not_json(kit: Path) -> None:
    (kit / "manifest.json").write_text('{"cases": [')


def _drop_field(field: str) -> Callable[[Path], None]:
    return lambda kit: _edit_entry(kit, CASE, lambda e: e.pop(field))


def _set_field(field: str, value: Any) -> Callable[[Path], None]:
    return lambda kit: _edit_entry(kit, CASE, lambda e: e.update({field: value}))


def _format_2(kit: Path) -> None:
    _write_manifest(kit, {**_manifest(kit), "format_version": 2})


def _duplicate(kit: Path) -> None:
    manifest = _manifest(kit)
    _write_manifest(kit, {**manifest, "cases": manifest["cases"] * 2})


KIT_ERRORS: list[tuple[str, Callable[[Path], None], str]] = [
    (
        "parent path",
        _set_file("../elsewhere.npz"),
        f"({CASE!r}): file '../elsewhere.npz' contains '..'",
    ),
    (
        "nested parent",
        _set_file("a/../../x.npz"),
        f"({CASE!r}): file 'a/../../x.npz' contains '..'",
    ),
    ("absolute path", _set_file("/etc/hostname"), f"({CASE!r}): file '/etc/hostname' is absolute"),
    ("symlink out", _symlink_out, f"({CASE!r}): file 'link.npz' resolves to"),
    ("not JSON", _not_json, "cannot read the golden manifest"),
    ("no sha256", _drop_field("sha256"), f"({CASE!r}) lacks the field 'sha256'"),
    ("no outputs", _drop_field("outputs"), f"({CASE!r}) lacks the field 'outputs'"),
    (
        "rtol a string",
        _set_field("rtol", "tight"),
        "field 'rtol' is 'tight'; expected a JSON number",
    ),
    ("short sha256", _set_field("sha256", "abc"), "expected 64 lowercase hex digits"),
    ("bad description", _set_field("inputs", {"a": [8]}), "inputs['a'] is [8]; expected"),
    ("format 2", _format_2, "format_version 2, this edp_ref reads 1"),
    ("repeated case", _duplicate, "appear more than once"),
]


@pytest.mark.parametrize(
    ("tamper", "words"), [pytest.param(t, w, id=name) for name, t, w in KIT_ERRORS]
)
def test_kits_that_cannot_be_checked_raise_naming_the_problem(
    exported: Path, tmp_path: Path, tamper: Callable[[Path], None], words: str
) -> None:
    (tmp_path / "kit").mkdir()
    kit = _small_kit(exported, tmp_path / "kit", [CASE])
    tamper(kit)
    with pytest.raises(golden.GoldenKitError, match="manifest") as error:
        golden.check(kit)
    assert words in str(error.value)


def test_command_line_reports_a_kit_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert golden.main(["check", str(tmp_path / "missing")]) == 2
    assert "error: cannot read the golden manifest" in capsys.readouterr().err


def test_export_on_a_full_disk_keeps_the_previous_kit(
    exported: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The kit is written all or nothing: a full disk at the manifest (written last, after the
    archives) leaves the previous kit as it was, no temporary file (a killed export's are
    removed by the next one), and one line naming the file and the free space."""
    cases = golden.golden_cases()[::20]  # a few cases: the export's writes are what is tested
    export_module = importlib.import_module("edp_ref.golden.exporter")
    monkeypatch.setattr(export_module, "golden_cases", lambda: cases)
    kit = tmp_path / "kit"
    shutil.copytree(exported, kit)
    for file in sorted(kit.glob("*.npz"))[:3]:  # an older kit: some files differ
        file.write_bytes(b"older " + file.read_bytes())
    before = snapshot(kit)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (kit / f".manifest.json.tmp-{dead.pid}").write_text("{")
    with failing_disk("manifest.json"):
        assert golden.main(["export", str(kit), "--force"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(
        f"error: cannot write the kit to {kit}: cannot write {kit / 'manifest.json'}: No space "
    )
    assert " free on the disk that holds " in err
    assert snapshot(kit) == before and temporaries(kit) == []


# ------------------------------------------------------------------------------------------
# the README's worked example
# ------------------------------------------------------------------------------------------


def test_numpy_port_of_approximate_action_passes(exported: Path) -> None:
    """The README's worked example: check a NumPy re-implementation against the files."""
    manifest = _manifest(exported)
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


# checking a port through an adapter (edp-golden check --adapter)
# ------------------------------------------------------------------------------------------

_TOY_PORT = """
import numpy as np

ALPHA_BARS = np.cumprod(1.0 - np.linspace(1e-4, 0.02, 1000))


def adapter(case):
    x = case.inputs
    if case.function == "corrupt":
        ab = ALPHA_BARS[x["k"]][:, None]
        a_k = np.sqrt(ab) * x["a0"] + np.sqrt(1 - ab) * x["eps"]
        return {"a_k": a_k.astype(x["a0"].dtype)}
    if case.function == "approximate_action" and case.params["clip"] is None:
        return {"a0_hat": x["a_k"]}  # a wrong port: forgets the noise
    return None
"""


def test_a_port_is_checked_through_its_adapter(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The kit's own reader and tolerances judge a port's outputs: the right corruption
    matches, the wrong approximation fails by name, the rest is 'not implemented'."""
    port = tmp_path / "toy_port.py"
    port.write_text(_TOY_PORT)
    status = golden.main(["check", str(exported), "--adapter", f"{port}:adapter"])
    out = capsys.readouterr().out
    assert status == 1
    assert "MISMATCH approximate_action_clip_None_f64 [a0_hat]" in out
    assert "corrupt_f64" not in out.replace("NOTE", "")  # no finding at all for corrupt
    cases = len(_manifest(exported)["cases"])
    assert f"2 of {cases} cases match, 2 fail, {cases - 4} not implemented by the port" in out


def test_an_adapter_that_cannot_be_loaded_is_named(
    exported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert golden.main(["check", str(exported), "--adapter", "no_such_module:adapter"]) == 2
    assert "--adapter 'no_such_module:adapter': cannot import no_such_module" in (
        capsys.readouterr().err
    )


def test_the_official_edp_as_a_port(exported: Path, tmp_path: Path) -> None:
    """docs/fidelity.md section 6 on a few cases: the official code matches the kit where
    edp_ref follows it, and differs where a documented switch separates them."""
    from edp_ref.peers import unavailable_reason

    reason = unavailable_reason("edp")
    if reason is not None:
        pytest.skip(f"the official EDP is unavailable: {reason}")
    from edp_ref.fidelity.golden_official import official_adapter

    names = {"corrupt_f32", "noise_prediction_network_f32", "update_edp_td3_f32",
             "update_edp_crr_f32", "update_dql_f32"}  # fmt: skip
    manifest = _manifest(exported)
    manifest["cases"] = [c for c in manifest["cases"] if c["name"] in names]
    for case in manifest["cases"]:
        (tmp_path / case["file"]).write_bytes((exported / case["file"]).read_bytes())
    _write_manifest(tmp_path, manifest)
    report = golden.check(tmp_path, official_adapter)
    assert report.failed_cases() == ["update_edp_crr_f32"]  # the surrogate form, SPEC section 4
    assert {p.array for p in report.problems} >= {"state/params/policy/body.0.weight"}
    assert report.not_implemented() == ["update_dql_f32"]  # Diffusion-QL, not the official EDP
