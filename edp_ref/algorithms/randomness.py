"""Every random tensor of an update, and how an algorithm declares its randomness.

No update draws anything: all its randomness arrives as one frozen dataclass of tensors (a pytree,
so that ``vmap`` and ``torch.compile`` see its leaves). An algorithm declares that dataclass with
one :func:`drawn` per field, saying how the field is drawn; the registry builds the algorithm's
``draw`` from it (:func:`draw_randomness`), which draws the fields in their order from one
``torch.Generator``, on the generator's device, then moves them::

    @pytree_dataclass
    @dataclass(frozen=True, eq=False)
    class CRRRandomness:
        diffusion: DiffusionNoise = drawn(diffusion_noise)
        next_actions: SamplerNoise = drawn(sampler_noise("next_action_sampler"))
        baseline_noise: Float[Tensor, "samples batch action"] = drawn(
            normal("num_baseline_samples", "batch", "action")
        )

A field drawn for some configs only (``drawn(..., when=("policy_action", "sampler"))``) is None
for the others; :func:`check_drawn_for` tells an update whose randomness does not fit its config.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from edp_ref.algorithms.config import SamplerKind
from edp_ref.pytree import pytree_dataclass

__all__ = [
    "DiffusionNoise",
    "DrawContext",
    "Drawer",
    "SamplerNoise",
    "check_drawn_for",
    "diffusion_noise",
    "draw_eas_uniforms",
    "draw_randomness",
    "draw_sampler_noise",
    "drawn",
    "normal",
    "sampler_noise",
    "uniform",
]

#: ``drawer(config, DrawContext) -> tensor(s)``: how one field of a randomness class is drawn.
Drawer = Callable[[Any, "DrawContext"], Any]


@pytree_dataclass
@dataclass(frozen=True, eq=False)
class SamplerNoise:
    """The randomness of one sampling run (Eqs. 3-4 or DPM-Solver)."""

    # a^K ~ N(0, I) (DDPM) or the noise at t = 1 (DPM-Solver).
    initial: Float[Tensor, "batch action"]
    # DDPM's per-step noise; None for DPM-Solver, deterministic after its first step.
    steps: Float[Tensor, "num_steps batch action"] | None = None


@pytree_dataclass
@dataclass(frozen=True, eq=False)
class DiffusionNoise:
    """The randomness of L_diff and action approximation (Eqs. 5, 8-9): 0-based k ~ U{0..K-1}
    per row and eps ~ N(0, I)."""

    timesteps: Int[Tensor, " batch"]
    noise: Float[Tensor, "batch action"]


def _normal(
    shape: tuple[int, ...],
    generator: torch.Generator,
    device: torch.device | str,
    dtype: torch.dtype,
) -> Tensor:
    return torch.randn(shape, generator=generator, device=generator.device, dtype=dtype).to(device)


def draw_sampler_noise(
    sampler: SamplerKind,
    num_steps: int,
    batch_size: int,
    action_dim: int,
    generator: torch.Generator,
    device: torch.device | str,
    dtype: torch.dtype = torch.float32,
) -> SamplerNoise:
    """Draw the noise of one sampling run (on the generator's device, then moved to ``device``)."""
    initial = _normal((batch_size, action_dim), generator, device, dtype)
    if sampler == "dpm_solver":
        return SamplerNoise(initial=initial)
    if sampler == "ddpm":
        steps = _normal((num_steps, batch_size, action_dim), generator, device, dtype)
        return SamplerNoise(initial=initial, steps=steps)
    raise ValueError(f"draw_sampler_noise: sampler must be 'dpm_solver' or 'ddpm', got {sampler!r}")


def draw_eas_uniforms(
    batch_size: int,
    generator: torch.Generator,
    device: torch.device | str,
    dtype: torch.dtype = torch.float32,
) -> Float[Tensor, " batch"]:
    """One U[0, 1) draw per state for the categorical choice of Algorithm 2."""
    u = torch.rand((batch_size,), generator=generator, device=generator.device, dtype=dtype)
    return u.to(device)


# -- Drawers: how one field is drawn ----------------------------------------------------------


@dataclass(frozen=True)
class DrawContext:
    """What a drawer draws for: B rows of A-dimensional actions, from ``generator`` (on its
    device), moved to ``device`` in ``dtype``."""

    batch_size: int
    action_dim: int
    generator: torch.Generator
    device: torch.device | str
    dtype: torch.dtype


def diffusion_noise(config: Any, at: DrawContext) -> DiffusionNoise:
    """k uniform over {0, ..., K-1} (one per row) and eps ~ N(0, I), for the config's K."""
    gen, B = at.generator, at.batch_size
    k = torch.randint(0, config.diffusion.num_steps, (B,), generator=gen, device=gen.device)
    eps = _normal((B, at.action_dim), gen, at.device, at.dtype)
    return DiffusionNoise(timesteps=k.to(at.device), noise=eps)


def sampler_noise(sampler_field: str) -> Drawer:
    """The noise of a run of the sampler that ``config.<sampler_field>`` names, for B rows."""

    def draw(config: Any, at: DrawContext) -> SamplerNoise:
        sampler, K = getattr(config, sampler_field), config.diffusion.num_steps
        B, A = at.batch_size, at.action_dim
        return draw_sampler_noise(sampler, K, B, A, at.generator, at.device, at.dtype)

    return draw


def normal(*dims: str) -> Drawer:
    """N(0, I) of shape ``dims``: "batch" (B), "action" (A) or the name of a config field (N)."""

    def draw(config: Any, at: DrawContext) -> Tensor:
        sizes = {"batch": at.batch_size, "action": at.action_dim}
        shape = tuple(sizes[d] if d in sizes else int(getattr(config, d)) for d in dims)
        return _normal(shape, at.generator, at.device, at.dtype)

    return draw


def uniform(config: Any, at: DrawContext) -> Float[Tensor, ""]:
    """One U[0, 1) scalar."""
    u = torch.rand((), generator=at.generator, device=at.generator.device, dtype=at.dtype)
    return u.to(at.device)


# -- Declaring and drawing a randomness dataclass ---------------------------------------------


@dataclass(frozen=True)
class _Draw:
    drawer: Drawer
    when: tuple[str, object] | None


def drawn(drawer: Drawer, *, when: tuple[str, object] | None = None) -> Any:
    """A randomness field drawn by ``drawer``; with ``when=(field, value)`` only for configs whose
    ``field`` is ``value`` (None, its default, for the others)."""
    metadata = {"draw": _Draw(drawer, when)}
    if when is None:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=None, metadata=metadata)


