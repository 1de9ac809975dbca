"""Per-domain and per-task hyper-parameters: Table 3 of the paper and the official per-task clip.

:data:`DOMAIN_PRESETS` holds Table 3's row of each domain (learning rate, gradient-norm clip,
loss weight, epochs, batch size) plus the official per-domain choices the paper leaves implicit
(IQL's expectile, Appendix A.3; the reward transforms of sail-sg/edp, utilities/utils.py);
:data:`OFFICIAL_GRAD_NORM_CLIP` the official per-task gradient-norm clip ("gn" of
sail-sg/edp, diffusion/hps.py). :func:`preset_config` applies them to any algorithm's config.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from edp_ref.algorithms.config import AlgorithmConfig

__all__ = [
    "DOMAINS",
    "DOMAIN_PRESETS",
    "OFFICIAL_GRAD_NORM_CLIP",
    "Domain",
    "DomainPreset",
    "GradClipSource",
    "RateSource",
    "RewardTransform",
    "domain_of_task",
    "official_grad_norm_clip",
    "preset_config",
]

Domain = Literal["locomotion", "antmaze", "adroit", "kitchen"]
DOMAINS: tuple[Domain, ...] = ("locomotion", "antmaze", "adroit", "kitchen")
GradClipSource = Literal["paper", "official"]
RateSource = Literal["paper", "official"]
RewardTransform = Literal[
    "none", "iql_return_range", "minus_one", "shift_half_times_four", "min_max_symmetric"
]


@dataclass(frozen=True)
class DomainPreset:
    """Table 3's row of one domain plus the official per-domain choices."""

    # Domain name.
    domain: Domain
    # Table 3 learning rate.
    learning_rate: float
    # Table 3 gradient-norm clip (the same 5 everywhere; the official code uses per-task values).
    max_grad_norm: float
    # Table 3 loss weight (lambda of Alg. 1, weight of the policy-improvement term).
    loss_weight: float
    # Table 3 epochs.
    epochs: int
    # Table 3 batch size.
    batch_size: int
    # Updates per epoch (Sec. 5: 1000).
    iterations_per_epoch: int
    # IQL expectile (App. A.3: 0.9 antmaze, 0.7 otherwise).
    expectile: float
    # Reward transform of the official code for IQL runs (applied by the dataset module):
    # "iql_return_range": r * 1000 / (max - min trajectory return); "minus_one": r - 1;
    # "min_max_symmetric": min-max to [-1, 1]; "none".
    reward_transform_iql: RewardTransform
    # ... and for TD3 / CRR runs ("shift_half_times_four": (r - 0.5) * 4).
    reward_transform_other: RewardTransform


DOMAIN_PRESETS: dict[Domain, DomainPreset] = {
    "locomotion": DomainPreset(
        domain="locomotion",
        learning_rate=3e-4,
        max_grad_norm=5.0,
        loss_weight=1.0,
        epochs=2000,
        batch_size=256,
        iterations_per_epoch=1000,
        expectile=0.7,
        reward_transform_iql="iql_return_range",
        reward_transform_other="none",
    ),
    "antmaze": DomainPreset(
        domain="antmaze",
        learning_rate=3e-4,
        max_grad_norm=5.0,
        loss_weight=1.0,
        epochs=1000,
        batch_size=256,
        iterations_per_epoch=1000,
        expectile=0.9,
        reward_transform_iql="minus_one",
        reward_transform_other="shift_half_times_four",
    ),
    "adroit": DomainPreset(
        domain="adroit",
        learning_rate=3e-5,
        max_grad_norm=5.0,
        loss_weight=0.1,
        epochs=1000,
        batch_size=256,
        iterations_per_epoch=1000,
        expectile=0.7,
        reward_transform_iql="min_max_symmetric",
        reward_transform_other="min_max_symmetric",
    ),
    "kitchen": DomainPreset(
        domain="kitchen",
        learning_rate=3e-4,
        max_grad_norm=5.0,
        loss_weight=0.005,
        epochs=1000,
        batch_size=256,
        iterations_per_epoch=1000,
        expectile=0.7,
        reward_transform_iql="min_max_symmetric",
        reward_transform_other="min_max_symmetric",
    ),
}

