"""Conformance kit for ports: golden input/output vectors of every public function.

``python -m edp_ref.golden export DIR`` writes one ``.npz`` file per case (plain NumPy arrays,
no pickles) and ``manifest.json`` describing each case: the function and the paper equation it
checks, the non-tensor arguments, the names, shapes and dtypes of its inputs and outputs, the
tolerances, and the edp_ref version. ``python -m edp_ref.golden check DIR`` recomputes every
case with the installed edp_ref and reports each mismatch with its case name and maximum error;
it exits non-zero on any mismatch. A port reads the same files and compares its own outputs.

Inputs are drawn once from a fixed seed; every case exists in float64 and float32. The export
is byte-for-byte deterministic on CPU: the ``.npz`` archives are written with a fixed
timestamp (``numpy.savez`` stamps the current time into the zip, so it is not used for writing;
the files it reads, ``numpy.load(allow_pickle=False)``, are ordinary ``.npz`` files).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import sys
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

import edp_ref
from edp_ref import (
    NoisePredictionNetwork,
    QNetwork,
    ValueNetwork,
    approximate_action,
    corrupt,
    ddpm_sample,
    ddpm_step,
    diffusion_loss,
    dpm_solver_sample,
    eas_index,
    eas_probabilities,
    elbo_weighted_loss,
    elbo_weights,
    energy_based_action_selection,
    gaussian_surrogate_loss,
    make_schedule,
    sinusoidal_time_embedding,
)
from edp_ref import algorithms as alg
from edp_ref.algorithms import TrainState
from edp_ref.atomic_files import atomic_write_bytes

__all__ = ["GoldenCase", "check", "export", "golden_cases", "main"]

FORMAT_VERSION = 1
SEED = 20231210
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)

Arrays = dict[str, Tensor]


@dataclass(frozen=True)
class GoldenCase:
    """One conformance case: inputs, the computation, and its tolerances."""

    name: str
    function: str
    equation: str
    dtype: str
    params: Mapping[str, Any]
    inputs: Arrays
    compute: Callable[[Arrays], Arrays]
    rtol: float
    atol: float
    notes: str = field(default="")


def _bind(fn: Callable[[Arrays, Any], Arrays], value: Any) -> Callable[[Arrays], Arrays]:
    """Fix the second argument of a case computation (a loop variable)."""
    return lambda x: fn(x, value)


def _tolerances(dtype: torch.dtype, chain: bool = False) -> tuple[float, float]:
    if dtype == torch.float64:
        return (1e-9, 1e-10) if chain else (1e-12, 1e-12)
    return (1e-4, 1e-5) if chain else (1e-5, 1e-6)


def _net_arrays(prefix: str, module: torch.nn.Module) -> Arrays:
    return {f"{prefix}.{k}": v.detach().clone() for k, v in module.state_dict().items()}


def _load_net(module: torch.nn.Module, prefix: str, arrays: Arrays) -> torch.nn.Module:
    state = {k[len(prefix) + 1 :]: v for k, v in arrays.items() if k.startswith(prefix + ".")}
    module.load_state_dict(state)
    return module


def _noise_net(state_dim: int, action_dim: int, dtype: torch.dtype) -> NoisePredictionNetwork:
    return NoisePredictionNetwork(state_dim, action_dim, hidden=32).to(dtype)


def golden_cases() -> list[GoldenCase]:
    """Every core case and one update of every algorithm, float64 and float32."""
    cases: list[GoldenCase] = []
    for dtype in (torch.float64, torch.float32):
        cases.extend(_core_cases(dtype))
        cases.extend(_update_cases(dtype))
    return cases


# ------------------------------------------------------------------------------------------
# one training update of each algorithm
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Algorithm:
    name: str
    equation: str
    config: Any
    init: Callable[..., TrainState]
    draw: Callable[..., Any] | None
    update: Callable[..., tuple[TrainState, dict[str, Tensor]]]


def _flatten_randomness(obj: Any, prefix: str) -> Arrays:
    """Every tensor of a (nested) randomness dataclass under ``prefix/<field>/...``."""
    if isinstance(obj, Tensor):
        return {prefix: obj}
    if obj is None:
        return {}
    out: Arrays = {}
    for f in dataclasses.fields(obj):
        out.update(_flatten_randomness(getattr(obj, f.name), f"{prefix}/{f.name}"))
    return out


def _rebuild_randomness(template: Any, arrays: Arrays, prefix: str) -> Any:
    """``template`` (a randomness dataclass) with its tensors replaced by ``arrays``."""
    if isinstance(template, Tensor):
        return arrays[prefix]
    if template is None:
        return None
    changes = {
        f.name: _rebuild_randomness(getattr(template, f.name), arrays, f"{prefix}/{f.name}")
        for f in dataclasses.fields(template)
    }
    return dataclasses.replace(template, **changes)


def _algorithms() -> list[_Algorithm]:
    net = alg.NetworkConfig(hidden=16)
    diffusion = alg.DiffusionConfig(num_steps=50, dpm_steps=6)
    # EMA every update from the first, so that one update exercises the EMA policy too.
    targets = alg.TargetNetworkConfig(ema_start=0, ema_every=1)
    common: dict[str, Any] = {"network": net, "target_networks": targets, "compile": False}
    return [
        _Algorithm(
            "edp_td3",
            "Eqs. 5-10, 14; Alg. 1; App. A.1",
            alg.EDPTD3Config(diffusion=diffusion, **common),
            alg.init_edp_td3,
            alg.draw_td3_randomness,
            alg.edp_td3_update,
        ),
        _Algorithm(
            "edp_crr",
            "Eqs. 13, 20-21; App. A.2",
            alg.EDPCRRConfig(diffusion=diffusion, **common),
            alg.init_edp_crr,
            alg.draw_crr_randomness,
            alg.edp_crr_update,
        ),
        _Algorithm(
            "edp_iql",
            "Eqs. 13, 22; App. A.3",
            alg.EDPIQLConfig(diffusion=diffusion, **common),
            alg.init_edp_iql,
            alg.draw_iql_randomness,
            alg.edp_iql_update,
        ),
        _Algorithm(
            "dql",
            "Sec. 4.4 (Diffusion-QL, backprop through the K = 5 chain)",
            alg.DQLConfig(**common),
            alg.init_dql,
            alg.draw_dql_randomness,
            alg.dql_update,
        ),
        _Algorithm(
            "td3bc",
            "Eqs. 14-16 (feed-forward TD3+BC)",
            alg.TD3BCConfig(**common),
            alg.init_td3bc,
            alg.draw_td3bc_randomness,
            alg.td3bc_update,
        ),
        _Algorithm(
            "gaussian_crr",
            "Eqs. 20-21 (feed-forward CRR)",
            alg.GaussianCRRConfig(**common),
            alg.init_gaussian_crr,
            alg.draw_gaussian_crr_randomness,
            alg.gaussian_crr_update,
        ),
        _Algorithm(
            "gaussian_iql",
            "Eq. 22 (feed-forward IQL)",
            alg.GaussianIQLConfig(**common),
            alg.init_gaussian_iql,
            None,
            alg.gaussian_iql_update,
        ),
    ]


def _update_cases(dtype: torch.dtype) -> list[GoldenCase]:
    tag = "f64" if dtype == torch.float64 else "f32"
    B, S, A = 8, 4, 2
    rtol, atol = (1e-9, 1e-10) if dtype == torch.float64 else (1e-4, 1e-5)
    cases = []
    for i, algo in enumerate(_algorithms()):
        gen = torch.Generator().manual_seed(SEED + 100 + i)
        state = algo.init(algo.config, S, A, gen, "cpu", dtype)
        batch = {
            "observations": torch.randn(B, S, generator=gen, dtype=torch.float64).to(dtype),
            "actions": (torch.rand(B, A, generator=gen, dtype=torch.float64) * 1.8 - 0.9).to(dtype),
            "rewards": torch.randn(B, generator=gen, dtype=torch.float64).to(dtype),
            "next_observations": torch.randn(B, S, generator=gen, dtype=torch.float64).to(dtype),
            "terminals": (torch.rand(B, generator=gen) < 0.25).to(dtype),
        }
        randomness = algo.draw(algo.config, B, A, gen, "cpu", dtype) if algo.draw else None
        inputs: Arrays = {f"state/{k}": v for k, v in alg.state_tensors(state).items()}
        inputs.update({f"batch/{k}": v for k, v in batch.items()})
        inputs.update(_flatten_randomness(randomness, "randomness"))

        def compute(x: Arrays, algo: _Algorithm = algo) -> Arrays:
            shapes = torch.Generator().manual_seed(0)  # structure only; values come from x
            template = algo.init(algo.config, S, A, shapes, "cpu", dtype)
            state = alg.load_state_tensors(
                template,
                {k.removeprefix("state/"): v for k, v in x.items() if k.startswith("state/")},
            )
            batch = alg.Batch(
                **{k.removeprefix("batch/"): v for k, v in x.items() if k.startswith("batch/")}
            )
            randomness = None
            if algo.draw is not None:
                like = algo.draw(algo.config, B, A, shapes, "cpu", dtype)
                randomness = _rebuild_randomness(like, x, "randomness")
            new_state, metrics = algo.update(state, batch, randomness, algo.config)
            out = {f"state/{k}": v for k, v in alg.state_tensors(new_state).items()}
            out.update({f"metrics/{k}": v for k, v in metrics.items()})
            return out

        cases.append(
            GoldenCase(
                f"update_{algo.name}_{tag}",
                f"{algo.update.__name__}",
                algo.equation,
                tag,
                {"config": _config_params(algo.config), "state_dim": S, "action_dim": A},
                inputs,
                compute,
                rtol,
                atol,
                "state/<key> follows edp_ref.algorithms.state_tensors (params/, target/, adam/, "
                "step); randomness/<field path> follows the algorithm's randomness dataclass",
            )
        )
    return cases


def _config_params(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a (nested) config dataclass."""
    return {
        f.name: _config_params(v) if dataclasses.is_dataclass(v) else v
        for f in dataclasses.fields(config)
        for v in [getattr(config, f.name)]
    }


