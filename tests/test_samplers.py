"""DDPM (Eqs. 3-4) and DPM-Solver (Sec. 4.2): time grid, official equivalence, clipping,
golden sampling loops, App. C.4 knobs, compile, and bad inputs."""

import math

import pytest
import torch
from torch import Tensor

from edp_ref import (
    NoisePredictionNetwork,
    Schedule,
    ddpm_sample,
    ddpm_step,
    dpm_solver_orders,
    dpm_solver_plan,
    dpm_solver_sample,
    make_schedule,
)
from edp_ref.compilation import compile_function
from edp_ref.core.dpm_solver import clip_index
from tests.official_dpm_solver import official_dpm_solver


def analytic_eps(x: Tensor, t: Tensor) -> Tensor:
    """A smooth, nonlinear, time-dependent stand-in for a trained noise network."""
    return torch.tanh(0.8 * x + 0.3) + 0.1 * torch.sin(t / 100.0)[:, None]


def deterministic_noise(*shape: int, dtype: torch.dtype = torch.float64) -> Tensor:
    n = math.prod(shape)
    return torch.sin(torch.arange(n, dtype=dtype) * 1.7 + 0.3).reshape(shape)


def test_order_schedule_and_time_grid_of_facts() -> None:
    plan = dpm_solver_plan(make_schedule("linear", 1000), steps=15, order=3, t_end=1e-3)
    assert plan.orders == (3, 3, 3, 3, 2, 1)
    expected_outer = [1.0, 0.8002, 0.6004, 0.4006, 0.2008, 0.0676, 0.001]
    assert plan.outer_times == pytest.approx(expected_outer, abs=1e-12)
    # model times N t - 1 of the first evaluations: 999, 932.4, 865.8, 799.2, ...
    assert plan.model_times[:4] == pytest.approx([999.0, 932.4, 865.8, 799.2], abs=1e-6)
    assert len(plan.model_times) == 15
    # the last update is first order: one evaluation at its start time t = 0.0676
    assert plan.model_times[-1] == pytest.approx(66.6, abs=1e-9)


@pytest.mark.parametrize(
    ("steps", "order", "expected"),
    [
        (15, 3, (3, 3, 3, 3, 2, 1)),
        (16, 3, (3, 3, 3, 3, 3, 1)),
        (17, 3, (3, 3, 3, 3, 3, 2)),
        (3, 3, (2, 1)),
        (7, 2, (2, 2, 2, 1)),
        (8, 2, (2, 2, 2, 2)),
        (4, 1, (1, 1, 1, 1)),
    ],
)
def test_order_rule(steps: int, order: int, expected: tuple[int, ...]) -> None:
    assert dpm_solver_orders(steps, order) == expected
    assert sum(expected) == steps


@pytest.mark.parametrize(
    ("kind", "K", "steps", "order"),
    [
        ("linear", 1000, 15, 3),
        ("linear", 1000, 10, 2),
        ("linear", 1000, 5, 1),
        ("linear", 100, 16, 3),
        ("cosine", 200, 17, 3),
        ("vp", 50, 9, 3),
    ],
)
def test_equals_official_dpm_solver_without_clipping(
    kind: str, K: int, steps: int, order: int
) -> None:
    schedule = make_schedule(kind, K)
    gen = torch.Generator().manual_seed(3)
    net = NoisePredictionNetwork(4, 3, hidden=32, generator=gen).double()
    state = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    a_T = torch.randn(5, 3, generator=gen, dtype=torch.float64)

    def eps_fn(a: Tensor, t: Tensor) -> Tensor:
        return net(state, a, t)

    with torch.no_grad():
        ours = dpm_solver_sample(schedule, eps_fn, a_T, steps, order, 1 / K, clip=None)
        official = official_dpm_solver(schedule, eps_fn, a_T, steps, order, 1 / K)
    torch.testing.assert_close(ours, official, rtol=1e-10, atol=1e-10)


def test_clipping_bounds_the_implied_action() -> None:
    schedule = make_schedule("linear", 1000)

    def wild_eps(a: Tensor, t: Tensor) -> Tensor:
        return -5.0 * torch.ones_like(a)  # implies actions far outside [-1, 1]

    a_T = deterministic_noise(4, 2)
    plan = dpm_solver_plan(schedule, 6, 3, 1e-3)
    out = dpm_solver_sample(schedule, wild_eps, a_T, 6, 3, clip=1.0)
    out_unclipped = dpm_solver_sample(schedule, wild_eps, a_T, 6, 3, clip=None)
    assert bool((out_unclipped.abs() > 1.5).any())
    # With clipping, each eps is the noise of a clipped action estimate; the ODE then moves
    # the sample towards [-1, 1].
    assert float(out.abs().max()) <= 1.0 + 0.05
    assert plan.updates[0].clip_recip[0] == pytest.approx(
        1 / math.sqrt(float(schedule.alpha_bars[999]))
    )


