"""Typed configurations of every algorithm, with the paper's defaults and the official presets.

Defaults follow the paper: Table 3 (learning rate 3e-4, gradient-norm clip 5, loss weight 1.0,
batch 256), Appendix A (CRR: N = 10 baseline samples from N(a_hat0, I), beta = 1; IQL: temperature
1, expectile 0.7 / 0.9 on antmaze) and Sec. 5 (K = 1000, DPM-Solver of order 3 with 15 model calls).
Where the paper is silent the official code's value is used (TD3 alpha = 2.0, EMA policy schedule,
CRR weight cap 20, IQL weight cap 100). Every place where the official code differs from the paper
is a field (a "switch"), listed in SPEC.md section 4.

Presets: :data:`DOMAIN_PRESETS` holds Table 3 per domain (locomotion, antmaze, adroit, kitchen)
plus the official per-domain choices (expectile, reward transform), and
:data:`OFFICIAL_GRAD_NORM_CLIP` the official per-task gradient-norm clip (facts.md section 3).
:func:`preset_config` builds any algorithm's config for a task or domain.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from edp_ref.core.ddpm import DdpmVariance
from edp_ref.core.losses import ActionReduction, ElboVariant, SurrogateForm
from edp_ref.core.networks import EmbeddingVariant, InitScheme
from edp_ref.core.schedule import ScheduleKind

__all__ = [
    "DOMAINS",
    "DOMAIN_PRESETS",
    "OFFICIAL_GRAD_NORM_CLIP",
    "AlgorithmConfig",
    "DQLConfig",
    "DiffusionConfig",
    "DomainPreset",
    "EDPCRRConfig",
    "EDPIQLConfig",
    "EDPTD3Config",
    "EDPWithoutAPConfig",
    "EDPWithoutDPMConfig",
    "GaussianCRRConfig",
    "GaussianIQLConfig",
    "GradClipSource",
    "NetworkConfig",
    "OptimizerConfig",
    "SamplerKind",
    "TD3BCConfig",
    "TargetConfig",
    "domain_of",
    "official_grad_norm_clip",
    "preset_config",
]

SamplerKind = Literal["dpm_solver", "ddpm"]
GradClipSource = Literal["paper", "official"]
Domain = Literal["locomotion", "antmaze", "adroit", "kitchen"]
DOMAINS: tuple[str, ...] = ("locomotion", "antmaze", "adroit", "kitchen")


@dataclass(frozen=True)
class OptimizerConfig:
    """Adam with global-norm gradient clipping, one optimiser per network (Table 3)."""

    # Adam step size for every network (Table 3: 3e-4; adroit 3e-5).
    learning_rate: float = 3e-4
    # Global-norm gradient clip per network (Table 3: 5; official: per task, see
    # OFFICIAL_GRAD_NORM_CLIP). None or <= 0 disables clipping.
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


@dataclass(frozen=True)
class DiffusionConfig:
    """The diffusion policy: schedule (Eq. 1), samplers (Eqs. 3-4, DPM-Solver), losses."""

    # Noise schedule kind: "linear" (official EDP), "cosine" or "vp" (Diffusion-QL).
    schedule: ScheduleKind = "linear"
    # K, the number of diffusion steps (paper: 1000; official default 100; Diffusion-QL 5).
    num_steps: int = 1000
    # Action bound: approximated actions (Eq. 9) and sampler estimates are clipped to
    # [-action_clip, action_clip] (official max_action = 1). None disables clipping.
    action_clip: float | None = 1.0
    # DPM-Solver model evaluations per sample (Sec. 5: 15).
    dpm_steps: int = 15
    # DPM-Solver order (Sec. 5: third order).
    dpm_order: int = 3
    # DPM-Solver end time; None means 1/K (= 1e-3, the official value, for K = 1000).
    dpm_t_end: float | None = None
    # DDPM reverse-step variance: "posterior" (official, fixed small) or "beta" (Eq. 4).
    ddpm_variance: DdpmVariance = "posterior"
    # Reduction of squared errors over action dimensions in L_diff (Eq. 5) and Eq. 12:
    # "mean" (official) or "sum" (the paper's squared norm).
    action_reduction: ActionReduction = "mean"

    def t_end(self) -> float:
        """The DPM-Solver end time: ``dpm_t_end`` or 1/K."""
        return self.dpm_t_end if self.dpm_t_end is not None else 1.0 / self.num_steps


@dataclass(frozen=True)
class TargetConfig:
    """Discount and target networks (Appendix A; facts.md section 3)."""

    # gamma of Eq. 6 / Eq. 14 / Eq. 22.
    discount: float = 0.99
    # Polyak rate of the target critics, applied every update.
    critic_tau: float = 0.005
    # Polyak rate of the EMA (target) policy.
    ema_tau: float = 0.005
    # The EMA policy is updated only at update numbers t > ema_start (official: 1000) ...
    ema_start: int = 1000
    # ... with t % ema_every == 0 (official: 5); before that it keeps its initial weights.
    ema_every: int = 5


@dataclass(frozen=True)
class EDPTD3Config:
    """EDP + TD3 (Appendix A.1, Algorithm 1): L_diff + lambda L_pi on the approximated action."""

    # Adam and gradient clipping (Table 3).
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    # MLP sizes and init.
    network: NetworkConfig = field(default_factory=NetworkConfig)
    # Schedule, K, samplers.
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    # Discount and target networks.
    targets: TargetConfig = field(default_factory=TargetConfig)
    # alpha of TD3+BC (Eq. 16): L_pi = -(alpha / stopgrad(mean |Q|)) mean Q (official: 2.0).
    alpha: float = 2.0
    # lambda of Algorithm 1, Table 3's "loss weight" (locomotion 1.0, antmaze 1.0, adroit 0.1,
    # kitchen 0.005): policy loss = L_diff + loss_weight * L_pi.
    loss_weight: float = 1.0
    # Which critic drives L_pi: "random" (App. A.1 and official: Q1 or Q2 with equal probability
    # each step) or "q1" (original TD3, Eq. 15).
    q_head: Literal["random", "q1"] = "random"
    # Normaliser of L_pi: "chosen_head" (official EDP: mean |Q| of the head used), "other_head"
    # (Diffusion-QL: mean |Q| of the other head) or "none" (plain alpha * Eq. 10).
    q_normalisation: Literal["chosen_head", "other_head", "none"] = "chosen_head"
    # Policy that draws the next actions a' of the TD target (Eq. 6): "ema" (official: the EMA
    # copy of the policy) or "online" (Eq. 6 / Alg. 1 as printed: pi_theta).
    next_action_policy: Literal["ema", "online"] = "ema"
    # Sampler of the next actions: "dpm_solver" (EDP) or "ddpm" (EDP w/o DPM, Diffusion-QL).
    next_action_sampler: SamplerKind = "dpm_solver"
    # Action fed to L_pi: "approximation" (Eq. 9, EDP) or "sampler" (backpropagation through
    # the whole reverse chain: Diffusion-QL and the "EDP w/o AP" ablation).
    policy_action: Literal["approximation", "sampler"] = "approximation"
    # Sampler that produces the L_pi action when policy_action == "sampler".
    policy_action_sampler: SamplerKind = "dpm_solver"
    # False (official): critic and policy gradients both from the pre-update parameters; True
    # (Algorithm 1's order): L_pi uses the critics after this step's critic update.
    policy_uses_updated_critic: bool = False
    # torch.compile the update: None = on when the state lives on CUDA.
    compile: bool | None = None
    # Raise ValueError naming the tensor when a batch holds NaN/inf (one host sync per update).
    check_batch: bool = True


@dataclass(frozen=True)
class EDPWithoutDPMConfig(EDPTD3Config):
    """Figure 2's "EDP w/o DPM": EDP + TD3 with DDPM (Eq. 4) instead of DPM-Solver for a'."""

    # Next actions of the TD target drawn by the full DDPM chain.
    next_action_sampler: SamplerKind = "ddpm"


@dataclass(frozen=True)
class EDPWithoutAPConfig(EDPTD3Config):
    """Figure 2's "EDP w/o AP": backpropagate through the sampler instead of Eq. 9.

    Appendix C.6 runs the same ablation with DDPM and K = 100 (``policy_action_sampler="ddpm"``).
    """

    # L_pi's action produced by the sampler, with gradients.
    policy_action: Literal["approximation", "sampler"] = "sampler"
    # DPM-Solver, as in EDP (Fig. 2); "ddpm" gives Appendix C.6's variant.
    policy_action_sampler: SamplerKind = "dpm_solver"


@dataclass(frozen=True)
class DQLConfig(EDPTD3Config):
    """Diffusion-QL (Wang et al. 2023; Sec. 4.4): backpropagate through all K DDPM steps.

    Defaults follow Diffusion-QL: vp schedule with K = 5, DDPM for next actions and for the
    policy-improvement action, eta = 1 weighted Q loss normalised by the other head's mean |Q|,
    torch-style gradient clipping. Any K is allowed.
    """

    # Diffusion-QL's variance-preserving schedule with K = 5 steps.
    diffusion: DiffusionConfig = field(
        default_factory=lambda: DiffusionConfig(schedule="vp", num_steps=5)
    )
    # Diffusion-QL's clip_grad_norm_ (torch variant).
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(clip_mode="torch"))
    # eta of Diffusion-QL (locomotion: 1.0), in the role of alpha.
    alpha: float = 1.0
    # Diffusion-QL normalises by the other head's mean |Q|.
    q_normalisation: Literal["chosen_head", "other_head", "none"] = "other_head"
    # Next actions by the full DDPM chain of the EMA policy.
    next_action_sampler: SamplerKind = "ddpm"
    # L_pi's action: the full reverse chain with gradients.
    policy_action: Literal["approximation", "sampler"] = "sampler"
    # ... run with DDPM.
    policy_action_sampler: SamplerKind = "ddpm"


@dataclass(frozen=True)
class EDPCRRConfig:
    """EDP + CRR (Appendix A.2): weighted Eq. 13 (or Eq. 12) with the advantage of Eq. 21."""

    # Adam and gradient clipping (Table 3).
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    # MLP sizes and init.
    network: NetworkConfig = field(default_factory=NetworkConfig)
    # Schedule, K, samplers.
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    # Discount and target networks.
    targets: TargetConfig = field(default_factory=TargetConfig)
    # Weight of the weighted-regression term (Table 3's loss weight).
    loss_weight: float = 1.0
    # Weight of L_diff in the policy loss (official diff_coef: 1.0).
    diffusion_weight: float = 1.0
    # N of Eq. 21: samples a_i ~ N(a_hat0, sigma^2 I) for the baseline (App. A.2: 10).
    num_baseline_samples: int = 10
    # sigma of Eq. 21 (App. A.2: identity, 1.0).
    baseline_std: float = 1.0
    # beta of Eq. 20 (App. A.2: 1.0): weight exp(A / beta).
    temperature: float = 1.0
    # Cap of the weight (official: 20); None for the paper's uncapped exp.
    weight_cap: float | None = 20.0
    # "gaussian_surrogate" (Eq. 13, paper default) or "elbo" (Eq. 12).
    policy_objective: Literal["gaussian_surrogate", "elbo"] = "gaussian_surrogate"
    # Eq. 13's form: "squared_error" (as printed) or "negative_log_likelihood" (official:
    # -log N(a; a_hat0, I), half the gradient).
    surrogate_form: SurrogateForm = "squared_error"
    # Eq. 12's weights: "paper" or "official" (normalised, alpha_bar^k in the denominator).
    elbo_variant: ElboVariant = "paper"
    # Policy drawing a' for the TD target: "ema" (official) or "online" (Eq. 6 as printed).
    next_action_policy: Literal["ema", "online"] = "ema"
    # Sampler of a': "dpm_solver" (EDP) or "ddpm".
    next_action_sampler: SamplerKind = "dpm_solver"
    # torch.compile the update: None = on when the state lives on CUDA.
    compile: bool | None = None
    # Raise ValueError naming the tensor when a batch holds NaN/inf.
    check_batch: bool = True


@dataclass(frozen=True)
class EDPIQLConfig:
    """EDP + IQL (Appendix A.3): expectile V, double Q, weights exp((Q - V)/tau) on Eq. 13."""

    # Adam and gradient clipping (Table 3).
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    # MLP sizes and init.
    network: NetworkConfig = field(default_factory=NetworkConfig)
    # Schedule and K (IQL never samples during training).
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    # Discount and target networks.
    targets: TargetConfig = field(default_factory=TargetConfig)
    # Weight of the weighted-regression term (Table 3's loss weight).
    loss_weight: float = 1.0
    # Weight of L_diff in the policy loss (official diff_coef: 1.0).
    diffusion_weight: float = 1.0
    # tau of L_2^tau (Eq. 22): 0.7, 0.9 on antmaze (App. A.3).
    expectile: float = 0.7
    # Weight exp(inverse_temperature (Q - V)): paper App. A.3 uses temperature beta = 1
    # (inverse 1.0); the official code multiplies by awr_temperature = 3.0.
    inverse_temperature: float = 1.0
    # Cap of the weight (official: 100); None for no cap.
    weight_cap: float | None = 100.0
    # "gaussian_surrogate" (Eq. 13, paper default) or "elbo" (Eq. 12).
    policy_objective: Literal["gaussian_surrogate", "elbo"] = "gaussian_surrogate"
    # Eq. 13's form: "squared_error" (as printed) or "negative_log_likelihood" (official).
    surrogate_form: SurrogateForm = "squared_error"
    # Eq. 12's weights: "paper" or "official".
    elbo_variant: ElboVariant = "paper"
    # torch.compile the update: None = on when the state lives on CUDA.
    compile: bool | None = None
    # Raise ValueError naming the tensor when a batch holds NaN/inf.
    check_batch: bool = True


@dataclass(frozen=True)
class TD3BCConfig:
    """TD3+BC (Fujimoto & Gu 2021; App. A.1, Eq. 14-16) with a deterministic MLP policy."""

    # Adam; the original TD3+BC does not clip gradients.
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(max_grad_norm=None))
    # MLP sizes and init.
    network: NetworkConfig = field(default_factory=NetworkConfig)
    # Discount; critic_tau is also the actor target's rate (the ema_* fields are unused).
    targets: TargetConfig = field(default_factory=TargetConfig)
    # alpha of Eq. 16 (TD3+BC: 2.5).
    alpha: float = 2.5
    # Std of the target policy smoothing noise (TD3: 0.2).
    policy_noise: float = 0.2
    # Clip of that noise (TD3: 0.5).
    noise_clip: float = 0.5
    # Actor and targets update every policy_delay critic updates (TD3: 2).
    policy_delay: int = 2
    # Action bound: the actor's tanh output is scaled by it and next actions clipped to it.
    max_action: float = 1.0
    # torch.compile the update: None = on when the state lives on CUDA.
    compile: bool | None = None
    # Raise ValueError naming the tensor when a batch holds NaN/inf.
    check_batch: bool = True


@dataclass(frozen=True)
class GaussianCRRConfig:
    """CRR (Wang et al. 2020; App. A.2, Eq. 20) with a Gaussian MLP policy."""

    # Adam and gradient clipping.
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    # MLP sizes and init.
    network: NetworkConfig = field(default_factory=NetworkConfig)
    # Discount and target critics.
    targets: TargetConfig = field(default_factory=TargetConfig)
    # Policy samples for the baseline mean_j Q(s, a_j) (matched to EDP + CRR's 10).
    num_baseline_samples: int = 10
    # beta of Eq. 20.
    temperature: float = 1.0
    # Cap of exp(A / beta) (CRR's "exp" variant with a cap of 20).
    weight_cap: float | None = 20.0
    # Bounds of the state-independent log standard deviation.
    log_std_min: float = -5.0
    log_std_max: float = 2.0
    # Action bound: the mean is max_action * tanh(.) and sampled actions are clipped to it.
    max_action: float = 1.0
    # torch.compile the update: None = on when the state lives on CUDA.
    compile: bool | None = None
    # Raise ValueError naming the tensor when a batch holds NaN/inf.
    check_batch: bool = True


@dataclass(frozen=True)
class GaussianIQLConfig:
    """IQL (Kostrikov et al. 2022; App. A.3, Eq. 22) with a Gaussian MLP policy.

    ``inverse_temperature = 0`` gives Gaussian behaviour cloning (all weights 1).
    """

    # Adam and gradient clipping.
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    # MLP sizes and init.
    network: NetworkConfig = field(default_factory=NetworkConfig)
    # Discount and target critics.
    targets: TargetConfig = field(default_factory=TargetConfig)
    # tau of L_2^tau (IQL: 0.7, antmaze 0.9).
    expectile: float = 0.7
    # beta of IQL's exp(beta (Q - V)) (IQL: 3.0 locomotion, 10.0 antmaze, 0.5 kitchen/adroit).
    inverse_temperature: float = 3.0
    # Cap of the weight (IQL: 100).
    weight_cap: float | None = 100.0
    # Bounds of the state-independent log standard deviation (IQL: [-5, 2]).
    log_std_min: float = -5.0
    log_std_max: float = 2.0
    # Action bound: the mean is max_action * tanh(.).
    max_action: float = 1.0
    # torch.compile the update: None = on when the state lives on CUDA.
    compile: bool | None = None
    # Raise ValueError naming the tensor when a batch holds NaN/inf.
    check_batch: bool = True


AlgorithmConfig = (
    EDPTD3Config | EDPCRRConfig | EDPIQLConfig | TD3BCConfig | GaussianCRRConfig | GaussianIQLConfig
)


# --------------------------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------------------------

RewardTransform = Literal[
    "none", "iql_return_range", "minus_one", "shift_half_times_four", "min_max_symmetric"
]


@dataclass(frozen=True)
class DomainPreset:
    """Table 3's row of one domain plus the official per-domain choices (facts.md 3-4)."""

    # Domain name.
    domain: str
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


