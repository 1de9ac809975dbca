"""Every fact edp_ref types from the paper and from D4RL, once (the bottom layer of edp_ref).

Kang, Ma, Du, Pang, Yan, *Efficient Diffusion Policies for Offline Reinforcement Learning*
(NeurIPS 2023), and the benchmark it trains on, D4RL (Fu et al., 2020). Nothing here is
measured by edp_ref, and nothing here imports the rest of edp_ref; data, algorithms, runner,
reproduction and benchmark all read these tables. Tables and figures print the numbers below
only in columns labelled as the paper's.

* The paper's domains and tasks (Sec. 5, Tables 2 and 4), each with its D4RL file, its Minari
  port, the locally generated stand-in for locomotion, its evaluation environment and D4RL's
  reference scores and space widths: :data:`PAPER_DATASETS`, :func:`domain_of`.
* Table 3's hyper-parameters per domain, with the official code's per-domain reward transforms
  and per-task gradient clip (sail-sg/edp, diffusion/hps.py, utilities/utils.py):
  :data:`TABLE3`, :data:`OFFICIAL_GRAD_NORM_CLIP`.
* The results tables 1, 2, 4, 5, 6 and 7 as printed: :data:`PAPER_TABLES`.
* Figure 2's and Appendix C.5's speeds, the values swept by Figures 4-7 and what the text says of
  the figures without numbers: :data:`FIGURE2`, :data:`APPENDIX_C5_IPS`, :data:`FIGURES`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "APPENDIX_C5_IPS",
    "D4RL_REFERENCE_SCORES",
    "D4RL_SPACE_WIDTHS",
    "DATA_SOURCES",
    "DOMAINS",
    "FIGURE2",
    "FIGURES",
    "LOCAL_ENVS",
    "LOCOMOTION_TASKS",
    "OFFICIAL_GRAD_NORM_CLIP",
    "PAPER_DATASETS",
    "PAPER_TABLES",
    "TABLE3",
    "DataSource",
    "Domain",
    "DomainHyperparameters",
    "FigureSpec",
    "PaperDataset",
    "PaperRow",
    "PaperTable",
    "RewardTransform",
    "SpeedFigure",
    "domain_of",
    "find_paper_dataset",
    "local_dataset_id",
    "official_grad_norm_clip",
    "paper_dataset",
    "paper_table",
]

# --------------------------------------------------------------------------------------------
# Domains and tasks (Sec. 5; D4RL)
# --------------------------------------------------------------------------------------------

Domain = Literal["locomotion", "antmaze", "adroit", "kitchen"]
#: The paper's four domains, in the order of its tables.
DOMAINS: tuple[Domain, ...] = ("locomotion", "antmaze", "adroit", "kitchen")

#: D4RL's REF_MIN_SCORE / REF_MAX_SCORE (Farama-Foundation/D4RL, d4rl/infos.py) per environment.
D4RL_REFERENCE_SCORES: dict[str, tuple[float, float]] = {
    "halfcheetah": (-280.178953, 12135.0),
    "hopper": (-20.272305, 3234.3),
    "walker2d": (1.629008, 4592.3),
    "antmaze": (0.0, 1.0),
    "pen": (96.262799, 3076.8331017826877),
    "kitchen": (0.0, 4.0),
}

#: Widths (observation, action) of the spaces D4RL recorded each environment in: the widths of
#: every row of the D4RL files. Locomotion: Gym MuJoCo v3 (the same as Gymnasium v4 and v5);
#: antmaze: the ant's qpos[:15] and qvel[:14] (d4rl/locomotion/ant.py); pen: Adroit
#: (d4rl/hand_manipulation_suite/pen_v0.py); kitchen: 9 robot joints, 21 object joints and a
#: 30-dimensional goal (d4rl/kitchen/adept_envs/franka/kitchen_multitask_v0.py). The
#: gymnasium-robotics ports of antmaze and kitchen observe dicts of other widths.
D4RL_SPACE_WIDTHS: dict[str, tuple[int, int]] = {
    "halfcheetah": (17, 6),
    "hopper": (11, 3),
    "walker2d": (17, 6),
    "antmaze": (29, 8),
    "pen": (45, 24),
    "kitchen": (60, 9),
}

#: Gymnasium MuJoCo v5 environments of edp_ref's local D4RL-protocol generation.
LOCAL_ENVS: dict[str, str] = {
    "halfcheetah": "HalfCheetah-v5",
    "hopper": "Hopper-v5",
    "walker2d": "Walker2d-v5",
    "invertedpendulum": "InvertedPendulum-v5",
}

#: The nine Gym locomotion tasks, in the order of the paper's tables.
LOCOMOTION_TASKS: tuple[str, ...] = tuple(
    f"{env}-{kind}-v2"
    for kind in ("medium", "medium-replay", "medium-expert")
    for env in ("halfcheetah", "hopper", "walker2d")
)

_D4RL_URL = "http://rail.eecs.berkeley.edu/datasets/offline_rl"

DataSource = Literal["auto", "d4rl", "minari", "local"]
#: Where a paper task's data may come from: its D4RL file, its Minari port, edp_ref's local
#: generation, or the first of them present (``auto``).
DATA_SOURCES: tuple[DataSource, ...] = ("auto", "d4rl", "minari", "local")


@dataclass(frozen=True)
class PaperDataset:
    """One task of the paper and where its data come from.

    Attributes:
        name: the paper's name (``hopper-medium-v2``).
        domain: its domain.
        d4rl_url: the D4RL download; the file name is its last component.
        ref_min_score, ref_max_score: D4RL's reference returns of its environment.
        env_id: the Gymnasium environment that evaluates a policy trained on the D4RL file
            (locomotion: v4, the new-bindings port of D4RL's v3; the others gymnasium-robotics).
        max_episode_steps: D4RL's episode limit.
        minari_id: the Minari port, if any.
        local_id: edp_ref's locally generated stand-in (locomotion only), else None.
        minari_note: how the Minari port differs from the D4RL file.
    """

    name: str
    domain: Domain
    d4rl_url: str
    ref_min_score: float
    ref_max_score: float
    env_id: str
    max_episode_steps: int
    minari_id: str | None = None
    local_id: str | None = None
    minari_note: str = ""

    @property
    def d4rl_file(self) -> str:
        """The D4RL file's name (the download's last component)."""
        return self.d4rl_url.rsplit("/", 1)[1]

    @property
    def d4rl_widths(self) -> tuple[int, int]:
        """(observation, action) widths of the D4RL file (:data:`D4RL_SPACE_WIDTHS`)."""
        return D4RL_SPACE_WIDTHS[self.name.split("-")[0]]


def local_dataset_id(env: str, kind: str) -> str:
    """Minari id of a locally generated dataset, e.g. ``edp_ref/hopper/medium-replay-v0``."""
    return f"edp_ref/{env}/{kind}-v0"


def _locomotion() -> list[PaperDataset]:
    gym_ids = {"halfcheetah": "HalfCheetah-v4", "hopper": "Hopper-v4", "walker2d": "Walker2d-v4"}
    out = []
    for env, gym_id in gym_ids.items():
        for kind in ("medium", "medium-replay", "medium-expert"):
            lo, hi = D4RL_REFERENCE_SCORES[env]
            out.append(
                PaperDataset(
                    name=f"{env}-{kind}-v2",
                    domain="locomotion",
                    d4rl_url=f"{_D4RL_URL}/gym_mujoco_v2/{env}_{kind.replace('-', '_')}-v2.hdf5",
                    ref_min_score=lo,
                    ref_max_score=hi,
                    env_id=gym_id,
                    max_episode_steps=1000,
                    minari_id=f"mujoco/{env}/medium-v0" if kind == "medium" else None,
                    local_id=local_dataset_id(env, kind),
                    minari_note=(
                        "Minari's mujoco/* datasets were regenerated on v5 with new policies "
                        "and carry no reference scores"
                    ),
                )
            )
    return out


def _antmaze() -> list[PaperDataset]:
    files = {  # task: (D4RL maze, multistart, multigoal, Minari name, episode limit)
        "umaze": ("u-maze", "False", "False", "umaze", 700),
        "umaze-diverse": ("u-maze", "True", "True", "umaze-diverse", 700),
        "medium-play": ("big-maze", "True", "False", "medium-play", 1000),
        "medium-diverse": ("big-maze", "True", "True", "medium-diverse", 1000),
        "large-play": ("hardest-maze", "True", "False", "large-play", 1000),
        "large-diverse": ("hardest-maze", "True", "True", "large-diverse", 1000),
    }
    gym_ids = {
        "u-maze": "AntMaze_UMaze-v4",
        "big-maze": "AntMaze_Medium-v4",
        "hardest-maze": "AntMaze_Large-v4",
    }
    return [
        PaperDataset(
            name=f"antmaze-{task}-v0",
            domain="antmaze",
            d4rl_url=(
                f"{_D4RL_URL}/ant_maze_new/Ant_maze_{maze}_noisy_multistart_{multistart}"
                f"_multigoal_{multigoal}_sparse.hdf5"
            ),
            ref_min_score=0.0,
            ref_max_score=1.0,
            env_id=gym_ids[maze],
            max_episode_steps=steps,
            minari_id=f"D4RL/antmaze/{minari_name}-v1",
            minari_note="Minari's D4RL/antmaze datasets were regenerated on gymnasium-robotics",
        )
        for task, (maze, multistart, multigoal, minari_name, steps) in files.items()
    ]


def _adroit_kitchen() -> list[PaperDataset]:
    pen_lo, pen_hi = D4RL_REFERENCE_SCORES["pen"]
    pens = {  # name: (D4RL path, Minari id)
        "pen-human-v0": ("hand_dapg/pen-v0_demos_clipped.hdf5", None),
        "pen-cloned-v0": ("hand_dapg/pen-demos-v0-bc-combined.hdf5", None),
        "pen-human-v1": ("hand_dapg_v1/pen-human-v1.hdf5", "D4RL/pen/human-v2"),
        "pen-cloned-v1": ("hand_dapg_v1/pen-cloned-v1.hdf5", "D4RL/pen/cloned-v2"),
    }
    out = [
        PaperDataset(
            name,
            "adroit",
            f"{_D4RL_URL}/{path}",
            pen_lo,
            pen_hi,
            "AdroitHandPen-v1",
            100,
            minari_id=minari_id,
        )
        for name, (path, minari_id) in pens.items()
    ]
    kitchen_files = {
        "complete": "mini_kitchen_microwave_kettle_light_slider-v0.hdf5",
        "partial": "kitchen_microwave_kettle_light_slider-v0.hdf5",
        "mixed": "kitchen_microwave_kettle_bottomburner_light-v0.hdf5",
    }
    lo, hi = D4RL_REFERENCE_SCORES["kitchen"]
    out += [
        PaperDataset(
            f"kitchen-{task}-v0",
            "kitchen",
            f"{_D4RL_URL}/kitchen/{file}",
            lo,
            hi,
            "FrankaKitchen-v1",
            280,
            minari_id=f"D4RL/kitchen/{task}-v2",
        )
        for task, file in kitchen_files.items()
    ]
    return out


#: Every task of the paper's Tables 2 and 4, by the paper's name.
PAPER_DATASETS: dict[str, PaperDataset] = {
    d.name: d for d in [*_locomotion(), *_antmaze(), *_adroit_kitchen()]
}

_HDF5_SUFFIXES = (".hdf5", ".h5")


def paper_dataset(name: str) -> PaperDataset:
    """The paper's task ``name``; ``ValueError`` listing the paper's tasks otherwise."""
    if not isinstance(name, str):
        raise ValueError(
            f"paper_dataset: a dataset name must be a string such as 'hopper-medium-v2', got "
            f"{type(name).__name__} {name!r}"
        )
    if name not in PAPER_DATASETS:
        raise ValueError(
            f"unknown dataset name '{name}'; the paper's datasets are: "
            f"{', '.join(sorted(PAPER_DATASETS))}. Load other Minari datasets with "
            "load_minari(id) and other D4RL files with load_d4rl_hdf5(path)."
        )
    return PAPER_DATASETS[name]


def find_paper_dataset(name: str) -> PaperDataset | None:
    """The paper's task ``name`` stands for: itself, or the one whose D4RL file it names
    (``/data/hopper_medium-v2.hdf5``); None for any other dataset."""
    if name in PAPER_DATASETS:
        return PAPER_DATASETS[name]
    if name.lower().endswith(_HDF5_SUFFIXES):
        base = os.path.basename(name)
        for entry in PAPER_DATASETS.values():
            if entry.d4rl_file == base:
                return entry
    return None


def domain_of(name: str) -> Domain:
    """The domain of a domain name, a paper task, its D4RL file or a Minari / local id.

    ``"hopper-medium-v2"``, ``"~/.d4rl/datasets/hopper_medium-v2.hdf5"``,
    ``"mujoco/hopper/medium-v0"`` and ``"edp_ref/invertedpendulum/medium-v0"`` are
    ``"locomotion"``; ``"D4RL/pen/human-v2"`` is ``"adroit"``.

    Raises:
        ValueError: the name tells no domain (the message lists the domains).
    """
    for domain in DOMAINS:
        if name == domain:
            return domain
    entry = find_paper_dataset(name)
    if entry is not None:
        return entry.domain
    base = os.path.basename(name) if name.lower().endswith(_HDF5_SUFFIXES) else name
    env = base.split("/")[-2] if base.count("/") >= 2 else base
    env = env.lower()
    if env.startswith("antmaze") or "antmaze" in base.lower():
        return "antmaze"
    if env.startswith(("pen", "hammer", "door", "relocate")):
        return "adroit"
    if env.startswith("kitchen"):
        return "kitchen"
    if env.startswith(("halfcheetah", "hopper", "walker2d", "invertedpendulum", "ant")):
        return "locomotion"
    raise ValueError(
        f"cannot tell the domain of dataset '{name}' from its name; domains: {', '.join(DOMAINS)}"
    )


# --------------------------------------------------------------------------------------------
# Hyper-parameters: Table 3, and the official code's per-domain and per-task settings
# --------------------------------------------------------------------------------------------

#: The official code's reward transforms (sail-sg/edp, utilities/utils.py):
#: "iql_return_range": r * 1000 / (max - min trajectory return); "minus_one": r - 1;
#: "shift_half_times_four": (r - 0.5) * 4; "min_max_symmetric": min-max to [-1, 1]; "none".
RewardTransform = Literal[
    "none", "iql_return_range", "minus_one", "shift_half_times_four", "min_max_symmetric"
]


@dataclass(frozen=True)
class DomainHyperparameters:
    """Table 3's row of one domain, and the official per-domain choices the paper leaves implicit.

    Attributes:
        domain: the domain.
        learning_rate: Table 3's learning rate.
        max_grad_norm: Table 3's gradient-norm clip (5 everywhere; the official code's per-task
            values: :data:`OFFICIAL_GRAD_NORM_CLIP`).
        loss_weight: Table 3's loss weight, Algorithm 1's lambda (the weight of the policy
            improvement term).
        epochs: Table 3's epochs.
        batch_size: Table 3's batch size.
        iterations_per_epoch: updates per epoch (Sec. 5: 1000).
        expectile: IQL's expectile (App. A.3: 0.9 on antmaze, 0.7 otherwise).
        reward_transform_iql: the official reward transform of IQL runs ...
        reward_transform_other: ... and of TD3 and CRR runs.
    """

    domain: Domain
    learning_rate: float
    max_grad_norm: float
    loss_weight: float
    epochs: int
    batch_size: int
    iterations_per_epoch: int
    expectile: float
    reward_transform_iql: RewardTransform
    reward_transform_other: RewardTransform


#: Table 3 ("Hyperparameters used by EDP"), one row per domain.
TABLE3: dict[Domain, DomainHyperparameters] = {
    "locomotion": DomainHyperparameters(
        "locomotion", 3e-4, 5.0, 1.0, 2000, 256, 1000, 0.7, "iql_return_range", "none"
    ),
    "antmaze": DomainHyperparameters(
        "antmaze", 3e-4, 5.0, 1.0, 1000, 256, 1000, 0.9, "minus_one", "shift_half_times_four"
    ),
    "adroit": DomainHyperparameters(
        "adroit", 3e-5, 5.0, 0.1, 1000, 256, 1000, 0.7, "min_max_symmetric", "min_max_symmetric"
    ),
    "kitchen": DomainHyperparameters(
        "kitchen",
        3e-4,
        5.0,
        0.005,
        1000,
        256,
        1000,
        0.7,
        "min_max_symmetric",
        "min_max_symmetric",
    ),
}

#: The official per-task gradient-norm clip ("gn" of sail-sg/edp, diffusion/hps.py), keyed by
#: task name without its "-vN" suffix.
OFFICIAL_GRAD_NORM_CLIP: dict[str, float] = {
    "halfcheetah-medium": 9.0,
    "halfcheetah-medium-replay": 2.0,
    "halfcheetah-medium-expert": 7.0,
    "hopper-medium": 9.0,
    "hopper-medium-replay": 4.0,
    "hopper-medium-expert": 5.0,
    "walker2d-medium": 1.0,
    "walker2d-medium-replay": 4.0,
    "walker2d-medium-expert": 5.0,
    "antmaze-umaze": 2.0,
    "antmaze-umaze-diverse": 3.0,
    "antmaze-medium-play": 2.0,
    "antmaze-medium-diverse": 1.0,
    "antmaze-large-play": 10.0,
    "antmaze-large-diverse": 7.0,
    "pen-human": 7.0,
    "pen-cloned": 8.0,
    "kitchen-complete": 9.0,
    "kitchen-partial": 10.0,
    "kitchen-mixed": 10.0,
}

_VERSION_SUFFIX = re.compile(r"-v\d+$")


def official_grad_norm_clip(task: str) -> float:
    """The official per-task gradient-norm clip (sail-sg/edp, diffusion/hps.py).

    Raises:
        ValueError: the official code has no value for ``task`` (the message lists its tasks).
    """
    key = _VERSION_SUFFIX.sub("", task.strip().lower())
    if key not in OFFICIAL_GRAD_NORM_CLIP:
        raise ValueError(
            f"official_grad_norm_clip: no official value for {task!r}; known tasks: "
            f"{sorted(OFFICIAL_GRAD_NORM_CLIP)}"
        )
    return OFFICIAL_GRAD_NORM_CLIP[key]


# --------------------------------------------------------------------------------------------
# Results tables 1, 2, 4, 5, 6 and 7, as printed
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaperRow:
    """One row of a paper table.

    Attributes:
        label: the dataset name (``hopper-medium-v2``), a domain (Table 1) or ``average``.
        values: one value per column of the table (None for "-").
        domain: the row's domain.
        is_average: True for the paper's per-domain average rows.
    """

    label: str
    values: tuple[float | None, ...]
    domain: Domain
    is_average: bool = False


@dataclass(frozen=True)
class PaperTable:
    """A table of the paper: number, caption, metric, column labels, rows, and oddities kept
    as printed (``notes``)."""

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


def _rows(
    raw: tuple[tuple[str, tuple[float | None, ...]], ...], domain_rows: bool = False
) -> tuple[PaperRow, ...]:
    out: list[PaperRow] = []
    current: Domain = "locomotion"
    for label, values in raw:
        if label == "average" or label.endswith("(avg)"):
            out.append(PaperRow(label, values, current, is_average=True))
            continue
        current = domain_of(label)
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


def paper_table(number: int) -> PaperTable:
    """The paper's Table ``number`` (1, 2, 4, 5, 6 or 7); ``ValueError`` for others."""
    if number not in PAPER_TABLES:
        raise ValueError(
            f"the paper has no results table {number}; tables: {sorted(PAPER_TABLES)} "
            "(Table 3 lists hyper-parameters: edp_ref.paper.TABLE3)"
        )
    return PAPER_TABLES[number]


