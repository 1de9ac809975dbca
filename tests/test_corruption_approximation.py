"""Eq. 8 (forward corruption) and Eq. 9 (action approximation): hand values and errors."""

import math

import pytest
import torch

from edp_ref import Schedule, approximate_action, corrupt, noise_from_action
from edp_ref.compilation import compile_function


def small_schedule() -> Schedule:
    return Schedule.from_betas(torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_corrupt_hand_value(dtype: torch.dtype) -> None:
    s = small_schedule()
    a0 = torch.tensor([[1.0, -0.5], [0.25, 0.0]], dtype=dtype)
    eps = torch.tensor([[0.2, 0.4], [-1.0, 2.0]], dtype=dtype)
    k = torch.tensor([1, 0])
    out = corrupt(s, a0, k, eps)
    r72, r28, r9, r1 = math.sqrt(0.72), math.sqrt(0.28), math.sqrt(0.9), math.sqrt(0.1)
    expected = torch.tensor(
        [[r72 * 1.0 + r28 * 0.2, r72 * -0.5 + r28 * 0.4], [r9 * 0.25 - r1, 2.0 * r1]],
        dtype=dtype,
    )
    assert out.dtype == dtype
    torch.testing.assert_close(out, expected)


def test_approximate_action_hand_value_and_clip() -> None:
    s = small_schedule()
    a_k = torch.tensor([[0.5, -0.2]], dtype=torch.float64)
    eps_hat = torch.tensor([[0.1, 0.3]], dtype=torch.float64)
    k = torch.tensor([2])
    # Eq. 9: a^k / sqrt(ab) - sqrt(1 - ab) / sqrt(ab) eps, ab = 0.504
    ab = 0.504
    expected = [
        0.5 / math.sqrt(ab) - math.sqrt(1 - ab) / math.sqrt(ab) * 0.1,
        -0.2 / math.sqrt(ab) - math.sqrt(1 - ab) / math.sqrt(ab) * 0.3,
    ]
    out = approximate_action(s, a_k, k, eps_hat, clip=None)
    torch.testing.assert_close(out, torch.tensor([expected], dtype=torch.float64))
    # expected[1] is about -0.58: clipping at 0.5 bounds it, the default bound 1.0 does not.
    clipped = approximate_action(s, a_k, k, eps_hat, clip=0.5)
    assert float(clipped[0, 1]) == -0.5
    torch.testing.assert_close(approximate_action(s, a_k, k, eps_hat), out)


def test_noise_from_action_inverts_eq9() -> None:
    s = small_schedule()
    a_k = torch.tensor([[0.5, -0.2], [1.5, 0.1]], dtype=torch.float64)
    eps = torch.tensor([[0.1, 0.3], [-0.7, 0.2]], dtype=torch.float64)
    k = torch.tensor([2, 0])
    a0 = approximate_action(s, a_k, k, eps, clip=None)
    torch.testing.assert_close(noise_from_action(s, a_k, k, a0), eps)


def test_compiled_equals_eager() -> None:
    s = small_schedule()
    gen = torch.Generator().manual_seed(0)
    a_k = torch.randn(6, 3, generator=gen)
    eps = torch.randn(6, 3, generator=gen)
    k = torch.randint(0, 3, (6,), generator=gen)
    compiled = compile_function(approximate_action)
    torch.testing.assert_close(compiled(s, a_k, k, eps), approximate_action(s, a_k, k, eps))


def test_vmap_equals_loop() -> None:
    s = small_schedule()
    gen = torch.Generator().manual_seed(1)
    a0 = torch.randn(4, 5, 2, generator=gen)
    eps = torch.randn(4, 5, 2, generator=gen)
    k = torch.randint(0, 3, (4, 5), generator=gen)
    batched = torch.func.vmap(lambda a, kk, e: corrupt(s, a, kk, e))(a0, k, eps)
    looped = torch.stack([corrupt(s, a0[i], k[i], eps[i]) for i in range(4)])
    torch.testing.assert_close(batched, looped)


def test_bad_inputs_raise_clear_errors() -> None:
    s = small_schedule()
    a = torch.zeros(2, 3)
    k = torch.tensor([0, 1])
    with pytest.raises(ValueError, match=r"timesteps 'k' must lie in 0\.\.2"):
        corrupt(s, a, torch.tensor([0, 3]), a)
    with pytest.raises(ValueError, match=r"timesteps 'k' must lie in 0\.\.2"):
        approximate_action(s, a, torch.tensor([-1, 0]), a)
    # Float timesteps: the annotation rejects them under pytest; check_timesteps otherwise.
    with pytest.raises((TypeError, ValueError), match="'k'"):
        corrupt(s, a, torch.tensor([0.0, 1.0]), a)
    with pytest.raises(ValueError, match="'eps' contains 1 non-finite"):
        corrupt(s, a, k, torch.tensor([[0.0, float("nan"), 0.0], [0.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match=r"'eps' has dtype torch\.float64"):
        corrupt(s, a, k, a.double())
    with pytest.raises(ValueError, match="'eps_hat' is on device meta"):
        approximate_action(s, a, k, torch.zeros(2, 3, device="meta"))
    with pytest.raises(ValueError, match="clip must be a positive bound"):
        approximate_action(s, a, k, a, clip=0.0)


def test_wrong_shapes_are_rejected_by_the_annotations() -> None:
    # Under pytest the jaxtyping import hook checks every annotated shape with beartype.
    s = small_schedule()
    with pytest.raises(TypeError, match="eps"):
        corrupt(s, torch.zeros(2, 3), torch.tensor([0, 1]), torch.zeros(2, 2))
    with pytest.raises(TypeError, match="k"):
        corrupt(s, torch.zeros(2, 3), torch.tensor([0, 1, 2]), torch.zeros(2, 3))
