"""The paper's published numbers for Tables 1, 2, 4, 5, 6 and 7 (Kang et al., NeurIPS 2023).

Every value below is typed from the paper's text (tables of Sec. 5 and Appendix C), with the
caption the paper prints; nothing here was measured by edp_ref. ``scripts/reproduce.py`` puts these
numbers only in columns labelled "paper" next to the measured ones. ``None`` marks a "-" cell.
Known oddities are kept as printed and listed in each table's ``notes`` (e.g. Table 5's kitchen
"Best" average of EDP + TD3, 96.0, is not the mean of its three rows, 82.5).

Figure 2's numbers (training iterations per second and sampling steps per second, GPU) are in its
caption and in :data:`FIGURE2_PAPER`; the other figures carry no numbers in the text, only the
statements kept in :data:`FIGURE_CLAIMS`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FIGURE2_PAPER",
    "FIGURE_CLAIMS",
    "PAPER_TABLES",
    "PaperRow",
    "PaperTable",
    "paper_table",
]


@dataclass(frozen=True)
class PaperRow:
    """One row of a paper table.

    Attributes:
        label: the dataset name (``hopper-medium-v2``), a domain (Table 1) or ``average``.
        values: one value per column of the table (None for "-").
        domain: locomotion / antmaze / adroit / kitchen.
        is_average: True for the paper's per-domain average rows.
    """

    label: str
    values: tuple[float | None, ...]
    domain: str
    is_average: bool = False


@dataclass(frozen=True)
class PaperTable:
    """A table of the paper: number, caption, metric, column labels and rows."""

    number: int
    caption: str
    metric: str
    columns: tuple[str, ...]
    rows: tuple[PaperRow, ...]
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row.values) != len(self.columns):
                raise ValueError(
                    f"Table {self.number}: row {row.label!r} has {len(row.values)} values for "
                    f"{len(self.columns)} columns"
                )

    def value(self, row_label: str, column: str, domain: str | None = None) -> float | None:
        """The printed value of ``column`` in the row ``row_label`` (``domain`` picks an average
        row)."""
        if column not in self.columns:
            raise KeyError(f"Table {self.number} has no column {column!r}: {self.columns}")
        j = self.columns.index(column)
        for row in self.rows:
            if row.label == row_label and (domain is None or row.domain == domain):
                return row.values[j]
        raise KeyError(f"Table {self.number} has no row {row_label!r} (domain {domain})")

    def task_rows(self) -> tuple[PaperRow, ...]:
        """The rows of single datasets (not averages)."""
        return tuple(r for r in self.rows if not r.is_average)


def _domain(label: str) -> str:
    if label.startswith(("halfcheetah", "hopper", "walker2d", "gym-locomotion", "locomotion")):
        return "locomotion"
    for prefix in ("antmaze", "kitchen"):
        if label.startswith(prefix):
            return prefix
    if label.startswith(("pen", "adroit")):
        return "adroit"
    raise ValueError(f"paper_results: no domain for row {label!r}")


def _rows(
    raw: tuple[tuple[str, tuple[float | None, ...]], ...], domain_rows: bool = False
) -> tuple[PaperRow, ...]:
    out: list[PaperRow] = []
    current = ""
    for label, values in raw:
        if label == "average" or label.endswith("(avg)"):
            out.append(PaperRow(label, values, current, is_average=True))
            continue
        current = _domain(label)
        out.append(PaperRow(label, values, current, is_average=domain_rows))
    return tuple(out)


_TABLE1 = (
    ("locomotion", (89.4, 89.4, 90.3)),
    ("antmaze", (75.4, 78.6, 77.9)),
    ("adroit", (68.3, 66.5, 89.1)),
    ("kitchen", (71.6, 83.0, 80.5)),
)

_TABLE2 = (
    (
        "halfcheetah-medium-v2",
        (42.6, 42.5, 42.6, 43.5, 48.4, 44.0, 48.3, 52.1, 44.0, 49.2, 47.4, 48.1),
    ),
    ("hopper-medium-v2", (52.9, 56.9, 67.6, 57.0, 59.6, 58.5, 59.3, 81.9, 58.5, 78.7, 66.3, 63.1)),
    (
        "walker2d-medium-v2",
        (75.3, 75.0, 74.0, 72.4, 81.8, 72.5, 83.7, 86.9, 72.5, 82.5, 78.3, 85.4),
    ),
    (
        "halfcheetah-medium-replay-v2",
        (36.6, 40.6, 36.6, 40.5, 38.1, 45.5, 44.6, 49.4, 45.5, 43.5, 44.2, 43.8),
    ),
    (
        "hopper-medium-replay-v2",
        (18.1, 75.9, 82.7, 37.2, 97.5, 95.0, 60.9, 101.0, 95.0, 99.0, 94.7, 99.1),
    ),
    (
        "walker2d-medium-replay-v2",
        (26.0, 62.5, 66.6, 27.0, 49.5, 77.2, 81.8, 94.9, 77.2, 63.3, 73.9, 84.0),
    ),
    (
        "halfcheetah-medium-expert-v2",
        (55.2, 92.9, 86.8, 42.8, 93.4, 91.6, 90.7, 95.5, 91.6, 85.6, 86.7, 86.7),
    ),
    (
        "hopper-medium-expert-v2",
        (52.5, 110.9, 107.6, 55.8, 103.3, 105.4, 98.0, 97.4, 105.4, 92.9, 91.5, 99.6),
    ),
    (
        "walker2d-medium-expert-v2",
        (107.5, 109.0, 108.1, 74.5, 113.0, 108.8, 110.1, 110.2, 108.8, 110.1, 109.6, 109.0),
    ),
    ("average", (51.9, 74.0, 74.7, 50.1, 76.1, 77.6, 75.3, 85.5, 77.6, 78.3, 77.0, 79.9)),
    ("kitchen-complete-v0", (65.0, 7.2, None, 39.3, 57.0, 43.8, 2.2, 61.5, 43.8, 73.9, 62.5, 75.5)),
    ("kitchen-partial-v0", (38.0, 66.8, None, 36.6, 53.1, 49.8, 0.7, 52.8, 49.8, 40.0, 46.3, 46.3)),
    ("kitchen-mixed-v0", (51.5, 50.9, None, 22.0, 47.6, 51.0, 0.0, 60.8, 51.0, 46.1, 51.0, 56.5)),
    ("average", (51.5, 41.6, None, 32.6, 52.6, 48.2, 1.0, 58.4, 48.2, 53.3, 53.3, 59.4)),
    ("pen-human-v0", (63.9, -2.0, None, 15.6, 71.8, 37.5, 5.9, 48.2, 37.5, 70.2, 71.5, 72.7)),
    ("pen-cloned-v0", (37.0, 0.0, None, 24.7, 60.0, 39.2, 17.2, 15.9, 39.2, 54.0, 37.3, 70.0)),
    ("average", (50.5, -1.0, None, 20.2, 65.9, 38.4, 11.6, 32.1, 38.4, 62.1, 54.4, 71.3)),
    ("antmaze-umaze-v0", (54.6, 62.8, 59.2, 56.7, 64.3, 74.0, 40.2, 96.6, 0.0, 95.9, 87.5, 94.2)),
    (
        "antmaze-umaze-diverse-v0",
        (45.6, 50.2, 53.0, 49.3, 60.7, 84.0, 58.0, 69.5, 41.9, 15.9, 62.2, 79.0),
    ),
    ("antmaze-medium-play-v0", (0.0, 5.4, 0.0, 0.0, 0.3, 61.2, 0.2, 0.0, 0.0, 33.5, 71.2, 81.8)),
    ("antmaze-medium-diverse-v0", (0.0, 9.8, 0.0, 0.7, 0.0, 53.7, 0.0, 6.4, 0.0, 32.7, 70.0, 82.3)),
    ("antmaze-large-play-v0", (0.0, 0.0, 0.0, 0.0, 0.0, 15.8, 0.0, 1.6, 0.0, 26.0, 39.6, 42.3)),
    ("antmaze-large-diverse-v0", (0.0, 6.0, 0.0, 1.0, 0.0, 14.9, 0.0, 4.4, 0.0, 58.5, 47.5, 60.6)),
    ("average", (16.7, 22.4, 18.7, 18.0, 20.9, 50.6, 16.4, 29.8, 7.0, 43.8, 63.0, 73.4)),
)

_TABLE4 = (
    ("halfcheetah-medium-v2", (51.5, 52.3, 52.8)),
    ("hopper-medium-v2", (96.6, 95.3, 98.6)),
    ("walker2d-medium-v2", (87.3, 86.9, 89.6)),
    ("halfcheetah-medium-replay-v2", (48.3, 50.3, 50.4)),
    ("hopper-medium-replay-v2", (102.0, 101.8, 102.7)),
    ("walker2d-medium-replay-v2", (98.0, 96.3, 97.7)),
    ("halfcheetah-medium-expert-v2", (97.2, 97.3, 97.1)),
    ("hopper-medium-expert-v2", (112.3, 113.1, 112.0)),
    ("walker2d-medium-expert-v2", (111.2, 111.5, 112.0)),
    ("average", (89.4, 89.4, 90.3)),
    ("antmaze-umaze-v0", (96.0, 93.4, 93.4)),
    ("antmaze-umaze-diverse-v0", (84.0, 74.0, 66.0)),
    ("antmaze-medium-play-v0", (79.8, 96.0, 88.0)),
    ("antmaze-medium-diverse-v0", (82.0, 82.0, 96.0)),
    ("antmaze-large-play-v0", (49.0, 66.0, 60.0)),
    ("antmaze-large-diverse-v0", (61.7, 60.0, 64.0)),
    ("average", (75.4, 78.6, 77.9)),
    ("pen-human-v1", (75.7, 74.0, 98.3)),
    ("pen-cloned-v1", (60.8, 59.1, 79.9)),
    ("average", (68.3, 66.5, 89.1)),
    ("kitchen-complete-v0", (84.5, 100.0, 97.0)),
    ("kitchen-partial-v0", (63.7, 73.0, 71.5)),
    ("kitchen-mixed-v0", (66.6, 76.0, 73.0)),
    ("average", (71.6, 83.0, 80.5)),
)

_TABLE5 = (
    ("halfcheetah-medium-v2", (52.1, 52.8, 49.2, 50.2, 48.1, 48.7)),
    ("hopper-medium-v2", (81.9, 98.6, 78.7, 95.0, 63.1, 97.3)),
    ("walker2d-medium-v2", (86.9, 89.6, 82.5, 85.8, 85.4, 88.7)),
    ("halfcheetah-medium-replay-v2", (49.4, 50.4, 43.5, 47.8, 43.8, 45.5)),
    ("hopper-medium-replay-v2", (101.0, 102.7, 99.0, 101.7, 99.1, 100.9)),
    ("walker2d-medium-replay-v2", (94.9, 97.7, 63.3, 89.8, 84.0, 93.4)),
    ("halfcheetah-medium-expert-v2", (95.5, 97.1, 85.6, 93.5, 86.7, 80.9)),
    ("hopper-medium-expert-v2", (97.4, 112.0, 92.9, 109.4, 99.6, 95.7)),
    ("walker2d-medium-expert-v2", (110.2, 112.0, 110.1, 112.3, 109.0, 111.5)),
    ("average", (85.5, 90.3, 78.3, 87.3, 79.9, 84.7)),
    ("kitchen-complete-v0", (61.5, 93.4, 73.9, 95.8, 75.5, 95.0)),
    ("kitchen-partial-v0", (52.8, 66.0, 40.0, 56.7, 46.3, 72.5)),
    ("kitchen-mixed-v0", (60.8, 88.0, 46.1, 59.2, 56.5, 70.0)),
    ("average", (58.4, 96.0, 53.3, 70.6, 59.4, 79.2)),
    ("pen-human-v0", (48.2, 60.0, 70.2, 127.8, 72.7, 130.3)),
    ("pen-cloned-v0", (15.9, 64.0, 54.0, 106.0, 70.0, 138.2)),
    ("average", (32.1, 77.9, 62.1, 116.9, 71.3, 134.3)),
    ("antmaze-umaze-v0", (96.6, 98.3, 95.9, 98.0, 94.2, 98.0)),
    ("antmaze-umaze-diverse-v0", (69.5, 79.9, 15.9, 80.0, 79.0, 90.0)),
    ("antmaze-medium-play-v0", (0.0, 89.1, 33.5, 82.0, 81.8, 89.0)),
    ("antmaze-medium-diverse-v0", (6.4, 97.0, 32.7, 72.0, 82.3, 88.0)),
    ("antmaze-large-play-v0", (1.6, 71.5, 26.0, 57.0, 42.3, 52.0)),
    ("antmaze-large-diverse-v0", (4.4, 73.0, 58.5, 71.0, 60.6, 68.0)),
    ("average", (29.8, 80.5, 43.8, 76.7, 73.4, 89.2)),
)

_TABLE6 = (
    ("halfcheetah-medium-v2", (52.1, 48.7, 47.8)),
    ("hopper-medium-v2", (81.9, 50.8, 54.0)),
    ("walker2d-medium-v2", (86.9, 77.7, 53.4)),
    ("halfcheetah-medium-replay-v2", (49.4, 44.4, 44.1)),
    ("hopper-medium-replay-v2", (101.0, 59.8, 59.1)),
    ("walker2d-medium-replay-v2", (94.9, 74.8, 71.6)),
    ("halfcheetah-medium-expert-v2", (95.5, 85.9, 92.3)),
    ("hopper-medium-expert-v2", (97.4, 71.9, 95.1)),
    ("walker2d-medium-expert-v2", (110.2, 108.4, 110.0)),
    ("gym-locomotion-v2 (avg)", (85.5, 69.2, 69.7)),
)

_TABLE7 = (
    # Printed with two rows merged on one line ("walker2d-medium-v2 walker2d-medium-reply-v2
    # 86.9 96.3 85.5 93.3"); "reply" is the paper's typo for "replay".
    ("walker2d-medium-v2", (86.9, 85.5)),
    ("walker2d-medium-replay-v2", (96.3, 93.3)),
    ("walker2d-medium-expert-v2", (111.5, 111.1)),
)

PAPER_TABLES: dict[int, PaperTable] = {
    1: PaperTable(
        1,
        "The performance of Diffusion-QL with efficient diffusion policy. The results for "
        "Diffusion-QL are directly quoted from [37]. All results are reported based on the OMS "
        "metric.",
        "OMS",
        ("Diffusion-QL", "DQL (JAX)", "EDP"),
        _rows(_TABLE1, domain_rows=True),
        ("Rows are domain averages; Table 4 gives the per-dataset numbers.",),
    ),
    2: PaperTable(
        2,
        "Average normalized score on the D4RL benchmark. FF denotes the original policies "
        "parameterized with feed-forward neural networks, while EDP is our efficient diffusion "
        "policy. Results of baselines are taken directly from [15]. For the missing results of "
        "10%, AWAC, and OneStep RL, we re-implement the baselines and report the results. Our "
        "results are reported with the RAT metric.",
        "RAT",
        (
            "BC",
            "10%BC",
            "DT",
            "AWAC",
            "OneStep",
            "CQL",
            "TD3+BC FF",
            "TD3+BC EDP",
            "CRR FF",
            "CRR EDP",
            "IQL FF",
            "IQL EDP",
        ),
        _rows(_TABLE2),
        (
            "The paper's text prints the CQL header as 'COL'.",
            "The CRR FF column repeats the CQL column on locomotion, kitchen and adroit, "
            "as printed.",
        ),
    ),
    4: PaperTable(
        4,
        "The performance of Diffusion-QL with efficient diffusion policy. The results for "
        "Diffusion-QL are directly quoted from [37]. EDP is our method. DQL (JAX) is a variant "
        "that uses the exact same configurations as Diffusion-QL. All results are reported "
        "based on the OMS metric.",
        "OMS",
        ("Diffusion-QL", "DQL (JAX)", "EDP"),
        _rows(_TABLE4),
        ("Adroit rows are pen-*-v1 here but pen-*-v0 in Tables 2 and 5, as printed.",),
    ),
    5: PaperTable(
        5,
        "Average normalized score on the D4RL benchmark of EDP trained with different "
        'algorithms. "Best" represents the online model selection metric, while "Average" is '
        "our runing average at training metric.",
        "RAT (Average) and OMS (Best)",
        (
            "EDP + TD3 Average",
            "EDP + TD3 Best",
            "EDP + CRR Average",
            "EDP + CRR Best",
            "EDP + IQL Average",
            "EDP + IQL Best",
        ),
        _rows(_TABLE5),
        ("The kitchen average of EDP + TD3 Best is printed as 96.0; its three rows average 82.5.",),
    ),
    6: PaperTable(
        6,
        "Energy-based Action Selection + Normal TD3",
        "RAT",
        ("TD3+Diff", "TD3+EAS", "TD3"),
        _rows(_TABLE6),
        (
            "TD3+Diff is EDP + TD3 (Table 2's TD3+BC EDP column); TD3 is TD3+BC with a "
            "feed-forward policy; TD3+EAS evaluates that policy with EAS.",
        ),
    ),
    7: PaperTable(
        7,
        "The effect of action approximation.",
        "OMS",
        ("DDPM", "Action Approx"),
        _rows(_TABLE7),
        (
            "K = 100; the DDPM column forwards and backwards the policy network through all 100 "
            "steps each training iteration, action approximation once (Appendix C.6).",
        ),
    ),
}

#: Figure 2 (Sec. 5.1, walker2d-medium-expert-v2, GPU): training iterations per second and
#: sampling steps per second, from the figure's caption.
FIGURE2_PAPER: dict[str, dict[str, float]] = {
    "Diffusion-QL": {"train_ips": 4.66, "sample_sps": 18.67},
    "DQL (JAX)": {"train_ips": 22.30, "sample_sps": 123.70},
    "EDP w/o DPM": {"train_ips": 50.94, "sample_sps": 123.06},
    "EDP w/o AP": {"train_ips": 38.4, "sample_sps": 411.0},
    "EDP": {"train_ips": 116.21, "sample_sps": 411.79},
}

#: What the text says about the figures without numbers.
FIGURE_CLAIMS: dict[int, str] = {
    3: "walker2d: OMS and RAT grow steadily and end close; hopper: a larger gap; antmaze: the "
    "two diverge when training succeeds and then crashes (Sec. 5.3).",
    4: "The normalized score grows monotonically with the number of EAS actions (1 to 200) on "
    "8 of the 9 locomotion tasks; the paper uses 10 (Sec. 5.3).",
    5: "Performance increases with DPM-Solver model calls (3 to 30) and plateaus after 15; the "
    "paper uses 15 (Sec. 5.3).",
    6: "Policy scaling tau from 0.5 to 2.0: the best performance is at tau = 1.0 (App. C.4).",
    7: "Initial noise scale from 0.0 to 1.0: best at zero noise in most cases, a normal a^K "
    "worst; still behind EAS (App. C.4).",
}


def paper_table(number: int) -> PaperTable:
    """The paper's Table ``number`` (1, 2, 4, 5, 6 or 7); ``ValueError`` for others."""
    if number not in PAPER_TABLES:
        raise ValueError(
            f"the paper has no results table {number} here; tables: {sorted(PAPER_TABLES)} "
            "(Table 3 lists hyper-parameters: edp_ref.algorithms.DOMAIN_PRESETS)"
        )
    return PAPER_TABLES[number]
