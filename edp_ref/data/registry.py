"""The paper's dataset names and where their data comes from.

Every task of the paper's Tables 2 and 4 (Sec. 5: Gym locomotion v2, AntMaze v0, Adroit pen
v0/v1, Kitchen v0) resolves through ``PAPER_DATASETS`` to

* the original D4RL HDF5 file (``$D4RL_DATASET_DIR``, default ~/.d4rl/datasets, named as D4RL
  names its download), read by ``load_d4rl_hdf5``; normalized scores use the D4RL constants;
* the Minari dataset that ports it (Minari's dataset catalogue), read by ``load_minari``; scores
  use the dataset's metadata (the ``mujoco/*`` ports have none);
* for locomotion, a dataset generated on this machine with the D4RL protocol on Gymnasium
  MuJoCo v5 (``scripts/make_datasets.py``, ids ``edp_ref/<env>/<kind>-v0``), whose metadata
  holds its own random/expert reference scores.

``load_dataset(name)`` tries them in that order (or only the one named by ``source``); when none
is present, ``DatasetNotFoundError`` lists every place looked at and the command that downloads
or generates each.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from edp_ref.data.d4rl_hdf5 import load_d4rl_hdf5
from edp_ref.data.minari_io import DatasetNotFoundError, load_minari, minari_dataset_path
from edp_ref.data.transitions import TransitionDataset

__all__ = [
    "D4RL_REFERENCE_SCORES",
    "D4RL_SPACE_WIDTHS",
    "LOCAL_ENVS",
    "PAPER_DATASETS",
    "DatasetSource",
    "PaperDataset",
    "d4rl_dataset_dir",
    "load_dataset",
    "local_dataset_id",
    "resolve",
]

DatasetSource = Literal["auto", "d4rl", "minari", "local"]

_D4RL_URL = "http://rail.eecs.berkeley.edu/datasets/offline_rl"

#: D4RL's REF_MIN_SCORE / REF_MAX_SCORE (Farama-Foundation/D4RL, d4rl/infos.py) per domain prefix.
D4RL_REFERENCE_SCORES: dict[str, tuple[float, float]] = {
    "halfcheetah": (-280.178953, 12135.0),
    "hopper": (-20.272305, 3234.3),
    "walker2d": (1.629008, 4592.3),
    "antmaze": (0.0, 1.0),
    "pen": (96.262799, 3076.8331017826877),
    "kitchen": (0.0, 4.0),
}

#: Widths (observation, action) of the spaces of the environments D4RL recorded each domain
#: in, per domain prefix: the widths of every row of the D4RL files. Locomotion: Gym MuJoCo v3
#: (the same as Gymnasium v4 and v5, checked in tests/test_bad_inputs_data.py); antmaze: the
#: ant's qpos[:15] and qvel[:14] (Farama-Foundation/D4RL, d4rl/locomotion/ant.py); pen: Adroit
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

#: Gymnasium MuJoCo v5 environments of the local D4RL-protocol generation.
LOCAL_ENVS: dict[str, str] = {
    "halfcheetah": "HalfCheetah-v5",
    "hopper": "Hopper-v5",
    "walker2d": "Walker2d-v5",
    "invertedpendulum": "InvertedPendulum-v5",
}


@dataclass(frozen=True)
class PaperDataset:
    """One task of the paper and its data sources.

    ``domain``: locomotion / antmaze / adroit / kitchen; ``d4rl_url``: the D4RL download (the
    file name is its last component); ``minari_id`` / ``local_id``: alternatives (None where
    there is none); ``env_id``: the Gymnasium environment that evaluates a policy trained on
    the D4RL file (locomotion: v4, the new-bindings port of D4RL's v3 environments; the others
    come from gymnasium-robotics); ``max_episode_steps``: the D4RL episode limit.
    """

    name: str
    domain: str
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
        return self.d4rl_url.rsplit("/", 1)[1]

    @property
    def d4rl_widths(self) -> tuple[int, int]:
        """(observation, action) widths of the D4RL file (``D4RL_SPACE_WIDTHS``)."""
        return D4RL_SPACE_WIDTHS[self.name.split("-")[0]]


def local_dataset_id(env: str, kind: str) -> str:
    """Minari id of a locally generated dataset, e.g. ``edp_ref/hopper/medium-replay-v0``."""
    return f"edp_ref/{env}/{kind}-v0"


def _locomotion() -> list[PaperDataset]:
    out = []
    gym_ids = {"halfcheetah": "HalfCheetah-v4", "hopper": "Hopper-v4", "walker2d": "Walker2d-v4"}
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
    files = {
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
    out = []
    for task, (maze, multistart, multigoal, minari_name, steps) in files.items():
        out.append(
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
        )
    return out


def _adroit_kitchen() -> list[PaperDataset]:
    pen_lo, pen_hi = D4RL_REFERENCE_SCORES["pen"]
    out = [
        PaperDataset(
            "pen-human-v0",
            "adroit",
            f"{_D4RL_URL}/hand_dapg/pen-v0_demos_clipped.hdf5",
            pen_lo,
            pen_hi,
            "AdroitHandPen-v1",
            100,
        ),
        PaperDataset(
            "pen-cloned-v0",
            "adroit",
            f"{_D4RL_URL}/hand_dapg/pen-demos-v0-bc-combined.hdf5",
            pen_lo,
            pen_hi,
            "AdroitHandPen-v1",
            100,
        ),
        PaperDataset(
            "pen-human-v1",
            "adroit",
            f"{_D4RL_URL}/hand_dapg_v1/pen-human-v1.hdf5",
            pen_lo,
            pen_hi,
            "AdroitHandPen-v1",
            100,
            minari_id="D4RL/pen/human-v2",
        ),
        PaperDataset(
            "pen-cloned-v1",
            "adroit",
            f"{_D4RL_URL}/hand_dapg_v1/pen-cloned-v1.hdf5",
            pen_lo,
            pen_hi,
            "AdroitHandPen-v1",
            100,
            minari_id="D4RL/pen/cloned-v2",
        ),
    ]
    kitchen_files = {
        "complete": "mini_kitchen_microwave_kettle_light_slider-v0.hdf5",
        "partial": "kitchen_microwave_kettle_light_slider-v0.hdf5",
        "mixed": "kitchen_microwave_kettle_bottomburner_light-v0.hdf5",
    }
    for task, file in kitchen_files.items():
        out.append(
            PaperDataset(
                f"kitchen-{task}-v0",
                "kitchen",
                f"{_D4RL_URL}/kitchen/{file}",
                0.0,
                4.0,
                "FrankaKitchen-v1",
                280,
                minari_id=f"D4RL/kitchen/{task}-v2",
            )
        )
    return out


#: Every task of the paper's Tables 2 and 4, by the paper's name.
PAPER_DATASETS: dict[str, PaperDataset] = {
    d.name: d for d in [*_locomotion(), *_antmaze(), *_adroit_kitchen()]
}


def d4rl_dataset_dir() -> str:
    """``$D4RL_DATASET_DIR`` or D4RL's default ~/.d4rl/datasets."""
    return os.environ.get("D4RL_DATASET_DIR") or os.path.join(
        os.path.expanduser("~"), ".d4rl", "datasets"
    )


