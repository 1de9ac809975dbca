"""The networks of Sec. 5's setup: sinusoidal time embedding, eps_theta, Q and V, and the
official (Flax) initialisation."""

import math

import pytest
import torch

from edp_ref import NoisePredictionNetwork, QNetwork, ValueNetwork, sinusoidal_time_embedding


def test_sinusoidal_embedding_hand_values() -> None:
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    emb = sinusoidal_time_embedding(t)
    assert emb.shape == (2, 16)
    torch.testing.assert_close(emb[0], torch.tensor([1.0] * 8 + [0.0] * 8, dtype=torch.float64))
    f1 = math.exp(-math.log(10000.0) / 8)  # second frequency, official: i / half
    assert float(emb[1, 1]) == pytest.approx(math.cos(f1))
    assert float(emb[1, 9]) == pytest.approx(math.sin(f1))
    dql = sinusoidal_time_embedding(t, variant="diffusion_ql")
    f1_dql = math.exp(-math.log(10000.0) / 7)  # Diffusion-QL: i / (half - 1), sin first
    assert float(dql[1, 1]) == pytest.approx(math.sin(f1_dql))
    assert float(dql[1, 9]) == pytest.approx(math.cos(f1_dql))


def test_architecture_parameter_counts() -> None:
    # walker2d shapes: state 17, action 6
    net = NoisePredictionNetwork(17, 6)
    time_mlp = (16 * 32 + 32) + (32 * 16 + 16)
    body = (17 + 6 + 16) * 256 + 256 + 2 * (256 * 256 + 256) + 256 * 6 + 6
    assert sum(p.numel() for p in net.parameters()) == time_mlp + body == 144438
    q = QNetwork(17, 6)
    assert sum(p.numel() for p in q.parameters()) == 23 * 256 + 256 + 2 * 65792 + 257
    v = ValueNetwork(17)
    assert sum(p.numel() for p in v.parameters()) == 17 * 256 + 256 + 2 * 65792 + 257
    assert sum(isinstance(m, torch.nn.Mish) for m in net.body) == 3


def test_forward_shapes() -> None:
    net = NoisePredictionNetwork(5, 3)
    out = net(torch.zeros(4, 5), torch.zeros(4, 3), torch.arange(4.0))
    assert out.shape == (4, 3)
    assert QNetwork(5, 3)(torch.zeros(4, 5), torch.zeros(4, 3)).shape == (4,)
    assert ValueNetwork(5)(torch.zeros(4, 5)).shape == (4,)


def test_official_init_truncated_lecun_normal_and_zero_bias() -> None:
    gen = torch.Generator().manual_seed(0)
    q = QNetwork(200, 56, generator=gen)
    first = q.body[0]
    assert isinstance(first, torch.nn.Linear)
    std = math.sqrt(1 / 256) / 0.87962566103423978
    w = first.weight.detach()
    assert float(w.abs().max()) <= 2 * std + 1e-7
    # truncated at 2 std, rescaled so that the variance is 1 / fan_in
    assert float(w.std()) == pytest.approx(math.sqrt(1 / 256), rel=0.03)
    assert all(
        float(m.bias.detach().abs().max()) == 0.0 for m in q.body if isinstance(m, torch.nn.Linear)
    )


def test_init_is_deterministic_given_the_generator() -> None:
    a = NoisePredictionNetwork(3, 2, generator=torch.Generator().manual_seed(7))
    b = NoisePredictionNetwork(3, 2, generator=torch.Generator().manual_seed(7))
    c = NoisePredictionNetwork(3, 2, generator=torch.Generator().manual_seed(8))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not all(
        torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True)
    )
    torch_init = NoisePredictionNetwork(3, 2, init="torch")
    assert any(
        float(m.bias.detach().abs().max()) > 0
        for m in torch_init.body
        if isinstance(m, torch.nn.Linear)
    )


def test_network_bad_arguments() -> None:
    with pytest.raises((TypeError, ValueError), match="init"):
        QNetwork(3, 2, init="xavier")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dim must be even"):
        sinusoidal_time_embedding(torch.zeros(2), dim=7)