# Official per-task gradient-norm clip ("gn" of sail-sg/edp, diffusion/hps.py), keyed by task
# name without its "-vN" suffix.
OFFICIAL_GRAD_NORM_CLIP: dict[str, float] = {
    "halfcheetah-medium": 9.0,
    "halfcheetah-medium-replay": 2.0,
    "halfcheetah-medium-expert": 7.0,
    "hopper-medium": 9.0,
    "hopper-medium-replay": 4.0,
    "hopper-medium-expert": 5.0,
    "walker2d-medium": 1.0,
    "walker2d-medium-replay": 4.0,
    "walker2d-medium-expert": 5.0,
    "antmaze-umaze": 2.0,
    "antmaze-umaze-diverse": 3.0,
    "antmaze-medium-play": 2.0,
    "antmaze-medium-diverse": 1.0,
    "antmaze-large-play": 10.0,
    "antmaze-large-diverse": 7.0,
    "pen-human": 7.0,
    "pen-cloned": 8.0,
    "kitchen-complete": 9.0,
    "kitchen-partial": 10.0,
    "kitchen-mixed": 10.0,
}

_VERSION_SUFFIX = re.compile(r"-v\d+$")


def domain_of_task(task_or_domain: str) -> Domain:
    """The domain of a paper task (``"hopper-medium-v2"`` -> ``"locomotion"``) or a domain name.

    Raises:
        ValueError: the name is neither a domain nor a task of the paper's tables (the message
            lists the known ones).
    """
    for domain in DOMAINS:
        if task_or_domain == domain:
            return domain
    # The paper's task table lives with the datasets; imported here so that the algorithms
    # import without the data stack.
    from edp_ref.data.registry import resolve

    try:
        paper_domain = resolve(task_or_domain).domain
    except ValueError as exc:
        raise ValueError(f"preset_config: {exc}; or give a domain, one of {DOMAINS}") from None
    for domain in DOMAINS:
        if paper_domain == domain:
            return domain
    raise ValueError(f"preset_config: task {task_or_domain!r} has unknown domain {paper_domain!r}")


def official_grad_norm_clip(task: str) -> float:
    """The official per-task gradient-norm clip (sail-sg/edp, diffusion/hps.py)."""
    key = _VERSION_SUFFIX.sub("", task.strip().lower())
    if key not in OFFICIAL_GRAD_NORM_CLIP:
        raise ValueError(
            f"official_grad_norm_clip: no official value for {task!r}; known tasks: "
            f"{sorted(OFFICIAL_GRAD_NORM_CLIP)}"
        )
    return OFFICIAL_GRAD_NORM_CLIP[key]


ConfigT = TypeVar("ConfigT", bound=AlgorithmConfig)


def preset_config(
    config: ConfigT,
    task_or_domain: str,
    grad_clip: GradClipSource = "paper",
    rates: RateSource = "paper",
) -> ConfigT:
    """``config`` with the learning rate, clip, loss weight and expectile of a task or domain.

    Table 3 is titled "Hyperparameters used by EDP" and is not restricted to one algorithm, so
    by default its learning rate and loss weight apply to EDP + TD3, EDP + CRR and EDP + IQL
    alike (and its learning rate to the baselines). The official trainer (sail-sg/edp,
    diffusion/trainer.py) reads only the per-task gradient clip from diffusion/hps.py and keeps
    lr = 3e-4 and guide_coef = 1.0 unless given on its command line: ``grad_clip="official",
    rates="official"`` reproduces that.

    Args:
        config: a config of any algorithm (its other fields are kept), e.g. ``EDPIQLConfig()``.
        task_or_domain: a task of the paper ("walker2d-medium-expert-v2") or a domain ("kitchen").
        grad_clip: "paper" (Table 3: 5) or "official" (the per-task table; needs a task name).
        rates: "paper" (Table 3's learning rate and loss weight) or "official" (leave the
            config's, whose defaults are the official 3e-4 and 1.0).

    Returns:
        A new config of the same type; ``loss_weight`` and ``expectile`` are set only where the
        config has such a field.
    """
    preset = DOMAIN_PRESETS[domain_of_task(task_or_domain)]
    if grad_clip == "paper":
        clip = preset.max_grad_norm
    elif grad_clip == "official":
        clip = official_grad_norm_clip(task_or_domain)
    else:
        raise ValueError(
            f"preset_config: grad_clip must be 'paper' or 'official', got {grad_clip!r}"
        )
    if rates not in ("paper", "official"):
        raise ValueError(f"preset_config: rates must be 'paper' or 'official', got {rates!r}")
    optimizer = dataclasses.replace(config.optimizer, max_grad_norm=clip)
    if rates == "paper":
        optimizer = dataclasses.replace(optimizer, learning_rate=preset.learning_rate)
    names = {f.name for f in dataclasses.fields(config)}
    changes: dict[str, Any] = {"optimizer": optimizer}
    if "loss_weight" in names and rates == "paper":
        changes["loss_weight"] = preset.loss_weight
    if "expectile" in names:
        changes["expectile"] = preset.expectile
    return dataclasses.replace(config, **changes)
