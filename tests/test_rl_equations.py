"""The RL equations of edp_ref.core.rl (Eqs. 6, 14-16, 20-22): hand-computed values in float32
and float64, the gradient TD3+BC's scale stops, vmap and compile, errors naming the argument."""

import math

import pytest
import torch

import edp_ref as E
from edp_ref.compilation import compile_function

DTYPES = [torch.float32, torch.float64]


def t(values: list[float] | list[list[float]], dtype: torch.dtype) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bellman_and_clipped_double_q_targets_hand_values(dtype: torch.dtype) -> None:
    r, d = t([1.0, -0.5, 2.0], dtype), t([0.0, 1.0, 0.0], dtype)
    v = t([10.0, 7.0, -4.0], dtype)
    # y = r + (1 - d) gamma V': a terminal transition keeps its reward only.
    y = E.bellman_target(r, d, v, 0.5)
    assert y.dtype == dtype
    torch.testing.assert_close(y, t([1.0 + 5.0, -0.5, 2.0 - 2.0], dtype))
    q1, q2 = t([10.0, 3.0, -4.0], dtype), t([8.0, 7.0, -1.0], dtype)
    # Eq. 14: min(Q1', Q2') = [8, 3, -4].
    torch.testing.assert_close(
        E.clipped_double_q_target(r, d, q1, q2, 0.9), t([1.0 + 7.2, -0.5, 2.0 - 3.6], dtype)
    )
    torch.testing.assert_close(E.bellman_target(r, d, v, 0.0), r)


