"""The reinforcement-learning equations the algorithms are built from (Sec. 3.1, Appendix A).

One pure function per formula, in the paper's order: the TD target of Eq. 6 and its clipped
double-Q form (Eq. 14), the TD loss (Eq. 6), TD3's target-policy smoothing of a' (Eq. 14 for
TD3+BC), TD3+BC's normalisation alpha / mean |Q| (Eq. 16), CRR's advantage with a baseline of N
sampled actions (Eqs. 20-21), the capped exponential weights of CRR and IQL (Eqs. 20-22), IQL's
expectile loss L_2^tau (Eq. 22) and the log-density of the feed-forward baselines' Gaussian
policy (log pi of Eq. 20). Network outputs (Q, V, pi) are inputs; nothing is drawn here.
"""

from __future__ import annotations

import math

import torch
from jaxtyping import Float
from torch import Tensor

from edp_ref.validation import check_finite, check_same_dtype_device

__all__ = [
    "bellman_target",
    "capped_exponential_weights",
    "clipped_double_q_target",
    "crr_advantage",
    "expectile_loss",
    "gaussian_log_prob",
    "q_loss_scale",
    "target_policy_smoothing",
    "td_loss",
]


def _check_in(where: str, name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ValueError(f"{where}: argument '{name}' must lie in [{low}, {high}], got {value}")


def bellman_target(
    rewards: Float[Tensor, " batch"],
    terminals: Float[Tensor, " batch"],
    next_value: Float[Tensor, " batch"],
    discount: float,
) -> Float[Tensor, " batch"]:
    """The TD target y = r + (1 - d) gamma V' (Eq. 6; Eq. 22's second line with V' = V(s')).

    ``next_value`` is the value of the next state; no gradient is stopped here.
    """
    where = "bellman_target"
    check_same_dtype_device(where, rewards=rewards, terminals=terminals, next_value=next_value)
    _check_in(where, "discount", discount, 0.0, 1.0)
    check_finite("next_value", next_value, where)
    return rewards + (1.0 - terminals) * discount * next_value


def clipped_double_q_target(
    rewards: Float[Tensor, " batch"],
    terminals: Float[Tensor, " batch"],
    next_q1: Float[Tensor, " batch"],
    next_q2: Float[Tensor, " batch"],
    discount: float,
) -> Float[Tensor, " batch"]:
    """TD3's clipped double-Q target y = r + (1 - d) gamma min(Q1'(s', a'), Q2'(s', a')) (Eq. 14).

    ``next_q1`` and ``next_q2`` are the target critics at the next state and action.
    """
    check_same_dtype_device("clipped_double_q_target", next_q1=next_q1, next_q2=next_q2)
    return bellman_target(rewards, terminals, torch.minimum(next_q1, next_q2), discount)


def td_loss(q: Float[Tensor, " batch"], y: Float[Tensor, " batch"]) -> Float[Tensor, ""]:
    """The TD loss L_TD = mean (Q(s, a) - y)^2 of one critic towards the TD target y (Eq. 6),
    y held fixed by the caller."""
    where = "td_loss"
    check_same_dtype_device(where, q=q, y=y)
    check_finite("y", y, where)
    return (q - y).square().mean()


def target_policy_smoothing(
    next_actions: Float[Tensor, "batch action"],
    noise: Float[Tensor, "batch action"],
    policy_noise: float,
    noise_clip: float,
    max_action: float,
) -> Float[Tensor, "batch action"]:
    """TD3's a' = clip(pi'(s') + clip(sigma xi, -c, c), -max, max), the next action of TD3+BC's
    target (Eq. 14; Fujimoto et al. 2018, Sec. 5.3), with ``noise`` xi ~ N(0, I)."""
    where = "target_policy_smoothing"
    check_same_dtype_device(where, next_actions=next_actions, noise=noise)
    for name, value in (("policy_noise", policy_noise), ("noise_clip", noise_clip)):
        _check_in(where, name, value, 0.0, math.inf)
    _check_in(where, "max_action", max_action, 0.0, math.inf)
    smoothing = (noise * policy_noise).clamp(-noise_clip, noise_clip)
    return (next_actions + smoothing).clamp(-max_action, max_action)


def q_loss_scale(q: Float[Tensor, "*batch"], alpha: float) -> Float[Tensor, ""]:
    """TD3+BC's scale of the Q term, alpha / ((1/N) sum_i |Q(s_i, a_hat_i)|) (App. A.1, Eq. 16),
    a constant of the policy loss: no gradient flows through it (EDP + TD3's L_pi uses it too).

    Not Algorithm 1's lambda (the ``loss_weight`` of L_diff + lambda L_pi).
    """
    where = "q_loss_scale"
    _check_in(where, "alpha", alpha, 0.0, math.inf)
    check_finite("q", q, where)
    return alpha / q.abs().mean().detach()


def crr_advantage(
    q_data: Float[Tensor, " batch"], q_samples: Float[Tensor, "samples batch"]
) -> Float[Tensor, " batch"]:
    """CRR's advantage A(s, a) = min-Q(s, a) - (1/N) sum_i min-Q(s, a_i) (Eqs. 20-21): the
    dataset action's value minus the mean value of N sampled actions a_i."""
    where = "crr_advantage"
    check_same_dtype_device(where, q_data=q_data, q_samples=q_samples)
    check_finite("q_samples", q_samples, where)
    return q_data - q_samples.mean(dim=0)


def capped_exponential_weights(
    scaled_advantage: Float[Tensor, " batch"], cap: float | None
) -> Float[Tensor, " batch"]:
    """The weights f = min(exp(x), cap) of weighted regression, x an already scaled advantage:
    CRR's exp(A / beta) (Eq. 20; official cap 20) and IQL's exp(beta (Q - V)) (Eq. 22; cap 100).

    ``cap=None`` is the paper's uncapped exponential.
    """
    where = "capped_exponential_weights"
    if cap is not None and not cap > 0:
        raise ValueError(f"{where}: argument 'cap' must be positive (None: no cap), got {cap}")
    check_finite("scaled_advantage", scaled_advantage, where)
    weights = torch.exp(scaled_advantage)
    if cap is not None:
        weights = torch.clamp(weights, max=cap)
    return weights


def expectile_loss(diff: Float[Tensor, " batch"], expectile: float) -> Float[Tensor, ""]:
    """IQL's value loss mean L_2^tau(u) = mean |tau - 1(u < 0)| u^2, u = Q(s, a) - V(s) (Eq. 22).

    ``expectile`` is tau (the paper's tau is in (0, 1)); tau = 0.5 is half the mean squared error.
    """
    where = "expectile_loss"
    _check_in(where, "expectile", expectile, 0.0, 1.0)
    check_finite("diff", diff, where)
    # The weights in diff's dtype: Python-float branches of torch.where would give float32
    # weights (the default dtype) inside a float64 computation.
    weight = torch.where(diff > 0, diff.new_tensor(expectile), diff.new_tensor(1.0 - expectile))
    return (weight * diff.square()).mean()


def gaussian_log_prob(
    actions: Float[Tensor, "*batch action"],
    mean: Float[Tensor, "*batch action"],
    log_std: Float[Tensor, "*batch action"],
) -> Float[Tensor, "*batch"]:
    """log N(a; mean, diag(exp(log_std)^2)), summed over action dimensions: the log pi(a | s) of
    Eq. 20 (and IQL's policy step) for the feed-forward baselines' Gaussian policy."""
    where = "gaussian_log_prob"
    check_same_dtype_device(where, actions=actions, mean=mean, log_std=log_std)
    check_finite("actions", actions, where)
    z = (actions - mean) * torch.exp(-log_std)
    return (-0.5 * z.square() - log_std - 0.5 * math.log(2.0 * math.pi)).sum(dim=-1)
