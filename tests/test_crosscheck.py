"""edp_ref trains like the official code: scripts/crosscheck_official.py's quick plan passes, and
its power suite catches every bug it is given.

The quick plan (:mod:`edp_ref.fidelity.crosscheck`) runs, against the peers loaded unmodified:
one update of EDP + TD3 (K = 1000, DPM-Solver-15, small networks), EDP + CRR and EDP + IQL (small
K) from the same powered state (separate targets, Q values spread over several units) with the
same batch (a quarter terminals, a quarter time-outs) and draws; DPM-Solver, DDPM and the official
``SamplerPolicy``'s EAS; the model times the official wrapper feeds and the K = 1000 clip
indices; the official trainer's preprocessing; one update of DQL against the official
Diffusion-QL and of TD3+BC and IQL (as shipped and in IQL's order) against CORL, float32 and
float64. The script runs once per module; then a subset of the power suite (bugs put into edp_ref
in-process) reuses the peers' results and must be caught, by name; negative controls show that a
wrong switch or a perturbed parameter is caught. Peer folders come from EDP_OFFICIAL_ROOT,
DQL_OFFICIAL_ROOT and CORL_ROOT (CI exports them, pointing at ../shared/peers); a test whose peer
(or JAX) is absent skips with the reason, naming the variable.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import io
import math
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from edp_ref.fidelity.compare import (
    Comparison,
    compare_change,
    compare_group,
    compare_values,
    format_line,
    summary_line,
)
from edp_ref.peers import PEERS, unavailable_reason

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Explicitly requested dtype float64:UserWarning"),
]

ROOT = Path(__file__).resolve().parents[1]


def _roots() -> dict[str, str | None]:
    """Each peer's folder from its environment variable (None when unset)."""
    return {name: os.environ.get(spec.env_var, "").strip() or None for name, spec in PEERS.items()}


def _need(*peers: str) -> None:
    roots = _roots()
    for peer in peers:
        reason = unavailable_reason(peer, roots[peer])
        if reason is not None:
            pytest.skip(f"peer {peer!r} unavailable: {reason}")


