"""The paper's published speed figures (Figure 2's caption, Appendix C.5's text), typed once.

Every number below is copied from the paper (Kang et al., NeurIPS 2023); none was measured by
edp_ref. The benchmark puts them only in fields and columns labelled "paper", beside its own
measurements, and compares ratios rather than absolute speeds (the paper's figures come from the
authors' GPU and JAX code; edp_ref measures PyTorch on the machine at hand).

* Figure 2 (Sec. 5.1, walker2d-medium-expert-v2): training iterations per second (IPS) and
  sampling environment steps per second (SPS) of Diffusion-QL (the official PyTorch code),
  DQL (JAX), EDP w/o DPM, EDP w/o AP (action approximation) and EDP.
* Appendix C.5 (same task, 10,000 policy updates each): TD3+BC with a feed-forward policy 689
  IPS, EDP 412 IPS.

:data:`PAPER_COMPARISONS` says which benchmark training record each figure is set beside.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "C5_SOURCE",
    "FIGURE2_SOURCE",
    "PAPER_C5_IPS",
    "PAPER_COMPARISONS",
    "PAPER_EDP_LABEL",
    "PAPER_FIG2_IPS",
    "PAPER_FIG2_SPS",
    "paper_ips",
    "paper_training_figures",
    "sampling_paper_summary",
]

#: The ``source`` of Figure 2's numbers in the JSON and the report.
FIGURE2_SOURCE = "Fig. 2"
#: The ``source`` of Appendix C.5's numbers.
C5_SOURCE = "App. C.5"
#: The paper's label of EDP (EDP + TD3) in both sources: the denominator of the paper's ratios.
PAPER_EDP_LABEL = "EDP"

#: Figure 2's caption: "The training IPS are: 4.66, 22.30, 50.94, 38.4, and 116.21."
PAPER_FIG2_IPS: dict[str, float] = {
    "Diffusion-QL (official PyTorch)": 4.66,
    "DQL (JAX)": 22.30,
    "EDP w/o DPM": 50.94,
    "EDP w/o AP": 38.4,
    PAPER_EDP_LABEL: 116.21,
}
#: Figure 2's caption: "The sampling SPS are: 18.67, 123.70, 123.06, 411.0, 411.79."
PAPER_FIG2_SPS: dict[str, float] = {
    "Diffusion-QL (official PyTorch)": 18.67,
    "DQL (JAX)": 123.70,
    "EDP w/o DPM": 123.06,
    "EDP w/o AP": 411.0,
    PAPER_EDP_LABEL: 411.79,
}
#: Appendix C.5: "The training speed for TD3+BC is 689 iterations-per-second (IPS), while EDP is
#: 412 IPS."
PAPER_C5_IPS: dict[str, float] = {"TD3+BC": 689.0, PAPER_EDP_LABEL: 412.0}

_IPS_BY_SOURCE: dict[str, dict[str, float]] = {
    FIGURE2_SOURCE: PAPER_FIG2_IPS,
    C5_SOURCE: PAPER_C5_IPS,
}

#: Benchmark training record -> the paper's (source, label) figures it is set beside. The
#: paper's Diffusion-QL runs K = 5 (the official default), hence ``dql_k5``.
PAPER_COMPARISONS: dict[str, tuple[tuple[str, str], ...]] = {
    "dql_k5": (
        (FIGURE2_SOURCE, "Diffusion-QL (official PyTorch)"),
        (FIGURE2_SOURCE, "DQL (JAX)"),
    ),
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
    return {
        "steps_per_second": dict(PAPER_FIG2_SPS),
        "ratio_edp_to_edp_without_dpm": PAPER_FIG2_SPS[PAPER_EDP_LABEL]
        / PAPER_FIG2_SPS["EDP w/o DPM"],
        "note": "environment steps per second on the paper's GPU (Fig. 2), not measured here",
    }
