"""Algorithm 2 (energy-based action selection): hand-computed probabilities and picks."""

import math

import pytest
import torch

from edp_ref import eas_index, eas_probabilities, energy_based_action_selection

Q = torch.tensor([[0.0, math.log(3.0)], [math.log(2.0), 0.0]], dtype=torch.float64)
ACTIONS = torch.tensor([[[1.0], [2.0]], [[3.0], [4.0]]], dtype=torch.float64)


def test_probabilities_hand_value() -> None:
    p = eas_probabilities(Q)
    torch.testing.assert_close(p, torch.tensor([[0.25, 0.75], [2 / 3, 1 / 3]], dtype=torch.float64))
    # temperature 2: weights e^{Q/2} = [1, sqrt 3]
    p2 = eas_probabilities(Q, temperature=2.0)
    r3 = math.sqrt(3.0)
    assert float(p2[0, 0]) == pytest.approx(1 / (1 + r3))


@pytest.mark.parametrize(
    ("u0", "u1", "expected"),
    [(0.0, 0.0, [0, 0]), (0.2, 0.6, [0, 0]), (0.25, 2 / 3 + 1e-9, [1, 1]), (0.99, 0.999, [1, 1])],
)
def test_inverse_cdf_picks(u0: float, u1: float, expected: list[int]) -> None:
    u = torch.tensor([u0, u1], dtype=torch.float64)
    assert eas_index(Q, u).tolist() == expected
    picked = energy_based_action_selection(ACTIONS, Q, u)
    assert picked[:, 0].tolist() == [ACTIONS[i, j, 0].item() for i, j in enumerate(expected)]


def test_never_picks_a_zero_probability_candidate() -> None:
    q = torch.tensor([[0.0, -1e6, 0.0, -1e6]], dtype=torch.float64)
    for u in torch.linspace(0, 0.999999, 101, dtype=torch.float64):
        assert eas_index(q, u.reshape(1)).item() in (0, 2)


def test_selection_bad_inputs() -> None:
    with pytest.raises(ValueError, match=r"uniforms in \[0, 1\)"):
        eas_index(Q, torch.tensor([0.5, 1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="'q' contains"):
        eas_probabilities(Q * float("nan"))
    with pytest.raises(ValueError, match="temperature must be positive"):
        eas_probabilities(Q, temperature=0.0)
    with pytest.raises(TypeError, match="q"):
        energy_based_action_selection(ACTIONS, Q[:, :1], torch.zeros(2, dtype=torch.float64))
