"""Load a task of the paper by its name, from wherever its data is on this machine (Sec. 5).

Every task of the paper's Tables 2 and 4 (Sec. 5: Gym locomotion v2, AntMaze v0, Adroit pen
v0/v1, Kitchen v0) has, in :data:`edp_ref.paper.PAPER_DATASETS`,

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

from edp_ref.data.d4rl_hdf5 import load_d4rl_hdf5
from edp_ref.data.minari_io import DatasetNotFoundError, load_minari, minari_dataset_path
from edp_ref.data.transitions import TransitionDataset
from edp_ref.paper import DATA_SOURCES, DataSource, PaperDataset, paper_dataset

__all__ = ["d4rl_dataset_dir", "load_dataset"]


def d4rl_dataset_dir() -> str:
    """``$D4RL_DATASET_DIR`` or D4RL's default ~/.d4rl/datasets."""
    return os.environ.get("D4RL_DATASET_DIR") or os.path.join(
        os.path.expanduser("~"), ".d4rl", "datasets"
    )


def load_dataset(
    name: str,
    *,
    source: DataSource = "auto",
    d4rl_dir: str | None = None,
    download: bool = False,
) -> TransitionDataset:
    """Load a paper dataset by the paper's name (``hopper-medium-v2``) from ``source`` (module
    docstring; ``download=True`` lets Minari download its port). The widths are checked against
    D4RL's environment's (Minari and local data: against their spaces too). A file that is
    present but damaged is an error, never a reason to fall back to another source.
    """
    entry = paper_dataset(name)
    if source not in DATA_SOURCES:
        raise ValueError(
            f"load_dataset: unknown source {source!r} for '{name}'; expected one of "
            f"{', '.join(repr(s) for s in DATA_SOURCES)}"
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
            f"`python scripts/make_datasets.py --env {entry.local_id.split('/')[1]}`)"
        )
    if not looked:
        kinds = {"minari": "Minari port", "local": "locally generated dataset"}
        ids = {"d4rl": entry.d4rl_file, "minari": entry.minari_id, "local": entry.local_id}
        available = [repr(kind) for kind, i in ids.items() if i is not None]
        raise DatasetNotFoundError(
            f"dataset '{name}' has no {kinds.get(source, source)} (source={source!r}); its "
            f"sources are {', '.join(available)}"
        )
    raise DatasetNotFoundError(
        f"dataset '{name}' is not available on this machine. Looked for:\n  - "
        + "\n  - ".join(looked)
    )


def _check_port_widths(dataset: TransitionDataset, entry: PaperDataset) -> None:
    """Locomotion ports run on Gymnasium v5, whose spaces have D4RL's widths; other domains'
    have spaces of their own (checked by ``load_minari``)."""
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
