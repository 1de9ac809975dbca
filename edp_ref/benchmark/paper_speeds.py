"""Which benchmark record stands beside which of the paper's speed figures.

The figures themselves (Figure 2's caption, Appendix C.5's text) are typed once in
:mod:`edp_ref.paper` (:data:`~edp_ref.paper.FIGURE2`, :data:`~edp_ref.paper.APPENDIX_C5_IPS`);
none was measured by edp_ref. The benchmark puts them only in fields and columns labelled
"paper", beside its own measurements, and compares ratios rather than absolute speeds (the
paper's figures come from the authors' GPU and JAX code; edp_ref measures PyTorch on the machine
at hand).
"""

from __future__ import annotations

from typing import Any

from edp_ref.paper import APPENDIX_C5_IPS, FIGURE2

__all__ = [
    "C5_SOURCE",
    "FIGURE2_SOURCE",
    "PAPER_COMPARISONS",
    "PAPER_EDP_LABEL",
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

_IPS_BY_SOURCE: dict[str, dict[str, float]] = {
    FIGURE2_SOURCE: {label: f.train_ips for label, f in FIGURE2.items()},
    C5_SOURCE: APPENDIX_C5_IPS,
}

#: Benchmark training record -> the paper's (source, label) figures it is set beside. The
#: paper's Diffusion-QL runs K = 5 (the official default), hence ``dql_k5``.
PAPER_COMPARISONS: dict[str, tuple[tuple[str, str], ...]] = {
    "dql_k5": ((FIGURE2_SOURCE, "Diffusion-QL"), (FIGURE2_SOURCE, "DQL (JAX)")),
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