def _draws(cls: type) -> list[tuple[str, _Draw]]:
    found = [(f.name, f.metadata.get("draw")) for f in dataclasses.fields(cls)]
    missing = [name for name, d in found if d is None]
    if missing:
        raise TypeError(
            f"{cls.__name__}: field(s) {missing} say not how they are drawn; declare each "
            "with drawn(...) (edp_ref.algorithms.randomness)"
        )
    return [(name, d) for name, d in found if d is not None]


def _applies(declared: _Draw, config: Any) -> bool:
    return declared.when is None or getattr(config, declared.when[0]) == declared.when[1]


def draw_randomness(cls: type | None) -> Callable[..., Any]:
    """The ``draw(config, batch_size, action_dim, generator, device="cpu", dtype=float32)`` of a
    randomness class declared with :func:`drawn` (``None``: an update that draws nothing)."""
    draws = _draws(cls) if cls is not None else []

    def draw(
        config: Any,
        batch_size: int,
        action_dim: int,
        generator: torch.Generator,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> Any:
        if cls is None:
            return None
        at = DrawContext(batch_size, action_dim, generator, device, dtype)
        values = {name: d.drawer(config, at) if _applies(d, config) else None for name, d in draws}
        return cls(**values)

    draw.__doc__ = f"Draw one update's {cls.__name__ if cls else 'randomness (None)'}."
    return draw


def check_drawn_for(where: str, randomness: Any, config: Any) -> None:
    """Raise ``ValueError`` naming the field if a conditional field of ``randomness`` is None
    where the config needs it, or set where the config does not (drawn for another config)."""
    if randomness is None or not dataclasses.is_dataclass(randomness):
        return
    for f in dataclasses.fields(randomness):
        declared = f.metadata.get("draw")
        if declared is None or declared.when is None:
            continue
        present = getattr(randomness, f.name) is not None
        if present != _applies(declared, config):
            field, value = declared.when
            raise ValueError(
                f"{where}: randomness.{f.name} is {'set' if present else 'None'} but the config "
                f"has {field}={getattr(config, field)!r} (it is drawn only when {field}="
                f"{value!r}); draw the randomness with the algorithm's draw for this config"
            )
