"""The configuration pieces every algorithm shares, with the paper's defaults.

Defaults follow the paper: Table 3 (learning rate 3e-4, gradient-norm clip 5, batch 256),
Sec. 5 (3 x 256 Mish networks, K = 1000, DPM-Solver of order 3 with 15 model calls) and
Appendix A (discount 0.99, Polyak rate 0.005). Where the paper is silent the official code's value
is used (sail-sg/edp, diffusion/dql.py: the EMA policy's schedule). Every place where the official
code differs from the paper is a field (a "switch"), listed in SPEC.md section 4.

Each algorithm's own config subclasses :class:`AlgorithmConfig` or
:class:`DiffusionAlgorithmConfig`, in the algorithm's module.

Every config validates its fields when it is built (:mod:`edp_ref.config_checks`): a misspelled
option, a NaN learning rate or a discount outside [0, 1) raises a ``ConfigError`` naming the field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from edp_ref.config_checks import (
    ConfigError,
    check_at_least,
    check_choice,
    check_field_types,
    check_interval,
    check_positive,
)
from edp_ref.core.ddpm import DdpmVariance
from edp_ref.core.losses import ActionReduction
from edp_ref.core.networks import Activation, EmbeddingVariant, InitScheme
from edp_ref.core.schedule import ScheduleKind
from edp_ref.paper import DOMAINS, TABLE3, domain_of, official_grad_norm_clip, paper_dataset

__all__ = [
    "AlgorithmConfig",
    "DiffusionAlgorithmConfig",
    "DiffusionConfig",
    "NetworkConfig",
    "NextActionPolicy",
    "OptimizerConfig",
    "SamplerKind",
    "TargetNetworkConfig",
    "table3_config",
]

SamplerKind = Literal["dpm_solver", "ddpm"]
NextActionPolicy = Literal["ema", "online"]


@dataclass(frozen=True)
class OptimizerConfig:
    """Adam with global-norm gradient clipping, one optimiser per network (Table 3)."""

    # Adam step size for every network (Table 3: 3e-4; adroit 3e-5).
    learning_rate: float = 3e-4
    # Global-norm gradient clip per network (Table 3: 5; official: per task, see
    # edp_ref.paper.OFFICIAL_GRAD_NORM_CLIP). None disables clipping.
    max_grad_norm: float | None = 5.0
    # "optax": g * max / ||g|| (official JAX code, no epsilon); "torch": clip_grad_norm_'s
    # max / (||g|| + 1e-6) (Diffusion-QL's PyTorch code).
    clip_mode: Literal["optax", "torch"] = "optax"
    # Adam's first-moment decay (optax default).
    beta1: float = 0.9
    # Adam's second-moment decay (optax default).
    beta2: float = 0.999
    # Adam's denominator epsilon, added outside the square root (optax default).
    eps: float = 1e-8
    # Cosine learning-rate decay to 0 over lr_decay_steps (official switch, off by default).
    lr_decay: bool = False
    # Length of the cosine decay in Adam steps (official: epochs x iterations per epoch).
    lr_decay_steps: int = 1_000_000

    def __post_init__(self) -> None:
        check_field_types(self)
        check_positive(self, "learning_rate", "max_grad_norm", "eps", "lr_decay_steps")
        check_interval(self, "beta1", 0.0, 1.0, closed_high=False)
        check_interval(self, "beta2", 0.0, 1.0, closed_high=False)


@dataclass(frozen=True)
class NetworkConfig:
    """Sizes and initialisation of every MLP (Sec. 5: 3 layers of 256 units, Mish)."""

    # Hidden units per layer (Sec. 5: 256).
    hidden: int = 256
    # Number of hidden layers (Sec. 5: 3).
    layers: int = 3
    # "official": Flax's truncated LeCun-normal kernels, zero biases; "torch": PyTorch default.
    init: InitScheme = "official"
    # Size of the sinusoidal timestep embedding of the noise network (official: 16).
    time_dim: int = 16
    # "official": [cos, sin], frequencies over dim/2; "diffusion_ql": [sin, cos], over dim/2 - 1.
    embedding: EmbeddingVariant = "official"
    # Hidden-layer activation: "mish" (Sec. 5, every network of the paper) or "relu" (the
    # feed-forward baselines' own networks, e.g. CORL's, for like-for-like comparisons).
    activation: Activation = "mish"

    def __post_init__(self) -> None:
        check_field_types(self)
        check_positive(self, "hidden", "layers")
        check_at_least(self, 4, "time_dim")
        if self.time_dim % 2:
            raise ConfigError(f"NetworkConfig.time_dim must be even, got {self.time_dim}")


@dataclass(frozen=True)
class DiffusionConfig:
    """The diffusion policy: schedule (Eq. 1), samplers (Eqs. 3-4, DPM-Solver), losses."""

    # Noise schedule kind: "linear" (official EDP), "cosine" or "vp" (Diffusion-QL).
    schedule: ScheduleKind = "linear"
    # K, the number of diffusion steps (paper: 1000; official default 100; Diffusion-QL 5).
    num_steps: int = 1000
    # Action bound: approximated actions (Eq. 9) and sampler estimates are clipped to
    # [-max_action, max_action] (official max_action = 1). None disables clipping.
    max_action: float | None = 1.0
    # DPM-Solver model evaluations per sample (Sec. 5: 15).
    dpm_steps: int = 15
    # DPM-Solver order (Sec. 5: third order).
    dpm_order: Literal[1, 2, 3] = 3
    # DPM-Solver end time; None means 1/K (= 1e-3, the official value, for K = 1000).
    dpm_t_end: float | None = None
    # DDPM reverse-step variance: "posterior" (official, fixed small) or "beta" (Eq. 4).
    ddpm_variance: DdpmVariance = "posterior"
    # Reduction of squared errors over action dimensions in L_diff (Eq. 5) and Eq. 12:
    # "mean" (official) or "sum" (the paper's squared norm).
    action_reduction: ActionReduction = "mean"

    def __post_init__(self) -> None:
        check_field_types(self)
        check_positive(self, "num_steps", "max_action", "dpm_steps")
        check_interval(self, "dpm_t_end", 0.0, 1.0, closed_high=False)

    def t_end(self) -> float:
        """The DPM-Solver end time: ``dpm_t_end`` or 1/K."""
        return self.dpm_t_end if self.dpm_t_end is not None else 1.0 / self.num_steps


@dataclass(frozen=True)
class TargetNetworkConfig:
    """Polyak-averaged target networks: target critics and the EMA policy (Appendix A; official
    schedule of the EMA policy from sail-sg/edp, diffusion/dql.py)."""

    # Polyak rate of the target critics (and of TD3+BC's target actor), applied every update.
    critic_tau: float = 0.005
    # Polyak rate of the EMA policy of diffusion agents.
    ema_tau: float = 0.005
    # The EMA policy is updated only at update numbers t > ema_start (official: 1000) ...
    ema_start: int = 1000
    # ... with t % ema_every == 0 (official: 5); before that it keeps its initial weights.
    ema_every: int = 5
    # What t counts in the two rules above: "this_update" (official EDP: the update number,
    # 1-based, after its increment) or "previous_updates" (Diffusion-QL: the updates done before
    # this one, so its EMA moves at updates 1001, 1006, ... with ema_start = 999).
    ema_step_counts: Literal["this_update", "previous_updates"] = "this_update"

    def __post_init__(self) -> None:
        check_field_types(self)
        check_interval(self, "critic_tau", 0.0, 1.0)
        check_interval(self, "ema_tau", 0.0, 1.0)
        check_at_least(self, 0, "ema_start")
        check_positive(self, "ema_every")


@dataclass(frozen=True)
class AlgorithmConfig:
    """The fields every algorithm has; each algorithm's config adds its own below them."""

    # Adam and gradient clipping (Table 3).
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    # MLP sizes and init (Sec. 5).
    network: NetworkConfig = field(default_factory=NetworkConfig)
    # gamma of Eq. 6 / Eq. 14 / Eq. 22 (Appendix A: 0.99).
    discount: float = 0.99
    # Target critics (and, for diffusion agents, the EMA policy).
    target_networks: TargetNetworkConfig = field(default_factory=TargetNetworkConfig)
    # Critic learning rate; None = the optimizer's (official EDP). Diffusion-QL keeps its critic
    # at 3e-4 whatever the actor's per-task rate.
    critic_learning_rate: float | None = None
    # Critic gradient clipping: "per_critic" (official EDP: Q1 and Q2 each by its own norm) or
    # "joint" (Diffusion-QL: one norm over both critics' gradients).
    critic_clip: Literal["per_critic", "joint"] = "per_critic"
    # torch.compile the update: None = on when the state lives on CUDA.
    compile: bool | None = None
    # Raise ValueError naming the tensor when a batch holds NaN/inf (one host sync per update).
    check_batch: bool = True

    def __post_init__(self) -> None:
        check_field_types(self)
        check_interval(self, "discount", 0.0, 1.0, closed_high=False)
        check_positive(self, "critic_learning_rate")


