"""Networks of the paper's experiments (Sec. 5, "Experimental Setup"): the noise-prediction
network eps_theta(a^k, k; s) of the diffusion policy and the Q and V critics.

Every network is a 3-layer MLP with 256 hidden units and Mish activations. The noise network
encodes the timestep with a 16-dim sinusoidal embedding followed by Linear(16, 32), Mish,
Linear(32, 16), and reads the concatenation [state, noisy action, embedding].

Initialisation: ``init="official"`` (default) reproduces the official (Flax) code: kernels from
a LeCun-normal distribution truncated at two standard deviations, biases zero; ``init="torch"``
keeps PyTorch's default Linear init (Diffusion-QL's PyTorch code). Randomness comes in through
an explicit ``torch.Generator``.

Sampling: :func:`conditioned_noise_prediction` is eps_theta(., t; s) for a sampler run on fixed
states, equal to :class:`NoisePredictionNetwork` to float round-off, with the work that does not
depend on the noisy action done once per run (the states' and the timestep's parts of the first
layer).

Activation: :class:`Mish` is Mish(x) = x tanh(softplus(x)) evaluated as x n / (n + 2) with
n = e^x (e^x + 2) (one exponential instead of exp, log1p and tanh); it equals ``nn.Mish`` to
float round-off and makes a training step markedly faster on CPU (see ``edp_ref.benchmark``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn
from torch.func import functional_call

from edp_ref.core.eps_model import EpsFn

__all__ = [
    "Activation",
    "EmbeddingVariant",
    "InitScheme",
    "Mish",
    "NoisePredictionNetwork",
    "QNetwork",
    "ValueNetwork",
    "conditioned_noise_prediction",
    "mish",
    "mlp",
    "official_init_",
    "sinusoidal_time_embedding",
]

EmbeddingVariant = Literal["official", "diffusion_ql"]
InitScheme = Literal["official", "torch"]
Activation = Literal["mish", "relu"]

# Standard deviation of a unit normal truncated to [-2, 2]; Flax's variance-scaling initialiser
# divides by it so that the truncated draw keeps the intended variance 1 / fan_in.
_TRUNCATED_NORMAL_STD = 0.87962566103423978


def sinusoidal_time_embedding(
    t: Float[Tensor, " batch"], dim: int = 16, variant: EmbeddingVariant = "official"
) -> Float[Tensor, "batch embedding"]:
    """Sinusoidal embedding of the (possibly fractional) timestep index (Vaswani et al.).

    Args:
        t: model-time indices, raw (not rescaled).
        dim: embedding size (even; 16 in the paper).
        variant: ``"official"``: frequencies exp(-ln(10000) i / (dim/2)), i = 0..dim/2-1, output
            [cos, sin]; ``"diffusion_ql"``: exp(-ln(10000) i / (dim/2 - 1)), output [sin, cos].
    """
    if dim % 2 or dim < 4:
        raise ValueError(f"sinusoidal_time_embedding: dim must be even and >= 4, got {dim}")
    half = dim // 2
    i = torch.arange(half, dtype=t.dtype, device=t.device)
    if variant == "official":
        freqs = torch.exp(-math.log(10000.0) * i / half)
        args = t[:, None] * freqs[None, :]
        return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if variant == "diffusion_ql":
        freqs = torch.exp(-math.log(10000.0) * i / (half - 1))
        args = t[:, None] * freqs[None, :]
        return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)
    raise ValueError(f"sinusoidal_time_embedding: unknown variant {variant!r}")


# Above this input Mish(x) = x to float64 precision (tanh(softplus(20)) = 1 - 8.5e-18); clamping
# the exponent keeps e^x (e^x + 2) finite.
_MISH_LINEAR_FROM = 20.0


class _MishFunction(torch.autograd.Function):
    """Mish with a hand-written backward that saves only its input (as ``F.mish`` does): a
    chain differentiated through K sampler steps (Diffusion-QL) keeps one tensor per layer."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x: Tensor) -> Tensor:
        e = torch.exp(x.clamp(max=_MISH_LINEAR_FROM))
        n = e * (e + 2.0)
        return x * n / (n + 2.0)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Tensor], output: Tensor) -> None:
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        x: Tensor = ctx.saved_tensors[0]
        e = torch.exp(x.clamp(max=_MISH_LINEAR_FROM))
        n = e * (e + 2.0)
        d = torch.reciprocal(n + 2.0)
        # d/dx [x n / (n + 2)] = d (n + 4 x e (e + 1) d). Where the exponent is clamped the
        # exact slope of the clamped formula is n d = 1; the second term there is below
        # 1.7e-17 |x| and is kept (negligible for any activation value).
        return grad * d * (n + 4.0 * x * (e * (e + 1.0)) * d)


