"""Evaluation in real Gymnasium vector environments and D4RL normalized scores."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from edp_ref.data import TransitionDataset
from edp_ref.data.evaluation import (
    ScoreReference,
    eval_env_for,
    evaluate,
    make_eval_env,
    normalized_score,
    reference_for,
)
from edp_ref.paper import paper_dataset


def _d4rl_reference(name: str) -> ScoreReference:
    """The references a D4RL file of ``name`` is loaded with (load_dataset attaches them)."""
    entry = paper_dataset(name)
    return ScoreReference(entry.ref_min_score, entry.ref_max_score, name)


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
    ref = _d4rl_reference(name)
    assert (ref.ref_min, ref.ref_max) == (lo, hi)
    returns = np.array([lo, hi, (lo + hi) / 2])
    assert np.allclose(normalized_score(returns, ref), [0.0, 100.0, 50.0])


def test_hopper_score_matches_d4rl_by_hand() -> None:
    # D4RL: 100 * (3000 - (-20.272305)) / (3234.3 - (-20.272305)) = 92.80...
    score = normalized_score(3000.0, _d4rl_reference("hopper-medium-v2"))
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
    wrong = dataclasses.replace(ds, env_id="Hopper-v5")
    with pytest.raises(ValueError, match=r"t: the evaluation environment's observations"):
        eval_env_for(wrong)
    with pytest.raises(ValueError, match=r"gymnasium-robotics"):
        make_eval_env("NoSuchEnv-v9")


def _edp_policy(candidates: int) -> Any:
    from edp_ref.algorithms.acting import ActingSettings
    from edp_ref.runner import RunSpec, default_config
    from edp_ref.runner.policy import Policy

    spec = RunSpec(task="hopper-medium-v2", algorithm="edp_td3", eas_candidates=candidates)
    config = default_config("edp_td3", "hopper-medium-v2", hidden=64)
    state = spec.registered.init(config, 11, 3, torch.Generator().manual_seed(0), "cpu")
    settings = ActingSettings(eas_candidates=candidates)
    return Policy(spec, config, state, settings, {}, {"env_id": "Hopper-v5"})


@pytest.fixture
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_thread")
def test_an_evaluation_is_the_same_with_any_number_of_sub_environments() -> None:
    # Episode j: environment seed seed + j and its own action draws, whichever episodes run
    # beside it; with one thread (the runs') every product of the policy has >= 5 rows (N = 5
    # candidates), where MKL's float32 rows do not depend on the batch's other rows (with 1 or 2
    # rows, or two threads, they do: other kernels), so the returns are equal bit for bit.
    from edp_ref.runner.policy import evaluate as evaluate_policy

    policy = _edp_policy(candidates=5)
    results = [
        evaluate_policy(policy, make_eval_env("Hopper-v5", n), 3, seed=3, action_seed=9)
        for n in (3, 1, 2)
    ]
    assert len({(r.return_mean, r.return_std) for r in results}) == 1
    other = evaluate_policy(policy, make_eval_env("Hopper-v5", 3), 3, seed=3, action_seed=10)
    assert other.return_mean != results[0].return_mean  # the action seed matters


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("algorithm", ["edp_td3", "td3bc_eas"])
def test_acting_with_one_generator_per_row_is_acting_row_by_row(algorithm: str) -> None:
    from edp_ref.algorithms import REGISTRY
    from edp_ref.algorithms.acting import ActingSettings
    from edp_ref.runner import default_config

    spec = REGISTRY[algorithm]
    config = default_config(algorithm, "hopper-medium-v2", hidden=64)
    state = spec.init(config, 11, 3, torch.Generator().manual_seed(0), "cpu")
    settings, obs = ActingSettings(eas_candidates=5), torch.randn(3, 11)

    def generators() -> list[torch.Generator]:
        return [torch.Generator().manual_seed(s) for s in (4, 5, 6)]

    together = spec.act(state, obs, config, settings, generators())
    alone = [
        spec.act(state, obs[b : b + 1], config, settings, g) for b, g in enumerate(generators())
    ]
    assert torch.equal(together, torch.cat(alone))
    assert not torch.equal(together, spec.act(state, obs, config, settings, generators()[0]))
