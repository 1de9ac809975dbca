"""Hostile inputs to the data layer: every bad dataset input is an error naming what is wrong
and where (file or dataset id, field, row / episode / step, value), and the inputs accepted on
purpose load to exactly the values stored.

Tables: D4RL HDF5 files (``load_d4rl_hdf5``), widths against the paper tasks' environments
(``load_dataset``), in-memory arrays (``TransitionDataset.from_arrays``), Minari episodes
(``episodes_to_transitions``) and Minari files and metadata (``load_minari``), the registry's
options, evaluation, and the generation's training checkpoint.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import h5py
import minari
import numpy as np
import pytest
import torch
from gymnasium import spaces
from minari.data_collector import EpisodeBuffer

from edp_ref.data import (
    DatasetNotFoundError,
    TransitionDataset,
    load_d4rl_hdf5,
    load_dataset,
    load_minari,
)
from edp_ref.data.evaluation import eval_env_for, evaluate, make_eval_env
from edp_ref.data.minari_io import episodes_to_transitions
from edp_ref.data.minari_reading import eval_env_id, metadata_count, reference_scores
from edp_ref.paper import D4RL_SPACE_WIDTHS, PAPER_DATASETS, paper_dataset
from tests.test_data_loaders import d4rl_arrays, write_h5

Arrays = dict[str, np.ndarray]


def unchecked(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` without the beartype wrapper pytest adds (jaxtyping's import hook): arguments of
    the wrong type then reach edp_ref's own checks, as they do for a user outside pytest."""
    return inspect.unwrap(fn)


# -- D4RL HDF5 files ------------------------------------------------------------------------------


def _with(field: str, value: Any, row: int = 2) -> Callable[[Arrays], Arrays]:
    """A change of one stored value (as float64, so that NaN, inf and 0.5 can be stored)."""

    def change(data: Arrays) -> Arrays:
        arr = data[field].astype(np.float64)
        arr.reshape(len(arr), -1)[row, 0] = value
        return {**data, field: arr}

    return change


def _set(**fields: Any) -> Callable[[Arrays], Arrays]:
    return lambda data: {**data, **fields}


FLAG_VALUES = [(np.nan, "nan"), (np.inf, "inf"), (2, "2.0"), (-1, "-1.0"), (0.5, "0.5")]

D4RL_BAD = [
    *[
        pytest.param(
            _with(field, value),
            rf"x\.hdf5: field '{field}' must hold only 0 and 1.*first at row 2: {shown}",
            id=f"{field}-{shown}",
        )
        for field in ("terminals", "timeouts")
        for value, shown in FLAG_VALUES
    ],
    pytest.param(
        _set(observations=np.array([[b"1.0", b"2.0"]] * 7)),
        r"x\.hdf5: field 'observations' holds byte strings \(dtype \|S3\); expected numbers",
        id="string-observations",
    ),
    pytest.param(
        _set(rewards=np.array([b"1"] * 7)),
        r"x\.hdf5: field 'rewards' holds byte strings",
        id="string-rewards",
    ),
    pytest.param(
        _set(terminals=np.array([b"0"] * 7)),
        r"x\.hdf5: field 'terminals' holds byte strings",
        id="string-terminals",
    ),
    pytest.param(
        _set(actions=np.zeros(7, dtype=[("a", "f4"), ("b", "f4")])),
        r"x\.hdf5: field 'actions' holds compound records",
        id="compound-actions",
    ),
    pytest.param(
        _set(rewards=np.arange(7, dtype=np.int64) + 2**24 + 1),
        r"x\.hdf5.*field 'rewards' holds integer 16777217 at index 0, which torch\.float32 "
        r"cannot represent exactly",
        id="int-rewards-beyond-float32",
    ),
    pytest.param(
        _with("observations", 1e39),
        r"x\.hdf5.*field 'observations' holds 1e\+39 at index \(2, 0\), beyond the range of "
        r"torch\.float32",
        id="float64-beyond-float32",
    ),
    pytest.param(
        _set(observations=np.arange(7, dtype=np.float32)),
        r"x\.hdf5: key 'observations' has shape \(7,\), expected \[N, observation_dim\]",
        id="1d-observations",
    ),
    pytest.param(
        _set(actions=np.zeros((7, 1, 1), np.float32)),
        r"x\.hdf5: key 'actions' has shape \(7, 1, 1\), expected \[N, action_dim\]",
        id="3d-actions",
    ),
    pytest.param(
        _set(rewards=np.zeros((7, 2), np.float32)),
        r"x\.hdf5: key 'rewards' has shape \(7, 2\), expected \[N\] \(or \[N, 1\]\)",
        id="2d-rewards",
    ),
    pytest.param(
        _set(timeouts=np.zeros((7, 3), bool)),
        r"x\.hdf5: key 'timeouts' has shape \(7, 3\), expected \[N\]",
        id="2d-timeouts",
    ),
    pytest.param(
        _with("observations", np.nan, row=6),
        r"x\.hdf5: field 'observations' contains 1 non-finite value\(s\).*first at row "
        r"\(6, 0\): nan",
        id="nan-in-the-dropped-final-row",
    ),
    pytest.param(
        _with("rewards", -np.inf, row=3),
        r"x\.hdf5: field 'rewards' contains 1 non-finite.*first at row 3: -inf",
        id="inf-reward-in-a-dropped-timeout-row",
    ),
]


