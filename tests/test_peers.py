"""The peers load unmodified and train (edp_ref.peers); the DIAGNOSTIC interpolation equals the
official one; the peer benchmark (edp_ref.benchmark.peers) runs end to end and writes its JSON.
No timing is asserted.

Peer folders come from EDP_OFFICIAL_ROOT, DQL_OFFICIAL_ROOT and CORL_ROOT; where a variable is
unset and ``../shared/peers/<edp|dql|corl>`` exists beside the repository (CI's layout), that
folder is used. A test that needs a peer (or JAX) skips with the reason when it is absent.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from edp_ref.peers import (
    DIAGNOSTIC,
    OFFICIAL,
    PEERS,
    PeerRun,
    PeerUnavailableError,
    SyntheticTransitions,
    available,
    corl_run,
    diffusion_ql_run,
    load_diffusion_ql,
    load_official_edp,
    official_edp_run,
    peer_root,
    searchsorted_interpolate,
    synthetic_transitions,
    unavailable_reason,
)
from edp_ref.peers.isolation import stub_module

# Warnings raised inside the peers' own code and their dependencies (not edp_ref's).
pytestmark = [
    pytest.mark.filterwarnings("ignore:optax.global_norm is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Explicitly requested dtype float64:UserWarning"),
    pytest.mark.filterwarnings("ignore:__array_wrap__ must accept context:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:jax.core.pytype_aval_mappings is deprecated"),
]

ROOT = Path(__file__).resolve().parents[1]
# These tests compile each tiny JAX program once: XLA's cheapest optimisation level cuts their
# compile time by about a third (run time is irrelevant here). XLA reads the variable when JAX
# creates its CPU backend, at the first computation; no other test module computes with JAX.
if True:
    _FAST_COMPILE = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_FAST_COMPILE}".strip()
# Tiny sizes: the official linear schedule needs K >= 21; DPM-Solver's end time must be >= 1/K.
EDP_TINY: dict[str, Any] = {"dpm_steps": 3, "dpm_t_end": 0.02, "arch": (8,), "batch_size": 8}
EDP_KEYS = {
    "edp_official_td3": ("td3", OFFICIAL, 50),
    "edp_official_td3_diagnostic": ("td3", DIAGNOSTIC, 50),
    "edp_official_crr": ("crr", OFFICIAL, 50),
    "edp_official_iql": ("iql", OFFICIAL, 50),
    "edp_official_dql_jax": ("dql_jax", OFFICIAL, 2),
}


@pytest.fixture(scope="module", autouse=True)
def _peer_folders() -> Iterator[None]:
    """Default each unset variable to ../shared/peers/<name> when that folder exists."""
    with pytest.MonkeyPatch.context() as mp:
        for name, spec in PEERS.items():
            candidate = ROOT.parent / "shared" / "peers" / name
            if not os.environ.get(spec.env_var) and candidate.is_dir():
                mp.setenv(spec.env_var, str(candidate))
        yield


@pytest.fixture
def _restore_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The benchmark sets one torch thread and XLA_FLAGS: restore both for the other tests."""
    threads = torch.get_num_threads()
    monkeypatch.setenv("XLA_FLAGS", os.environ.get("XLA_FLAGS", ""))
    yield
    torch.set_num_threads(threads)


def need(peer: str) -> None:
    reason = unavailable_reason(peer)
    if reason is not None:
        pytest.skip(f"peer {peer!r} unavailable: {reason}")


@pytest.fixture(scope="module")
def tiny_data() -> SyntheticTransitions:
    return synthetic_transitions(200, obs_dim=3, action_dim=2, seed=0)


@pytest.fixture(scope="module")
def edp_runs(tiny_data: SyntheticTransitions) -> dict[str, PeerRun]:
    """The official EDP agents at tiny sizes, built once (their jitted steps compile once)."""
    if not available("edp"):
        return {}
    return {
        key: official_edp_run(alg, tiny_data, interpolation=interp, num_steps=K, **EDP_TINY)
        for key, (alg, interp, K) in EDP_KEYS.items()
    }