def test_eps_clipping_uses_alpha_bar_at_floor_of_model_time() -> None:
    schedule = make_schedule("linear", 1000)
    plan = dpm_solver_plan(schedule, 15, 3, 1e-3)
    u = plan.updates[0]
    idx = math.floor(u.model_times[1])  # 932.4 -> 932
    assert u.clip_recipm1[1] == pytest.approx(math.sqrt(1 / float(schedule.alpha_bars[idx]) - 1))


def test_clip_indices_are_exact_arithmetic_floors_at_k1000() -> None:
    """K = 1000, DPM-Solver-15 to t_end 1e-3: model times 999 - 66.6 j. 666 (float64:
    665.9999999999999) and 333 are integers in exact arithmetic and index their own alpha_bar,
    as the official EDP code run in float64 does (its float32 run takes 665 and 332: SPEC.md
    section 4, pinned against the official code by scripts/crosscheck_official.py)."""
    schedule = make_schedule("linear", 1000)
    plan = dpm_solver_plan(schedule, 15, 3, 1e-3)
    indices = [i for u in plan.updates for i in u.clip_indices]
    exact = [999 + (-666 * j) // 10 for j in range(15)]  # floor(999 - 66.6 j), exactly
    assert indices == exact
    assert 666 in indices and 333 in indices
    where = indices.index(666)
    assert plan.model_times[where] != 666.0  # float64 misses it: the snap is what decides
    assert plan.updates[where // 3].clip_recip[where % 3] == pytest.approx(
        1 / math.sqrt(float(schedule.alpha_bars[666])), rel=1e-15
    )


@pytest.mark.parametrize(
    ("model_time", "expected"),
    [
        (665.9999999999999, 666),
        (666.0000000000001, 666),
        (665.99, 665),
        (932.4, 932),
        (-0.3, 0),
        (1000.2, 999),
    ],
)
def test_clip_index_table(model_time: float, expected: int) -> None:
    assert clip_index(model_time, 1000) == expected


def test_ddpm_step_hand_value() -> None:
    s = Schedule.from_betas(torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64))
    a_k = torch.tensor([[0.4, -0.3]], dtype=torch.float64)
    eps = torch.tensor([[0.2, 0.1]], dtype=torch.float64)
    noise = torch.tensor([[1.0, -1.0]], dtype=torch.float64)
    k = torch.tensor([1])
    out = ddpm_step(s, a_k, k, eps, noise, clip=None, variance="beta")
    # Eq. 4: (a - beta / sqrt(1 - ab) eps) / sqrt(alpha) + sqrt(beta) noise, beta=.2, ab=.72
    mean = [(v - 0.2 / math.sqrt(0.28) * e) / math.sqrt(0.8) for v, e in [(0.4, 0.2), (-0.3, 0.1)]]
    expected = [mean[0] + math.sqrt(0.2), mean[1] - math.sqrt(0.2)]
    torch.testing.assert_close(out, torch.tensor([expected], dtype=torch.float64))
    # posterior ("fixed small") variance: std = sqrt(0.2 * 0.1 / 0.28)
    out_post = ddpm_step(s, a_k, k, eps, noise, clip=None)
    std = math.sqrt(0.02 / 0.28)
    torch.testing.assert_close(
        out_post, torch.tensor([[mean[0] + std, mean[1] - std]], dtype=torch.float64)
    )
    # last step (k = 0) returns the clipped action estimate, no noise
    last = ddpm_step(
        s, torch.tensor([[3.0, 0.1]], dtype=torch.float64), torch.tensor([0]), eps, noise
    )
    expected0 = (0.1 - math.sqrt(0.1) * 0.1) / math.sqrt(0.9)
    torch.testing.assert_close(last, torch.tensor([[1.0, expected0]], dtype=torch.float64))


# Golden numbers: full sampling loops with an analytic eps_fn and deterministic noise, computed
# with edp_ref 0.1.0 (float64). They pin the loop order, the noise indexing and the clipping.
# GOLDEN_DPM recomputed when the clip index at model time 666 became the exact-arithmetic 666
# (was 665 by float64 round-off; see test_clip_indices_are_exact_arithmetic_floors_at_k1000).
GOLDEN_DPM = [
    [-0.41193146516870843, 0.9636255674373466],
    [-1.004645219071281, -1.0066371946010209],
]
GOLDEN_DDPM = [[0.2039053925535812, -0.5457892917157955], [-1.0, -0.4969109788437872]]


def test_dpm_solver_golden_loop() -> None:
    schedule = make_schedule("linear", 1000)
    out = dpm_solver_sample(schedule, analytic_eps, deterministic_noise(2, 2))
    torch.testing.assert_close(
        out, torch.tensor(GOLDEN_DPM, dtype=torch.float64), rtol=0, atol=1e-10
    )


def test_ddpm_golden_loop() -> None:
    schedule = make_schedule("vp", 5)
    out = ddpm_sample(
        schedule, analytic_eps, deterministic_noise(2, 2), deterministic_noise(5, 2, 2) * 0.7
    )
    torch.testing.assert_close(
        out, torch.tensor(GOLDEN_DDPM, dtype=torch.float64), rtol=0, atol=1e-10
    )