@dataclass(frozen=True)
class DiffusionAlgorithmConfig(AlgorithmConfig):
    """An algorithm with a diffusion policy: the fields above plus the policy's diffusion."""

    # Schedule, K, samplers, losses (Eq. 1, Eqs. 3-5, DPM-Solver).
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)


ConfigT = TypeVar("ConfigT", bound=AlgorithmConfig)


def table3_config(
    config: ConfigT,
    task_or_domain: str,
    grad_clip: Literal["paper", "official"] = "paper",
    rates: Literal["paper", "official"] = "paper",
) -> ConfigT:
    """``config`` with the learning rate, clip, loss weight and expectile of a task or domain.

    Table 3 is titled "Hyperparameters used by EDP" and is not restricted to one algorithm, so
    by default its learning rate and loss weight apply to EDP + TD3, EDP + CRR and EDP + IQL
    alike (and its learning rate to the baselines). The official trainer (sail-sg/edp,
    diffusion/trainer.py) reads only the per-task gradient clip from diffusion/hps.py and keeps
    lr = 3e-4 and guide_coef = 1.0 unless given on its command line: ``grad_clip="official",
    rates="official"`` reproduces that.

    ``task_or_domain`` is a task of the paper ("walker2d-medium-expert-v2") or a domain
    ("kitchen"); ``grad_clip="official"`` (the per-task table) needs a task. ``loss_weight`` and
    ``expectile`` are set only where the config has such a field; the other fields are kept.
    """
    check_choice("table3_config: grad_clip", grad_clip, ("paper", "official"))
    check_choice("table3_config: rates", rates, ("paper", "official"))
    # A domain name, or a task of the paper: a misspelled task is an error, never silently the
    # Table 3 row of the domain its name suggests.
    if task_or_domain in DOMAINS:
        row = TABLE3[domain_of(task_or_domain)]
    else:
        try:
            row = TABLE3[paper_dataset(task_or_domain).domain]
        except ValueError as exc:
            raise ValueError(f"table3_config: {exc}; or give a domain, one of {DOMAINS}") from None
    clip = row.max_grad_norm if grad_clip == "paper" else official_grad_norm_clip(task_or_domain)
    optimizer = dataclasses.replace(config.optimizer, max_grad_norm=clip)
    if rates == "paper":
        optimizer = dataclasses.replace(optimizer, learning_rate=row.learning_rate)
    names = {f.name for f in dataclasses.fields(config)}
    changes: dict[str, Any] = {"optimizer": optimizer}
    if "loss_weight" in names and rates == "paper":
        changes["loss_weight"] = row.loss_weight
    if "expectile" in names:
        changes["expectile"] = row.expectile
    return dataclasses.replace(config, **changes)