def _core_cases(dtype: torch.dtype) -> list[GoldenCase]:
    tag = "f64" if dtype == torch.float64 else "f32"
    gen = torch.Generator().manual_seed(SEED)
    B, A, S, K = 8, 3, 5, 1000
    linear = make_schedule("linear", K)
    vp = make_schedule("vp", 5)

    def randn(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=gen, dtype=torch.float64).to(dtype)

    k = torch.randint(0, K, (B,), generator=gen)
    k[0], k[1] = 0, K - 1  # both ends of the chain
    a0 = (torch.rand(B, A, generator=gen, dtype=torch.float64) * 2 - 1).to(dtype)
    eps, eps_hat, a_k = randn(B, A), randn(B, A), randn(B, A)
    weights = torch.rand(B, generator=gen, dtype=torch.float64).to(dtype) * 3
    state = randn(B, S)
    torch.manual_seed(SEED)  # network initialisation draws from torch's default generator
    net = _noise_net(S, A, dtype)
    q_net = QNetwork(S, A, hidden=32).to(dtype)
    v_net = ValueNetwork(S, hidden=32).to(dtype)
    net_inputs = _net_arrays("eps_net", net)
    t_float = (torch.rand(B, generator=gen, dtype=torch.float64) * (K - 1)).to(dtype)
    rt, at = _tolerances(dtype)
    rc, ac = _tolerances(dtype, chain=True)

    def eps_fn_from(arrays: Arrays) -> Callable[[Tensor, Tensor], Tensor]:
        model = _load_net(_noise_net(S, A, dtype), "eps_net", arrays)
        cond = arrays["state"]

        def eps_fn(a: Tensor, t: Tensor) -> Tensor:
            out: Tensor = model(cond[: a.shape[0]], a, t)
            return out

        return eps_fn

    out: list[GoldenCase] = []

    def add(
        name: str,
        function: str,
        equation: str,
        params: Mapping[str, Any],
        inputs: Arrays,
        compute: Callable[[Arrays], Arrays],
        chain: bool = False,
        notes: str = "",
    ) -> None:
        r, a = (rc, ac) if chain else (rt, at)
        out.append(
            GoldenCase(
                f"{name}_{tag}", function, equation, tag, params, inputs, compute, r, a, notes
            )
        )

    for kind, steps in (("linear", 1000), ("cosine", 100), ("vp", 5)):
        sched = make_schedule(kind, steps)
        add(
            f"make_schedule_{kind}_{steps}",
            "make_schedule",
            "Eq. 1",
            {"kind": kind, "num_steps": steps},
            {},
            _bind(
                lambda _x, s: {
                    name: getattr(s, name).to(dtype)
                    for name in (
                        "betas",
                        "alphas",
                        "alpha_bars",
                        "alpha_bars_prev",
                        "posterior_variance",
                        "posterior_log_variance_clipped",
                        "posterior_mean_coef1",
                        "posterior_mean_coef2",
                    )
                },
                sched,
            ),
            notes="tables computed in float64, cast to the case dtype",
        )
    sched_params = {"schedule": "linear", "num_steps": K}
    add(
        "corrupt",
        "corrupt",
        "Eq. 8",
        sched_params,
        {"a0": a0, "k": k, "eps": eps},
        lambda x: {"a_k": corrupt(linear, x["a0"], x["k"], x["eps"])},
    )
    for clip in (1.0, None):
        add(
            f"approximate_action_clip_{clip}",
            "approximate_action",
            "Eq. 9",
            {**sched_params, "clip": clip},
            {"a_k": a_k, "k": k, "eps_hat": eps_hat},
            _bind(
                lambda x, c: {
                    "a0_hat": approximate_action(linear, x["a_k"], x["k"], x["eps_hat"], c)
                },
                clip,
            ),
        )
    for reduction in ("mean", "sum"):
        add(
            f"diffusion_loss_{reduction}",
            "diffusion_loss",
            "Eq. 5",
            {"action_reduction": reduction},
            {"eps": eps, "eps_hat": eps_hat},
            _bind(lambda x, r: {"loss": diffusion_loss(x["eps"], x["eps_hat"], r)}, reduction),
        )
    for variant in ("paper", "official"):
        add(
            f"elbo_weights_{variant}",
            "elbo_weights",
            "Eq. 12",
            {**sched_params, "variant": variant},
            {},
            _bind(lambda _x, v: {"weights": elbo_weights(linear, v).to(dtype)}, variant),
        )
        add(
            f"elbo_weighted_loss_{variant}",
            "elbo_weighted_loss",
            "Eq. 12",
            {**sched_params, "variant": variant, "action_reduction": "mean"},
            {"k": k, "eps": eps, "eps_hat": eps_hat, "weights": weights},
            _bind(
                lambda x, v: {
                    "loss": elbo_weighted_loss(
                        linear, x["k"], x["eps"], x["eps_hat"], x["weights"], v
                    )
                },
                variant,
            ),
        )
    for form in ("squared_error", "negative_log_likelihood"):
        add(
            f"gaussian_surrogate_loss_{form}",
            "gaussian_surrogate_loss",
            "Eq. 13",
            {"form": form},
            {"a": a0, "a0_hat": eps_hat, "weights": weights},
            _bind(
                lambda x, f: {
                    "loss": gaussian_surrogate_loss(x["a"], x["a0_hat"], x["weights"], f)
                },
                form,
            ),
        )
    noise = randn(B, A)
    for variance in ("posterior", "beta"):
        add(
            f"ddpm_step_{variance}",
            "ddpm_step",
            "Eq. 4",
            {**sched_params, "clip": 1.0, "variance": variance},
            {"a_k": a_k, "k": k, "eps_hat": eps_hat, "noise": noise},
            _bind(
                lambda x, v: {
                    "a_prev": ddpm_step(linear, x["a_k"], x["k"], x["eps_hat"], x["noise"], 1.0, v)
                },
                variance,
            ),
        )
    add(
        "sinusoidal_time_embedding",
        "sinusoidal_time_embedding",
        "Sec. 5 setup",
        {"dim": 16, "variant": "official"},
        {"t": t_float},
        lambda x: {"embedding": sinusoidal_time_embedding(x["t"])},
    )
    add(
        "noise_prediction_network",
        "NoisePredictionNetwork.forward",
        "Sec. 5 setup",
        {"hidden": 32, "layers": 3, "time_dim": 16, "embedding": "official"},
        {**net_inputs, "state": state, "a_k": a_k, "t": t_float},
        lambda x: {
            "eps_hat": _load_net(_noise_net(S, A, dtype), "eps_net", x)(
                x["state"], x["a_k"], x["t"]
            )
        },
        notes="parameters under eps_net.<torch state_dict name>; Linear weight is [out, in]",
    )
    add(
        "q_and_value_networks",
        "QNetwork.forward / ValueNetwork.forward",
        "Sec. 5 setup",
        {"hidden": 32, "layers": 3},
        {**_net_arrays("q_net", q_net), **_net_arrays("v_net", v_net), "state": state, "a": a0},
        lambda x: {
            "q": _load_net(QNetwork(S, A, hidden=32).to(dtype), "q_net", x)(x["state"], x["a"]),
            "v": _load_net(ValueNetwork(S, hidden=32).to(dtype), "v_net", x)(x["state"]),
        },
    )
    a_T = randn(B, A)
    for clip in (1.0, None):
        add(
            f"dpm_solver_sample_clip_{clip}",
            "dpm_solver_sample",
            "Sec. 4.2 (DPM-Solver)",
            {**sched_params, "steps": 15, "order": 3, "t_end": 1e-3, "clip": clip},
            {**net_inputs, "state": state, "a_T": a_T},
            _bind(
                lambda x, c: {
                    "a0": dpm_solver_sample(linear, eps_fn_from(x), x["a_T"], 15, 3, 1e-3, c)
                },
                clip,
            ),
            chain=True,
        )
    add(
        "dpm_solver_sample_controlled",
        "dpm_solver_sample",
        "App. C.4",
        {
            **sched_params,
            "steps": 10,
            "order": 2,
            "t_end": 1e-3,
            "clip": 1.0,
            "policy_scale": 0.8,
            "initial_noise_scale": 0.5,
        },
        {**net_inputs, "state": state, "a_T": a_T},
        lambda x: {
            "a0": dpm_solver_sample(linear, eps_fn_from(x), x["a_T"], 10, 2, 1e-3, 1.0, 0.8, 0.5)
        },
        chain=True,
    )
    noises = randn(5, B, A)
    add(
        "ddpm_sample_vp5",
        "ddpm_sample",
        "Eqs. 3-4",
        {"schedule": "vp", "num_steps": 5, "clip": 1.0, "variance": "posterior"},
        {**net_inputs, "state": state, "a_K": a_T, "noises": noises},
        lambda x: {"a0": ddpm_sample(vp, eps_fn_from(x), x["a_K"], x["noises"])},
        chain=True,
        notes="noises[k] is used by the step from timestep k; eps_fn gets t = k as floats",
    )
    N = 10
    q = randn(B, N) * 2
    uniform = torch.rand(B, generator=gen, dtype=torch.float64).to(dtype)
    candidates = randn(B, N, A)
    add(
        "eas_probabilities",
        "eas_probabilities",
        "Alg. 2",
        {"temperature": 1.0},
        {"q": q},
        lambda x: {"probabilities": eas_probabilities(x["q"])},
    )
    add(
        "energy_based_action_selection",
        "energy_based_action_selection",
        "Alg. 2",
        {"temperature": 1.0},
        {"actions": candidates, "q": q, "uniform": uniform},
        lambda x: {
            "index": eas_index(x["q"], x["uniform"]),
            "action": energy_based_action_selection(x["actions"], x["q"], x["uniform"]),
        },
        notes="index = smallest i with uniform < CDF_i of softmax(q) (CDF normalised to end at 1)",
    )
    return out


