"""Input validation shared by every public function of edp_ref.

Shapes are checked by the jaxtyping annotations (under pytest, or with ``jaxtyping.jaxtyped``);
this module checks what annotations cannot express: one dtype and device for tensors that meet in
a formula, timesteps in range, finite values. Each failure raises ``ValueError`` naming the
argument and what is wrong with it.

Value checks (finite values, timestep ranges) read tensor contents, a host synchronisation on an
accelerator: they run in eager mode, are skipped while ``torch.compile`` traces or
``torch.func.vmap`` batches a function, and ``value_checks(False)`` switches them off for a block.
Metadata checks (dtype, device, ranks) always run: they are free.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import torch
from torch import Tensor

__all__ = [
    "check_finite",
    "check_probability_uniforms",
    "check_same_dtype_device",
    "check_timesteps",
    "value_checks",
    "value_checks_enabled",
]

_VALUE_CHECKS: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "edp_ref_value_checks", default=True
)


@contextlib.contextmanager
def value_checks(enabled: bool) -> Iterator[None]:
    """Turn the data-dependent checks (NaN/inf, timestep range) on or off inside a block."""
    token = _VALUE_CHECKS.set(enabled)
    try:
        yield
    finally:
        _VALUE_CHECKS.reset(token)


def _is_transformed(x: Tensor) -> bool:
    # torch.func wraps tensors while vmap/grad transform a function; ``bool(tensor)`` on a
    # vmapped tensor is data-dependent control flow and raises, so values are not read there.
    # torch offers no public predicate for this; the functorch C hook is the documented-in-code
    # way torch itself uses.
    return bool(torch._C._functorch.is_functorch_wrapped_tensor(x))


def value_checks_enabled(*tensors: Tensor) -> bool:
    """Whether data-dependent checks run for these tensors right now."""
    # is_compiling first: dynamo cannot trace ContextVar.get, and under compile the answer is
    # False anyway.
    if torch.compiler.is_compiling():
        return False
    if not _VALUE_CHECKS.get():
        return False
    return not any(_is_transformed(t) for t in tensors)


def check_finite(name: str, x: Tensor, where: str) -> None:
    """Raise if ``x`` holds NaN or inf; the message names the argument and the function."""
    if value_checks_enabled(x) and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(
            f"{where}: argument '{name}' contains {bad} non-finite value(s) (NaN or inf) "
            f"in a tensor of shape {tuple(x.shape)}"
        )


def check_same_dtype_device(where: str, **tensors: Tensor) -> None:
    """Raise unless all floating tensors share one dtype and all tensors share one device."""
    items = list(tensors.items())
    if not items:
        return
    ref_name, ref = items[0]
    for name, t in items[1:]:
        if t.device != ref.device:
            raise ValueError(
                f"{where}: argument '{name}' is on device {t.device} but '{ref_name}' is on "
                f"{ref.device}; move them to one device"
            )
    floats = [(n, t) for n, t in items if t.is_floating_point()]
    if floats:
        fname, fref = floats[0]
        for name, t in floats[1:]:
            if t.dtype != fref.dtype:
                raise ValueError(
                    f"{where}: argument '{name}' has dtype {t.dtype} but '{fname}' has "
                    f"{fref.dtype}; cast them to one dtype"
                )


def check_timesteps(k: Tensor, num_steps: int, where: str) -> None:
    """Raise unless ``k`` is an integer tensor with values in {0, ..., num_steps - 1}."""
    if k.is_floating_point() or k.is_complex() or k.dtype == torch.bool:
        raise ValueError(f"{where}: timesteps 'k' must be an integer tensor, got {k.dtype}")
    if value_checks_enabled(k) and k.numel() > 0:
        lo, hi = int(k.min()), int(k.max())
        if lo < 0 or hi >= num_steps:
            raise ValueError(
                f"{where}: timesteps 'k' must lie in 0..{num_steps - 1} (0-based, K = "
                f"{num_steps}); got values in [{lo}, {hi}]"
            )


def check_probability_uniforms(name: str, u: Tensor, where: str) -> None:
    """Raise unless every entry of ``u`` lies in [0, 1)."""
    if value_checks_enabled(u) and u.numel() > 0 and not bool(((u >= 0) & (u < 1)).all()):
        raise ValueError(
            f"{where}: argument '{name}' must hold uniforms in [0, 1); got values in "
            f"[{float(u.min())}, {float(u.max())}]"
        )
