"""Figure 2: training and sampling speed, the paper's GPU numbers beside measured ones.

The measured speeds come from the JSON that ``scripts/benchmark.py`` writes
(:mod:`edp_ref.benchmark`); :func:`read_benchmark` maps its eager records to the figure's
variants (:data:`FIGURE2_BENCHMARK_NAMES`) and :func:`render_figure2` draws both side by side,
labelled, with the paper's values from :data:`edp_ref.paper.FIGURE2`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from edp_ref.paper import FIGURE2
from edp_ref.runner.report_figures import pyplot

__all__ = ["FIGURE2_BENCHMARK_NAMES", "read_benchmark", "render_figure2"]


def _norm_name(name: str) -> str:
    s = name.lower().replace("without", "wo").replace("w/o", "wo")
    return re.sub(r"[^a-z0-9]", "", s)


#: Figure 2's variants and the ``scripts/benchmark.py`` records that measure them: training
#: record name, and sampler of the sampling record (DPM-Solver for EDP's sampling, DDPM for the
#: others). Diffusion-QL's row is the official PyTorch code, which edp_ref does not contain.
FIGURE2_BENCHMARK_NAMES: dict[str, tuple[str | None, str | None]] = {
    "Diffusion-QL": (None, None),
    "DQL (JAX)": ("dql_k5", "ddpm"),
    "EDP w/o DPM": ("edp_without_dpm", "ddpm"),
    "EDP w/o AP": ("edp_without_ap", "dpm_solver"),
    "EDP": ("edp_td3", "dpm_solver"),
}


def _speed(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and math.isfinite(v) else None


def _from_schema(raw: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Figure 2's rows from an ``edp_ref.benchmark/1`` document (eager records)."""
    training = [r for r in raw.get("training", []) if isinstance(r, dict)]
    sampling = [r for r in raw.get("sampling", []) if isinstance(r, dict)]
    out: dict[str, dict[str, Any]] = {}
    for variant, (train_name, sampler) in FIGURE2_BENCHMARK_NAMES.items():
        row: dict[str, Any] = {}
        for r in training:
            ips = _speed(r.get("iterations_per_second"))
            if r.get("name") == train_name and r.get("mode") == "eager" and ips is not None:
                row["train_ips"] = ips
                row["train_source"] = f"training '{train_name}' (eager)"
        samples = [
            r
            for r in sampling
            if r.get("sampler") == sampler
            and r.get("mode") == "eager"
            and _speed(r.get("actions_per_second")) is not None
        ]
        if samples:
            best = min(samples, key=lambda r: abs(int(r.get("candidates") or 0) - 10))
            row["sample_sps"] = float(best["actions_per_second"])
            row["sample_source"] = (
                f"sampling {sampler}, N = {best.get('candidates')}, {best.get('states')} states "
                "(EAS actions per second, no environment)"
            )
        if row:
            out[variant] = row
    return out


def read_benchmark(path: Path) -> dict[str, dict[str, Any]]:
    """Read ``scripts/benchmark.py``'s JSON into Figure 2's rows.

    An ``edp_ref.benchmark/1`` document (``training`` and ``sampling`` records) is mapped by
    :data:`FIGURE2_BENCHMARK_NAMES`. Other shapes are accepted too: ``{"results": {name:
    {...}}}``, ``{"results": [{"variant"|"name": ..., ...}]}`` or the mapping itself, where a key
    containing ``ips`` is the training speed and one containing ``sps`` the sampling speed.
    Returns {variant: {"train_ips", "sample_sps", and where each came from}}.
    Raises ``FileNotFoundError`` naming the file and the command that writes it.
    """
    if not Path(path).exists():
        raise FileNotFoundError(
            f"Figure 2 needs the speed measurements of scripts/benchmark.py, but {path} does "
            "not exist. Run `python scripts/benchmark.py` first (or pass --benchmark PATH)."
        )
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"{path} is not readable JSON ({type(exc).__name__}: {exc}); run "
            "`python scripts/benchmark.py` again to rewrite it (or pass --benchmark PATH)"
        ) from exc
    if isinstance(raw, dict) and str(raw.get("schema", "")).startswith("edp_ref.benchmark/"):
        out = _from_schema(raw)
        if not out:
            raise ValueError(f"{path}: no eager training or sampling record of Figure 2's variants")
        return out
    body = raw.get("results", raw.get("variants", raw)) if isinstance(raw, dict) else raw
    items: list[tuple[str, Mapping[str, Any]]] = []
    if isinstance(body, dict):
        items = [(k, v) for k, v in body.items() if isinstance(v, dict)]
    elif isinstance(body, list):
        items = [(str(e.get("variant", e.get("name"))), e) for e in body if isinstance(e, dict)]
    generic: dict[str, dict[str, Any]] = {}
    for name, entry in items:
        row: dict[str, Any] = {}
        for k, v in entry.items():
            speed = _speed(v) if not isinstance(v, bool) else None
            if speed is None:
                continue
            if "ips" in k.lower() and "train_ips" not in row:
                row["train_ips"] = speed
            elif "sps" in k.lower() and "sample_sps" not in row:
                row["sample_sps"] = speed
        if row:
            row["train_source"] = row["sample_source"] = name
            generic[name] = row
    if not generic:
        raise ValueError(f"{path}: no variant with a training (ips) or sampling (sps) speed")
    return generic


def _fmt_speed(x: float) -> str:
    return "" if not math.isfinite(x) else f"{x:.2f}"


def _measured_as(found: tuple[str, Mapping[str, Any]] | None) -> str:
    if found is None:
        return "not measured"
    srcs = dict.fromkeys(
        str(found[1][k]) for k in ("train_source", "sample_source") if k in found[1]
    )
    return "; ".join(srcs) or found[0]


def render_figure2(measured: Mapping[str, Mapping[str, Any]], path: Path) -> str:
    """Figure 2: paper's GPU speeds (labelled paper) beside the measured ones; PNG + markdown."""
    plt = pyplot()
    by_norm = {_norm_name(k): (k, v) for k, v in measured.items()}
    rows = ["| variant | paper train IPS (GPU) | measured train IPS | paper sampling SPS (GPU) "
            "| measured sampling per s | measured as |", "|---|---|---|---|---|---|"]  # fmt: skip
    names = list(FIGURE2)
    meas_ips: list[float] = []
    meas_sps: list[float] = []
    for name in names:
        found = by_norm.get(_norm_name(name))
        m = found[1] if found else {}
        meas_ips.append(m.get("train_ips", float("nan")))
        meas_sps.append(m.get("sample_sps", float("nan")))
        p = FIGURE2[name]
        rows.append(
            f"| {name} | {p.train_ips:.2f} | {_fmt_speed(meas_ips[-1])} | "
            f"{p.sample_sps:.2f} | {_fmt_speed(meas_sps[-1])} | "
            f"{_measured_as(found)} |"
        )
    extra = [k for k in measured if _norm_name(k) not in {_norm_name(n) for n in names}]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    x = np.arange(len(names))
    for ax, key, meas, title in (
        (axes[0], "train_ips", meas_ips, "training iterations / s"),
        (axes[1], "sample_sps", meas_sps, "sampling steps / s"),
    ):
        ax.bar(x - 0.2, [getattr(FIGURE2[n], key) for n in names], 0.4, label="paper (GPU)")
        ax.bar(x + 0.2, np.nan_to_num(meas), 0.4, label="measured (edp_ref)")
        ax.set_xticks(x, names, rotation=20)
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    note = (
        f"\nOther measured variants (no paper counterpart): {', '.join(extra)}\n" if extra else ""
    )
    return "\n".join(rows) + "\n" + note