def test_ddpm_sample_calls_the_network_once_per_step_with_descending_timesteps() -> None:
    schedule = make_schedule("vp", 5)
    calls: list[list[float]] = []

    def spy(a: Tensor, t: Tensor) -> Tensor:
        calls.append(t.tolist())
        return torch.zeros_like(a)

    ddpm_sample(schedule, spy, torch.zeros(3, 2), torch.zeros(5, 3, 2))
    assert calls == [[float(k)] * 3 for k in (4, 3, 2, 1, 0)]


def test_controlled_sampling_knobs() -> None:
    schedule = make_schedule("linear", 1000)
    a_T = deterministic_noise(3, 2)
    base = dpm_solver_sample(schedule, analytic_eps, a_T, 9, clip=None)
    scaled = dpm_solver_sample(schedule, analytic_eps, a_T, 9, clip=None, policy_scale=1.5)
    by_hand = dpm_solver_sample(schedule, lambda a, t: 1.5 * analytic_eps(a, t), a_T, 9, clip=None)
    torch.testing.assert_close(scaled, by_hand)
    assert not torch.allclose(base, scaled)
    zero_a = dpm_solver_sample(schedule, analytic_eps, a_T, 9, initial_noise_scale=0.0)
    zero_b = dpm_solver_sample(schedule, analytic_eps, -3 * a_T, 9, initial_noise_scale=0.0)
    torch.testing.assert_close(zero_a, zero_b)
    noises = deterministic_noise(100, 3, 2)
    short = make_schedule("linear", 100)
    half = ddpm_sample(short, analytic_eps, a_T, noises, initial_noise_scale=0.5)
    manual = ddpm_sample(short, analytic_eps, 0.5 * a_T, noises)
    torch.testing.assert_close(half, manual)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_follows_input(dtype: torch.dtype) -> None:
    schedule = make_schedule("linear", 100)
    out = dpm_solver_sample(
        schedule, analytic_eps, deterministic_noise(2, 3, dtype=dtype), 6, t_end=0.01
    )
    assert out.dtype == dtype
    out = ddpm_sample(
        make_schedule("vp", 5),
        analytic_eps,
        deterministic_noise(2, 3, dtype=dtype),
        deterministic_noise(5, 2, 3, dtype=dtype),
    )
    assert out.dtype == dtype


def test_float32_tracks_float64() -> None:
    schedule = make_schedule("linear", 1000)
    a64 = deterministic_noise(4, 3)
    out64 = dpm_solver_sample(schedule, analytic_eps, a64)
    out32 = dpm_solver_sample(schedule, analytic_eps, a64.float())
    torch.testing.assert_close(out32.double(), out64, rtol=0, atol=1e-4)


def test_compiled_sampler_equals_eager() -> None:
    schedule = make_schedule("linear", 100)
    gen = torch.Generator().manual_seed(5)
    net = NoisePredictionNetwork(3, 2, hidden=16, generator=gen)
    state = torch.randn(4, 3, generator=gen)
    a_T = torch.randn(4, 2, generator=gen)

    def sample(state: Tensor, a_T: Tensor) -> Tensor:
        return dpm_solver_sample(schedule, lambda a, t: net(state, a, t), a_T, 6, t_end=0.01)

    with torch.no_grad():
        eager = sample(state, a_T)
        compiled = compile_function(sample)(state, a_T)
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-5)


def test_sampler_bad_inputs() -> None:
    schedule = make_schedule("vp", 5)
    a = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"noises must hold one \[B, A\] slice per step \(K = 5\)"):
        ddpm_sample(schedule, analytic_eps, a, torch.zeros(4, 2, 3))
    with pytest.raises(ValueError, match="eps_fn must return a tensor shaped like its input"):
        dpm_solver_sample(schedule, lambda x, t: x[:, :1], a, 3, t_end=0.2)
    with pytest.raises(ValueError, match="'eps_fn output' contains"):
        dpm_solver_sample(schedule, lambda x, t: x * float("nan"), a, 3, t_end=0.2)
    with pytest.raises(ValueError, match=r"lies before the first discrete time 1/N = 0\.2"):
        dpm_solver_sample(schedule, analytic_eps, a, 3, t_end=0.1)
    with pytest.raises(ValueError, match="t_end must lie in"):
        dpm_solver_sample(schedule, analytic_eps, a, 3, t_end=1.5)
    with pytest.raises(ValueError, match="order must be 1, 2 or 3"):
        dpm_solver_sample(schedule, analytic_eps, a, 3, order=4, t_end=0.2)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        dpm_solver_sample(schedule, analytic_eps, a, 0, t_end=0.2)
    with pytest.raises(ValueError, match="'a_T' contains"):
        dpm_solver_sample(schedule, analytic_eps, a * float("inf"), 3, t_end=0.2)
    with pytest.raises((TypeError, ValueError), match="variance"):
        ddpm_step(schedule, a, torch.tensor([1, 1]), a, a, variance="large")  # type: ignore[arg-type]
