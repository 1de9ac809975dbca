"""Training losses of the diffusion policy: Eq. 5 (diffusion / behaviour-cloning loss), Eq. 12
(ELBO-weighted loss) and Eq. 13 (Gaussian-surrogate weighted regression).

Reductions: the paper writes squared norms ||.||^2 (a sum over action dimensions); the official
code averages over action dimensions. ``action_reduction`` selects either, default ``"mean"``
(official) for Eqs. 5 and 12. Eq. 13 keeps the paper's squared norm by default. The weights
f(Q) of Eqs. 12-13 are taken as given: stopping their gradient is the caller's business
(the algorithms do it).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from jaxtyping import Float, Int
from torch import Tensor

from edp_ref.core.schedule import Schedule, gather
from edp_ref.validation import check_finite, check_same_dtype_device, check_timesteps

__all__ = [
    "ActionReduction",
    "ElboVariant",
    "SurrogateForm",
    "diffusion_loss",
    "elbo_weighted_loss",
    "elbo_weights",
    "gaussian_surrogate_loss",
    "squared_error",
]

ActionReduction = Literal["mean", "sum"]
ElboVariant = Literal["paper", "official"]
SurrogateForm = Literal["squared_error", "negative_log_likelihood"]


def squared_error(
    x: Float[Tensor, "batch action"],
    y: Float[Tensor, "batch action"],
    action_reduction: ActionReduction = "mean",
) -> Float[Tensor, " batch"]:
    """Per-row squared error, averaged (``"mean"``) or summed (``"sum"``) over action dims."""
    sq = (x - y).square()
    if action_reduction == "mean":
        return sq.mean(dim=-1)
    if action_reduction == "sum":
        return sq.sum(dim=-1)
    raise ValueError(f"action_reduction must be 'mean' or 'sum', got {action_reduction!r}")


def diffusion_loss(
    eps: Float[Tensor, "batch action"],
    eps_hat: Float[Tensor, "batch action"],
    action_reduction: ActionReduction = "mean",
) -> Float[Tensor, ""]:
    """The simplified ELBO of DDPM, L_diff (Eq. 5): E ||eps - eps_theta(a^k, k; s)||^2.

    Args:
        eps: the noise used to corrupt the actions (Eq. 8).
        eps_hat: the network's prediction eps_theta(a^k, k; s).
        action_reduction: ``"mean"`` over action dims (official code, default) or ``"sum"``
            (the paper's squared norm).

    Returns:
        The batch mean of the per-row squared error.
    """
    where = "diffusion_loss"
    check_same_dtype_device(where, eps=eps, eps_hat=eps_hat)
    check_finite("eps", eps, where)
    check_finite("eps_hat", eps_hat, where)
    return squared_error(eps, eps_hat, action_reduction).mean()


def elbo_weights(schedule: Schedule, variant: ElboVariant = "paper") -> Float[Tensor, " K"]:
    """Per-timestep ELBO weights of Eq. 12, float64, indexed by 0-based k.

    Args:
        schedule: the noise schedule.
        variant: ``"paper"``: beta^k / (2 alpha^k (1 - alpha_bar^{k-1})), the KL weight of DDPM
            with the posterior ("fixed small") variance. The paper's formula divides by zero at
            the first step (alpha_bar^0 = 1); edp_ref writes it as
            beta_k^2 / (2 sigma_k^2 alpha_k (1 - alpha_bar_k)) with sigma_k^2 the posterior
            variance clipped at k = 0 (``posterior_log_variance_clipped``), which equals the
            paper's formula for every k >= 1 and is finite at k = 0.
            ``"official"``: beta^k / (2 alpha^k (1 - alpha_bar^k)) normalized to mean 1 over k,
            as in the official code.

    Returns:
        Positive, finite weights of shape [K].
    """
    if variant == "paper":
        var = torch.exp(schedule.posterior_log_variance_clipped)
        return schedule.betas.square() / (
            2.0 * var * schedule.alphas * schedule.sqrt_one_minus_alpha_bars.square()
        )
    if variant == "official":
        w = schedule.betas / (2.0 * schedule.sqrt_one_minus_alpha_bars.square() * schedule.alphas)
        return w * (schedule.num_steps / w.sum())
    raise ValueError(f"elbo_weights: unknown variant {variant!r}; expected 'paper' or 'official'")


def elbo_weighted_loss(
    schedule: Schedule,
    k: Int[Tensor, " batch"],
    eps: Float[Tensor, "batch action"],
    eps_hat: Float[Tensor, "batch action"],
    weights: Float[Tensor, " batch"],
    variant: ElboVariant = "paper",
    action_reduction: ActionReduction = "mean",
) -> Float[Tensor, ""]:
    """The weighted ELBO objective of Eq. 12, as a loss to minimise.

    E_{k, eps, (a, s)} [ w_k f(Q(s, a)) ||eps - eps_theta(a^k, k; s)||^2 ] with w_k from
    :func:`elbo_weights`.

    Args:
        schedule: the noise schedule.
        k: the 0-based timesteps the actions were corrupted to.
        eps: the corruption noise.
        eps_hat: the predicted noise.
        weights: f(Q(s, a)) per row (already stop-gradiented by the caller).
        variant: see :func:`elbo_weights`.
        action_reduction: ``"mean"`` (default) or ``"sum"`` over action dims.
    """
    where = "elbo_weighted_loss"
    check_same_dtype_device(where, eps=eps, eps_hat=eps_hat, weights=weights, k=k)
    check_timesteps(k, schedule.num_steps, where)
    check_finite("weights", weights, where)
    check_finite("eps_hat", eps_hat, where)
    w_k = gather(elbo_weights(schedule, variant), k, eps)
    return (w_k * weights * squared_error(eps, eps_hat, action_reduction)).mean()


def gaussian_surrogate_loss(
    a: Float[Tensor, "batch action"],
    a0_hat: Float[Tensor, "batch action"],
    weights: Float[Tensor, " batch"],
    form: SurrogateForm = "squared_error",
) -> Float[Tensor, ""]:
    """Weighted regression on the approximated action, Eq. 13.

    The intractable log pi_theta(a | s) of Eq. 11 is replaced by log N(a; a_hat^0, I).

    Args:
        a: dataset actions.
        a0_hat: approximated actions (Eq. 9).
        weights: f(Q(s, a)) per row (already stop-gradiented by the caller).
        form: ``"squared_error"`` (default, Eq. 13 as printed): mean_b w_b ||a_b - a_hat0_b||^2.
            ``"negative_log_likelihood"`` (official code): mean_b -w_b log N(a_b; a_hat0_b, I)
            = mean_b w_b (||a_b - a_hat0_b||^2 / 2 + A log(2 pi) / 2), half the gradient of
            the default.
    """
    where = "gaussian_surrogate_loss"
    check_same_dtype_device(where, a=a, a0_hat=a0_hat, weights=weights)
    check_finite("a", a, where)
    check_finite("a0_hat", a0_hat, where)
    check_finite("weights", weights, where)
    sq = squared_error(a, a0_hat, "sum")
    if form == "squared_error":
        return (weights * sq).mean()
    if form == "negative_log_likelihood":
        log_norm = 0.5 * a.shape[-1] * math.log(2.0 * math.pi)
        return (weights * (0.5 * sq + log_norm)).mean()
    raise ValueError(f"gaussian_surrogate_loss: unknown form {form!r}")