# --------------------------------------------------------------------------------------------
# Figures: Figure 2 and Appendix C.5's speeds, Figures 3-7's tasks and sweeps
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeedFigure:
    """One bar pair of Figure 2 (walker2d-medium-expert-v2, the authors' GPU).

    Attributes:
        train_ips: training iterations per second (10,000 policy updates).
        sample_sps: environment steps per second when sampling 10,000 transitions.
    """

    train_ips: float
    sample_sps: float


#: Figure 2's caption: "The training IPS are: 4.66, 22.30, 50.94, 38.4, and 116.21. The sampling
#: SPS are: 18.67, 123.70, 123.06, 411.0, 411.79." Diffusion-QL is the official PyTorch code,
#: DQL (JAX) the authors' JAX port of it; "EDP" is EDP + TD3.
FIGURE2: dict[str, SpeedFigure] = {
    "Diffusion-QL": SpeedFigure(4.66, 18.67),
    "DQL (JAX)": SpeedFigure(22.30, 123.70),
    "EDP w/o DPM": SpeedFigure(50.94, 123.06),
    "EDP w/o AP": SpeedFigure(38.4, 411.0),
    "EDP": SpeedFigure(116.21, 411.79),
}

#: Appendix C.5 (walker2d-medium-expert-v2, 10,000 policy updates): "The training speed for
#: TD3+BC is 689 iterations-per-second (IPS), while EDP is 412 IPS."
APPENDIX_C5_IPS: dict[str, float] = {"TD3+BC": 689.0, "EDP": 412.0}


