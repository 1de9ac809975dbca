"""Rows, table, JSON file and command line of the peer benchmark (:mod:`edp_ref.benchmark.peers`).

Each row compares one peer with one edp_ref configuration (median IPS of both, edp_ref / peer).

``python scripts/benchmark_peers.py`` (or ``scripts/benchmark.py --peers``) runs
:func:`main`; meant to run pinned to one core::

    EDP_OFFICIAL_ROOT=... DQL_OFFICIAL_ROOT=... CORL_ROOT=... \\
        taskset -c 1 python scripts/benchmark_peers.py --rounds 5
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from edp_ref.argument_types import integer_in, number_at_least
from edp_ref.atomic_files import atomic_write_text
from edp_ref.benchmark.peers import (
    COMPARISONS,
    PeerBenchmarkSettings,
    configure_single_thread,
    run_peer_benchmark,
)
from edp_ref.peers.edp_official import DIAGNOSTIC_NOTE

__all__ = [
    "DEFAULT_OUTPUT",
    "NOTES",
    "comparison_rows",
    "format_report",
    "main",
    "parse_args",
    "write_json",
]

DEFAULT_OUTPUT = Path("runs/benchmark/peers.json")

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


_ROWS: tuple[tuple[str, str, str, str, str | None], ...] = (
    ("edp_td3", "EDP+TD3 K={K} DPM-{D}", "edp_official_td3", "edp_td3", None),
    ("edp_td3", "EDP+TD3 K={K} DPM-{D}", "edp_official_td3_diagnostic", "edp_td3", DIAGNOSTIC_NOTE),
    ("edp_crr", "EDP+CRR K={K} DPM-{D}", "edp_official_crr", "edp_crr", None),
    ("edp_iql", "EDP+IQL K={K}", "edp_official_iql", "edp_iql", None),
    ("dql", "DQL vp K={Q}", "dql_official", "dql", None),
    ("dql", "DQL vp K={Q}", "edp_official_dql_jax", "dql", None),
    (
        "td3bc",
        "TD3+BC 2x256",
        "corl_td3_bc",
        "td3bc_2x256",
        "both CORL's 2 x 256 ReLU networks",
    ),
    (
        "td3bc",
        "TD3+BC 3x256 Mish (edp_ref default)",
        "corl_td3_bc",
        "td3bc_3x256",
        "CORL at its 2 x 256 ReLU",
    ),
    (
        "iql",
        "IQL 2x256",
        "corl_iql",
        "iql_2x256",
        "both CORL's 2 x 256 ReLU networks",
    ),
    (
        "iql",
        "IQL 3x256 Mish (edp_ref default)",
        "corl_iql",
        "iql_3x256",
        "CORL at its 2 x 256 ReLU",
    ),
)


def comparison_rows(
    s: PeerBenchmarkSettings, records: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One row per comparison: the peer's and edp_ref's median IPS and edp_ref / peer ratios.

    A row whose peer was not run (unavailable, or diagnostic off) keeps edp_ref's figures with
    ``peer_ips`` null; a row is left out when neither side was run.
    """

    def find(key: str, mode: str) -> dict[str, Any] | None:
        return next((r for r in records if r["key"] == key and r["mode"] == mode), None)

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    rows: list[dict[str, Any]] = []
    for group, title, peer_key, ref_key, note in _ROWS:
        if group not in s.comparisons:
            continue
        peer = find(peer_key, "peer")
        eager, compiled = find(ref_key, "eager"), find(ref_key, "compiled")
        if peer is None and eager is None and compiled is None:
            continue
        peer_ips = peer["median_ips"] if peer else None
        eager_ips = eager["median_ips"] if eager else None
        compiled_ips = compiled["median_ips"] if compiled else None
        rows.append(
            {
                "comparison": title.format(K=s.num_steps, D=s.dpm_steps, Q=s.dql_steps),
                "peer_key": peer_key,
                "peer_label": peer["label"] if peer else None,
                "diagnostic": peer_key.endswith("_diagnostic"),
                "peer_ips": peer_ips,
                "edp_ref_key": ref_key,
                "edp_ref_eager_ips": eager_ips,
                "edp_ref_compiled_ips": compiled_ips,
                "ratio_eager": ratio(eager_ips, peer_ips),
                "ratio_compiled": ratio(compiled_ips, peer_ips),
                "note": note,
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
        f"{'comparison':<36} {'peer':<40} {'peer IPS':>9} {'eager IPS':>9} {'compiled':>9} "
        f"{'eager/peer':>10} {'comp/peer':>9}"
    )
    lines += ["", header, "-" * len(header)]
    for row in result["rows"]:
        peer = row["peer_label"] or f"({row['peer_key']}: not run)"
        peer = peer.split(" [")[0]
        lines.append(
            f"{row['comparison']:<36.36} {peer:<40.40} {_fmt(row['peer_ips']):>9} "
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


def write_json(result: dict[str, Any], path: Path | str = DEFAULT_OUTPUT) -> Path:
    """Write the result as indented JSON (atomically); returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, indent=2, default=str) + "\n")
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of ``scripts/benchmark_peers.py``."""
    p = argparse.ArgumentParser(
        prog="benchmark_peers.py",
        description="Training speed of edp_ref next to the official EDP (JAX), Diffusion-QL "
        "and CORL on the same synthetic walker2d-shaped data. Peer folders come from "
        "--edp-root/--dql-root/--corl-root, --peers-root DIR (holding edp/, dql/, corl/) or the "
        "variables EDP_OFFICIAL_ROOT, DQL_OFFICIAL_ROOT, CORL_ROOT; absent peers are skipped.",
    )
    p.add_argument("--tiny", action="store_true", help="tiny sizes (a smoke test, seconds)")
    p.add_argument("--rounds", type=integer_in(1), default=None, help="timed rounds (default 5)")
    p.add_argument(
        "--round-seconds",
        type=number_at_least(0.0, strict=True),
        default=None,
        help="seconds per variant a round",
    )
    p.add_argument(
        "--warmup", type=integer_in(0), default=None, help="warm-up iterations per variant"
    )
    p.add_argument("--eager-only", action="store_true", help="skip edp_ref's compiled mode")
    p.add_argument("--no-diagnostic", action="store_true", help="skip the DIAGNOSTIC row")
    p.add_argument("--only", nargs="+", choices=COMPARISONS, help="comparisons to run")
    p.add_argument("--transitions", type=integer_in(1), default=None, help="synthetic dataset size")
    p.add_argument("--peers-root", default=None, help="folder holding edp/, dql/ and corl/")
    p.add_argument("--edp-root", default=None, help="official EDP folder (EDP_OFFICIAL_ROOT)")
    p.add_argument("--dql-root", default=None, help="Diffusion-QL folder (DQL_OFFICIAL_ROOT)")
    p.add_argument("--corl-root", default=None, help="CORL folder (CORL_ROOT)")
    p.add_argument("--output", default=str(DEFAULT_OUTPUT), help="JSON path (%(default)s)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the peer benchmark, print the table and write the JSON."""
    args = parse_args(argv)
    configure_single_thread()  # before anything imports JAX
    changes: dict[str, Any] = {}
    for name, value in (
        ("rounds", args.rounds),
        ("round_seconds", args.round_seconds),
        ("warmup", args.warmup),
        ("dataset_transitions", args.transitions),
    ):
        if value is not None:
            changes[name] = value
    if args.eager_only:
        changes["modes"] = ("eager",)
    if args.no_diagnostic:
        changes["diagnostic"] = False
    if args.only:
        changes["comparisons"] = tuple(args.only)
    for name, sub in (("edp_root", "edp"), ("dql_root", "dql"), ("corl_root", "corl")):
        explicit = getattr(args, name)
        if explicit is not None:
            changes[name] = explicit
        elif args.peers_root is not None:
            changes[name] = str(Path(args.peers_root) / sub)
    settings = (
        PeerBenchmarkSettings.tiny(**changes)
        if args.tiny
        else PeerBenchmarkSettings.full(**changes)
    )
    result = run_peer_benchmark(settings, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(format_report(result))
    print(f"wrote {write_json(result, args.output)}")
    return 0
