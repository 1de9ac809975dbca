"""Energy-based action selection (EAS), paper Sec. 4.5 and Algorithm 2.

Sample N candidate actions from the policy (any sampler), then pick one with probability
proportional to exp(Q(s, a_i)), i.e. from the improved policy p(a | s) ∝ e^{Q(s, a)} pi(a | s).
The categorical draw is an inverse-CDF lookup of a uniform passed in by the caller.
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor

from edp_ref.validation import check_finite, check_probability_uniforms, check_same_dtype_device

__all__ = ["eas_index", "eas_probabilities", "energy_based_action_selection"]


def eas_probabilities(
    q: Float[Tensor, "batch candidates"], temperature: float = 1.0
) -> Float[Tensor, "batch candidates"]:
    """Selection probabilities of Algorithm 2: softmax(Q / temperature) over the candidates.

    Args:
        q: Q(s, a_i) of each candidate (the official code uses min(Q1, Q2)).
        temperature: divides Q (default 1.0, the paper's e^Q weights).
    """
    where = "eas_probabilities"
    check_finite("q", q, where)
    if not temperature > 0:
        raise ValueError(f"{where}: temperature must be positive, got {temperature!r}")
    return torch.softmax(q / temperature, dim=-1)


def eas_index(
    q: Float[Tensor, "batch candidates"],
    uniform: Float[Tensor, " batch"],
    temperature: float = 1.0,
) -> Int[Tensor, " batch"]:
    """Index of the selected candidate: the smallest i with u < CDF_i of softmax(Q).

    Args:
        q: Q values of the candidates.
        uniform: one U[0, 1) draw per row.
        temperature: see :func:`eas_probabilities`.
    """
    where = "eas_index"
    check_same_dtype_device(where, q=q, uniform=uniform)
    check_probability_uniforms("uniform", uniform, where)
    cdf = torch.cumsum(eas_probabilities(q, temperature), dim=-1)
    # Normalize so that the last entry is exactly 1: round-off can leave it below u.
    cdf = cdf / cdf[..., -1:]
    return (cdf <= uniform[:, None]).sum(dim=-1).clamp(max=q.shape[-1] - 1)


def energy_based_action_selection(
    actions: Float[Tensor, "batch candidates action"],
    q: Float[Tensor, "batch candidates"],
    uniform: Float[Tensor, " batch"],
    temperature: float = 1.0,
) -> Float[Tensor, "batch action"]:
    """Algorithm 2: pick one of N candidate actions per state with probability ∝ e^{Q}.

    Args:
        actions: N candidate actions per state, sampled from pi_theta.
        q: Q(s, a_i) for each candidate.
        uniform: one U[0, 1) draw per state (the randomness of the categorical draw).
        temperature: see :func:`eas_probabilities` (default 1.0).

    Returns:
        The selected action of each state.
    """
    where = "energy_based_action_selection"
    check_same_dtype_device(where, actions=actions, q=q, uniform=uniform)
    check_finite("actions", actions, where)
    index = eas_index(q, uniform, temperature)
    # gather, not take_along_dim: the latter's broadcast fixes B when traced (torch.export).
    picked = index[:, None, None].expand(-1, 1, actions.shape[-1])
    return torch.gather(actions, 1, picked)[:, 0]
