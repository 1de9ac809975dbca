"""One-update tests of every algorithm of edp_ref.algorithms (App. A, Algorithm 1, Sec. 4.4):
which parameters move, targets and the EMA schedule, hand-computed losses, determinism, NaN."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor

from edp_ref.algorithms import (
    REGISTRY,
    Algorithm,
    Batch,
    DiffusionConfig,
    NetworkConfig,
    TargetNetworkConfig,
    TrainState,
    state_tensors,
)
from edp_ref.algorithms.diffusion_policy import sample_actions, select_actions
from edp_ref.algorithms.feedforward_policy import DeterministicPolicyNetwork
from edp_ref.algorithms.randomness import draw_sampler_noise
from edp_ref.core.networks import NoisePredictionNetwork, QNetwork, ValueNetwork
from tests.registry_cases import distinct_algorithms

S, A, B = 3, 2, 6
DT = torch.float64
NET = NetworkConfig(hidden=8, layers=1)
DIFF = DiffusionConfig(num_steps=30, dpm_steps=3)


def _batch(seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(
        observations=torch.randn(B, S, generator=g, dtype=DT),
        actions=(torch.rand(B, A, generator=g, dtype=DT) * 2 - 1) * 0.9,
        rewards=torch.randn(B, generator=g, dtype=DT),
        next_observations=torch.randn(B, S, generator=g, dtype=DT),
        terminals=torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0, 0.0], dtype=DT),
    )


# Per-algorithm test settings beside the shared small network (a variant takes its base's too):
# Diffusion-QL keeps its own vp K = 5 schedule; TD3+BC updates its actor every step so that one
# update moves it.
OVERRIDES: dict[str, dict[str, Any]] = {"dql": {"diffusion": None}, "td3bc": {"policy_delay": 1}}


def _test_config(algorithm: Algorithm) -> Any:
    changes: dict[str, Any] = {"network": NET}
    if algorithm.diffusion:
        changes["diffusion"] = DIFF
    for name in (algorithm.base, algorithm.name):
        changes.update(OVERRIDES.get(name or "", {}))
    return algorithm.config_class(**{k: v for k, v in changes.items() if v is not None})


Algo = tuple[Any, Callable[..., TrainState], Callable[..., Any], Callable[..., Any]]
#: Every registered algorithm that trains differently: (small test config, init, draw, update).
ALGORITHMS: dict[str, Algo] = {
    name: (_test_config(a), a.init, a.draw, a.update)
    for name, a in ((n, REGISTRY[n]) for n in distinct_algorithms(_test_config))
}
DIFFUSION_ALGOS = [n for n in ALGORITHMS if REGISTRY[n].diffusion]


def _setup(name: str, config: Any = None, seed: int = 0) -> tuple[Any, TrainState, Any, Any]:
    default, init, draw, update = ALGORITHMS[name]
    config = default if config is None else config
    g = torch.Generator().manual_seed(seed)
    state = init(config, S, A, g, dtype=DT)
    randomness = draw(config, B, A, g, dtype=DT)
    return config, state, randomness, update


def _equal(x: dict[str, Tensor], y: dict[str, Tensor]) -> bool:
    return all(torch.equal(x[n], y[n]) for n in x)


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_one_update_moves_online_nets_and_targets_by_tau(name: str) -> None:
    config, state, randomness, update = _setup(name)
    new, metrics = update(state, _batch(), randomness, config)
    assert int(new.step) == 1
    assert all(m.ndim == 0 and bool(torch.isfinite(m)) for m in metrics.values())
    for net, params in state.params.items():
        assert not _equal(new.params[net], params), f"{net} did not move"
        assert int(new.optimizers[net].count) == 1
    tau = config.target_networks.critic_tau
    for net in ("q1", "q2"):
        for n, old in state.target_params[net].items():
            expected = tau * new.params[net][n] + (1 - tau) * old
            assert torch.equal(new.target_params[net][n], expected)
    if name in DIFFUSION_ALGOS:
        # Update 1 is before ema_start = 1000: the EMA policy keeps its initial weights.
        assert _equal(new.target_params["policy"], state.target_params["policy"])


@pytest.mark.parametrize("name", ["edp_td3", "edp_crr", "edp_iql"])
def test_ema_policy_follows_its_schedule(name: str) -> None:
    default, _, draw, update = ALGORITHMS[name]
    config = dataclasses.replace(
        default, target_networks=TargetNetworkConfig(ema_start=1, ema_every=2)
    )
    _, state, _, _ = _setup(name, config)
    g = torch.Generator().manual_seed(1)
    moved = []
    for _ in range(4):
        new, metrics = update(state, _batch(), draw(config, B, A, g, dtype=DT), config)
        changed = not _equal(new.target_params["policy"], state.target_params["policy"])
        moved.append(changed)
        assert float(metrics["ema_updated"]) == float(changed)
        if changed:
            for n, old in state.target_params["policy"].items():
                expected = 0.005 * new.params["policy"][n] + 0.995 * old
                assert torch.equal(new.target_params["policy"][n], expected)
        state = new
    assert moved == [False, True, False, True]  # t > 1 and t % 2 == 0


@pytest.mark.parametrize("name", [*DIFFUSION_ALGOS, "gaussian_crr", "gaussian_iql"])
def test_critic_loss_never_moves_the_actor(name: str) -> None:
    config, state, randomness, update = _setup(name)
    batch = _batch()
    new, _ = update(state, batch, randomness, config)
    # Rewards enter only the critics' TD target: the policy sees them only through the updated
    # critics, and only where it is told to use them (Algorithm 1's order; Diffusion-QL).
    other = dataclasses.replace(batch, rewards=batch.rewards + 10.0)
    new_other, _ = update(state, other, randomness, config)
    sees_updated_critics = getattr(config, "policy_uses_updated_critic", False)
    assert _equal(new.params["policy"], new_other.params["policy"]) != sees_updated_critics
    assert not _equal(new.params["q1"], new_other.params["q1"])


def test_policy_randomness_never_moves_the_critics() -> None:
    config, state, randomness, update = _setup("edp_td3")
    new, _ = update(state, _batch(), randomness, config)
    flipped = dataclasses.replace(
        randomness,
        diffusion=dataclasses.replace(randomness.diffusion, noise=-randomness.diffusion.noise),
        head_uniform=1.0 - randomness.head_uniform,
    )
    new_flipped, _ = update(state, _batch(), flipped, config)
    assert _equal(new.params["q1"], new_flipped.params["q1"])
    assert _equal(new.params["q2"], new_flipped.params["q2"])
    assert not _equal(new.params["policy"], new_flipped.params["policy"])


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_update_is_deterministic_bitwise(name: str) -> None:
    config, state, randomness, update = _setup(name)
    first = state_tensors(update(state, _batch(), randomness, config)[0])
    second = state_tensors(update(state, _batch(), randomness, config)[0])
    assert all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.parametrize("name", list(ALGORITHMS))
@pytest.mark.parametrize("field", ["observations", "rewards", "terminals"])
def test_nan_batch_raises_naming_the_tensor(name: str, field: str) -> None:
    config, state, randomness, update = _setup(name)
    batch = _batch()
    poisoned = getattr(batch, field).clone()
    poisoned[0] = float("nan")
    with pytest.raises(ValueError, match=rf"batch\.{field}"):
        update(state, dataclasses.replace(batch, **{field: poisoned}), randomness, config)


def _output_layer(state: TrainState) -> torch.nn.Module:
    """The noise network's output layer: it runs once per model call, a sampler's included."""
    body = state.networks.policy.body
    assert isinstance(body, torch.nn.Sequential)
    return body[-1]


def test_iql_update_never_samples_from_the_policy() -> None:
    config, state, randomness, update = _setup("edp_iql")
    calls: list[int] = []
    handle = _output_layer(state).register_forward_hook(lambda *args: calls.append(1))
    try:
        update(state, _batch(), randomness, config)
    finally:
        handle.remove()
    # One forward pass of eps_theta (L_diff and a_hat0 share it); any sampler would need more.
    assert len(calls) == 1


def test_td3_runs_the_sampler_for_next_actions() -> None:
    config, state, randomness, update = _setup("edp_td3")
    calls: list[int] = []
    # The sampler's calls skip the module's forward (Networks.conditioned_noise).
    handle = _output_layer(state).register_forward_hook(lambda *args: calls.append(1))
    try:
        update(state, _batch(), randomness, config)
    finally:
        handle.remove()
    assert len(calls) == 1 + config.diffusion.dpm_steps


# ------------------------------------------------------------------ hand computations


def _module(module: torch.nn.Module, params: dict[str, Tensor]) -> torch.nn.Module:
    module = module.to(DT)
    module.load_state_dict(params, strict=True)
    return module


def _q(params: dict[str, Tensor]) -> torch.nn.Module:
    return _module(QNetwork(S, A, NET.hidden, NET.layers), params)


def _eps_net(params: dict[str, Tensor]) -> torch.nn.Module:
    return _module(NoisePredictionNetwork(S, A, NET.hidden, NET.layers), params)


def _approximation(
    state: TrainState, params: dict[str, Tensor], batch: Batch, k: Tensor, eps: Tensor
) -> tuple[Tensor, Tensor]:
    schedule = state.networks.schedule
    assert schedule is not None
    ab = schedule.alpha_bars[k].to(DT)[:, None]
    a_k = ab.sqrt() * batch.actions + (1 - ab).sqrt() * eps
    eps_hat = _eps_net(params)(batch.observations, a_k, k.to(DT))
    a0 = ((a_k - (1 - ab).sqrt() * eps_hat) / ab.sqrt()).clamp(-1, 1)
    return eps_hat, a0


def test_edp_td3_losses_match_hand_computation() -> None:
    config, state, rnd, update = _setup("edp_td3")
    batch = _batch()
    _, metrics = update(state, batch, rnd, config)
    P, T = state.params, state.target_params
    with torch.no_grad():
        a_next = sample_actions(
            state, batch.next_observations, rnd.next_actions, DIFF, use_ema=True
        )
        q_next = torch.minimum(
            _q(T["q1"])(batch.next_observations, a_next),
            _q(T["q2"])(batch.next_observations, a_next),
        )
        y = batch.rewards + 0.99 * (1 - batch.terminals) * q_next
        critic = sum(
            ((_q(P[n])(batch.observations, batch.actions) - y) ** 2).mean() for n in ("q1", "q2")
        )
        eps = rnd.diffusion.noise
        eps_hat, a0 = _approximation(state, P["policy"], batch, rnd.diffusion.timesteps, eps)
        l_diff = ((eps - eps_hat) ** 2).mean()
        head = "q1" if float(rnd.head_uniform) > 0.5 else "q2"
        q_pi = _q(P[head])(batch.observations, a0)
        policy = l_diff - 2.0 / q_pi.abs().mean() * q_pi.mean()
    torch.testing.assert_close(metrics["critic_loss"], critic)
    torch.testing.assert_close(metrics["diffusion_loss"], l_diff)
    torch.testing.assert_close(metrics["policy_loss"], policy)


def test_edp_crr_policy_loss_matches_hand_computation() -> None:
    config, state, rnd, update = _setup("edp_crr")
    batch = _batch()
    _, metrics = update(state, batch, rnd, config)
    P = state.params
    with torch.no_grad():
        eps = rnd.diffusion.noise
        eps_hat, a0 = _approximation(state, P["policy"], batch, rnd.diffusion.timesteps, eps)
        q1, q2 = _q(P["q1"]), _q(P["q2"])
        s, a = batch.observations, batch.actions
        baseline = torch.stack(
            [torch.minimum(q1(s, a0 + xi), q2(s, a0 + xi)) for xi in rnd.baseline_noise]
        ).mean(0)
        adv = torch.minimum(q1(s, a), q2(s, a)) - baseline
        w = torch.exp(adv).clamp(max=20.0)
        guide = (w * ((a - a0) ** 2).sum(-1)).mean()
        policy = ((eps - eps_hat) ** 2).mean() + guide
    torch.testing.assert_close(metrics["advantage_mean"], adv.mean())
    torch.testing.assert_close(metrics["guide_loss"], guide)
    torch.testing.assert_close(metrics["policy_loss"], policy)


def test_edp_iql_losses_match_hand_computation() -> None:
    config, state, rnd, update = _setup("edp_iql")
    batch = _batch()
    new, metrics = update(state, batch, rnd, config)
    P, T = state.params, state.target_params
    s, a = batch.observations, batch.actions
    with torch.no_grad():
        q_t = torch.minimum(_q(T["q1"])(s, a), _q(T["q2"])(s, a))
        v = _module(ValueNetwork(S, NET.hidden, NET.layers), P["value"])
        x = q_t - v(s)
        value_loss = (torch.where(x < 0, 0.3, 0.7) * x**2).mean()
        v_new = _module(ValueNetwork(S, NET.hidden, NET.layers), new.params["value"])
        w = torch.exp(1.0 * (q_t - v_new(s))).clamp(max=100.0)
        eps = rnd.diffusion.noise
        eps_hat, a0 = _approximation(state, P["policy"], batch, rnd.diffusion.timesteps, eps)
        policy = ((eps - eps_hat) ** 2).mean() + (w * ((a - a0) ** 2).sum(-1)).mean()
        y = batch.rewards + 0.99 * (1 - batch.terminals) * v_new(batch.next_observations)
        critic = sum(((_q(P[n])(s, a) - y) ** 2).mean() for n in ("q1", "q2"))
    torch.testing.assert_close(metrics["value_loss"], value_loss)
    torch.testing.assert_close(metrics["policy_loss"], policy)
    torch.testing.assert_close(metrics["critic_loss"], critic)


def test_td3bc_losses_match_hand_computation() -> None:
    config, state, rnd, update = _setup("td3bc")
    batch = _batch()
    new, metrics = update(state, batch, rnd, config)
    P, T = state.params, state.target_params
    s, a = batch.observations, batch.actions
    actor_t = _module(DeterministicPolicyNetwork(S, A, NET), T["policy"])
    actor = _module(DeterministicPolicyNetwork(S, A, NET), P["policy"])
    with torch.no_grad():
        noise = (0.2 * rnd.smoothing_noise).clamp(-0.5, 0.5)
        a_next = (actor_t(batch.next_observations) + noise).clamp(-1, 1)
        q_next = torch.minimum(
            _q(T["q1"])(batch.next_observations, a_next),
            _q(T["q2"])(batch.next_observations, a_next),
        )
        y = batch.rewards + 0.99 * (1 - batch.terminals) * q_next
        critic = sum(((_q(P[n])(s, a) - y) ** 2).mean() for n in ("q1", "q2"))
        q_pi = _q(new.params["q1"])(s, actor(s))  # the actor sees the just-updated Q1
        policy = -2.5 / q_pi.abs().mean() * q_pi.mean() + ((actor(s) - a) ** 2).mean()
    torch.testing.assert_close(metrics["critic_loss"], critic)
    torch.testing.assert_close(metrics["policy_loss"], policy)


def test_td3bc_delays_actor_and_targets() -> None:
    config = dataclasses.replace(ALGORITHMS["td3bc"][0], policy_delay=2)
    _, state, rnd, update = _setup("td3bc", config)
    first, metrics = update(state, _batch(), rnd, config)
    assert float(metrics["actor_updated"]) == 0.0
    assert _equal(first.params["policy"], state.params["policy"])
    assert _equal(first.target_params["q1"], state.target_params["q1"])
    second, metrics = update(first, _batch(), rnd, config)
    assert float(metrics["actor_updated"]) == 1.0
    assert not _equal(second.params["policy"], first.params["policy"])


def test_gradient_clipping_bounds_the_update_norm() -> None:
    # With one Adam step every parameter moves by lr * g / (|g| + eps): clipping changes nothing
    # there, so the bound is checked on the clipped gradient that Adam receives (first moment).
    config = dataclasses.replace(
        ALGORITHMS["edp_td3"][0],
        optimizer=dataclasses.replace(ALGORITHMS["edp_td3"][0].optimizer, max_grad_norm=1e-3),
    )
    _, state, rnd, update = _setup("edp_td3", config)
    new, metrics = update(state, _batch(), rnd, config)
    for net in ("policy", "q1", "q2"):
        mu = new.optimizers[net].mu
        clipped_norm = torch.sqrt(sum((m / 0.1).square().sum() for m in mu.values()))
        assert float(clipped_norm) <= 1e-3 * (1 + 1e-9)
        assert float(metrics[f"{net}_grad_norm"]) > 1e-3


def test_eas_selects_among_sampled_candidates_by_q() -> None:
    _, state, _, _ = _setup("edp_td3")
    g = torch.Generator().manual_seed(3)
    n = 5
    obs = _batch().observations
    noise = draw_sampler_noise("dpm_solver", DIFF.num_steps, B * n, A, g, "cpu", DT)
    u = torch.full((B,), 0.999999, dtype=DT)
    chosen = select_actions(state, obs, noise, u, n, DIFF, temperature=1e-6)
    candidates = sample_actions(state, obs.repeat_interleave(n, 0), noise, DIFF).reshape(B, n, A)
    q = torch.minimum(
        _q(state.params["q1"])(obs[:, None].expand(-1, n, -1), candidates),
        _q(state.params["q2"])(obs[:, None].expand(-1, n, -1), candidates),
    )
    best = candidates[torch.arange(B), q.argmax(1)]
    torch.testing.assert_close(chosen, best.detach())


@pytest.mark.parametrize("order", ["iql", "corl"])
def test_gaussian_iql_update_order_picks_the_value_network(order: str) -> None:
    """IQL's order: the advantage and the TD target use V after this update's value step; CORL's
    (``update_order="corl"``): V before it (SPEC.md section 4)."""
    config, state, randomness, update = _setup("gaussian_iql")
    config = dataclasses.replace(config, update_order=order)
    batch = _batch()
    new, metrics = update(state, batch, randomness, config)
    value = new.params["value"] if order == "iql" else state.params["value"]
    nets = state.networks
    q_target = nets.min_q(
        state.target_params["q1"], state.target_params["q2"], batch.observations, batch.actions
    )
    advantage = q_target - nets.state_value(value, batch.observations)
    torch.testing.assert_close(metrics["advantage_mean"], advantage.mean().detach())
    y = batch.rewards + (1 - batch.terminals) * config.discount * nets.state_value(
        value, batch.next_observations
    )
    torch.testing.assert_close(metrics["target_q_mean"], y.mean().detach())
    other = dataclasses.replace(config, update_order="corl" if order == "iql" else "iql")
    assert not _equal(new.params["q1"], update(state, batch, randomness, other)[0].params["q1"])