# ------------------------------------------------------------------------------------------
# files
# ------------------------------------------------------------------------------------------


def _to_numpy(x: Tensor) -> NDArray[Any]:
    return x.detach().cpu().contiguous().numpy()


def _write_npz(path: Path, arrays: Mapping[str, NDArray[Any]]) -> None:
    """An ``.npz`` archive with a fixed timestamp (see the module docstring)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            member = io.BytesIO()
            # np.require keeps 0-d arrays 0-d (np.ascontiguousarray would make them 1-d)
            np.lib.format.write_array(
                member, np.require(arrays[name], requirements="C"), allow_pickle=False
            )
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())
    atomic_write_bytes(path, buffer.getvalue())


def _describe(arrays: Mapping[str, NDArray[Any]]) -> dict[str, Any]:
    return {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in sorted(arrays.items())}


def export(directory: Path) -> dict[str, Any]:
    """Write every golden case and the manifest to ``directory``; return the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    for case in golden_cases():
        with torch.no_grad():
            outputs = case.compute(case.inputs)
        ins = {k: _to_numpy(v) for k, v in case.inputs.items()}
        outs = {k: _to_numpy(v) for k, v in outputs.items()}
        arrays = {**{f"inputs/{k}": v for k, v in ins.items()}}
        arrays.update({f"outputs/{k}": v for k, v in outs.items()})
        file = directory / f"{case.name}.npz"
        _write_npz(file, arrays)
        entries.append(
            {
                "name": case.name,
                "file": file.name,
                "sha256": hashlib.sha256(file.read_bytes()).hexdigest(),
                "function": case.function,
                "equation": case.equation,
                "dtype": case.dtype,
                "params": dict(case.params),
                "inputs": _describe(ins),
                "outputs": _describe(outs),
                "rtol": case.rtol,
                "atol": case.atol,
                "notes": case.notes,
            }
        )
    manifest = {
        "format_version": FORMAT_VERSION,
        "edp_ref_version": edp_ref.__version__,
        "seed": SEED,
        "conventions": (
            "timesteps are 0-based (k in 0..K-1 is the paper's k+1); eps_fn(a, t) gets the "
            "model-time index as floats (DDPM: k; DPM-Solver: N t - 1); a case passes when "
            "|ours - golden| <= atol + rtol |golden| elementwise (integers: exactly equal)"
        ),
        "cases": entries,
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


@dataclass(frozen=True)
class Mismatch:
    case: str
    output: str
    max_abs_error: float
    detail: str


def _load_case(directory: Path, entry: Mapping[str, Any]) -> dict[str, NDArray[Any]]:
    path = directory / str(entry["file"])
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(
            f"golden file {path} for case {entry['name']!r} is unreadable: {exc}"
        ) from exc


def check(directory: Path) -> list[Mismatch]:
    """Recompute every case listed in ``directory/manifest.json``; return the mismatches."""
    manifest_path = directory / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the golden manifest {manifest_path}: {exc}") from exc
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{manifest_path}: format_version {manifest.get('format_version')!r}, this edp_ref "
            f"reads {FORMAT_VERSION}"
        )
    cases = {c.name: c for c in golden_cases()}
    mismatches: list[Mismatch] = []
    for entry in manifest["cases"]:
        name = str(entry["name"])
        case = cases.get(name)
        if case is None:
            mismatches.append(Mismatch(name, "-", float("inf"), "unknown case"))
            continue
        stored = _load_case(directory, entry)
        inputs = {
            k.removeprefix("inputs/"): torch.from_numpy(v.copy())
            for k, v in stored.items()
            if k.startswith("inputs/")
        }
        with torch.no_grad():
            outputs = case.compute(inputs)
        for out_name, expected_np in (
            (k.removeprefix("outputs/"), v) for k, v in stored.items() if k.startswith("outputs/")
        ):
            got = outputs.get(out_name)
            if got is None:
                mismatches.append(Mismatch(name, out_name, float("inf"), "output not produced"))
                continue
            got_np = _to_numpy(got)
            if got_np.shape != expected_np.shape or got_np.dtype != expected_np.dtype:
                detail = f"got {got_np.dtype}{list(got_np.shape)}"
                detail += f", golden {expected_np.dtype}{list(expected_np.shape)}"
                mismatches.append(Mismatch(name, out_name, float("inf"), detail))
                continue
            err = np.abs(got_np.astype(np.float64) - expected_np.astype(np.float64))
            bound = float(entry["atol"]) + float(entry["rtol"]) * np.abs(
                expected_np.astype(np.float64)
            )
            if np.issubdtype(expected_np.dtype, np.integer):
                bound = np.zeros_like(err)
            if not bool(np.all(err <= bound)):
                mismatches.append(
                    Mismatch(name, out_name, float(err.max()), f"{int((err > bound).sum())} values")
                )
    return mismatches


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edp_ref.golden", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("export", help="write golden vectors and manifest.json").add_argument("dir")
    sub.add_parser("check", help="recompute and compare golden vectors").add_argument("dir")
    args = parser.parse_args(argv)
    directory = Path(args.dir)
    if args.command == "export":
        manifest = export(directory)
        print(f"wrote {len(manifest['cases'])} cases to {directory}")
        return 0
    try:
        mismatches = check(directory)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    total = len(json.loads((directory / "manifest.json").read_text())["cases"])
    for m in mismatches:
        print(f"MISMATCH {m.case} [{m.output}]: max abs error {m.max_abs_error:.3e} ({m.detail})")
    failed = len({m.case for m in mismatches})
    print(f"golden check of {directory}: {total - failed} of {total} cases match, {failed} differ")
    return 1 if mismatches else 0
