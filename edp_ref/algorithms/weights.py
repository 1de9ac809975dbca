"""The weights of weighted-regression policy improvement (Eq. 11) for CRR and IQL.

* :func:`crr_advantage`: Eq. 21's advantage, min-Q of the dataset action minus the mean min-Q of
  N actions sampled around it (EDP + CRR, App. A.2) or from the policy (CRR with a Gaussian
  policy, Eq. 20).
* :func:`capped_exponential_weights`: f = min(exp(x), cap) of an already scaled advantage x:
  CRR's exp(A / beta) (Eq. 20; official cap 20) and IQL's exp(beta (Q - V)) (Eq. 22; cap 100).
  The caller scales the advantage, so each algorithm keeps its own arithmetic (A / beta for CRR,
  beta A for IQL).
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

__all__ = ["capped_exponential_weights", "crr_advantage"]


def crr_advantage(
    q_data: Float[Tensor, " batch"], q_samples: Float[Tensor, "samples batch"]
) -> Float[Tensor, " batch"]:
    """Eq. 21: min-Q of the dataset action minus the mean min-Q of the N sampled actions."""
    return q_data - q_samples.mean(dim=0)


def capped_exponential_weights(
    scaled_advantage: Float[Tensor, " batch"], cap: float | None
) -> Float[Tensor, " batch"]:
    """min(exp(scaled_advantage), cap) (Eqs. 20, 22); ``cap=None`` for the uncapped exp."""
    weights = torch.exp(scaled_advantage)
    if cap is not None:
        weights = torch.clamp(weights, max=cap)
    return weights