# ------------------------------------------------------------------------------------------
# Locating the peers
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "setup", "words"),
    [
        ("edp", "unset", ["EDP_OFFICIAL_ROOT is not set"]),
        ("dql", "missing", ["DQL_OFFICIAL_ROOT=", "is not a folder"]),
        (
            "corl",
            "empty",
            ["CORL_ROOT=", "lacks the expected files", "algorithms/offline/td3_bc.py"],
        ),
        ("edp", "argument", ["the folder argument", "instead of EDP_OFFICIAL_ROOT", "lacks"]),
    ],
)
def test_peer_root_errors_name_the_variable(
    peer: str, setup: str, words: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    var = PEERS[peer].env_var
    root: Path | None = None
    if setup == "unset":
        monkeypatch.delenv(var, raising=False)
    elif setup == "missing":
        monkeypatch.setenv(var, str(tmp_path / "absent"))
    elif setup == "empty":
        monkeypatch.setenv(var, str(tmp_path))
    else:
        root = tmp_path
    with pytest.raises(PeerUnavailableError) as info:
        peer_root(peer, root)
    for word in words:
        assert word in str(info.value)
    assert not available(peer, root)
    reason = unavailable_reason(peer, root)
    assert reason is not None and words[0] in reason


def test_unknown_peer_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown peer 'jaxrl'"):
        peer_root("jaxrl")


def test_stub_module_says_it_is_a_stub() -> None:
    gym = stub_module("gym", "imported by a peer at module level")
    with pytest.raises(AttributeError, match=r"gym\.make is not available: gym is a stub"):
        _ = gym.make


def test_loading_a_peer_leaves_sys_path_and_modules_clean() -> None:
    need("dql")
    before_path = list(sys.path)
    modules = load_diffusion_ql()
    assert sys.path == before_path
    assert str(peer_root("dql")) not in sys.path
    assert "agents" not in sys.modules and "utils.logger" not in sys.modules
    assert modules["agents.ql_diffusion"].__file__.startswith(str(peer_root("dql")))


# ------------------------------------------------------------------------------------------
# Each adapter: two training iterations at tiny sizes, finite, parameters moving
# ------------------------------------------------------------------------------------------


def _finite_metrics(metrics: Any) -> list[float]:
    values = []
    for v in (metrics or {}).values():
        x = v[-1] if isinstance(v, list) else v
        values.append(float(np.asarray(x)))
    return values


@pytest.mark.parametrize("key", list(EDP_KEYS))
def test_official_edp_trains(key: str, edp_runs: dict[str, PeerRun]) -> None:
    need("edp")
    import jax

    run = edp_runs[key]
    assert run.diagnostic == (key.endswith("_diagnostic"))
    assert ("DIAGNOSTIC" in run.label) == run.diagnostic
    before = jax.tree_util.tree_leaves(run.agent.train_params)
    steps = run.agent.total_steps
    metrics = run.step()
    metrics = run.update(run.draw_batch())
    run.sync()
    values = _finite_metrics(metrics)
    assert values and all(math.isfinite(v) for v in values), metrics
    assert run.agent.total_steps == steps + 2
    after = jax.tree_util.tree_leaves(run.agent.train_params)
    assert any(
        not np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(before, after, strict=True)
    )
    assert run.hyperparameters["max_grad_norm"] == 5.0  # hps.py, walker2d-medium-expert-v2


def test_diffusion_ql_trains(tiny_data: SyntheticTransitions) -> None:
    need("dql")
    run = diffusion_ql_run(tiny_data, num_steps=2, batch_size=8)
    assert run.hyperparameters["gn"] == 5.0 and run.hyperparameters["beta_schedule"] == "vp"
    before = [p.detach().clone() for p in run.agent.actor.parameters()]
    run.step()
    metrics = run.update(run.draw_batch())
    assert all(math.isfinite(v) for v in _finite_metrics(metrics))
    assert run.agent.step == 2
    moved = [
        not torch.equal(a, b) for a, b in zip(before, run.agent.actor.parameters(), strict=True)
    ]
    assert any(moved)


@pytest.mark.parametrize("algorithm", ["td3_bc", "iql"])
def test_corl_trains(algorithm: Any, tiny_data: SyntheticTransitions) -> None:
    need("corl")
    run = corl_run(algorithm, tiny_data, batch_size=8)
    assert run.hyperparameters["device"] == "cpu"
    before = [p.detach().clone() for p in run.agent.actor.parameters()]
    run.step()
    metrics = run.update(run.draw_batch())  # TD3+BC updates its actor every 2nd step
    assert all(math.isfinite(v) for v in _finite_metrics(metrics)), metrics
    assert run.agent.total_it == 2
    assert any(
        not torch.equal(a, b) for a, b in zip(before, run.agent.actor.parameters(), strict=True)
    )


# ------------------------------------------------------------------------------------------
# The DIAGNOSTIC interpolation
# ------------------------------------------------------------------------------------------


def _interpolation_cases() -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(name, x [N, C], xp [C, K], yp [C, K]): random keypoints with x inside, outside and on
    them, and the official K = 1000 schedule as DPM-Solver queries it (log alpha_t at t, and
    the flipped arrays of ``inverse_lambda``)."""
    rng = np.random.default_rng(0)
    cases = []
    for channels, K in ((1, 2), (2, 17)):
        xp = np.sort(rng.uniform(-3, 3, (channels, K)), axis=1)
        yp = rng.standard_normal((channels, K))
        x = np.concatenate(
            [
                rng.uniform(-3, 3, (40, channels)),
                rng.uniform(-6, -3, (5, channels)),
                rng.uniform(3, 6, (5, channels)),
                xp.T,
            ]
        )
        cases.append((f"random C={channels} K={K}", x, xp, yp))
    betas = np.linspace(1e-4, 0.02, 1000)  # the official linear schedule at K = 1000
    t_array = np.linspace(0.0, 1.0, 1001)[1:][None]
    log_alpha = 0.5 * np.log(np.cumprod(1.0 - betas))[None]
    t = np.concatenate([rng.uniform(1e-3, 1.0, 60), t_array[0, :5], [1e-3, 1.0]])[:, None]
    cases.append(("schedule: log alpha(t)", t, t_array, log_alpha))
    cases.append(
        (
            "schedule: t(log alpha)",
            np.log(rng.uniform(0.01, 1.0, (60, 1))),
            log_alpha[:, ::-1],
            t_array[:, ::-1],
        )
    )
    f32 = np.float32
    return [(n, x.astype(f32), xp.astype(f32), yp.astype(f32)) for n, x, xp, yp in cases]


def test_diagnostic_interpolation_equals_official() -> None:
    need("edp")
    import jax
    import jax.numpy as jnp

    official = load_official_edp(interpolation=OFFICIAL)["diffusion.dpm_solver"]
    diagnostic = load_official_edp(interpolation=DIAGNOSTIC)["diffusion.dpm_solver"]
    assert diagnostic.interpolate_fn is searchsorted_interpolate
    assert official.interpolate_fn is not searchsorted_interpolate
    # Jitted: one compilation per shape instead of one per operation.
    want_fn, got_fn = jax.jit(official.interpolate_fn), jax.jit(searchsorted_interpolate)
    for name, x, xp, yp in _interpolation_cases():
        args = (jnp.asarray(x), jnp.asarray(xp), jnp.asarray(yp))
        want, got = np.asarray(want_fn(*args)), np.asarray(got_fn(*args))
        assert got.shape == want.shape == x.shape, name
        np.testing.assert_array_equal(got, want, err_msg=name)


def test_jax_adapters_alias_the_removed_apis() -> None:
    need("edp")
    import jax
    import jax.numpy as jnp

    from edp_ref.peers.isolation import install_jax_adapters

    load_official_edp()
    assert install_jax_adapters() == []  # already installed; never replaced
    assert jax.tree_multimap is jax.tree_util.tree_map
    x = jnp.arange(3.0)
    np.testing.assert_array_equal(x.tile((2, 1)), jnp.tile(x, (2, 1)))
    traced = jax.jit(lambda a: a.tile(2))(x)
    np.testing.assert_array_equal(traced, jnp.tile(x, 2))


def test_official_edp_rejects_bad_arguments(tiny_data: SyntheticTransitions) -> None:
    need("edp")
    with pytest.raises(ValueError, match="algorithm must be"):
        official_edp_run("sac", tiny_data)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="interpolation must be"):
        load_official_edp(interpolation="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"not in diffusion/hps\.py"):
        official_edp_run("iql", tiny_data, task="walker2d-random-v2")


# ------------------------------------------------------------------------------------------
# The benchmark harness
# ------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("_restore_threads")
def test_peer_benchmark_end_to_end(
    tmp_path: Path, tiny_data: SyntheticTransitions, edp_runs: dict[str, PeerRun]
) -> None:
    from edp_ref.benchmark.peers import SCHEMA, format_report, run_peer_benchmark, write_json
    from edp_ref.benchmark.settings import PeerBenchmarkSettings

    settings = PeerBenchmarkSettings.tiny(rounds=2)
    result = run_peer_benchmark(settings, data=tiny_data, runs=edp_runs)
    path = write_json(result, tmp_path / "peers.json")
    doc = json.loads(path.read_text())
    assert doc["schema"] == SCHEMA
    assert doc["loadavg_start"] is not None and doc["loadavg_end"] is not None
    assert len(doc["loadavg_rounds"]) == 2
    assert doc["machine"]["torch_threads"] == 1
    for v in doc["variants"]:
        assert v["error"] is None, v
        assert len(v["round_ips"]) == 2 and v["median_ips"] > 0
    rows = {(r["peer_key"], r["edp_ref_key"]): r for r in doc["rows"]}
    assert len(rows) == 10
    for (peer_key, _), row in rows.items():
        assert row["edp_ref_eager_ips"] > 0 and row["edp_ref_compiled_ips"] is None
        peer = {"edp": "edp_official", "dql": "dql_official", "corl": "corl"}
        ran = any(peer_key.startswith(p) and available(n) for n, p in peer.items())
        assert (row["peer_ips"] is not None) == ran, row
        if ran:
            assert math.isclose(row["ratio_eager"], row["edp_ref_eager_ips"] / row["peer_ips"])
    diagnostic = rows[("edp_official_td3_diagnostic", "edp_td3")]
    assert diagnostic["diagnostic"] and "not the official code path" in diagnostic["note"]
    report = format_report(doc)
    assert "DIAGNOSTIC, not the official code path" in report
    assert "load average" in report


@pytest.mark.usefixtures("_restore_threads")
def test_peer_benchmark_without_peers_times_edp_ref_alone(tmp_path: Path) -> None:
    """``scripts/benchmark.py --peers`` forwards to the peer benchmark; absent peers are named."""
    spec = importlib.util.spec_from_file_location(
        "_benchmark_script", ROOT / "scripts" / "benchmark.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "out.json"
    empty = str(tmp_path)
    argv = ["--peers", "--tiny", "--only", "td3bc", "--rounds", "1", "--output", str(out)]
    argv += ["--edp-root", empty, "--dql-root", empty, "--corl-root", empty]
    assert script.main(argv) == 0
    doc = json.loads(out.read_text())
    assert all(not info["available"] for info in doc["peers"].values())
    assert "the folder argument" in doc["peers"]["corl"]["reason"]
    assert [r["edp_ref_key"] for r in doc["rows"]] == ["td3bc_2x256", "td3bc_3x256"]
    assert all(r["peer_ips"] is None and r["edp_ref_eager_ips"] > 0 for r in doc["rows"])