DOMAIN_PRESETS: dict[str, DomainPreset] = {
    "locomotion": DomainPreset(
        "locomotion", 3e-4, 5.0, 1.0, 2000, 256, 1000, 0.7, "iql_return_range", "none"
    ),
    "antmaze": DomainPreset(
        "antmaze", 3e-4, 5.0, 1.0, 1000, 256, 1000, 0.9, "minus_one", "shift_half_times_four"
    ),
    "adroit": DomainPreset(
        "adroit", 3e-5, 5.0, 0.1, 1000, 256, 1000, 0.7, "min_max_symmetric", "min_max_symmetric"
    ),
    "kitchen": DomainPreset(
        "kitchen", 3e-4, 5.0, 0.005, 1000, 256, 1000, 0.7, "min_max_symmetric", "min_max_symmetric"
    ),
}

# Official per-task gradient-norm clip ("gn" of the official hyper-parameter table), keyed by
# task name without its "-vN" suffix.
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


def _task_key(task: str) -> str:
    return _VERSION_SUFFIX.sub("", task.strip().lower())


def domain_of(task_or_domain: str) -> str:
    """The domain of a D4RL task name ("hopper-medium-v2" -> "locomotion") or a domain name."""
    name = _task_key(task_or_domain)
    if name in DOMAIN_PRESETS:
        return name
    if name.startswith(("halfcheetah", "hopper", "walker2d")):
        return "locomotion"
    if name.startswith("antmaze"):
        return "antmaze"
    if name.startswith(("pen", "door", "hammer", "relocate")):
        return "adroit"
    if name.startswith("kitchen"):
        return "kitchen"
    raise ValueError(
        f"domain_of: cannot tell the domain of {task_or_domain!r}; expected a task of "
        f"locomotion/antmaze/adroit/kitchen or one of {DOMAINS}"
    )


