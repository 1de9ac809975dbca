"""The DQL baseline follows the official Diffusion-QL (Zhendong-Wang/Diffusion-Policies-for-
Offline-RL, agents/ql_diffusion.py): critic first and the actor's Q loss on the updated critics,
one clipping norm over both critics, the critic's learning rate fixed at 3e-4, the EMA actor
moved at updates 1001, 1006, ..., EAS scored by the target critics; each is a config switch."""

from __future__ import annotations

import dataclasses

import torch

from edp_ref import algorithms as alg
from edp_ref.algorithms.acting import DiffusionAct
from edp_ref.algorithms.catalog.dql import DQLConfig
from edp_ref.algorithms.catalog.edp_td3 import TD3Randomness
from edp_ref.algorithms.targets import ema_due

S, A, B = 3, 2, 8
DQL = alg.REGISTRY["dql"]


def _setup(config: DQLConfig) -> tuple[alg.TrainState, alg.Batch, TD3Randomness]:
    g = torch.Generator().manual_seed(0)
    state = DQL.init(config, S, A, g, dtype=torch.float64)
    batch = alg.Batch(
        torch.randn(B, S, generator=g, dtype=torch.float64),
        torch.rand(B, A, generator=g, dtype=torch.float64) * 1.8 - 0.9,
        torch.randn(B, generator=g, dtype=torch.float64) * 10,
        torch.randn(B, S, generator=g, dtype=torch.float64),
        torch.zeros(B, dtype=torch.float64),
    )
    return state, batch, DQL.draw(config, B, A, g, dtype=torch.float64)


def test_defaults_are_the_official_diffusion_ql() -> None:
    config = DQLConfig()
    assert config.policy_uses_updated_critic and config.critic_clip == "joint"
    assert config.critic_learning_rate == 3e-4 and config.optimizer.clip_mode == "torch"
    assert config.network.init == "torch" and config.network.embedding == "diffusion_ql"
    assert (config.diffusion.schedule, config.diffusion.num_steps) == ("vp", 5)
    assert config.target_networks.ema_step_counts == "previous_updates"
    # Table 3's per-task values change the actor's rate, never the critic's (pen: 3e-5).
    pen = alg.table3_config(config, "pen-human-v1")
    assert pen.optimizer.learning_rate == 3e-5 and pen.critic_learning_rate == 3e-4


def test_ema_moves_at_updates_1001_1006_for_diffusion_ql_and_1005_1010_for_edp() -> None:
    t = torch.arange(995, 1016)
    dql = ema_due(t, 999, 5, "previous_updates")
    edp = ema_due(t, 1000, 5, "this_update")
    assert t[dql].tolist() == [1001, 1006, 1011]
    assert t[edp].tolist() == [1005, 1010, 1015]


def test_critic_learning_rate_and_joint_clip_are_applied() -> None:
    config = DQLConfig(network=alg.NetworkConfig(hidden=8, layers=1), compile=False)
    tiny_clip = dataclasses.replace(
        config,
        optimizer=dataclasses.replace(config.optimizer, learning_rate=1e-6, max_grad_norm=1e-3),
    )
    state, batch, rnd = _setup(tiny_clip)
    new, metrics = DQL.update(state, batch, rnd, tiny_clip)
    # One norm over both critics.
    assert float(metrics["q1_grad_norm"]) == float(metrics["q2_grad_norm"]) > 1e-3
    # Adam's first step moves each parameter by about lr: 3e-4 for the critics, 1e-6 for the
    # actor.
    critic_step = max(
        float((new.params["q1"][n] - state.params["q1"][n]).abs().max()) for n in state.params["q1"]
    )
    actor_step = max(
        float((new.params["policy"][n] - state.params["policy"][n]).abs().max())
        for n in state.params["policy"]
    )
    assert 2e-4 < critic_step <= 3.01e-4 and actor_step <= 1.01e-6
    # Per-critic clipping (official EDP) measures each critic's own norm.
    per_critic = dataclasses.replace(tiny_clip, critic_clip="per_critic")
    _, metrics_per = DQL.update(state, batch, rnd, per_critic)
    assert float(metrics_per["q1_grad_norm"]) != float(metrics_per["q2_grad_norm"])


def test_actor_uses_the_updated_critics() -> None:
    config = DQLConfig(network=alg.NetworkConfig(hidden=8, layers=1), compile=False)
    state, batch, rnd = _setup(config)
    _, updated = DQL.update(state, batch, rnd, config)
    _, pre_update = DQL.update(
        state, batch, rnd, dataclasses.replace(config, policy_uses_updated_critic=False)
    )
    assert float(updated["q_policy_mean"]) != float(pre_update["q_policy_mean"])
    assert float(updated["critic_loss"]) == float(pre_update["critic_loss"])


def test_eas_of_the_dql_agent_scores_with_the_target_critics() -> None:
    config = DQLConfig(network=alg.NetworkConfig(hidden=8, layers=1))
    state, _, _ = _setup(config)
    # Online critics with a steep output layer (EAS's softmax over their Q is nearly an argmax);
    # zero target critics (every candidate has the same Q, so EAS picks by the uniform alone).
    online = {**state.params}
    targets = {**state.target_params}
    for net in ("q1", "q2"):
        steep = {**state.params[net]}
        steep["body.2.weight"] = steep["body.2.weight"] * 1e4
        online[net] = steep
        targets[net] = {n: torch.zeros_like(p) for n, p in state.target_params[net].items()}
    state = state.replace(params=online, target_params=targets)
    obs = torch.randn(32, S, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    settings = alg.ActingSettings(eas_candidates=6)
    act = DQL.act
    g1, g2, g3 = (torch.Generator().manual_seed(3) for _ in range(3))
    by_target = act(state, obs, config, settings, g1)
    by_online = DiffusionAct("ddpm", "online")(state, obs, config, settings, g2)
    by_target_again = DiffusionAct("ddpm", "target")(state, obs, config, settings, g3)
    assert by_target.shape == by_online.shape == (32, A)
    assert torch.equal(by_target, by_target_again)
    # Same candidates and uniforms, different scores: the picks differ for some states.
    differing = (by_target != by_online).any(dim=1)
    assert int(differing.sum()) > 0
