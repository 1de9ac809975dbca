"""The speed and memory targets the benchmark checks its measurements against.

Each target is ``{"name", "value", "threshold", "met", "note"}`` (``met`` None: reported only):

* FLOP rate: EDP + TD3's counted matmul FLOPs per second reach :data:`FLOP_RATE_FRACTION` of
  the dense-matmul rate measured for the same layer shapes (the update is not dominated by
  overheads between the matrix products).
* Speed-up over Diffusion-QL: EDP + TD3's IPS is at least :data:`SPEEDUP_OVER_DQL_MIDDLE_K`
  times Diffusion-QL's at the middle K of ``dql_steps`` (100 in the full preset) and at least
  :data:`SPEEDUP_OVER_DQL_SMALLEST_K` times at the smallest (5): EDP passes the noise network
  once per update whatever K, Diffusion-QL K times forward and backward (Sec. 4.4).
* Diffusion against feed-forward: EDP + IQL's IPS is at least :data:`EDP_IQL_TO_GAUSSIAN_IQL`
  of the feed-forward IQL's (App. C.5 reports EDP at 412 / 689 = 0.6 of TD3+BC).
* Seeds: S vmapped seeds at least :data:`VMAP_SEEDS_SPEEDUP_CUDA` times faster than S
  sequential updates on CUDA (on the CPU, reported only).
* Memory: peak RSS of a training run below its dataset's bytes plus 1 GiB
  (:mod:`edp_ref.benchmark.memory`).
"""

from __future__ import annotations

from typing import Any

from edp_ref.benchmark.training import REFERENCE_RECORD, find_record

__all__ = [
    "EDP_IQL_TO_GAUSSIAN_IQL",
    "FLOP_RATE_FRACTION",
    "SPEEDUP_OVER_DQL_MIDDLE_K",
    "SPEEDUP_OVER_DQL_SMALLEST_K",
    "VMAP_SEEDS_SPEEDUP_CUDA",
    "targets",
]

FLOP_RATE_FRACTION = 0.4
SPEEDUP_OVER_DQL_MIDDLE_K = 20.0
SPEEDUP_OVER_DQL_SMALLEST_K = 1.2
EDP_IQL_TO_GAUSSIAN_IQL = 0.6
VMAP_SEEDS_SPEEDUP_CUDA = 3.0

_MODES = ("eager", "compiled")


def _ratio_target(
    records: list[dict[str, Any]], a: str, b: str, threshold: float, title: str
) -> list[dict[str, Any]]:
    """``a``'s IPS over ``b``'s against ``threshold``, per mode where both were measured."""
    out = []
    for mode in _MODES:
        ra, rb = find_record(records, a, mode), find_record(records, b, mode)
        if ra is None or rb is None:
            continue
        value = ra["iterations_per_second"] / rb["iterations_per_second"]
        note = f"{mode}: {a} / {b} IPS"
        if rb["extrapolated"] or ra["extrapolated"]:
            note += " (one side extrapolated)"
        out.append(
            {
                "name": f"{title} [{mode}]",
                "value": value,
                "threshold": threshold,
                "met": value >= threshold,
                "note": note,
            }
        )
    return out


def _flop_rate_targets(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for mode in _MODES:
        r = find_record(records, REFERENCE_RECORD, mode)
        if r is None or r["fraction_of_matmul_rate"] is None:
            continue
        out.append(
            {
                "name": f"EDP+TD3 FLOP rate >= {FLOP_RATE_FRACTION:.0%} of dense matmul [{mode}]",
                "value": r["fraction_of_matmul_rate"],
                "threshold": FLOP_RATE_FRACTION,
                "met": r["fraction_of_matmul_rate"] >= FLOP_RATE_FRACTION,
                "note": "counted matmul FLOPs per iteration / median iteration time",
            }
        )
    return out


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target the measurements in ``result`` allow checking (the JSON's ``targets``)."""
    records = result["training"]
    out = _flop_rate_targets(records)
    dql = [f"dql_k{k}" for k in sorted(result["settings"]["dql_steps"])]
    if len(dql) >= 2:
        mid = SPEEDUP_OVER_DQL_MIDDLE_K
        out += _ratio_target(
            records, REFERENCE_RECORD, dql[1], mid, f"EDP+TD3 >= {mid:g}x {dql[1]}"
        )
    low = SPEEDUP_OVER_DQL_SMALLEST_K
    out += _ratio_target(records, REFERENCE_RECORD, dql[0], low, f"EDP+TD3 >= {low:g}x {dql[0]}")
    ff = EDP_IQL_TO_GAUSSIAN_IQL
    out += _ratio_target(records, "edp_iql", "gaussian_iql", ff, f"EDP+IQL >= {ff:g}x IQL (FF)")
    ms = result.get("multiseed") or {}
    if ms.get("speedup_vmap") is not None:
        cuda = result["machine"]["device"] == "cuda"
        best = max(v for v in (ms["speedup_vmap"], ms.get("speedup_vmap_compiled")) if v)
        need = VMAP_SEEDS_SPEEDUP_CUDA
        out.append(
            {
                "name": f"{ms['seeds']} vmapped seeds vs sequential",
                "value": best,
                "threshold": need if cuda else None,
                "met": (best >= need) if cuda else None,
                "note": f"CUDA target {need:g}x; on CPU reported only (faster path: "
                f"{ms['faster_path']})",
            }
        )
    mem = result.get("memory") or {}
    if mem.get("peak_rss_bytes") is not None:
        out.append(
            {
                "name": "peak memory < dataset + 1 GiB",
                "value": mem["peak_rss_bytes"],
                "threshold": mem["limit_bytes"],
                "met": mem["met"],
                "note": f"{mem['transitions']} transitions, {mem['dataset_bytes']} bytes of data",
            }
        )
    return out
