"""Loaders: D4RL HDF5 files (qlearning_dataset semantics), Minari datasets written with Minari's
own API from a real Gymnasium MuJoCo environment (the local D4RL-protocol generation is tested
in tests/test_generation.py)."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import h5py
import minari
import numpy as np
import pytest
import torch
from minari.data_collector import EpisodeBuffer

from edp_ref.data import DatasetNotFoundError, load_d4rl_hdf5, load_dataset, load_minari

# -- D4RL HDF5 ---------------------------------------------------------------------------------


def d4rl_arrays() -> dict[str, np.ndarray]:
    """Two episodes of 4 and 3 rows: the first ends by a timeout at row 3, the second has a
    terminal at row 5 and one more row (6) after it."""
    n = 7
    obs = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    return {
        "observations": obs,
        "actions": np.linspace(-1, 1, n, dtype=np.float32)[:, None],
        "rewards": np.arange(n, dtype=np.float32) * 10,
        "terminals": np.array([0, 0, 0, 0, 0, 1, 0], dtype=bool),
        "timeouts": np.array([0, 0, 0, 1, 0, 0, 0], dtype=bool),
    }


def write_h5(path: Path, data: dict[str, np.ndarray]) -> Path:
    with h5py.File(path, "w") as f:
        for k, v in data.items():
            f.create_dataset(k, data=v)
    return path


def test_d4rl_qlearning_semantics(tmp_path: Path) -> None:
    ds = load_d4rl_hdf5(write_h5(tmp_path / "x.hdf5", d4rl_arrays()), name="x")
    kept = [0, 1, 2, 4, 5]  # row 3 (timeout) and row 6 (last) have no real successor
    obs = d4rl_arrays()["observations"]
    assert torch.equal(ds.observations, torch.tensor(obs[kept]))
    assert torch.equal(ds.next_observations, torch.tensor(obs[[k + 1 for k in kept]]))
    assert ds.rewards.tolist() == [0.0, 10.0, 20.0, 40.0, 50.0]
    assert ds.terminals.tolist() == [0, 0, 0, 0, 1]
    assert ds.timeouts.tolist() == [0, 0, 0, 0, 0]
    assert dict(ds.dropped) == {"final_row": 1, "timeout": 1} and sum(ds.dropped.values()) == 2
    # terminate_on_end keeps the timeout row and marks it.
    keep = load_d4rl_hdf5(tmp_path / "x.hdf5", terminate_on_end=True)
    assert len(keep) == 6 and keep.timeouts.tolist() == [0, 0, 0, 1, 0, 0]
    # Without 'timeouts', D4RL's episode-step rule with max_episode_steps = 4 gives the same.
    data = d4rl_arrays()
    del data["timeouts"]
    same = load_d4rl_hdf5(write_h5(tmp_path / "y.hdf5", data), max_episode_steps=4)
    assert torch.equal(same.observations, ds.observations)
    assert same.episode_returns().tolist() == [30.0, 90.0]


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (
            {"rewards": np.array([0, 1, np.nan, 3, 4, 5, 6], np.float32)},
            r"x.hdf5.*'rewards'.*non-finite",
        ),
        (
            {"observations": np.full((7, 2), np.inf, np.float32)},
            r"x.hdf5.*'observations'.*non-finite",
        ),
        ({"actions": np.zeros((6, 1), np.float32)}, r"x.hdf5.*length mismatch.*'actions'"),
        (
            {"actions": np.full((7, 1), 1.5, np.float32)},
            r"x.hdf5.*'actions'.*outside the declared bounds",
        ),
        ({k: v[:1] for k, v in d4rl_arrays().items()}, r"x.hdf5.*empty"),
    ],
)
def test_d4rl_bad_values(tmp_path: Path, change: dict[str, np.ndarray], pattern: str) -> None:
    data = {**d4rl_arrays(), **change}
    with pytest.raises(ValueError, match=pattern):
        load_d4rl_hdf5(write_h5(tmp_path / "x.hdf5", data))


def test_d4rl_missing_key_corrupt_and_truncated(tmp_path: Path) -> None:
    data = d4rl_arrays()
    del data["terminals"]
    with pytest.raises(ValueError, match=r"x.hdf5: missing key\(s\) \['terminals'\]"):
        load_d4rl_hdf5(write_h5(tmp_path / "x.hdf5", data))
    data = d4rl_arrays()
    del data["timeouts"]
    with pytest.raises(ValueError, match=r"missing key\(s\) \['timeouts'\]"):
        load_d4rl_hdf5(write_h5(tmp_path / "t.hdf5", data))
    bad = tmp_path / "corrupt.hdf5"
    bad.write_bytes(b"this is not HDF5" * 100)
    with pytest.raises(ValueError, match=r"corrupt.hdf5 is not a readable HDF5 file"):
        load_d4rl_hdf5(bad)
    full = write_h5(
        tmp_path / "full.hdf5", {k: np.repeat(v, 2000, 0) for k, v in d4rl_arrays().items()}
    )
    cut = tmp_path / "cut.hdf5"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"cut.hdf5 is not a readable HDF5 file"):
        load_d4rl_hdf5(cut)
    with pytest.raises(FileNotFoundError, match=r"nothere\.hdf5"):
        load_d4rl_hdf5(tmp_path / "nothere.hdf5")


def test_paper_name_resolves_to_d4rl_file(tmp_path: Path) -> None:
    # Widths of D4RL's Hopper (11 observations, 3 actions): other widths are refused at load.
    data = d4rl_arrays()
    data["observations"] = np.tile(data["observations"], (1, 6))[:, :11]
    data["actions"] = np.tile(data["actions"], (1, 3))
    write_h5(tmp_path / "hopper_medium-v2.hdf5", data)
    ds = load_dataset("hopper-medium-v2", d4rl_dir=str(tmp_path))
    assert (ds.state_dim, ds.action_dim) == (11, 3)
    assert len(ds) == 5 and ds.env_id == "Hopper-v4"
    assert (ds.ref_min_score, ds.ref_max_score) == (-20.272305, 3234.3)


# -- Minari --------------------------------------------------------------------------------------


def rollout_buffers(env_id: str, episodes: int, seed: int) -> list[EpisodeBuffer]:
    env = gym.make(env_id, max_episode_steps=15)
    env.action_space.seed(seed)
    out = []
    for ep in range(episodes):
        o, _ = env.reset(seed=seed + ep)
        obs, acts, rews, terms, truncs = [o], [], [], [], []
        while True:
            a = env.action_space.sample()
            o, r, term, trunc, _ = env.step(a)
            obs.append(o), acts.append(a), rews.append(r), terms.append(term), truncs.append(trunc)
            if term or trunc:
                break
        out.append(
            EpisodeBuffer(
                id=ep,
                observations=np.array(obs),
                actions=np.array(acts),
                rewards=np.array(rews),
                terminations=np.array(terms),
                truncations=np.array(truncs),
            )
        )
    return out


def test_minari_roundtrip_real_mujoco(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    buffers = rollout_buffers("Hopper-v5", 6, seed=0)
    assert any(b.terminations[-1] for b in buffers) or any(b.truncations[-1] for b in buffers)
    with pytest.warns(UserWarning):
        minari.create_dataset_from_buffers(
            "test/hopper/tiny-v0",
            buffers,
            env="Hopper-v5",
            ref_min_score=-20.0,
            ref_max_score=3000.0,
        )
    ds = load_minari("test/hopper/tiny-v0")
    assert len(ds) == sum(len(b.rewards) for b in buffers) and sum(ds.dropped.values()) == 0
    assert ds.env_id == "Hopper-v5" and ds.minari_id == "test/hopper/tiny-v0"
    assert (ds.ref_min_score, ds.ref_max_score) == (-20.0, 3000.0)
    start = 0
    for b in buffers:
        t = len(b.rewards)
        sl = slice(start, start + t)
        f32 = lambda x: torch.tensor(np.asarray(x), dtype=torch.float32)  # noqa: E731
        assert torch.equal(ds.observations[sl], f32(b.observations[:-1]))
        assert torch.equal(ds.next_observations[sl], f32(b.observations[1:]))
        assert torch.equal(ds.actions[sl], f32(b.actions))
        assert torch.equal(ds.rewards[sl], f32(b.rewards))
        assert torch.equal(ds.terminals[sl], f32(b.terminations))
        assert torch.equal(ds.timeouts[sl], f32(b.truncations))
        start += t
    with pytest.raises(DatasetNotFoundError, match=r"minari download test/hopper/absent-v0"):
        load_minari("test/hopper/absent-v0")


def test_minari_dict_observations_flatten_like_gymnasium(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gymnasium import spaces

    from edp_ref.data.minari_io import flatten_batch

    space = spaces.Dict({"b": spaces.Box(-1, 1, (2,)), "a": spaces.Box(-1, 1, (3,))})
    samples = [space.sample() for _ in range(4)]
    batch = {k: np.stack([s[k] for s in samples]) for k in ("a", "b")}
    expected = np.stack([spaces.flatten(space, s) for s in samples])
    assert np.array_equal(flatten_batch(space, batch, "t"), expected)


def test_minari_bad_episode_lengths() -> None:
    from gymnasium import spaces

    from edp_ref.data.minari_io import episodes_to_transitions

    ep = EpisodeBuffer(
        id=7,
        observations=np.zeros((3, 2)),
        actions=np.zeros((3, 1)),
        rewards=np.zeros(3),
        terminations=np.zeros(3, bool),
        truncations=np.zeros(3, bool),
    )
    with pytest.raises(ValueError, match=r"src \(episode 7\): field 'observations' has 3 rows"):
        episodes_to_transitions(
            [ep],
            observation_space=spaces.Box(-1, 1, (2,)),
            action_space=spaces.Box(-1, 1, (1,)),
            source="src",
        )
