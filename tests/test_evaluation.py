"""Evaluation in real Gymnasium vector environments and D4RL normalized scores."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from edp_ref.data import TransitionDataset
from edp_ref.data.evaluation import (
    ScoreReference,
    d4rl_reference,
    eval_env_for,
    evaluate,
    make_eval_env,
    normalized_score,
    reference_for,
)


@pytest.mark.parametrize(
    ("name", "lo", "hi"),
    [
        ("halfcheetah-medium-v2", -280.178953, 12135.0),
        ("hopper-medium-replay-v2", -20.272305, 3234.3),
        ("walker2d-medium-expert-v2", 1.629008, 4592.3),
        ("antmaze-large-diverse-v0", 0.0, 1.0),
        ("pen-human-v1", 96.262799, 3076.8331017826877),
        ("kitchen-mixed-v0", 0.0, 4.0),
    ],
)
def test_d4rl_constants_and_formula(name: str, lo: float, hi: float) -> None:
    ref = d4rl_reference(name)
    assert (ref.ref_min, ref.ref_max) == (lo, hi)
    returns = np.array([lo, hi, (lo + hi) / 2])
    assert np.allclose(normalized_score(returns, ref), [0.0, 100.0, 50.0])


def test_hopper_score_matches_d4rl_by_hand() -> None:
    # D4RL: 100 * (3000 - (-20.272305)) / (3234.3 - (-20.272305)) = 92.80...
    score = normalized_score(3000.0, d4rl_reference("hopper-medium-v2"))
    assert float(score) == pytest.approx(100 * 3020.272305 / 3254.572305)
    with pytest.raises(ValueError, match="ref_max equals ref_min"):
        ScoreReference(1.0, 1.0, "x")


def test_evaluate_counts_episodes_and_returns_in_a_real_env() -> None:
    env = make_eval_env("InvertedPendulum-v5", 3)
    zero = lambda o: torch.zeros(o.shape[0], 1)  # noqa: E731
    result = evaluate(zero, env, 5, seed=1, reference=ScoreReference(0.0, 1000.0, "t"))
    assert result.returns.shape == (5,) and result.lengths.shape == (5,)
    # InvertedPendulum-v5: reward 1 per step, 0 on the step where the pole falls (terminal).
    assert np.array_equal(result.returns, result.lengths.astype(float) - 1)
    assert result.normalized is not None
    assert np.allclose(result.normalized, result.returns / 10)
    # Same seed, same episodes; the result equals a plain single-environment loop.
    again = evaluate(zero, make_eval_env("InvertedPendulum-v5", 3), 5, seed=1)
    assert np.array_equal(again.returns, result.returns) and again.normalized is None
    single = gym.make("InvertedPendulum-v5")
    single.reset(seed=1)
    total, done = 0.0, False
    while not done:
        _, r, term, trunc, _ = single.step(np.zeros(1, np.float32))
        total += float(r)
        done = term or trunc
    assert result.returns[0] == total


def test_evaluate_applies_transform_and_clips_actions() -> None:
    seen: list[torch.Tensor] = []

    def policy(o: torch.Tensor) -> torch.Tensor:
        seen.append(o)
        return torch.full((o.shape[0], 1), 100.0)  # clipped to the bound 3

    env = make_eval_env("InvertedPendulum-v5", 2)
    result = evaluate(policy, env, 2, observation_transform=lambda o: o * 0 + 7)
    assert all(bool((o == 7).all()) for o in seen)
    assert result.lengths.max() < 1000
    with pytest.raises(ValueError, match="actions of shape"):
        evaluate(lambda o: torch.zeros(o.shape[0], 2), make_eval_env("InvertedPendulum-v5"), 1)


def test_rescaled_env_and_dataset_env(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    env = make_eval_env("InvertedPendulum-v5", 1, rescale_actions=True)
    assert np.allclose(env.single_action_space.low, -1)
    n = 4
    data = {
        "observations": np.zeros((n, 4)),
        "actions": np.zeros((n, 1)),
        "rewards": np.zeros(n),
        "next_observations": np.zeros((n, 4)),
        "terminals": np.zeros(n),
    }
    ds = TransitionDataset.from_arrays(
        data, source="t", env_id="InvertedPendulum-v5", ref_min_score=0.0, ref_max_score=10.0
    )
    assert eval_env_for(ds, 2).num_envs == 2
    assert reference_for(ds) == ScoreReference(0.0, 10.0, "t")
    wrong = ds.replace(env_id="Hopper-v5")
    with pytest.raises(ValueError, match=r"t: the evaluation environment's observations"):
        eval_env_for(wrong)
    with pytest.raises(ValueError, match=r"gymnasium-robotics"):
        make_eval_env("NoSuchEnv-v9")
