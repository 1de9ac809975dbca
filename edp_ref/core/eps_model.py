"""The noise-prediction model as the samplers see it: ``eps_fn(a_k [B, A], t [B]) -> eps [B, A]``.

Both samplers (DDPM, :mod:`edp_ref.core.ddpm`; DPM-Solver, :mod:`edp_ref.core.dpm_solver`) take
the model as a function of the noisy action and the model-time index ``t`` (a float tensor: the
discrete timestep k for DDPM, the fractional index N t - 1 for DPM-Solver); the caller closes it
over the state. :func:`call_eps_fn` checks each call's output and applies Appendix C.4's policy
scaling (tau multiplies the predicted noise).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from edp_ref.validation import check_finite, check_same_dtype_device

__all__ = ["EpsFn", "call_eps_fn"]

EpsFn = Callable[[Tensor, Tensor], Tensor]


def call_eps_fn(eps_fn: EpsFn, x: Tensor, t: Tensor, policy_scale: float, where: str) -> Tensor:
    """eps_fn(x, t) checked (a tensor shaped like x, same dtype and device, finite) and scaled by
    App. C.4's policy scale tau."""
    eps = eps_fn(x, t)
    if not isinstance(eps, Tensor) or eps.shape != x.shape:
        got = tuple(eps.shape) if isinstance(eps, Tensor) else type(eps).__name__
        raise ValueError(
            f"{where}: eps_fn must return a tensor shaped like its input "
            f"{tuple(x.shape)}, got {got}"
        )
    check_same_dtype_device(where, a=x, eps_fn_output=eps)
    check_finite("eps_fn output", eps, where)
    return eps * policy_scale if policy_scale != 1.0 else eps