def official_grad_norm_clip(task: str) -> float:
    """The official per-task gradient-norm clip (facts.md section 3)."""
    key = _task_key(task)
    if key not in OFFICIAL_GRAD_NORM_CLIP:
        raise ValueError(
            f"official_grad_norm_clip: no official value for {task!r}; known tasks: "
            f"{sorted(OFFICIAL_GRAD_NORM_CLIP)}"
        )
    return OFFICIAL_GRAD_NORM_CLIP[key]


ConfigT = TypeVar(
    "ConfigT",
    EDPTD3Config,
    EDPCRRConfig,
    EDPIQLConfig,
    TD3BCConfig,
    GaussianCRRConfig,
    GaussianIQLConfig,
)


def preset_config(
    config: ConfigT, task_or_domain: str, grad_clip: GradClipSource = "paper"
) -> ConfigT:
    """``config`` with the learning rate, clip, loss weight and expectile of a task or domain.

    Args:
        config: a config of any algorithm (its other fields are kept), e.g. ``EDPIQLConfig()``.
        task_or_domain: a D4RL task ("walker2d-medium-expert-v2") or a domain ("kitchen").
        grad_clip: "paper" (Table 3: 5) or "official" (the per-task table; needs a task name).

    Returns:
        A new config of the same type.
    """
    preset = DOMAIN_PRESETS[domain_of(task_or_domain)]
    if grad_clip == "paper":
        clip = preset.max_grad_norm
    elif grad_clip == "official":
        clip = official_grad_norm_clip(task_or_domain)
    else:
        raise ValueError(
            f"preset_config: grad_clip must be 'paper' or 'official', got {grad_clip!r}"
        )
    optimizer = dataclasses.replace(
        config.optimizer, learning_rate=preset.learning_rate, max_grad_norm=clip
    )
    changes: dict[str, object] = {"optimizer": optimizer}
    if isinstance(config, EDPTD3Config | EDPCRRConfig | EDPIQLConfig):
        changes["loss_weight"] = preset.loss_weight
    if isinstance(config, EDPIQLConfig | GaussianIQLConfig):
        changes["expectile"] = preset.expectile
    return dataclasses.replace(config, **changes)  # type: ignore[arg-type]