@dataclass(frozen=True)
class FigureSpec:
    """A figure of Secs. 5.3-5.4 / App. C.4 that trains EDP + TD3 and plots its evaluations.

    Attributes:
        title: what it shows.
        tasks: the paper's tasks it plots.
        parameter: the evaluation setting it sweeps (Figures 4-7), else None.
        label: that setting's axis label.
        values: the values the paper sweeps (Figures 4-7).
        claim: what the text says of it (the figures carry no numbers in the text).
    """

    title: str
    tasks: tuple[str, ...]
    claim: str
    parameter: str | None = None
    label: str = ""
    values: tuple[float, ...] = ()


#: Figures 3-7 (Figure 2 is :data:`FIGURE2`).
FIGURES: dict[int, FigureSpec] = {
    3: FigureSpec(
        "Training curves of EDP + TD3: RAT (Average) vs OMS (Best)",
        ("walker2d-medium-expert-v2", "hopper-medium-expert-v2", "antmaze-medium-diverse-v0"),
        "walker2d: OMS and RAT grow steadily and end close; hopper: a larger gap; antmaze: the "
        "two diverge when training succeeds and then crashes (Sec. 5.3).",
    ),
    4: FigureSpec(
        "EAS: number of candidate actions",
        LOCOMOTION_TASKS,
        "The normalized score grows monotonically with the number of EAS actions (1 to 200) on "
        "8 of the 9 locomotion tasks; the paper uses 10 (Sec. 5.3).",
        "eas_candidates",
        "EAS candidates N",
        (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0),
    ),
    5: FigureSpec(
        "DPM-Solver steps",
        LOCOMOTION_TASKS,
        "Performance increases with DPM-Solver model calls (3 to 30) and plateaus after 15; the "
        "paper uses 15 (Sec. 5.3).",
        "dpm_steps",
        "DPM-Solver model calls",
        (3.0, 5.0, 10.0, 15.0, 20.0, 30.0),
    ),
    6: FigureSpec(
        "Policy scaling (App. C.4), no EAS",
        LOCOMOTION_TASKS,
        "Policy scaling tau from 0.5 to 2.0: the best performance is at tau = 1.0 (App. C.4).",
        "policy_scale",
        "policy scale tau",
        (0.5, 0.75, 1.0, 1.25, 1.5, 2.0),
    ),
    7: FigureSpec(
        "Initial noise scale (App. C.4), no EAS",
        LOCOMOTION_TASKS,
        "Initial noise scale from 0.0 to 1.0: best at zero noise in most cases, a normal a^K "
        "worst; still behind EAS (App. C.4).",
        "initial_noise_scale",
        "initial noise scale",
        (0.0, 0.25, 0.5, 0.75, 1.0),
    ),
}
