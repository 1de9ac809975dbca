"""Eq. 5 (diffusion loss), Eq. 12 (ELBO-weighted loss) and Eq. 13 (Gaussian surrogate):
hand-computed values, variants and errors."""

import math

import pytest
import torch

from edp_ref import (
    Schedule,
    diffusion_loss,
    elbo_weighted_loss,
    elbo_weights,
    gaussian_surrogate_loss,
    make_schedule,
)


def small_schedule() -> Schedule:
    return Schedule.from_betas(torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64))


EPS = torch.tensor([[1.0, 0.0], [0.5, -0.5]], dtype=torch.float64)
EPS_HAT = torch.tensor([[0.0, 0.0], [0.0, 0.5]], dtype=torch.float64)
# per-row squared errors: row 0: 1 + 0 = 1; row 1: 0.25 + 1 = 1.25


def test_diffusion_loss_hand_value() -> None:
    assert float(diffusion_loss(EPS, EPS_HAT)) == pytest.approx((0.5 + 0.625) / 2)
    assert float(diffusion_loss(EPS, EPS_HAT, "sum")) == pytest.approx((1.0 + 1.25) / 2)


def test_elbo_weights_hand_values() -> None:
    s = small_schedule()
    paper = elbo_weights(s, "paper")
    # k >= 1: beta / (2 alpha (1 - alpha_bar_prev)); k = 0 uses the clipped posterior variance
    assert float(paper[1]) == pytest.approx(0.2 / (2 * 0.8 * 0.1))
    assert float(paper[2]) == pytest.approx(0.3 / (2 * 0.7 * 0.28))
    var1 = 0.2 * 0.1 / 0.28
    assert float(paper[0]) == pytest.approx(0.1**2 / (2 * var1 * 0.9 * 0.1))
    raw = [0.1 / (2 * 0.1 * 0.9), 0.2 / (2 * 0.28 * 0.8), 0.3 / (2 * 0.496 * 0.7)]
    official = elbo_weights(s, "official")
    expected = [w * 3 / sum(raw) for w in raw]
    torch.testing.assert_close(official, torch.tensor(expected, dtype=torch.float64))
    assert float(official.mean()) == pytest.approx(1.0)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_elbo_weights_finite_positive_for_real_schedules(kind: str) -> None:
    for variant in ("paper", "official"):
        w = elbo_weights(make_schedule(kind, 1000), variant)  # type: ignore[arg-type]
        assert bool(torch.isfinite(w).all()) and bool((w > 0).all())


def test_elbo_weighted_loss_hand_value() -> None:
    s = small_schedule()
    k = torch.tensor([2, 1])
    f = torch.tensor([2.0, 0.5], dtype=torch.float64)
    w = elbo_weights(s, "paper")
    expected = (float(w[2]) * 2.0 * 0.5 + float(w[1]) * 0.5 * 0.625) / 2
    assert float(elbo_weighted_loss(s, k, EPS, EPS_HAT, f)) == pytest.approx(expected)
    expected_sum = (float(w[2]) * 2.0 * 1.0 + float(w[1]) * 0.5 * 1.25) / 2
    got = elbo_weighted_loss(s, k, EPS, EPS_HAT, f, action_reduction="sum")
    assert float(got) == pytest.approx(expected_sum)


def test_gaussian_surrogate_hand_value_and_official_form() -> None:
    a = EPS
    a0_hat = EPS_HAT
    f = torch.tensor([2.0, 0.5], dtype=torch.float64)
    assert float(gaussian_surrogate_loss(a, a0_hat, f)) == pytest.approx((2 * 1 + 0.5 * 1.25) / 2)
    nll = gaussian_surrogate_loss(a, a0_hat, f, "negative_log_likelihood")
    c = math.log(2 * math.pi)  # 0.5 * A log(2 pi) with A = 2
    assert float(nll) == pytest.approx((2 * (0.5 + c) + 0.5 * (0.625 + c)) / 2)


def test_gradients_flow_to_the_prediction_only() -> None:
    eps_hat = EPS_HAT.clone().requires_grad_(True)
    diffusion_loss(EPS, eps_hat).backward()
    assert eps_hat.grad is not None
    # d/d eps_hat mean_b mean_a (eps - eps_hat)^2 = -2 (eps - eps_hat) / (B A)
    torch.testing.assert_close(eps_hat.grad, -2 * (EPS - EPS_HAT) / 4)


def test_loss_bad_inputs() -> None:
    s = small_schedule()
    with pytest.raises(ValueError, match="'eps_hat' contains"):
        diffusion_loss(EPS, EPS_HAT * float("nan"))
    with pytest.raises(ValueError, match="'weights' contains"):
        gaussian_surrogate_loss(
            EPS, EPS_HAT, torch.tensor([1.0, float("inf")], dtype=torch.float64)
        )
    with pytest.raises(ValueError, match=r"'eps_hat' has dtype torch\.float32"):
        diffusion_loss(EPS, EPS_HAT.float())
    with pytest.raises(ValueError, match=r"0\.\.2"):
        elbo_weighted_loss(
            s, torch.tensor([3, 0]), EPS, EPS_HAT, torch.ones(2, dtype=torch.float64)
        )
    with pytest.raises((TypeError, ValueError), match="variant"):
        elbo_weights(s, "sum")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="weights"):
        gaussian_surrogate_loss(EPS, EPS_HAT, torch.ones(3, dtype=torch.float64))
