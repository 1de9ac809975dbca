"""The peer benchmark's comparison rows and its report as text (:mod:`edp_ref.benchmark.peers`).

Each row sets one peer run beside one of edp_ref's loops of the same comparison (median IPS of
both, edp_ref / peer); a comparison without a peer (an algorithm the official code lacks) is a row
of edp_ref alone.
"""

from __future__ import annotations

import math
from typing import Any

from edp_ref.algorithms import REGISTRY, DiffusionAlgorithmConfig
from edp_ref.benchmark.peers_variants import edp_ref_keys, peer_keys
from edp_ref.benchmark.settings import COMPARISON_ALGORITHM, PeerBenchmarkSettings
from edp_ref.peers.edp_official import DIAGNOSTIC_NOTE

__all__ = ["NOTES", "comparison_rows", "format_report"]

NOTES: tuple[str, ...] = (
    "The 2 x 256 rows build CORL's own networks in edp_ref (NetworkConfig(hidden=256, layers=2, "
    "init='torch', activation='relu'), no gradient clipping); the 3 x 256 rows are edp_ref's "
    "defaults (Sec. 5's Mish MLPs) against CORL at its own 2 x 256 ReLU.",
    "CORL's IQL steps a cosine learning-rate schedule of the actor every update "
    "(CosineAnnealingLR over max_timesteps); edp_ref's GaussianIQLConfig has none.",
    "The official EDP's trainer is not run (it needs D4RL, TensorFlow, wandb and a data package "
    "absent from the snapshot): its batch drawing (data/sampler.py RandSampler + "
    "Dataset.retrieve, i.e. np.random.randint + utilities/replay_buffer.py index_batch, then "
    "batch_to_jax) and agent.train(batch) are called as its loop calls them. Its "
    "policy_tgt_update=True branch is compiled during warm-up so that no recompilation falls "
    "inside a timed round.",
    "Rows marked DIAGNOSTIC time the official EDP with dpm_solver.interpolate_fn replaced by a "
    "searchsorted lookup: not the official code path, only a measure of what that function costs.",
)


def _title(comparison: str, s: PeerBenchmarkSettings) -> str:
    algorithm = REGISTRY[COMPARISON_ALGORITHM.get(comparison, comparison)]
    if comparison == "dql":
        return f"DQL vp K={s.dql_steps}"
    if isinstance(algorithm.config_class(), DiffusionAlgorithmConfig):
        return f"{algorithm.title} K={s.num_steps} DPM-{s.dpm_steps}"
    return algorithm.title


def comparison_rows(
    s: PeerBenchmarkSettings, records: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One row per (peer run, edp_ref loop) of each comparison: both median IPS and the ratios
    edp_ref / peer.

    A row whose peer was not run (unavailable, or diagnostic off) keeps edp_ref's figures with
    ``peer_ips`` null; a row is left out when neither side was run.
    """

    def find(key: str, mode: str) -> dict[str, Any] | None:
        return next((r for r in records if r["key"] == key and r["mode"] == mode), None)

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    rows: list[dict[str, Any]] = []
    for comparison in s.comparisons:
        for peer_key in peer_keys(comparison, s) or (None,):
            for ref_key, (what, note) in edp_ref_keys(comparison).items():
                peer = find(peer_key, "peer") if peer_key else None
                eager, compiled = find(ref_key, "eager"), find(ref_key, "compiled")
                if peer is None and eager is None and compiled is None:
                    continue
                diagnostic = peer_key is not None and peer_key.endswith("_diagnostic")
                peer_ips = peer["median_ips"] if peer else None
                eager_ips = eager["median_ips"] if eager else None
                compiled_ips = compiled["median_ips"] if compiled else None
                rows.append(
                    {
                        "comparison": _title(comparison, s)
                        + (f" {what}" if note is not None else ""),
                        "peer_key": peer_key,
                        "peer_label": peer["label"] if peer else None,
                        "diagnostic": diagnostic,
                        "peer_ips": peer_ips,
                        "edp_ref_key": ref_key,
                        "edp_ref_eager_ips": eager_ips,
                        "edp_ref_compiled_ips": compiled_ips,
                        "ratio_eager": ratio(eager_ips, peer_ips),
                        "ratio_compiled": ratio(compiled_ips, peer_ips),
                        "note": DIAGNOSTIC_NOTE if diagnostic else note,
                    }
                )
    return rows


def _fmt(x: float | None, spec: str = ".3g") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return format(x, spec)


def format_report(result: dict[str, Any]) -> str:
    """The comparison table, the per-variant figures, the load and the notes, as text."""
    lines = [
        "Training iterations per second, edp_ref vs the official peers (median over "
        f"{result['settings']['rounds']} interleaved rounds; one thread; preset "
        f"{result['settings']['preset']})",
        f"load average (1 min): start {result['loadavg_start']}, rounds "
        f"{result['loadavg_rounds']}, end {result['loadavg_end']}; CPU affinity "
        f"{result['machine'].get('cpu_affinity')}",
    ]
    for name, info in result["peers"].items():
        if not info["available"]:
            lines.append(f"peer {name} not run: {info['reason']}")
    header = (
        f"{'comparison':<44} {'peer':<34} {'peer IPS':>9} {'eager IPS':>9} {'compiled':>9} "
        f"{'eager/peer':>10} {'comp/peer':>9}"
    )
    lines += ["", header, "-" * len(header)]
    for row in result["rows"]:
        peer = row["peer_label"] or (
            f"({row['peer_key']}: not run)" if row["peer_key"] else "(no peer)"
        )
        peer = peer.split(" [")[0]
        lines.append(
            f"{row['comparison']:<44.44} {peer:<34.34} {_fmt(row['peer_ips']):>9} "
            f"{_fmt(row['edp_ref_eager_ips']):>9} {_fmt(row['edp_ref_compiled_ips']):>9} "
            f"{_fmt(row['ratio_eager']):>10} {_fmt(row['ratio_compiled']):>9}"
        )
        if row["diagnostic"]:
            lines.append(f"{'':<4}^ {row['note']}")
        elif row["note"]:
            lines.append(f"{'':<4}({row['note']})")
    lines += ["", "Variants (median IPS over rounds; iterations per round; warm-up seconds):"]
    for v in result["variants"]:
        status = f"ERROR {v['error']}" if v["error"] else ""
        rounds = ", ".join(_fmt(x) for x in v["round_ips"])
        lines.append(
            f"  {v['key']:<30} {v['mode']:<8} {_fmt(v['median_ips']):>9}  "
            f"n={v['iterations_per_round']:<5} warm-up {_fmt(v['warmup_seconds'])} s  "
            f"[{rounds}] {status}"
        )
    lines += ["", "Notes:"] + [f"- {n}" for n in result["notes"]]
    lines.append(f"elapsed {result['elapsed_seconds']} s")
    return "\n".join(lines)