def _script() -> object:
    spec = importlib.util.spec_from_file_location(
        "crosscheck_script", ROOT / "scripts" / "crosscheck_official.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_run() -> Iterator[tuple[int, list[str]]]:
    """scripts/crosscheck_official.py --plan quick --fast-compile, run once: (status, lines)."""
    roots = _roots()
    if all(unavailable_reason(p, roots[p]) is not None for p in PEERS):
        pytest.skip(
            "no peer available: " + "; ".join(str(unavailable_reason(p, roots[p])) for p in PEERS)
        )
    argv = ["--plan", "quick", "--fast-compile"]
    for name in PEERS:
        if roots[name] is not None:
            argv += [f"--{name}", str(roots[name])]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = _script().main(argv)  # type: ignore[attr-defined]
    yield status, out.getvalue().splitlines()


# (peer, words every expected line has, minimum number of PASS lines with them)
EXPECTED = [
    ("edp", "edp_td3 K=1000 dpm15 2x8 f32 one-update", 14),
    ("edp", "edp_crr K=50 dpm3 2x8 f32 one-update", 14),
    ("edp", "edp_iql K=50 dpm3 2x8 f32 one-update", 17),
    ("edp", "sampler dpm_solver actions", 1),
    ("edp", "sampler official dpm_sample == its replica", 1),
    ("edp", "sampler ddpm actions", 1),
    ("edp", "official SamplerPolicy.dpmensemble_act == its candidates", 1),
    ("edp", "EAS N=50 selection law", 1),
    ("edp", "EAS N=50 min-Q of the candidates", 1),
    ("edp", "model times: edp_ref N t - 1 vs those the official wrapper feeds", 1),
    ("edp", "DPM-Solver clip indices vs the official code in float64 (x64) (all equal)", 1),
    ("edp", "clip indices vs the official code in float32 (expected differences only)", 1),
    ("edp", "preprocessing hopper-medium-v2 iql", 6),
    ("edp", "preprocessing antmaze-umaze-v0 td3 (obs_norm)", 6),
    ("edp", "preprocessing pen-human-v1 crr (obs_norm)", 6),
    ("dql", "dql vs Diffusion-QL f32 one-update", 14),
    ("dql", "dql vs Diffusion-QL f64 one-update", 14),
    ("corl", "td3bc vs CORL f32 one-update", 14),
    ("corl", "td3bc vs CORL f64 one-update", 14),
    ("corl", "gaussian_iql vs CORL (as shipped) f32 one-update", 8),
    ("corl", "gaussian_iql vs CORL (as shipped) f64 one-update", 8),
    ("corl", "gaussian_iql vs CORL (its methods in IQL's order) f32 one-update", 8),
    ("corl", "edp_ref Adam eps 2e-08, critics only", 16),
]


@pytest.mark.parametrize(("peer", "words", "minimum"), EXPECTED, ids=[e[1] for e in EXPECTED])
def test_quick_crosscheck_lines_pass(
    quick_run: tuple[int, list[str]], peer: str, words: str, minimum: int
) -> None:
    _need(peer)
    _, lines = quick_run
    matching = [line for line in lines if words in line and line[:4] in ("PASS", "FAIL")]
    failed = [line for line in matching if line.startswith("FAIL")]
    assert not failed, "\n".join(failed)
    assert len(matching) >= minimum, f"{len(matching)} lines with {words!r}:\n" + "\n".join(lines)


def test_quick_crosscheck_summary_and_status(quick_run: tuple[int, list[str]]) -> None:
    status, lines = quick_run
    summary = lines[-1]
    match = re.fullmatch(r"crosscheck: (\d+) passed, (\d+) failed", summary)
    assert match, f"last line {summary!r}"
    passed, failed = int(match.group(1)), int(match.group(2))
    verdicts = [line[:4] for line in lines]
    assert passed == verdicts.count("PASS") and failed == verdicts.count("FAIL")
    assert status == (1 if failed else 0)
    assert failed == 0, "\n".join(line for line in lines if line.startswith("FAIL"))
    roots = _roots()
    skipped = [line for line in lines if line.startswith("SKIP")]
    available = [p for p in PEERS if unavailable_reason(p, roots[p]) is None]
    assert all(PEERS[p].env_var not in line for p in available for line in skipped)


def test_lines_judge_the_update_and_powered_inputs(quick_run: tuple[int, list[str]]) -> None:
    """State lines are relative to the update's change; the compared batches hold terminals and
    time-outs."""
    _need("edp", "corl")
    _, lines = quick_run
    state = [line for line in lines if "one-update params/" in line and line[:4] == "PASS"]
    assert state and all("relative to the update's change" in line for line in state)
    losses = [line for line in lines if "one-update losses" in line and line[:4] == "PASS"]
    assert losses and all("25% terminals, 25% time-outs" in line for line in losses)


POWER_SUBSET = ["done_dropped", "tau_zero", "eas_ignores_q", "ema_late", "obs_norm_bessel"]


def test_power_subset_is_caught(quick_run: tuple[int, list[str]]) -> None:
    """A quick subset of the power suite: each bug put into edp_ref fails the quick plan, by
    name, and the unmutated run passes (the peers' sides are reused from the quick run)."""
    _need("edp", "dql", "corl")
    argv = ["--plan", "quick", "--fast-compile", "--power", "--bugs", *POWER_SUBSET]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = _script().main(argv)  # type: ignore[attr-defined]
    lines = out.getvalue().splitlines()
    assert status == 0, "\n".join(lines)
    assert any(
        line.startswith("unmutated run: crosscheck:") and " 0 failed" in line for line in lines
    )
    for bug in POWER_SUBSET:
        assert any(line.startswith(f"# {bug}: caught (") for line in lines), "\n".join(lines)
    assert f"power: {len(POWER_SUBSET)} of {len(POWER_SUBSET)} bugs caught" in out.getvalue()


@pytest.mark.parametrize(("ours", "theirs"), [("iql", "corl"), ("corl", "iql")])
def test_iql_update_order_switch_both_ways(ours: str, theirs: str) -> None:
    """edp_ref's ``update_order`` must match CORL run in that order: crossed, the update fails."""
    _need("corl")
    from edp_ref.fidelity.crosscheck import F32
    from edp_ref.fidelity.torch_checks import TorchSetting, torch_one_update

    lines = torch_one_update(
        TorchSetting("iql", iql_order=theirs), _roots()["corl"], F32,
        edit_config=lambda c: dataclasses.replace(c, update_order=ours),
    )  # fmt: skip
    failed = {c.name.rsplit(" ", 1)[-1] for c in lines if not c.passed}
    assert "params/policy" in failed
    assert "params/value" not in failed  # the value step is the same in both orders


def test_wrong_switch_is_caught_edp_iql() -> None:
    """Negative control: the paper's IQL temperature (1.0) instead of the official 3.0 fails."""
    _need("edp")
    from edp_ref.fidelity.crosscheck import F32
    from edp_ref.fidelity.edp_checks import one_update
    from edp_ref.fidelity.official_edp import EDPSetting

    setting = EDPSetting("iql", num_steps=50, dpm_steps=3, hidden=8, batch_size=8)
    lines = one_update(
        setting, _roots()["edp"], F32, warmup=1,
        edit_config=lambda c: dataclasses.replace(c, inverse_temperature=1.0),
    )  # fmt: skip
    failed = {c.name.rsplit(" ", 1)[-1] for c in lines if not c.passed}
    assert "params/policy" in failed and "losses" in failed
    assert "params/value" not in failed  # the value step does not use the temperature


def test_perturbed_parameter_is_caught_edp_td3() -> None:
    """Negative control: one weight of edp_ref's start state moved by 1e-3 fails the policy's
    parameters (and nothing of the critics', which that weight does not touch)."""
    _need("edp")
    import torch

    from edp_ref.fidelity.crosscheck import F32
    from edp_ref.fidelity.edp_checks import one_update
    from edp_ref.fidelity.official_edp import EDPSetting

    def nudge(state):  # type: ignore[no-untyped-def]
        policy = {k: v.clone() for k, v in state.params["policy"].items()}
        name = sorted(policy)[0]
        with torch.no_grad():
            policy[name].view(-1)[0] += 1e-3
        return state.replace(params={**state.params, "policy": policy})

    setting = EDPSetting("td3", num_steps=50, dpm_steps=3, hidden=8, batch_size=8)
    lines = one_update(setting, _roots()["edp"], F32, warmup=1, edit_state=nudge)
    failed = {c.name.rsplit(" ", 1)[-1] for c in lines if not c.passed}
    assert "params/policy" in failed
    assert "params/q1" not in failed and "target/q2" not in failed


def test_wrong_switch_is_caught_td3bc() -> None:
    """Negative control: TD3+BC with alpha 2.0 instead of CORL's 2.5 fails on the actor."""
    _need("corl")
    from edp_ref.fidelity.crosscheck import F32
    from edp_ref.fidelity.torch_checks import TorchSetting, torch_one_update

    lines = torch_one_update(
        TorchSetting("td3bc"), _roots()["corl"], F32,
        edit_config=lambda c: dataclasses.replace(c, alpha=2.0),
    )  # fmt: skip
    failed = {c.name.rsplit(" ", 1)[-1] for c in lines if not c.passed}
    assert "params/policy" in failed
    assert "params/q1" not in failed  # the critic step comes before the actor's


@pytest.mark.parametrize(
    ("ours", "peer", "deviation", "words"),
    [
        ({"w": [1.0, 2.0]}, {"w": [1.0, 2.0]}, 0.0, ""),
        ({"w": [1.0, 2.1]}, {"w": [1.0, 2.0]}, 0.05, "largest at w"),
        ({"w": [1.0]}, {"w": [1.0, 2.0]}, math.inf, "shape"),
        ({"v": [1.0]}, {"w": [1.0]}, math.inf, "keys differ"),
        ({"w": [math.nan]}, {"w": [1.0]}, math.inf, "non-finite"),
    ],
)
def test_compare_group_table(ours: dict, peer: dict, deviation: float, words: str) -> None:
    c = compare_group("g", ours, peer, 0.01)
    assert c.deviation == pytest.approx(deviation)
    assert words in c.note
    assert c.passed == (deviation <= 0.01)
    assert format_line(c).startswith("PASS" if c.passed else "FAIL")


def test_compare_change_is_relative_to_the_update() -> None:
    """A target that moved 1e-3 of the way the peer's did fails although it is 1e-6 of the
    parameters' size; a frozen group passes only when the peer's is frozen too."""
    start = {"w": [1.0, -1.0]}
    peer = {"w": [1.0 + 1e-3, -1.0]}
    assert compare_change("t", start, peer, start, 1e-2).deviation == pytest.approx(1.0)
    half = {"w": [1.0 + 0.5e-3, -1.0]}
    assert compare_change("t", half, peer, start, 1e-2).deviation == pytest.approx(0.5)
    assert compare_change("t", start, start, start, 0.0).passed
    assert not compare_change("t", peer, start, start, 1.0).passed


def test_compare_values_each_at_its_own_scale() -> None:
    c = compare_values("m", {"big": 1000.1, "small": 1.1e-3}, {"big": 1000.0, "small": 1e-3}, 0.2)
    assert c.deviation == pytest.approx(0.1) and "largest at small" in c.note


def test_summary_counts_and_info_lines() -> None:
    ok = Comparison("a", 0.0, 0.0, 1.0, 1.0, 1)
    bad = Comparison("b", 2.0, 2.0, 1.0, 1.0, 1)
    info = Comparison("c", 5.0, 5.0, 1.0, 1.0, 1, informational=True)
    diag = Comparison("d", 5.0, 5.0, 1.0, 1.0, 1, diagnostic=True)
    assert summary_line([ok, bad, info, diag]) == "crosscheck: 1 passed, 1 failed"
    assert format_line(info).startswith("INFO") and "not checked" in format_line(info)
    assert format_line(diag).startswith("DIAG") and "outside; not deciding" in format_line(diag)


def test_script_refuses_an_unknown_check_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        _script().main(["--plan", "quick", "--only", "no-such-check"])  # type: ignore[attr-defined]
    assert "no check matches" in str(info.value)


def test_module_does_not_leak_peer_modules() -> None:
    assert "diffusion" not in sys.modules and "agents" not in sys.modules
