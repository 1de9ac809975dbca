"""TransitionDataset validation, the uniform sampler, preprocessing and the dataset registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edp_ref.data import (
    DatasetNotFoundError,
    TransitionDataset,
    UniformSampler,
    load_dataset,
    official_preprocessing,
    sample_batch,
)
from edp_ref.data.batch import Batch
from edp_ref.data.preprocessing import (
    antmaze_rewards,
    clip_actions,
    iql_locomotion_reward_scale,
    min_max_rewards,
    normalize_observations,
    rescale_actions,
)
from edp_ref.paper import PAPER_DATASETS, domain_of, paper_dataset


def arrays(n: int = 6, s: int = 3, a: int = 2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(n + 1, s))
    return {
        "observations": obs[:-1].copy(),
        "actions": rng.uniform(-1, 1, size=(n, a)),
        "rewards": rng.normal(size=n),
        "next_observations": obs[1:].copy(),
        "terminals": np.zeros(n),
        "timeouts": np.zeros(n),
    }


def make(**changes: np.ndarray) -> TransitionDataset:
    data = arrays()
    data.update(changes)
    return TransitionDataset.from_arrays(
        data, source="unit", action_low=[-1, -1], action_high=[1, 1]
    )


def test_from_arrays_shapes_and_dtypes() -> None:
    ds = make()
    assert len(ds) == 6 and ds.state_dim == 3 and ds.action_dim == 2
    assert all(getattr(ds, k).dtype == torch.float32 for k in ("observations", "rewards"))


@pytest.mark.parametrize(
    "field", ["observations", "actions", "rewards", "next_observations", "terminals", "timeouts"]
)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_names_source_and_field(field: str, bad: float) -> None:
    data = arrays()[field].astype(np.float64).copy()
    data.reshape(-1)[1] = bad
    with pytest.raises(ValueError, match=rf"unit.*'{field}'"):
        make(**{field: data})


@pytest.mark.parametrize("field", ["observations", "actions", "rewards", "terminals", "timeouts"])
def test_length_mismatch(field: str) -> None:
    with pytest.raises(ValueError, match=rf"unit: length mismatch.*'{field}'"):
        make(**{field: arrays()[field][:-1]})


def test_action_out_of_bounds() -> None:
    actions = arrays()["actions"].copy()
    actions[3, 1] = 1.5
    with pytest.raises(ValueError, match=r"unit: field 'actions'.*row 3, dimension 1"):
        make(actions=actions)


def test_empty_and_missing_key_and_flags() -> None:
    with pytest.raises(ValueError, match="unit: the dataset is empty"):
        TransitionDataset.from_arrays({k: v[:0] for k, v in arrays().items()}, source="unit")
    data = arrays()
    del data["rewards"]
    with pytest.raises(ValueError, match=r"unit: missing key\(s\) \['rewards'\]"):
        TransitionDataset.from_arrays(data, source="unit")
    with pytest.raises(ValueError, match="'terminals' must hold only 0 and 1"):
        make(terminals=np.full(6, 0.5))


def test_sampler_uniform_reproducible_and_no_copy() -> None:
    ds = make()
    g1 = torch.Generator().manual_seed(3)
    g2 = torch.Generator().manual_seed(3)
    b1, b2 = sample_batch(ds, 5000, g1), sample_batch(ds, 5000, g2)
    assert isinstance(b1, Batch)
    assert torch.equal(b1.observations, b2.observations)
    # Every sampled row is a dataset row, and rows are drawn about uniformly.
    idx = torch.cdist(b1.observations, ds.observations).argmin(1)
    assert torch.equal(ds.actions[idx], b1.actions)
    assert torch.equal(ds.rewards[idx], b1.rewards)
    counts = torch.bincount(idx, minlength=6).float()
    assert counts.min() > 5000 / 6 * 0.85 and counts.max() < 5000 / 6 * 1.15
    sampler = UniformSampler(ds, 4, torch.Generator().manual_seed(0))
    assert next(sampler).observations.shape == (4, 3)
    with pytest.raises(ValueError, match="batch_size"):
        UniformSampler(ds, 0, torch.Generator())


def test_episode_returns_cut_at_terminal_timeout_and_gap() -> None:
    data = arrays(n=6)
    data["terminals"][1] = 1
    data["timeouts"][3] = 1
    data["next_observations"][4] = 99.0  # a dropped timeout row: the next row does not continue
    data["rewards"] = np.arange(6, dtype=np.float64)
    ds = make(**data)
    assert ds.episode_ends().tolist() == [False, True, False, True, True, True]
    assert ds.episode_returns().tolist() == [1.0, 5.0, 4.0, 5.0]


def test_reward_transforms() -> None:
    ds = make(rewards=np.array([0.0, 1.0, 0.0, 1.0, 0.0, 0.0]))
    assert torch.equal(antmaze_rewards(ds, "iql").rewards, ds.rewards - 1)
    assert torch.equal(antmaze_rewards(ds, "td3").rewards, (ds.rewards - 0.5) * 4)
    mm = min_max_rewards(make(rewards=np.array([2.0, 4.0, 3.0, 2.0, 4.0, 3.0])))
    assert mm.rewards.tolist() == [-1.0, 1.0, 0.0, -1.0, 1.0, 0.0]
    data = arrays()
    data["terminals"][2] = 1  # trajectories: rows 0-2 and 3-5
    data["rewards"] = np.array([1.0, 1.0, 1.0, 0.5, 0.5, 0.0])
    ds2 = make(**data)
    assert iql_locomotion_reward_scale(ds2) == pytest.approx(1000 / (3.0 - 1.0))
    out = official_preprocessing(ds2, "locomotion", "iql")
    assert torch.allclose(out.dataset.rewards, ds2.rewards * 500)
    assert out.observation_transform is None
    assert ds2.rewards[0] == 1.0  # the input is unchanged


def test_observation_normalization_scalar_and_per_dimension() -> None:
    ds = make()
    pre = normalize_observations(ds, "scalar")
    o = ds.observations
    expected = ((o - o.mean()) / (o.std(correction=0) + 1e-6)).clamp(-10, 10)
    assert torch.allclose(pre.dataset.observations, expected)
    assert pre.observation_transform is not None
    assert torch.allclose(
        pre.observation_transform(ds.next_observations), pre.dataset.next_observations
    )
    per = normalize_observations(ds, "per_dimension").dataset.observations
    assert torch.allclose(per.mean(0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(per.std(0, correction=0), torch.ones(3), atol=1e-4)


def test_action_clip_and_rescale() -> None:
    actions = arrays()["actions"].copy()
    actions[0] = [1.0, -1.0]
    ds = make(actions=actions)
    clipped = clip_actions(ds)
    assert bool(clipped.actions.abs().max() <= torch.tensor(0.999))
    assert float(clipped.actions[0, 0]) == pytest.approx(0.999)
    three = TransitionDataset.from_arrays(
        {**arrays(), "actions": np.full((6, 2), 3.0)},
        source="u",
        action_low=[-3, -3],
        action_high=[3, 3],
    )
    assert torch.equal(rescale_actions(three).actions, torch.ones(6, 2))


def test_registry_covers_the_paper_tables() -> None:
    names = {
        f"{e}-{k}-v2"
        for e in ("halfcheetah", "hopper", "walker2d")
        for k in ("medium", "medium-replay", "medium-expert")
    }
    names |= {
        f"antmaze-{t}-v0"
        for t in (
            "umaze",
            "umaze-diverse",
            "medium-play",
            "medium-diverse",
            "large-play",
            "large-diverse",
        )
    }
    names |= {"pen-human-v0", "pen-cloned-v0", "pen-human-v1", "pen-cloned-v1"}
    names |= {f"kitchen-{t}-v0" for t in ("complete", "partial", "mixed")}
    assert names <= set(PAPER_DATASETS)
    assert paper_dataset("hopper-medium-replay-v2").d4rl_file == "hopper_medium_replay-v2.hdf5"
    assert domain_of("antmaze-large-diverse-v0") == "antmaze"
    assert domain_of("edp_ref/hopper/medium-v0") == "locomotion"
    with pytest.raises(ValueError, match="unknown dataset name 'hopper-mediocre-v2'"):
        paper_dataset("hopper-mediocre-v2")


def test_missing_dataset_error_names_places_and_commands(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("hopper-medium-v2", d4rl_dir=str(tmp_path / "d4rl"))
    msg = str(info.value)
    assert "hopper-medium-v2" in msg and str(tmp_path / "d4rl") in msg
    assert "wget" in msg and "gym_mujoco_v2/hopper_medium-v2.hdf5" in msg
    assert "minari download mujoco/hopper/medium-v0" in msg
    assert "python scripts/make_datasets.py --env hopper" in msg
