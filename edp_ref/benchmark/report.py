"""What the benchmark's measurements are set beside and checked against, and the report.

The paper's speed figures (Figure 2's caption, Appendix C.5's text) are typed once in
:mod:`edp_ref.paper` (:data:`~edp_ref.paper.FIGURE2`, :data:`~edp_ref.paper.APPENDIX_C5_IPS`);
none was measured by edp_ref. The benchmark puts them only in fields and columns labelled
"paper", beside its own measurements, and compares ratios rather than absolute speeds (the
paper's figures come from the authors' GPU and JAX code; edp_ref measures PyTorch on the machine
at hand).

The targets (:func:`targets`), each ``{"name", "value", "threshold", "met", "note"}`` (``met``
None: reported only):

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

:func:`format_report`: the benchmark document as plain-text tables (training, sampling, seeds,
profile, memory, targets).
"""

from __future__ import annotations

from typing import Any

from edp_ref.paper import APPENDIX_C5_IPS, FIGURE2

__all__ = [
    "C5_SOURCE",
    "EDP_IQL_TO_GAUSSIAN_IQL",
    "FIGURE2_SOURCE",
    "FLOP_RATE_FRACTION",
    "PAPER_COMPARISONS",
    "PAPER_EDP_LABEL",
    "REFERENCE_RECORD",
    "SPEEDUP_OVER_DQL_MIDDLE_K",
    "SPEEDUP_OVER_DQL_SMALLEST_K",
    "VMAP_SEEDS_SPEEDUP_CUDA",
    "find_record",
    "format_report",
    "paper_ips",
    "paper_training_figures",
    "sampling_paper_summary",
    "targets",
]

#: The record every ``ratio_to_edp_td3`` divides by (EDP + TD3, the paper's "EDP").
REFERENCE_RECORD = "edp_td3"


def find_record(records: list[dict[str, Any]], name: str, mode: str) -> dict[str, Any] | None:
    """The measured (or extrapolated) record ``name`` in ``mode`` with a speed, or None."""
    for r in records:
        if r["name"] == name and r["mode"] == mode and r["iterations_per_second"] is not None:
            return r
    return None


#: The ``source`` of Figure 2's numbers in the JSON and the report.
FIGURE2_SOURCE = "Fig. 2"
#: The ``source`` of Appendix C.5's numbers.
C5_SOURCE = "App. C.5"
#: The paper's label of EDP (EDP + TD3) in both sources: the denominator of the paper's ratios.
PAPER_EDP_LABEL = "EDP"

_IPS_BY_SOURCE: dict[str, dict[str, float]] = {
    FIGURE2_SOURCE: {label: f.train_ips for label, f in FIGURE2.items()},
    C5_SOURCE: APPENDIX_C5_IPS,
}

#: Benchmark training record -> the paper's (source, label) figures it is set beside (also Figure
#: 2's bars in ``edp-reproduce --figure 2``). The paper's Diffusion-QL runs K = 5 (the official
#: default), hence ``dql_k5``; it stands beside "DQL (JAX)", the authors' re-implementation in the
#: framework of their EDP, as edp_ref's DQL shares edp_ref's; "Diffusion-QL" (the official PyTorch
#: code, slower for reasons besides the algorithm) has no counterpart here.
PAPER_COMPARISONS: dict[str, tuple[tuple[str, str], ...]] = {
    "dql_k5": ((FIGURE2_SOURCE, "DQL (JAX)"),),
    "edp_without_dpm": ((FIGURE2_SOURCE, "EDP w/o DPM"),),
    "edp_without_ap": ((FIGURE2_SOURCE, "EDP w/o AP"),),
    "edp_td3": ((FIGURE2_SOURCE, PAPER_EDP_LABEL), (C5_SOURCE, PAPER_EDP_LABEL)),
    "td3bc": ((C5_SOURCE, "TD3+BC"),),
}


def paper_ips(source: str, label: str) -> float:
    """The paper's training IPS of ``label`` in ``source`` (``"Fig. 2"`` or ``"App. C.5"``).

    Raises:
        KeyError: naming the unknown source or label and the known ones.
    """
    if source not in _IPS_BY_SOURCE:
        raise KeyError(f"paper_ips: unknown source {source!r}; known: {sorted(_IPS_BY_SOURCE)}")
    table = _IPS_BY_SOURCE[source]
    if label not in table:
        raise KeyError(f"paper_ips: {source} has no {label!r}; it lists {sorted(table)}")
    return table[label]


def paper_training_figures(record_name: str) -> tuple[dict[str, Any], ...]:
    """The paper's figures set beside the training record ``record_name`` (none for most).

    Each is ``{"label", "ips", "ratio_to_edp", "source"}``: the paper's label, its IPS, that IPS
    over the same source's EDP IPS (rounded to 4 digits) and the source.
    """
    out = []
    for source, label in PAPER_COMPARISONS.get(record_name, ()):
        ips = paper_ips(source, label)
        edp = paper_ips(source, PAPER_EDP_LABEL)
        out.append(
            {"label": label, "ips": ips, "ratio_to_edp": round(ips / edp, 4), "source": source}
        )
    return tuple(out)


def sampling_paper_summary() -> dict[str, Any]:
    """The JSON's ``sampling_paper`` section: Figure 2's sampling steps per second."""
    sps = {label: f.sample_sps for label, f in FIGURE2.items()}
    return {
        "steps_per_second": sps,
        "ratio_edp_to_edp_without_dpm": sps[PAPER_EDP_LABEL] / sps["EDP w/o DPM"],
        "note": "environment steps per second on the paper's GPU (Fig. 2), not measured here",
    }


FLOP_RATE_FRACTION = 0.4
SPEEDUP_OVER_DQL_MIDDLE_K = 20.0
SPEEDUP_OVER_DQL_SMALLEST_K = 1.2
EDP_IQL_TO_GAUSSIAN_IQL = 0.6
VMAP_SEEDS_SPEEDUP_CUDA = 3.0

_MODES = ("eager", "compiled")


def _target(
    name: str, value: float | int, threshold: float | int | None, met: bool | None, note: str
) -> dict[str, Any]:
    return {"name": name, "value": value, "threshold": threshold, "met": met, "note": note}


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
        out.append(_target(f"{title} [{mode}]", value, threshold, value >= threshold, note))
    return out


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target the measurements in ``result`` allow checking (the JSON's ``targets``)."""
    records = result["training"]
    out = []
    for mode in _MODES:
        r = find_record(records, REFERENCE_RECORD, mode)
        if r is not None and r["fraction_of_matmul_rate"] is not None:
            fraction = r["fraction_of_matmul_rate"]
            out.append(
                _target(
                    f"EDP+TD3 FLOP rate >= {FLOP_RATE_FRACTION:.0%} of dense matmul [{mode}]",
                    fraction,
                    FLOP_RATE_FRACTION,
                    fraction >= FLOP_RATE_FRACTION,
                    "counted matmul FLOPs per iteration / median iteration time",
                )
            )
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
            _target(
                f"{ms['seeds']} vmapped seeds vs sequential",
                best,
                need if cuda else None,
                (best >= need) if cuda else None,
                f"CUDA target {need:g}x; on CPU reported only (faster path: {ms['faster_path']})",
            )
        )
    mem = result.get("memory") or {}
    if mem.get("peak_rss_bytes") is not None:
        out.append(
            _target(
                "peak memory < dataset + 1 GiB",
                mem["peak_rss_bytes"],
                mem["limit_bytes"],
                mem["met"],
                f"{mem['transitions']} transitions, {mem['dataset_bytes']} bytes of data",
            )
        )
    return out


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