def mish(x: Float[Tensor, "*shape"]) -> Float[Tensor, "*shape"]:
    """Mish(x) = x tanh(softplus(x)) (Misra 2019; the activation of Sec. 5's MLPs).

    Computed as x n / (n + 2), n = e^x (e^x + 2), since tanh(log(1 + e^x)) = n / (n + 2): one
    exponential instead of three transcendental functions, forward and backward (the backward
    is written out and saves only x). Equal to ``torch.nn.functional.mish`` to float round-off
    (a few ulp), gradients included.
    """
    out: Tensor = _MishFunction.apply(x)  # type: ignore[no-untyped-call]
    return out


class Mish(nn.Mish):
    """``nn.Mish`` computed with :func:`mish` (same module type, faster on CPU)."""

    def forward(self, input: Tensor) -> Tensor:
        return mish(input)


def official_init_(module: nn.Module, generator: torch.Generator | None = None) -> None:
    """Re-initialise every Linear layer in place as Flax does: truncated LeCun normal, zero bias."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            std = math.sqrt(1.0 / layer.in_features) / _TRUNCATED_NORMAL_STD
            with torch.no_grad():
                nn.init.trunc_normal_(
                    layer.weight, 0.0, std, -2 * std, 2 * std, generator=generator
                )
                layer.bias.zero_()


def _activation(activation: Activation) -> nn.Module:
    if activation == "mish":
        return Mish()
    if activation == "relu":
        return nn.ReLU()
    raise ValueError(f"mlp: activation must be 'mish' or 'relu', got {activation!r}")


def mlp(
    in_dim: int, out_dim: int, hidden: int = 256, layers: int = 3, activation: Activation = "mish"
) -> nn.Sequential:
    """``layers`` x (Linear(hidden), activation) followed by Linear(out_dim).

    Sec. 5's networks use Mish; ``"relu"`` builds the feed-forward baselines' own networks (e.g.
    CORL's 2 x 256 ReLU MLPs, for like-for-like comparisons).
    """
    modules: list[nn.Module] = []
    d = in_dim
    for _ in range(layers):
        modules += [nn.Linear(d, hidden), _activation(activation)]
        d = hidden
    modules.append(nn.Linear(d, out_dim))
    return nn.Sequential(*modules)


def _init(module: nn.Module, init: InitScheme, generator: torch.Generator | None) -> None:
    if init == "official":
        official_init_(module, generator)
    elif init != "torch":
        raise ValueError(f"unknown init scheme {init!r}; expected 'official' or 'torch'")


class NoisePredictionNetwork(nn.Module):
    """eps_theta(a^k, k; s): predicts the corruption noise of a noisy action (Sec. 4.1, Sec. 5)."""

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        hidden: int = 256,
        layers: int = 3,
        time_dim: int = 16,
        embedding: EmbeddingVariant = "official",
        init: InitScheme = "official",
        generator: torch.Generator | None = None,
        activation: Activation = "mish",
    ) -> None:
        super().__init__()
        self.state_dim = state_dim
        self.action_dim = action_dim
        self.time_dim = time_dim
        self.embedding = embedding
        self.time_mlp = nn.Sequential(
            nn.Linear(time_dim, 2 * time_dim), Mish(), nn.Linear(2 * time_dim, time_dim)
        )
        self.body = mlp(state_dim + action_dim + time_dim, action_dim, hidden, layers, activation)
        _init(self, init, generator)

    def forward(
        self,
        state: Float[Tensor, "batch state"],
        a_k: Float[Tensor, "batch action"],
        t: Float[Tensor, " batch"],
    ) -> Float[Tensor, "batch action"]:
        emb = self.time_mlp(sinusoidal_time_embedding(t, self.time_dim, self.embedding))
        out: Tensor = self.body(torch.cat([state, a_k, emb], dim=-1))
        return out


def _sub_params(params: Mapping[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}


def conditioned_noise_prediction(
    network: NoisePredictionNetwork,
    params: Mapping[str, Tensor],
    state: Float[Tensor, "batch state"],
    repeats: int = 1,
) -> EpsFn:
    """eps_theta(., t; s) of one sampler run (Sec. 4.2, Alg. 2) on fixed states ``state``, each
    repeated ``repeats`` times (row b * repeats + i: EAS's candidate i of state b).

    The returned ``eps_fn(a [B * repeats, A], t [B * repeats])`` equals
    ``network(state.repeat_interleave(repeats, 0), a, t)`` with ``params`` to float round-off,
    for every ``t`` that holds one timestep for all rows (both samplers call their model so). The
    first layer is W [s, a^k, emb] + b = (W_s s + b) + W_a a^k + W_e emb: its part that does not
    depend on a^k is done once, not at every model call:

    * W_s s + b once per run, not at each of DPM-Solver's 15 calls;
    * the time embedding MLP(emb(t)) and W_e of it for one row, not for every row.

    The sum is taken in that order instead of in one product, hence round-off, not bit equality.
    """
    w, bias = params["body.0.weight"], params["body.0.bias"]
    s_dim, a_dim = network.state_dim, network.action_dim
    w_state, w_action, w_time = w[:, :s_dim], w[:, s_dim : s_dim + a_dim], w[:, s_dim + a_dim :]
    # Every row multiplied, not each state once: a product's rows then do not depend on how many
    # states share the batch (BLAS kernels differ for 1-2 rows), and this runs once per run.
    h_state = F.linear(state.repeat_interleave(repeats, dim=0), w_state, bias)
    time_params = _sub_params(params, "time_mlp.")
    rest = network.body[1:]
    rest_params = {k: v for k, v in _sub_params(params, "body.").items() if not k.startswith("0.")}

    def eps_fn(a: Tensor, t: Tensor) -> Tensor:
        embedding = sinusoidal_time_embedding(t[:1], network.time_dim, network.embedding)
        h_time = F.linear(functional_call(network.time_mlp, time_params, (embedding,)), w_time)
        out: Tensor = functional_call(
            rest, rest_params, (h_state + F.linear(a, w_action) + h_time,)
        )
        return out

    return eps_fn


class QNetwork(nn.Module):
    """Q_phi(s, a): concat [state, action] -> 3 x (Linear 256, Mish) -> Linear(1)."""

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        hidden: int = 256,
        layers: int = 3,
        init: InitScheme = "official",
        generator: torch.Generator | None = None,
        activation: Activation = "mish",
    ) -> None:
        super().__init__()
        self.state_dim = state_dim
        self.action_dim = action_dim
        self.body = mlp(state_dim + action_dim, 1, hidden, layers, activation)
        _init(self, init, generator)

    def forward(
        self, state: Float[Tensor, "*batch state"], action: Float[Tensor, "*batch action"]
    ) -> Float[Tensor, "*batch"]:
        out: Tensor = self.body(torch.cat([state, action], dim=-1))
        return out.squeeze(-1)


class ValueNetwork(nn.Module):
    """V_psi(s) of IQL: state -> 3 x (Linear 256, Mish) -> Linear(1)."""

    def __init__(
        self,
        state_dim: int,
        hidden: int = 256,
        layers: int = 3,
        init: InitScheme = "official",
        generator: torch.Generator | None = None,
        activation: Activation = "mish",
    ) -> None:
        super().__init__()
        self.body = mlp(state_dim, 1, hidden, layers, activation)
        _init(self, init, generator)

    def forward(self, state: Float[Tensor, "*batch state"]) -> Float[Tensor, "*batch"]:
        out: Tensor = self.body(state)
        return out.squeeze(-1)
