"""The benchmark document as plain-text tables: :func:`format_report`.

Training (measured IPS, ratio to EDP + TD3, FLOPs and their rate against the dense-matmul rate,
beside the paper's Figure 2 / App. C.5 IPS and ratios in columns labelled "paper"), sampling
(EAS actions per second, DPM-Solver / DDPM), seeds, profile, memory and targets.
"""

from __future__ import annotations

from typing import Any

from edp_ref.benchmark.paper_speeds import (
    C5_SOURCE,
    FIGURE2_SOURCE,
    PAPER_EDP_LABEL,
    paper_ips,
)

__all__ = ["format_report"]


def _fmt(x: float | int | None, spec: str = ".3g") -> str:
    return "-" if x is None else format(x, spec)


def _training_lines(result: dict[str, Any]) -> list[str]:
    lines = [
        f"Training (ours: measured here; paper: {FIGURE2_SOURCE} / {C5_SOURCE} on the authors' GPU)"
    ]
    head = (
        f"{'algorithm':<34}{'mode':<9}{'IPS':>9}{'ratio':>8}{'GFLOP/it':>10}{'GFLOP/s':>9}"
        f"{'%mm':>6}  {'paper IPS':<14}{'paper ratio':<17}load"
    )
    lines += [head, "-" * len(head)]
    for r in result["training"]:
        paper = r.get("paper") or []
        p_ips = " / ".join(f"{p['ips']:g}" for p in paper) or "-"
        p_ratio = " / ".join(f"{p['ratio_to_edp']:.3g}" for p in paper) or "-"
        label = r["label"] + (" *" if r["extrapolated"] else "")
        flops = r["flops_per_iteration"]
        fps = r["flops_per_second"]
        frac = r["fraction_of_matmul_rate"]
        if r["error"]:
            lines.append(f"{label:<34}{r['mode']:<9}error: {r['error'][:80]}")
            continue
        lines.append(
            f"{label:<34}{r['mode']:<9}{_fmt(r['iterations_per_second']):>9}"
            f"{_fmt(r['ratio_to_edp_td3']):>8}"
            f"{_fmt(flops / 1e9 if flops else None):>10}{_fmt(fps / 1e9 if fps else None):>9}"
            f"{_fmt(100 * frac if frac else None, '.0f'):>6}  {p_ips:<14}{p_ratio:<17}"
            f"{_fmt(r['loadavg'])}"
        )
    notes = [f"  {r['label']}: {r['note']}" for r in result["training"] if r.get("note")]
    if notes:
        lines += ["notes (* = extrapolated, not timed):", *notes]
    fig2_edp = paper_ips(FIGURE2_SOURCE, PAPER_EDP_LABEL)
    c5_edp = paper_ips(C5_SOURCE, PAPER_EDP_LABEL)
    lines.append(
        "ratio = IPS / EDP+TD3 IPS in the same mode; paper ratio = paper IPS / paper EDP IPS of "
        f"the same figure ({FIGURE2_SOURCE}: {fig2_edp:g}, {C5_SOURCE}: {c5_edp:g}); "
        "Diffusion-QL K=5 row: paper's official PyTorch / DQL (JAX)."
    )
    return lines


def _sampling_lines(result: dict[str, Any]) -> list[str]:
    lines = ["Sampling: energy-based action selection (Alg. 2), actions per second"]
    head = f"{'sampler':<12}{'calls':>6}{'N':>5}{'states':>8}  {'mode':<9}{'actions/s':>11}"
    head += f"{'DPM/DDPM':>10}  load"
    lines += [head, "-" * len(head)]
    for r in result["sampling"]:
        what = f"{r['sampler']:<12}{r['model_calls']:>6}{r['candidates']:>5}{r['states']:>8}"
        if r["error"]:
            lines.append(f"{what}  {r['mode']:<9}{r['error'][:60]}")
            continue
        lines.append(
            f"{what}  {r['mode']:<9}{_fmt(r['actions_per_second']):>11}"
            f"{_fmt(r['ratio_dpm_to_ddpm']):>10}  {_fmt(r['loadavg'])}"
        )
    sp = result["sampling_paper"]
    sps = sp["steps_per_second"]
    lines.append(
        f"paper ({FIGURE2_SOURCE}, environment steps/s): EDP {sps[PAPER_EDP_LABEL]} vs EDP w/o "
        f"DPM {sps['EDP w/o DPM']} (ratio {sp['ratio_edp_to_edp_without_dpm']:.3g})"
    )
    return lines


def _other_lines(result: dict[str, Any]) -> list[str]:
    ms = result["multiseed"]
    lines = [
        f"Seeds: {ms['seeds']} x EDP+TD3 per iteration: sequential "
        f"{_fmt(ms['sequential_seconds'])} s, vmap {_fmt(ms['vmap_seconds'])} s "
        f"(speed-up {_fmt(ms['speedup_vmap'])}), vmap compiled "
        f"{_fmt(ms['vmap_compiled_seconds'])} s (speed-up {_fmt(ms['speedup_vmap_compiled'])}); "
        f"faster: {ms['faster_path']}" + (f"; error {ms['error']}" if ms["error"] else ""),
    ]
    pr = result["profile"]
    lines.append(
        f"Profile of one EDP+TD3 update: {pr['ops']} aten ops, DPM-Solver plans built "
        f"{pr['dpm_plan_builds']}, full/_to_copy/index/fill share "
        f"{100 * pr['small_op_fraction']:.1f}% of self CPU time"
    )
    mem = result["memory"]
    if mem.get("error"):
        lines.append(f"Memory: error {mem['error']}")
    else:
        lines.append(
            f"Memory: {mem['transitions']} transitions ({mem['dataset_bytes'] / 2**20:.0f} MiB): "
            f"peak RSS {mem['peak_rss_bytes'] / 2**20:.0f} MiB (after imports "
            f"{mem['baseline_rss_bytes'] / 2**20:.0f} MiB), limit "
            f"{mem['limit_bytes'] / 2**20:.0f} MiB"
        )
    return lines


def _target_lines(result: dict[str, Any]) -> list[str]:
    lines = ["Targets (FLOP rate, speed-ups over Diffusion-QL and feed-forward IQL, seeds, memory)"]
    for t in result["targets"]:
        met = {True: "MET", False: "MISSED", None: "reported"}[t["met"]]
        lines.append(
            f"  {met:<9}{t['name']}: {_fmt(t['value'])} (threshold {_fmt(t['threshold'])}) "
            f"- {t['note']}"
        )
    return lines


def format_report(result: dict[str, Any]) -> str:
    """The benchmark document ``result`` as plain-text tables (training, sampling, seeds,
    profile, memory, targets)."""
    m = result["machine"]
    mm = result["matmul"]
    lines = [
        f"edp_ref benchmark ({result['settings']['preset']}), {result['created']}",
        f"device {m['device']} ({m['device_name']}), {m['cpu_count']} CPUs, "
        f"{m['torch_threads']} torch threads, load {m['loadavg_start']} -> {m['loadavg_end']}",
        f"dense matmul, same layer shapes: {mm['flops_per_second'] / 1e9:.1f} "
        f"GFLOP/s (square {mm['square_flops_per_second'] / 1e9:.1f} GFLOP/s)",
        "",
        *_training_lines(result),
        "",
        *_sampling_lines(result),
        "",
        *_other_lines(result),
        "",
        *_target_lines(result),
        f"elapsed {result['elapsed_seconds']} s",
    ]
    return "\n".join(lines)
