"""Per-domain preprocessing of the official EDP code (sail-sg/edp, diffusion/trainer.py; paper
Appendix A).

Every function is pure: it returns a new ``TransitionDataset`` noting what was done. The
observation normalization, which evaluation must apply too, comes back as an
``ObservationNormalizer``.

* IQL, locomotion: rewards scaled by 1000 / (max trajectory return - min trajectory return).
* AntMaze: r - 1 (IQL) or (r - 0.5) * 4 (TD3, CRR).
* Kitchen and Adroit: rewards min-max scaled to [-1, 1].
* Observation normalization (kitchen/adroit/antmaze when asked): ``"scalar"`` (official: one
  mean and std over all entries), or ``"per_dimension"``; (o - mu) / (sigma + 1e-6), clipped to
  +-10.
* Dataset actions clipped to +-0.999 (the official code's ``clip_to_eps`` with eps 1e-3 before
  action approximation; IQL's loader uses 1 - 1e-5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from jaxtyping import Float
from torch import Tensor

from edp_ref.data.transitions import TransitionDataset
from edp_ref.paper import Domain

__all__ = [
    "Algorithm",
    "NormalizationMode",
    "ObservationNormalizer",
    "Preprocessed",
    "antmaze_rewards",
    "clip_actions",
    "iql_locomotion_reward_scale",
    "min_max_rewards",
    "normalize_observations",
    "official_preprocessing",
    "rescale_actions",
    "scale_rewards",
]

Algorithm = Literal["td3", "crr", "iql"]
NormalizationMode = Literal["scalar", "per_dimension"]


@dataclass(frozen=True)
class ObservationNormalizer:
    """o -> clip((o - mean) / (std + eps), -clip, clip); ``mean``/``std`` are [] or [S]."""

    mean: Tensor
    std: Tensor
    eps: float = 1e-6
    clip: float = 10.0

    def __call__(self, obs: Float[Tensor, "*batch state"]) -> Float[Tensor, "*batch state"]:
        mean = self.mean.to(obs)
        std = self.std.to(obs)
        return ((obs - mean) / (std + self.eps)).clamp(-self.clip, self.clip)


@dataclass(frozen=True)
class Preprocessed:
    """A preprocessed dataset, the observation transform evaluation must apply (or None), and
    whether its actions were rescaled to [-1, 1] (acting maps them back)."""

    dataset: TransitionDataset
    observation_transform: ObservationNormalizer | None
    rescaled: bool = False


def scale_rewards(
    dataset: TransitionDataset, scale: float, shift: float = 0.0
) -> TransitionDataset:
    """r -> (r + shift) * scale."""
    return dataset.with_note(
        f"rewards (r + {shift}) * {scale}", rewards=(dataset.rewards + shift) * scale
    )


def iql_locomotion_reward_scale(dataset: TransitionDataset) -> float:
    """1000 / (max trajectory return - min trajectory return), trajectories as the official
    ``split_into_trajectories`` cuts them (``TransitionDataset.episode_ends``)."""
    returns = dataset.episode_returns()
    spread = float(returns.max() - returns.min())
    if spread <= 0:
        raise ValueError(
            f"{dataset.source}: all {len(returns)} trajectories have the same return; "
            "the IQL reward scale 1000 / (max - min) is undefined"
        )
    return 1000.0 / spread


def antmaze_rewards(dataset: TransitionDataset, algorithm: Algorithm) -> TransitionDataset:
    """AntMaze rewards: r - 1 for IQL, (r - 0.5) * 4 for TD3 and CRR (official code)."""
    if algorithm == "iql":
        return scale_rewards(dataset, 1.0, -1.0)
    if algorithm in ("td3", "crr"):
        return scale_rewards(dataset, 4.0, -0.5)
    raise ValueError(f"antmaze_rewards: unknown algorithm {algorithm!r}")


def min_max_rewards(dataset: TransitionDataset) -> TransitionDataset:
    """Rewards min-max scaled to [-1, 1] (kitchen and adroit, official code)."""
    lo, hi = float(dataset.rewards.min()), float(dataset.rewards.max())
    if hi <= lo:
        raise ValueError(f"{dataset.source}: constant rewards ({lo}) cannot be min-max scaled")
    return dataset.with_note(
        f"rewards min-max scaled from [{lo}, {hi}] to [-1, 1]",
        rewards=(dataset.rewards - lo) / (hi - lo) * 2.0 - 1.0,
    )


def normalize_observations(
    dataset: TransitionDataset,
    mode: NormalizationMode = "scalar",
    eps: float = 1e-6,
    clip: float = 10.0,
) -> Preprocessed:
    """Normalize observations and next observations with the statistics of ``observations``
    (module docstring); returns the dataset and the normalizer evaluation applies."""
    obs = dataset.observations
    if mode == "scalar":
        mean, std = obs.mean(), obs.std(correction=0)
    elif mode == "per_dimension":
        mean, std = obs.mean(0), obs.std(0, correction=0)
    else:
        raise ValueError(f"normalize_observations: unknown mode {mode!r}")
    norm = ObservationNormalizer(mean, std, eps, clip)
    out = dataset.with_note(
        f"observations normalized ({mode}, eps {eps}, clip {clip})",
        observations=norm(dataset.observations),
        next_observations=norm(dataset.next_observations),
    )
    return Preprocessed(out, norm)


def clip_actions(dataset: TransitionDataset, limit: float = 0.999) -> TransitionDataset:
    """Dataset actions clipped to [-limit, limit] (official: +-0.999)."""
    if limit <= 0:
        raise ValueError(f"clip_actions: limit must be positive, got {limit}")
    low = None if dataset.action_low is None else dataset.action_low.clamp(min=-limit)
    high = None if dataset.action_high is None else dataset.action_high.clamp(max=limit)
    return dataset.with_note(
        f"actions clipped to +-{limit}",
        actions=dataset.actions.clamp(-limit, limit),
        action_low=low,
        action_high=high,
    )


def rescale_actions(dataset: TransitionDataset) -> TransitionDataset:
    """Map actions linearly from the declared bounds to [-1, 1] (the diffusion policy's range),
    for action spaces such as InvertedPendulum's [-3, 3]; evaluate with
    ``make_eval_env(rescale_actions=True)``."""
    if dataset.action_low is None or dataset.action_high is None:
        raise ValueError(f"{dataset.source}: rescale_actions needs declared action bounds")
    low, high = dataset.action_low, dataset.action_high
    if not bool(torch.isfinite(low).all() & torch.isfinite(high).all()):
        raise ValueError(f"{dataset.source}: rescale_actions needs finite action bounds")
    if bool((high <= low).any()):
        dim = int((high <= low).nonzero()[0, 0])
        raise ValueError(
            f"{dataset.source}: rescale_actions needs action_high > action_low; dimension {dim} "
            f"has [{float(low[dim])}, {float(high[dim])}] (division by zero)"
        )
    scaled = (dataset.actions - low) / (high - low) * 2.0 - 1.0
    return dataset.with_note(
        "actions rescaled from their bounds to [-1, 1]",
        actions=scaled.clamp(-1.0, 1.0),
        action_low=-torch.ones_like(low),
        action_high=torch.ones_like(high),
    )


def official_preprocessing(
    dataset: TransitionDataset,
    domain: Domain,
    algorithm: Algorithm,
    *,
    normalize_obs: NormalizationMode | None = None,
) -> Preprocessed:
    """The official code's preprocessing for a domain and algorithm (module docstring): the
    rewards, the optional observation normalization, the action clip to +-0.999."""
    ds = dataset
    if domain == "locomotion":
        if algorithm == "iql":
            ds = scale_rewards(ds, iql_locomotion_reward_scale(ds))
    elif domain == "antmaze":
        ds = antmaze_rewards(ds, algorithm)
    elif domain in ("kitchen", "adroit"):
        ds = min_max_rewards(ds)
    else:
        raise ValueError(f"official_preprocessing: unknown domain {domain!r}")
    transform = None
    if normalize_obs is not None:
        pre = normalize_observations(ds, normalize_obs)
        ds, transform = pre.dataset, pre.observation_transform
    return Preprocessed(clip_actions(ds), transform)