@pytest.mark.parametrize("dtype", DTYPES)
def test_td_loss_hand_value(dtype: torch.dtype) -> None:
    # mean of (1 - 0)^2, (2 - 4)^2, (-1 - -1)^2, (0.5 - 0)^2 = (1 + 4 + 0 + 0.25) / 4
    loss = E.td_loss(t([1.0, 2.0, -1.0, 0.5], dtype), t([0.0, 4.0, -1.0, 0.0], dtype))
    assert loss.dtype == dtype and loss.shape == ()
    assert float(loss) == pytest.approx(5.25 / 4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_target_policy_smoothing_clips_noise_then_action(dtype: torch.dtype) -> None:
    pi = t([[0.5, -0.9], [0.95, 0.0]], dtype)
    xi = t([[1.0, -4.0], [1.0, 0.5]], dtype)
    # sigma xi = [[0.2, -0.8], [0.2, 0.1]] -> clipped to +-0.5: [[0.2, -0.5], [0.2, 0.1]];
    # pi + noise = [[0.7, -1.4], [1.15, 0.1]] -> clipped to +-1.
    out = E.target_policy_smoothing(pi, xi, 0.2, 0.5, 1.0)
    torch.testing.assert_close(out, t([[0.7, -1.0], [1.0, 0.1]], dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_q_loss_scale_is_alpha_over_mean_abs_q_and_stops_the_gradient(dtype: torch.dtype) -> None:
    q = t([2.0, -6.0, 4.0], dtype).requires_grad_()
    scale = E.q_loss_scale(q, 2.5)
    assert float(scale) == pytest.approx(2.5 / 4.0)
    assert not scale.requires_grad
    # TD3+BC's Q term -scale mean Q differentiates as a constant times mean Q.
    (-scale * q.mean()).backward()
    assert q.grad is not None
    torch.testing.assert_close(q.grad, torch.full((3,), -2.5 / 4.0 / 3, dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_crr_advantage_subtracts_the_mean_of_the_samples(dtype: torch.dtype) -> None:
    q_data = t([1.0, 5.0], dtype)
    q_samples = t([[0.0, 4.0], [2.0, 8.0], [1.0, 0.0]], dtype)  # [N = 3, B = 2]
    torch.testing.assert_close(E.crr_advantage(q_data, q_samples), t([0.0, 1.0], dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_capped_exponential_weights_hand_values(dtype: torch.dtype) -> None:
    x = t([0.0, 1.0, math.log(50.0)], dtype)
    torch.testing.assert_close(E.capped_exponential_weights(x, 20.0), t([1.0, math.e, 20.0], dtype))
    torch.testing.assert_close(E.capped_exponential_weights(x, None), t([1.0, math.e, 50.0], dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_expectile_loss_weights_positive_and_negative_errors(dtype: torch.dtype) -> None:
    # u = Q - V: positives weigh tau, negatives 1 - tau: (0.7 * 4 + 0.3 * 1 + 0.7 * 0.25) / 3
    loss = E.expectile_loss(t([2.0, -1.0, 0.5], dtype), 0.7)
    assert loss.dtype == dtype
    assert float(loss) == pytest.approx((2.8 + 0.3 + 0.175) / 3)
    # tau = 0.5 is half the mean squared error.
    u = t([3.0, -2.0], dtype)
    assert float(E.expectile_loss(u, 0.5)) == pytest.approx(0.5 * 13.0 / 2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_log_prob_hand_value(dtype: torch.dtype) -> None:
    a, mean = t([[1.0, 0.0]], dtype), t([[0.0, 0.0]], dtype)
    log_std = t([[0.0, math.log(2.0)]], dtype)
    # log N(1; 0, 1) + log N(0; 0, 4) = (-0.5 - log sqrt(2 pi)) + (-log 2 - log sqrt(2 pi))
    expected = -0.5 - math.log(2.0) - math.log(2.0 * math.pi)
    out = E.gaussian_log_prob(a, mean, log_std)
    assert out.shape == (1,)
    assert float(out[0]) == pytest.approx(expected)
    reference = torch.distributions.Normal(mean, log_std.exp()).log_prob(a).sum(-1)
    torch.testing.assert_close(out, reference)


def test_vmap_and_compile_equal_the_plain_call() -> None:
    gen = torch.Generator().manual_seed(0)
    r, d, q1, q2 = (torch.randn(4, 5, generator=gen) for _ in range(4))
    batched = torch.func.vmap(lambda *x: E.clipped_double_q_target(*x, 0.99))(r, d, q1, q2)
    looped = torch.stack(
        [E.clipped_double_q_target(r[i], d[i], q1[i], q2[i], 0.99) for i in range(4)]
    )
    torch.testing.assert_close(batched, looped)
    u = torch.randn(16, generator=gen)
    compiled = compile_function(E.expectile_loss)
    torch.testing.assert_close(compiled(u, 0.9), E.expectile_loss(u, 0.9))


def test_bad_inputs_raise_errors_naming_the_argument() -> None:
    z = torch.zeros(3)
    with pytest.raises(ValueError, match=r"bellman_target: argument 'discount' must lie in"):
        E.bellman_target(z, z, z, 1.5)
    with pytest.raises(ValueError, match="'next_value' contains 1 non-finite"):
        E.bellman_target(z, z, torch.tensor([0.0, float("nan"), 0.0]), 0.9)
    with pytest.raises(ValueError, match=r"'next_q2' has dtype torch\.float64"):
        E.clipped_double_q_target(z, z, z, z.double(), 0.9)
    with pytest.raises(ValueError, match="'y' is on device meta"):
        E.td_loss(z, torch.zeros(3, device="meta"))
    with pytest.raises(ValueError, match="'noise_clip' must lie in"):
        E.target_policy_smoothing(torch.zeros(2, 2), torch.zeros(2, 2), 0.2, -0.5, 1.0)
    with pytest.raises(ValueError, match="'alpha' must lie in"):
        E.q_loss_scale(z, -1.0)
    with pytest.raises(ValueError, match="'q_samples' contains 1 non-finite"):
        E.crr_advantage(z, torch.tensor([[0.0, float("inf"), 0.0]]))
    with pytest.raises(ValueError, match="'cap' must be positive"):
        E.capped_exponential_weights(z, 0.0)
    with pytest.raises(ValueError, match=r"'expectile' must lie in \[0.0, 1.0\], got 1.5"):
        E.expectile_loss(z, 1.5)
    with pytest.raises(ValueError, match="'log_std' has dtype"):
        E.gaussian_log_prob(torch.zeros(1, 2), torch.zeros(1, 2), torch.zeros(1, 2).double())


def test_wrong_shapes_are_rejected_by_the_annotations() -> None:
    # Under pytest the jaxtyping import hook checks every annotated shape with beartype.
    with pytest.raises(TypeError, match="q_samples"):
        E.crr_advantage(torch.zeros(3), torch.zeros(4, 2))
    with pytest.raises(TypeError, match="noise"):
        E.target_policy_smoothing(torch.zeros(2, 2), torch.zeros(2, 3), 0.2, 0.5, 1.0)