@pytest.mark.parametrize(("change", "pattern"), D4RL_BAD)
def test_d4rl_bad_arrays(tmp_path: Path, change: Callable[[Arrays], Arrays], pattern: str) -> None:
    path = write_h5(tmp_path / "x.hdf5", change(d4rl_arrays()))
    with pytest.raises(ValueError, match=pattern):
        load_d4rl_hdf5(path)


def _group_observations(path: Path) -> None:
    data = d4rl_arrays()
    with h5py.File(path, "w") as f:
        for k, v in data.items():
            if k == "observations":
                f.create_group(k).create_dataset("x", data=v)
            else:
                f.create_dataset(k, data=v)


def _folder(path: Path) -> None:
    path.mkdir()


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _damaged_array(path: Path) -> None:
    """A valid HDF5 structure whose 'actions' data lie beyond a cut: the header reads, the data
    does not (h5py's check of the end-of-file address is bypassed by keeping the size)."""
    write_h5(path, {k: np.repeat(v, 3000, 0) for k, v in d4rl_arrays().items()})
    with h5py.File(path, "r") as f:
        offset = f["actions"].id.get_offset()
        size = f["actions"].id.get_storage_size()
    raw = bytearray(path.read_bytes())
    raw[offset : offset + size] = b"\xff" * size  # garbage in place of float data still reads
    path.write_bytes(bytes(raw))


def _corrupt_chunk(path: Path, key: str) -> None:
    """Overwrite the first compressed chunk of ``key`` with garbage (decompression fails)."""
    with h5py.File(path, "r") as f:
        chunk = f[key].id.get_chunk_info(0)
    raw = bytearray(path.read_bytes())
    raw[chunk.byte_offset : chunk.byte_offset + chunk.size] = b"\x13" * chunk.size
    path.write_bytes(bytes(raw))


def _compressed_rewards_damaged(path: Path) -> None:
    data = d4rl_arrays()
    with h5py.File(path, "w") as f:
        for k, v in data.items():
            f.create_dataset(k, data=v, compression="gzip" if k == "rewards" else None)
    _corrupt_chunk(path, "rewards")


D4RL_BAD_FILES = [
    pytest.param(
        _compressed_rewards_damaged,
        r"x\.hdf5: key 'rewards' cannot be read \(truncated or corrupt file\?\)",
        id="damaged-compressed-array",
    ),
    pytest.param(
        _group_observations,
        r"x\.hdf5: key 'observations' is an HDF5 group, expected a dataset \(an array of shape "
        r"\[N, observation_dim\]\)",
        id="group-where-an-array-belongs",
    ),
    pytest.param(_folder, r"D4RL file .*x\.hdf5 is a directory, not an HDF5 file", id="folder"),
    pytest.param(_empty, r"x\.hdf5 is empty \(0 bytes\).*download it again", id="empty-file"),
]


@pytest.mark.parametrize(("make", "pattern"), D4RL_BAD_FILES)
def test_d4rl_bad_files(tmp_path: Path, make: Callable[[Path], None], pattern: str) -> None:
    make(tmp_path / "x.hdf5")
    with pytest.raises(ValueError, match=pattern):
        load_d4rl_hdf5(tmp_path / "x.hdf5")


def test_d4rl_garbage_in_place_of_floats_is_a_non_finite_error(tmp_path: Path) -> None:
    # 0xff bytes are NaN as float32: a file damaged in place still reads, and is refused by value.
    _damaged_array(tmp_path / "x.hdf5")
    with pytest.raises(
        ValueError, match=r"x\.hdf5: field 'actions' contains 21000 non-finite.*row \(0, 0\): nan"
    ):
        load_d4rl_hdf5(tmp_path / "x.hdf5")


