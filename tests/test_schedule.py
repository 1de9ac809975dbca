"""Eq. 1 and the DDPM quantities: hand-computed schedule values and bad-input errors."""

import math

import pytest
import torch

from edp_ref import Schedule, make_schedule


def small_schedule() -> Schedule:
    return Schedule.from_betas(torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64))


def test_hand_computed_ddpm_quantities() -> None:
    s = small_schedule()
    torch.testing.assert_close(s.alphas, torch.tensor([0.9, 0.8, 0.7], dtype=torch.float64))
    torch.testing.assert_close(s.alpha_bars, torch.tensor([0.9, 0.72, 0.504], dtype=torch.float64))
    torch.testing.assert_close(
        s.alpha_bars_prev, torch.tensor([1.0, 0.9, 0.72], dtype=torch.float64)
    )
    # beta~_k = beta_k (1 - alpha_bar_{k-1}) / (1 - alpha_bar_k)
    expected_var = [0.0, 0.2 * 0.1 / 0.28, 0.3 * 0.28 / 0.496]
    torch.testing.assert_close(
        s.posterior_variance, torch.tensor(expected_var, dtype=torch.float64)
    )
    # log-variance clipped at k = 0 to k = 1's value
    assert s.posterior_log_variance_clipped[0] == pytest.approx(math.log(0.02 / 0.28))
    assert s.posterior_mean_coef1[1] == pytest.approx(0.2 * math.sqrt(0.9) / 0.28)
    assert s.posterior_mean_coef2[1] == pytest.approx(0.1 * math.sqrt(0.8) / 0.28)
    assert s.posterior_mean_coef1[0] == pytest.approx(1.0)
    assert s.posterior_mean_coef2[0] == pytest.approx(0.0)
    assert s.sqrt_recipm1_alpha_bars[2] == pytest.approx(math.sqrt(1 / 0.504 - 1))


def test_linear_schedule_matches_official_scaling() -> None:
    s = make_schedule("linear", 1000)
    assert s.betas.dtype == torch.float64
    assert float(s.betas[0]) == pytest.approx(1e-4)
    assert float(s.betas[-1]) == pytest.approx(0.02)
    assert float(s.alpha_bars[-1]) == pytest.approx(4.0358e-5, rel=1e-3)
    s100 = make_schedule("linear", 100)  # scaled by 1000 / K
    assert float(s100.betas[0]) == pytest.approx(1e-3)
    assert float(s100.betas[-1]) == pytest.approx(0.2)


def test_vp_schedule_matches_diffusion_ql() -> None:
    s = make_schedule("vp", 5)
    expected = [0.196, 0.459, 0.636, 0.755, 0.835]
    torch.testing.assert_close(
        s.betas, torch.tensor(expected, dtype=torch.float64), atol=1e-3, rtol=0
    )


def test_cosine_schedule_first_and_capped_betas() -> None:
    K = 100
    s = make_schedule("cosine", K)

    def alpha_bar(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    assert float(s.betas[0]) == pytest.approx(1 - alpha_bar(1 / K) / alpha_bar(0.0))
    assert float(s.betas[-1]) == pytest.approx(0.999)  # the cap


@pytest.mark.parametrize(
    ("kind", "steps", "message"),
    [
        ("quadratic", 10, "unknown schedule kind"),
        ("linear", 1, "num_steps"),
        ("linear", 10, "every beta must lie in"),  # 0.02 * 1000 / 10 = 2 > 1
    ],
)
def test_bad_schedule_requests(kind: str, steps: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_schedule(kind, steps)


def test_bad_betas() -> None:
    with pytest.raises(ValueError, match="NaN"):
        Schedule.from_betas(torch.tensor([0.1, float("nan")]))
    with pytest.raises(ValueError, match="1-D"):
        Schedule.from_betas(torch.tensor([0.1]))


def test_schedule_moves_device_and_keeps_float64() -> None:
    s = make_schedule("vp", 5).to("cpu")
    assert s.alpha_bars.dtype == torch.float64
    assert s.fingerprint == make_schedule("vp", 5).fingerprint