def resolve(name: str) -> PaperDataset:
    """The table entry of a paper dataset name; ``ValueError`` listing the known names if none."""
    if not isinstance(name, str):
        raise ValueError(
            f"resolve: a dataset name must be a string such as 'hopper-medium-v2', got "
            f"{type(name).__name__} {name!r}"
        )
    try:
        return PAPER_DATASETS[name]
    except KeyError:
        raise ValueError(
            f"unknown dataset name '{name}'; the paper's datasets are: "
            f"{', '.join(sorted(PAPER_DATASETS))}. Load other Minari datasets with "
            "load_minari(id) and other D4RL files with load_d4rl_hdf5(path)."
        ) from None


def _generate_command(local_id: str) -> str:
    env = local_id.split("/")[1]
    return f"python scripts/make_datasets.py --env {env}"


_SOURCES = ("auto", "d4rl", "minari", "local")


def load_dataset(
    name: str,
    *,
    source: DatasetSource = "auto",
    d4rl_dir: str | None = None,
    download: bool = False,
) -> TransitionDataset:
    """Load a paper dataset by the paper's name (e.g. ``hopper-medium-v2``).

    ``source="auto"`` takes the first present of: the D4RL file in ``d4rl_dir`` (default
    ``d4rl_dataset_dir()``), the Minari port, the locally generated dataset; ``"d4rl"``,
    ``"minari"``, ``"local"`` take only that one. ``download=True`` lets Minari download its
    port (network access needed). The D4RL reference scores are attached to D4RL data; Minari
    and local data keep the reference scores of their metadata.

    Observation and action widths are checked when loading: D4RL files against the widths of
    D4RL's environment (``D4RL_SPACE_WIDTHS``); Minari and local data against the spaces stored
    with them, and for locomotion also against D4RL's widths (Gymnasium v5 keeps them). A file
    that is present but damaged is an error, never a reason to fall back to another source.
    """
    entry = resolve(name)
    if source not in _SOURCES:
        raise ValueError(
            f"load_dataset: unknown source {source!r} for '{name}'; expected one of "
            f"{', '.join(repr(s) for s in _SOURCES)}"
        )
    if d4rl_dir is not None and os.path.exists(d4rl_dir) and not os.path.isdir(d4rl_dir):
        raise ValueError(f"load_dataset: d4rl_dir {d4rl_dir} is a file, not a folder")
    directory = d4rl_dir or d4rl_dataset_dir()
    obs_dim, act_dim = entry.d4rl_widths
    looked: list[str] = []
    if source in ("auto", "d4rl"):
        path = os.path.join(directory, entry.d4rl_file)
        if os.path.exists(path):
            return load_d4rl_hdf5(
                path,
                name=name,
                max_episode_steps=entry.max_episode_steps,
                observation_dim=obs_dim,
                action_dim=act_dim,
                environment=f"D4RL's environment for {name}",
                env_id=entry.env_id,
                ref_min_score=entry.ref_min_score,
                ref_max_score=entry.ref_max_score,
            )
        looked.append(
            f"D4RL file {path} (download: `mkdir -p {directory} && wget -P {directory} "
            f"{entry.d4rl_url}`)"
        )
    if source in ("auto", "minari") and entry.minari_id is not None:
        path = minari_dataset_path(entry.minari_id)
        if download or os.path.exists(os.path.join(path, "data")):
            ds = load_minari(entry.minari_id, download=download)
            _check_port_widths(ds, entry)
            return ds.with_note(
                f"Minari port of {name}" + (f": {entry.minari_note}" if entry.minari_note else "")
            )
        looked.append(
            f"Minari dataset {entry.minari_id} in {path} (download: "
            f"`minari download {entry.minari_id}`)"
        )
    if source in ("auto", "local") and entry.local_id is not None:
        path = minari_dataset_path(entry.local_id)
        if os.path.exists(os.path.join(path, "data")):
            ds = load_minari(entry.local_id)
            _check_port_widths(ds, entry)
            return ds.with_note(
                f"generated locally with the D4RL protocol on Gymnasium v5 for {name}"
            )
        looked.append(
            f"local dataset {entry.local_id} in {path} (generate: "
            f"`{_generate_command(entry.local_id)}`)"
        )
    if not looked:
        kinds = {"minari": "Minari port", "local": "locally generated dataset"}
        available = ["'d4rl'"]
        available += ["'minari'"] if entry.minari_id is not None else []
        available += ["'local'"] if entry.local_id is not None else []
        raise DatasetNotFoundError(
            f"dataset '{name}' has no {kinds.get(source, source)} (source={source!r}); its "
            f"sources are {', '.join(available)}"
        )
    raise DatasetNotFoundError(
        f"dataset '{name}' is not available on this machine. Looked for:\n  - "
        + "\n  - ".join(looked)
    )


def _check_port_widths(dataset: TransitionDataset, entry: PaperDataset) -> None:
    """Locomotion ports (Minari ``mujoco/*``, local generation) run on Gymnasium v5, whose
    spaces have D4RL's widths; other domains' ports have spaces of their own (checked against
    the data by ``load_minari``)."""
    if entry.domain != "locomotion":
        return
    for field, found, width in zip(
        ("observations", "actions"),
        (dataset.state_dim, dataset.action_dim),
        entry.d4rl_widths,
        strict=True,
    ):
        if found != width:
            raise ValueError(
                f"{dataset.source}: field '{field}' has width {found} but the environment of "
                f"{entry.name} has {width} (D4RL's, and Gymnasium v4's and v5's alike)"
            )