def test_d4rl_bad_max_episode_steps(tmp_path: Path) -> None:
    data = d4rl_arrays()
    del data["timeouts"]
    path = write_h5(tmp_path / "x.hdf5", data)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match=r"x\.hdf5: max_episode_steps must be a positive"):
            unchecked(load_d4rl_hdf5)(path, max_episode_steps=bad)


# Accepted on purpose: flags stored as bool, integer 0/1 or float 0.0/1.0; rewards and flags of
# shape [N, 1] (D4RL's own loader squeezes them); integer observations, actions and rewards that
# float32 holds exactly, but not in silence (D4RL stores float32: such a file is likely another
# kind of data). Each loads to exactly the values stored.
D4RL_ACCEPTED = [
    pytest.param(_set(terminals=d4rl_arrays()["terminals"].astype(np.int8)), id="int8-flags"),
    pytest.param(_set(timeouts=d4rl_arrays()["timeouts"].astype(np.float64)), id="float-flags"),
    pytest.param(_set(rewards=d4rl_arrays()["rewards"][:, None]), id="rewards-[N,1]"),
    pytest.param(_set(terminals=d4rl_arrays()["terminals"][:, None]), id="terminals-[N,1]"),
    pytest.param(
        _set(observations=d4rl_arrays()["observations"].astype(np.int32)), id="int-observations"
    ),
    pytest.param(_set(rewards=np.arange(7, dtype=np.int64) * 10), id="int-rewards"),
    pytest.param(_set(rewards=np.full(7, 2**24, dtype=np.int64)), id="int-rewards-at-2**24"),
    pytest.param(_set(actions=np.zeros((7, 1), dtype=np.uint8)), id="uint8-actions"),
]


@pytest.mark.parametrize("change", D4RL_ACCEPTED)
def test_d4rl_accepted_inputs_load_exactly(
    tmp_path: Path, change: Callable[[Arrays], Arrays]
) -> None:
    data = change(d4rl_arrays())
    integers = [k for k in ("observations", "actions", "rewards") if data[k].dtype.kind in "iub"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_d4rl_hdf5(write_h5(tmp_path / "x.hdf5", data))
    said = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    if integers:
        (field,) = integers
        note = f"x.hdf5: '{field}' ({data[field].dtype}) stored as integers, converted exactly"
        assert (
            len(said) == 1 and note in said[0] and "D4RL stores them as float32: check" in said[0]
        )
        assert len(ds.notes) == 1 and note in ds.notes[0]
    else:
        assert said == [] and ds.notes == ()
    kept = [0, 1, 2, 4, 5]
    assert ds.observations.tolist() == data["observations"][kept].astype(float).tolist()
    assert ds.actions.tolist() == data["actions"][kept].astype(float).tolist()
    assert ds.rewards.tolist() == data["rewards"].reshape(7)[kept].astype(float).tolist()
    assert ds.terminals.tolist() == [0, 0, 0, 0, 1]
    assert dict(ds.dropped) == {"final_row": 1, "timeout": 1}


# -- Widths against the paper tasks' environments ----------------------------------------------


def _hopper_file(directory: Path, obs_width: int, act_width: int) -> None:
    data = d4rl_arrays()
    data["observations"] = np.tile(data["observations"][:, :1], (1, obs_width))
    data["actions"] = np.tile(data["actions"], (1, act_width))
    write_h5(directory / "hopper_medium-v2.hdf5", data)


@pytest.mark.parametrize(
    ("obs_width", "act_width", "pattern"),
    [
        (
            17,
            3,
            r"field 'observations' has width 17 but D4RL's environment for hopper-medium-v2 "
            r"has 11",
        ),
        (11, 6, r"field 'actions' has width 6 but D4RL's environment for hopper-medium-v2 has 3"),
    ],
)
def test_d4rl_widths_checked_at_load(
    tmp_path: Path, obs_width: int, act_width: int, pattern: str
) -> None:
    _hopper_file(tmp_path, obs_width, act_width)
    with pytest.raises(
        ValueError, match=r"hopper_medium-v2\.hdf5 \(hopper-medium-v2\): " + pattern
    ):
        load_dataset("hopper-medium-v2", d4rl_dir=str(tmp_path))


def test_width_table_matches_gymnasium_locomotion() -> None:
    """D4RL_SPACE_WIDTHS for locomotion equals the spaces of Gymnasium's v4 (the registry's
    evaluation environments) and v5 (the local generation's) environments."""
    for name, entry in PAPER_DATASETS.items():
        if entry.domain != "locomotion":
            continue
        assert entry.d4rl_widths == D4RL_SPACE_WIDTHS[name.split("-")[0]]
    checked = set()
    for prefix, env_ids in {
        "halfcheetah": ("HalfCheetah-v4", "HalfCheetah-v5"),
        "hopper": ("Hopper-v4", "Hopper-v5"),
        "walker2d": ("Walker2d-v4", "Walker2d-v5"),
    }.items():
        for env_id in env_ids:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                env = gym.make(env_id)
            widths = (env.observation_space.shape, env.action_space.shape)
            env.close()
            assert widths == ((D4RL_SPACE_WIDTHS[prefix][0],), (D4RL_SPACE_WIDTHS[prefix][1],))
            checked.add(env_id)
    assert len(checked) == 6


# -- In-memory arrays (TransitionDataset.from_arrays) ----------------------------------------------


def mem_arrays(n: int = 5) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    obs = rng.normal(size=(n + 1, 3))
    return {
        "observations": obs[:-1],
        "actions": rng.uniform(-1, 1, (n, 2)),
        "rewards": rng.normal(size=n),
        "next_observations": obs[1:],
        "terminals": np.zeros(n),
        "timeouts": np.zeros(n),
    }


FROM_ARRAYS_BAD = [
    pytest.param(
        {"observations": np.array([["1.0", "2", "3"]] * 5)},
        r"mem: field 'observations' holds strings \(dtype <U3\)",
        id="string-observations",
    ),
    pytest.param(
        {"rewards": np.array([1.0, None, 2.0, 3.0, 4.0], dtype=object)},
        r"mem: field 'rewards' holds Python objects",
        id="object-rewards",
    ),
    pytest.param(
        {"actions": np.zeros((5, 2), dtype=np.complex64)},
        r"mem: field 'actions' holds complex numbers",
        id="complex-actions",
    ),
    pytest.param(
        {"timeout": np.ones(5)},
        r"mem: unknown key\(s\) \['timeout'\]",
        id="misspelt-timeouts",
    ),
    pytest.param(
        {"rewards": [[1.0], [2.0, 3.0], [1.0], [1.0], [1.0]]},
        r"mem: field 'rewards' cannot be read as an array",
        id="ragged-rewards",
    ),
    pytest.param(
        {"terminals": np.array([0, 0, 0.5, 1, 0])},
        r"mem: field 'terminals' must hold only 0 and 1.*first at index 2: 0\.5",
        id="terminal-0.5",
    ),
    pytest.param(
        {"timeouts": np.array([0, 0, 0, -1, 0])},
        r"mem: field 'timeouts' must hold only 0 and 1.*first at index 3: -1",
        id="timeout-minus-1",
    ),
    pytest.param(
        {"observations": np.full((5, 3), 2**53 + 1, dtype=np.int64)},
        r"mem: field 'observations' holds integer 9007199254740993 at index \(0, 0\), which "
        r"torch\.float32 cannot represent exactly",
        id="int64-observations",
    ),
]


@pytest.mark.parametrize(("change", "pattern"), FROM_ARRAYS_BAD)
def test_from_arrays_bad(change: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        TransitionDataset.from_arrays({**mem_arrays(), **change}, source="mem")


@pytest.mark.parametrize(
    ("low", "high", "pattern"),
    [
        ([-1, np.nan], [1, 1], r"mem: 'action_low' contains NaN"),
        ([-1, -1], [1, -2], r"mem: 'action_low' exceeds 'action_high' in dimension 1: -1\.0 > -2"),
        (["-1", "-1"], [1, 1], r"mem: field 'action_low' holds strings"),
    ],
)
def test_from_arrays_bad_bounds(low: list[Any], high: list[Any], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        TransitionDataset.from_arrays(mem_arrays(), source="mem", action_low=low, action_high=high)


def test_from_arrays_accepts_exact_integers_booleans_and_bfloat16() -> None:
    data = mem_arrays()
    ints = {
        **data,
        "observations": np.arange(15).reshape(5, 3),
        "rewards": np.array([True, False, True, True, False]),
        "terminals": np.array([0, 0, 1, 0, 0], dtype=np.int64),
        "timeouts": np.array([False, True, False, False, False]),
        "actions": torch.tensor(data["actions"], dtype=torch.bfloat16),
    }
    ds = TransitionDataset.from_arrays(ints, source="mem")
    assert ds.observations.tolist() == np.arange(15).reshape(5, 3).tolist()
    assert ds.rewards.tolist() == [1, 0, 1, 1, 0]
    assert ds.terminals.tolist() == [0, 0, 1, 0, 0] and ds.timeouts.tolist() == [0, 1, 0, 0, 0]
    assert torch.equal(ds.actions, ints["actions"].float())


def test_rescale_actions_refuses_zero_width_bounds() -> None:
    from edp_ref.data.preprocessing import rescale_actions

    data = {**mem_arrays(), "actions": np.zeros((5, 2))}
    ds = TransitionDataset.from_arrays(data, source="mem", action_low=[-1, 0], action_high=[1, 0])
    with pytest.raises(
        ValueError,
        match=r"mem: rescale_actions needs action_high > action_low; "
        r"dimension 1 has \[0\.0, 0\.0\]",
    ):
        rescale_actions(ds)


def test_direct_construction_names_the_bad_flag() -> None:
    ds = TransitionDataset.from_arrays(mem_arrays(), source="mem")
    with pytest.raises(
        ValueError, match=r"mem: field 'timeouts' must hold only 0 and 1.*index 4: 2"
    ):
        dataclasses.replace(ds, timeouts=torch.tensor([0.0, 0, 0, 0, 2]))


# -- Minari episodes (episodes_to_transitions) --------------------------------------------------

OBS_SPACE = spaces.Box(-np.inf, np.inf, (3,))
ACT_SPACE = spaces.Box(-1.0, 1.0, (2,))


def episode(ep_id: int = 0, steps: int = 4, **changes: Any) -> EpisodeBuffer:
    rng = np.random.default_rng(ep_id)
    fields: dict[str, Any] = {
        "observations": rng.normal(size=(steps + 1, 3)),
        "actions": rng.uniform(-1, 1, (steps, 2)),
        "rewards": rng.normal(size=steps),
        "terminations": np.zeros(steps, bool),
        "truncations": np.r_[np.zeros(steps - 1, bool), True],
    }
    fields.update(changes)
    return EpisodeBuffer(id=ep_id, **fields)


def _ep_flags(field: str, value: Any) -> dict[str, Any]:
    flags = np.zeros(4)
    flags[2] = value
    return {field: flags}


EPISODES_BAD = [
    *[
        pytest.param(
            _ep_flags(field, value),
            rf"src \(episode 1\): field '{field}' must hold only 0 and 1.*first at step 2: {shown}",
            id=f"{field}-{shown}",
        )
        for field in ("terminations", "truncations")
        for value, shown in FLAG_VALUES
    ],
    pytest.param(
        {"observations": np.zeros((5, 4))},
        r"src \(episode 1\): field 'observations' has shape \(5, 4\), expected \[T, 3\]",
        id="observation-width",
    ),
    pytest.param(
        {"actions": np.zeros((4, 3))},
        r"src \(episode 1\): field 'actions' has shape \(4, 3\), expected \[T, 2\]",
        id="action-width",
    ),
    pytest.param(
        {"rewards": np.zeros((4, 2))},
        r"src \(episode 1\): field 'rewards' has shape \(4, 2\), expected \[T\]",
        id="2d-rewards",
    ),
    pytest.param(
        {"rewards": np.array(["1", "2", "3", "4"])},
        r"src \(episode 1\): field 'rewards' holds strings",
        id="string-rewards",
    ),
    pytest.param(
        {"rewards": np.array([0.0, 1.0, np.nan, 0.0])},
        r"src \(episode 1\): field 'rewards' contains 1 non-finite.*first at step 2: nan",
        id="nan-reward",
    ),
    pytest.param(
        {"observations": np.r_[np.zeros((3, 3)), [[0, np.inf, 0]], np.zeros((1, 3))]},
        r"src \(episode 1\): field 'observations' contains 1 non-finite.*step \(3, 1\): inf",
        id="inf-observation",
    ),
    pytest.param(
        {"actions": np.zeros((4, 2), dtype=object)},
        r"src \(episode 1\): field 'actions' holds Python objects",
        id="object-actions",
    ),
]


@pytest.mark.parametrize(("change", "pattern"), EPISODES_BAD)
def test_minari_bad_episodes(change: dict[str, Any], pattern: str) -> None:
    eps = [episode(0), episode(1, **change)]
    with pytest.raises(ValueError, match=pattern):
        episodes_to_transitions(
            eps, observation_space=OBS_SPACE, action_space=ACT_SPACE, source="src"
        )


def test_minari_dict_observation_errors_name_the_key() -> None:
    space = spaces.Dict({"a": spaces.Box(-1, 1, (2,)), "b": spaces.Box(-1, 1, (1,))})
    cases = [
        (
            {"a": np.zeros((5, 2))},
            r"src \(episode 0\): field 'observations' lacks key\(s\) \['b'\]",
        ),
        (
            {"a": np.zeros((5, 2)), "b": np.zeros((5, 3))},
            r"field 'observations/b' has shape \(5, 3\), expected \[T, 1\]",
        ),
        (
            {"a": np.zeros((5, 2)), "b": np.zeros((4, 1))},
            r"the entries of field 'observations' have different numbers of rows \[4, 5\]",
        ),
        (np.zeros((5, 3)), r"field 'observations' must hold dict observations"),
    ]
    for obs, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            episodes_to_transitions(
                [episode(0, observations=obs)],
                observation_space=space,
                action_space=ACT_SPACE,
                source="src",
            )


# -- Minari files and metadata (load_minari) ------------------------------------------------------

DATASET_ID = "test/bad/inputs-v0"


@pytest.fixture
def minari_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A valid Minari dataset of 3 episodes (4, 3 and 5 steps); returns its data folder."""
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    buffers = [episode(i, steps) for i, steps in enumerate((4, 3, 5))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        minari.create_dataset_from_buffers(
            DATASET_ID, buffers, observation_space=OBS_SPACE, action_space=ACT_SPACE
        )
    assert len(load_minari(DATASET_ID)) == 12
    return tmp_path / DATASET_ID / "data"


def _edit_metadata(**changes: Any) -> Callable[[Path], None]:
    def edit(data: Path) -> None:
        meta = json.loads((data / "metadata.json").read_text())
        meta.update(changes)
        (data / "metadata.json").write_text(json.dumps(meta))

    return edit


def _garbage_main(data: Path) -> None:
    (data / "main_data.hdf5").write_bytes(b"not an HDF5 file " * 200)


def _truncated_main(data: Path) -> None:
    raw = (data / "main_data.hdf5").read_bytes()
    (data / "main_data.hdf5").write_bytes(raw[: len(raw) // 2])


def _drop_field(episode_index: int, field: str) -> Callable[[Path], None]:
    def drop(data: Path) -> None:
        with h5py.File(data / "main_data.hdf5", "a") as f:
            del f[f"episode_{episode_index}/{field}"]

    return drop


def _replace_field(episode_index: int, field: str, value: np.ndarray) -> Callable[[Path], None]:
    def replace(data: Path) -> None:
        with h5py.File(data / "main_data.hdf5", "a") as f:
            del f[f"episode_{episode_index}/{field}"]
            f.create_dataset(f"episode_{episode_index}/{field}", data=value)

    return replace


def _damaged_compressed_field(data: Path) -> None:
    with h5py.File(data / "main_data.hdf5", "a") as f:
        values = f["episode_2/actions"][()]
        del f["episode_2/actions"]
        f.create_dataset("episode_2/actions", data=values, compression="gzip")
    _corrupt_chunk(data / "main_data.hdf5", "episode_2/actions")


MINARI_BAD = [
    pytest.param(
        _damaged_compressed_field,
        r"minari:test/bad/inputs-v0 .*: episode 2 cannot be read: field 'actions' cannot be "
        r"read",
        id="damaged-field",
    ),
    pytest.param(
        _garbage_main,
        r"minari:test/bad/inputs-v0 .*main_data\.hdf5 is not a readable HDF5 file",
        id="garbage-main_data",
    ),
    pytest.param(
        _truncated_main,
        r"minari:test/bad/inputs-v0 .*main_data\.hdf5 is not a readable HDF5 file \(truncated",
        id="truncated-main_data",
    ),
    pytest.param(
        _drop_field(1, "rewards"),
        r"minari:test/bad/inputs-v0 .*: episode 1 cannot be read: field 'rewards' is missing "
        r"\(found \['actions', 'observations', 'terminations', 'truncations'\]\)",
        id="missing-rewards",
    ),
    pytest.param(
        _drop_field(2, "observations"),
        r"episode 2 cannot be read: field 'observations' is missing",
        id="missing-observations",
    ),
    pytest.param(
        _replace_field(0, "terminations", np.array([0, 0, 2, 0])),
        r"minari:test/bad/inputs-v0 .* \(episode 0\): field 'terminations' must hold only 0 "
        r"and 1.*step 2: 2",
        id="terminations-2-on-disk",
    ),
    pytest.param(
        _replace_field(1, "observations", np.zeros((4, 5))),
        r"\(episode 1\): field 'observations' has shape \(4, 5\), expected \[T, 3\]",
        id="observation-width-on-disk",
    ),
    pytest.param(
        _edit_metadata(total_episodes=5),
        r"metadata 'total_episodes' is 5 but .*main_data\.hdf5 holds 3 episode group\(s\)",
        id="total_episodes-too-large",
    ),
    pytest.param(
        _edit_metadata(total_episodes=2),
        r"metadata 'total_episodes' is 2 but .*main_data\.hdf5 holds 3 episode group\(s\)",
        id="total_episodes-too-small",
    ),
    pytest.param(
        _edit_metadata(total_steps=13),
        r"metadata 'total_steps' is 13 but the stored episodes hold 12 steps",
        id="total_steps-wrong",
    ),
    pytest.param(
        _edit_metadata(ref_min_score="abc", ref_max_score=1.0),
        r"minari:test/bad/inputs-v0 .*: metadata 'ref_min_score' is 'abc'; expected a number",
        id="ref-score-string",
    ),
    pytest.param(
        _edit_metadata(ref_min_score=0.0, ref_max_score=float("nan")),
        r"metadata 'ref_max_score' is nan; expected a finite number",
        id="ref-score-nan",
    ),
    pytest.param(
        _edit_metadata(ref_min_score=0.0, ref_max_score=True),
        r"metadata 'ref_max_score' is True; expected a number",
        id="ref-score-bool",
    ),
    pytest.param(
        _edit_metadata(ref_min_score=0.0),
        r"metadata has 'ref_min_score' but no 'ref_max_score'",
        id="ref-score-one-sided",
    ),
    pytest.param(
        _edit_metadata(ref_min_score=2.0, ref_max_score=2.0),
        r"metadata 'ref_min_score' equals 'ref_max_score' \(2\.0\)",
        id="ref-scores-equal",
    ),
    pytest.param(
        _edit_metadata(env_spec="{not json"),
        r"Minari dataset 'test/bad/inputs-v0' at .* could not be read \(JSONDecodeError",
        id="env_spec-garbage",
    ),
    pytest.param(
        _edit_metadata(env_spec=json.dumps({"entry_point": "x"})),
        r"Minari dataset 'test/bad/inputs-v0' at .* could not be read \(KeyError",
        id="env_spec-without-id",
    ),
]


@pytest.mark.parametrize(("damage", "pattern"), MINARI_BAD)
def test_minari_bad_files_and_metadata(
    minari_dir: Path, damage: Callable[[Path], None], pattern: str
) -> None:
    damage(minari_dir)
    with pytest.raises(ValueError, match=pattern):
        load_minari(DATASET_ID)


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (
            lambda: eval_env_id({"env_spec": '{"entry_point": "x"}'}, "m"),
            r"m: metadata "
            r"'env_spec' holds no environment id",
        ),
        (
            lambda: eval_env_id({"eval_env_spec": 5}, "m"),
            r"metadata 'eval_env_spec' holds no "
            r"environment id",
        ),
        (lambda: eval_env_id({"env_spec": "{"}, "m"), r"metadata 'env_spec' is not valid JSON"),
        (
            lambda: metadata_count({"total_steps": "12"}, "total_steps", "m"),
            r"m: metadata "
            r"'total_steps' is '12'; expected a non-negative integer",
        ),
        (lambda: metadata_count({}, "total_episodes", "m"), r"'total_episodes' is None"),
        (
            lambda: reference_scores({"ref_max_score": 3.0}, "m"),
            r"m: metadata has "
            r"'ref_max_score' but no 'ref_min_score'",
        ),
    ],
)
def test_minari_metadata_readers(call: Callable[[], object], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        call()


def test_minari_metadata_readers_accept_valid_entries() -> None:
    spec = gym.spec("Hopper-v5").to_json()
    assert eval_env_id({"env_spec": spec, "eval_env_spec": None}, "m") == "Hopper-v5"
    assert eval_env_id({}, "m") is None
    assert reference_scores({"ref_min_score": -1, "ref_max_score": 2.5}, "m") == (-1.0, 2.5)
    assert reference_scores({}, "m") == (None, None)


def test_minari_ids_are_strings() -> None:
    for bad in ("", "  ", None, 3):
        with pytest.raises(ValueError, match=r"load_minari: dataset_id must be a non-empty"):
            unchecked(load_minari)(bad)


def test_local_port_width_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dataset stored under the local id of hopper-medium-v2 with another environment's
    widths (consistent with its own declared spaces) is refused, naming both widths."""
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        minari.create_dataset_from_buffers(
            "edp_ref/hopper/medium-v0",
            [episode(0)],
            observation_space=OBS_SPACE,
            action_space=ACT_SPACE,
        )
    with pytest.raises(
        ValueError,
        match=r"minari:edp_ref/hopper/medium-v0 .*: field 'observations' has width 3 but the "
        r"environment of hopper-medium-v2 has 11",
    ):
        load_dataset("hopper-medium-v2", source="local")


# -- Registry options -------------------------------------------------------------------------


def test_registry_bad_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    with pytest.raises(
        ValueError,
        match=r"load_dataset: unknown source 'hdf5' for "
        r"'hopper-medium-v2'; expected one of 'auto'",
    ):
        unchecked(load_dataset)("hopper-medium-v2", source="hdf5")
    with pytest.raises(
        DatasetNotFoundError,
        match=r"'hopper-medium-replay-v2' has no Minari port \(source='minari'\); its sources "
        r"are 'd4rl', 'local'",
    ):
        load_dataset("hopper-medium-replay-v2", source="minari")
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    with pytest.raises(ValueError, match=r"d4rl_dir .*not-a-folder is a file, not a folder"):
        load_dataset("hopper-medium-v2", d4rl_dir=str(a_file))
    with pytest.raises(
        ValueError, match=r"paper_dataset: a dataset name must be a string.*got int 3"
    ):
        unchecked(paper_dataset)(3)
    # A D4RL "file" that is a folder is an error, not a reason to fall back to another source.
    (tmp_path / "d4rl" / "hopper_medium-v2.hdf5").mkdir(parents=True)
    with pytest.raises(
        ValueError,
        match=r"hopper_medium-v2\.hdf5 \(hopper-medium-v2\) is a "
        r"directory",
    ):
        load_dataset("hopper-medium-v2", d4rl_dir=str(tmp_path / "d4rl"))


# -- Evaluation ----------------------------------------------------------------------------------


def test_evaluation_refuses_non_finite_actions_and_wrong_action_width() -> None:
    nan_policy = lambda o: torch.full((o.shape[0], 1), float("nan"))  # noqa: E731
    with pytest.raises(ValueError, match=r"evaluate: the policy returned non-finite actions"):
        evaluate(nan_policy, make_eval_env("InvertedPendulum-v5", 2), 1)
    n = 4
    data = {
        "observations": np.zeros((n, 4)),
        "actions": np.zeros((n, 2)),
        "rewards": np.zeros(n),
        "next_observations": np.zeros((n, 4)),
        "terminals": np.zeros(n),
    }
    ds = TransitionDataset.from_arrays(data, source="two-actions", env_id="InvertedPendulum-v5")
    with pytest.raises(
        ValueError,
        match=r"two-actions: the evaluation environment's actions have shape \(1,\) but the "
        r"dataset's have 2 dimensions",
    ):
        eval_env_for(ds)


# -- Generation: the training checkpoint -------------------------------------------------------


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00garbage" * 64)


def _truncated(path: Path) -> None:
    torch.save({"config": "x", "payload": torch.zeros(4096)}, path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def _missing_keys(path: Path) -> None:
    from edp_ref.generation import small_preset
    from edp_ref.generation.training import training_key

    torch.save({"config": training_key(small_preset())}, path)


@pytest.mark.parametrize("damage", [_garbage, _truncated, _missing_keys])
def test_damaged_training_checkpoint(tmp_path: Path, damage: Callable[[Path], None]) -> None:
    from edp_ref.generation import small_preset, train_behaviour

    damage(tmp_path / "train.pt")
    with pytest.raises(
        ValueError,
        match=r"the training checkpoint .*train\.pt is damaged or not a checkpoint of this "
        r"version of edp_ref.*delete it to train from the start",
    ):
        train_behaviour(small_preset(), str(tmp_path), progress=False)
    assert os.path.exists(tmp_path / "train.pt")  # the file is left for the user to inspect
