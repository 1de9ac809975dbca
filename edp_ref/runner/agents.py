"""The agents the runner trains: (algorithm, policy class) pairs of the paper's tables.

Each agent binds the algorithm module's ``init_*``, ``draw_*_randomness`` and ``*_update``
(``edp_ref.algorithms``) to a config built with Table 3's per-domain preset
(``preset_config``), and says how it acts at evaluation:

| algorithm / policy | paper | update |
|---|---|---|
| {td3,crr,iql} / edp | EDP + TD3 / CRR / IQL (Tables 2, 5) | ``edp_{td3,crr,iql}_update`` |
| {td3,crr,iql} / ff | Table 2's FF columns | ``td3bc_update``, ``gaussian_{crr,iql}_update`` |
| td3-eas / ff | Table 6's TD3+EAS: TD3+BC evaluated with EAS | ``td3bc_update`` |
| dql / diffusion | Tables 1, 4's DQL (Diffusion-QL's configuration) | ``dql_update`` |
| td3-k100 / edp | Table 7's "Action Approx" (K = 100) | ``edp_td3_update`` |
| td3-k100 / diffusion | Table 7's "DDPM" (100 DDPM steps) | ``edp_without_ap_update`` |

Diffusion agents act by energy-based action selection (Sec. 4.5, Alg. 2) over DPM-Solver samples
(DDPM for the DQL agent, as Diffusion-QL samples); feed-forward agents act with the actor's
output (TD3+BC) or the Gaussian mean (CRR, IQL).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from edp_ref import algorithms as A
from edp_ref.algorithms.config import AlgorithmConfig, SamplerKind
from edp_ref.algorithms.execution import Metrics

__all__ = [
    "AGENTS",
    "ALGORITHMS",
    "POLICIES",
    "AgentSpec",
    "agent_spec",
    "build_config",
]

Family = Literal["td3", "crr", "iql"]
EvalMode = Literal["eas", "feedforward", "feedforward_eas"]

InitFn = Callable[..., A.TrainState]
DrawFn = Callable[..., Any]
UpdateFn = Callable[[A.TrainState, A.Batch, Any, Any], tuple[A.TrainState, Metrics]]


@dataclass(frozen=True)
class AgentSpec:
    """How to build, train and evaluate one (algorithm, policy class) pair.

    Attributes:
        algorithm: the runner's algorithm name (``td3``, ``crr``, ``iql``, ``dql``, ...).
        policy: ``edp`` (efficient diffusion policy), ``ff`` (feed-forward MLP) or
            ``diffusion`` (a diffusion policy trained through its whole sampler).
        description: the paper's name of the agent.
        family: td3 / crr / iql: picks the official per-domain reward preprocessing.
        base_config: the config before Table 3's per-task preset.
        init, draw, update: the algorithm module's functions.
        eval_mode: ``eas`` (diffusion: Alg. 2 over sampler draws), ``feedforward`` (actor or
            Gaussian mean), ``feedforward_eas`` (Table 6: EAS over Gaussian perturbations of
            the deterministic actor).
        eval_sampler: sampler of the EAS candidates.
    """

    algorithm: str
    policy: str
    description: str
    family: Family
    base_config: Callable[[], AlgorithmConfig]
    init: InitFn
    draw: DrawFn
    update: UpdateFn
    eval_mode: EvalMode
    eval_sampler: SamplerKind = "dpm_solver"

    @property
    def key(self) -> str:
        return f"{self.algorithm}-{self.policy}"

    @property
    def is_diffusion(self) -> bool:
        return self.eval_mode == "eas"


def _no_randomness(*_args: Any, **_kwargs: Any) -> None:
    return None


def _k100_ddpm() -> AlgorithmConfig:
    return A.EDPWithoutAPConfig(
        diffusion=A.DiffusionConfig(num_steps=100), policy_action_sampler="ddpm"
    )


_AGENT_LIST = (
    AgentSpec(
        "td3", "edp", "EDP + TD3", "td3", A.EDPTD3Config, A.init_edp_td3,
        A.draw_td3_randomness, A.edp_td3_update, "eas",
    ),
    AgentSpec(
        "crr", "edp", "EDP + CRR", "crr", A.EDPCRRConfig, A.init_edp_crr,
        A.draw_crr_randomness, A.edp_crr_update, "eas",
    ),
    AgentSpec(
        "iql", "edp", "EDP + IQL", "iql", A.EDPIQLConfig, A.init_edp_iql,
        A.draw_iql_randomness, A.edp_iql_update, "eas",
    ),
    AgentSpec(
        "td3", "ff", "TD3+BC (feed-forward)", "td3", A.TD3BCConfig, A.init_td3bc,
        A.draw_td3bc_randomness, A.td3bc_update, "feedforward",
    ),
    AgentSpec(
        "crr", "ff", "CRR (Gaussian feed-forward)", "crr", A.GaussianCRRConfig,
        A.init_gaussian_crr, A.draw_gaussian_crr_randomness, A.gaussian_crr_update,
        "feedforward",
    ),
    AgentSpec(
        "iql", "ff", "IQL (Gaussian feed-forward)", "iql", A.GaussianIQLConfig,
        A.init_gaussian_iql, _no_randomness, A.gaussian_iql_update, "feedforward",
    ),
    AgentSpec(
        "td3-eas", "ff", "TD3+BC evaluated with EAS (Table 6)", "td3", A.TD3BCConfig,
        A.init_td3bc, A.draw_td3bc_randomness, A.td3bc_update, "feedforward_eas",
    ),
    AgentSpec(
        "dql", "diffusion", "DQL: Diffusion-QL's configuration (vp, K = 5)", "td3", A.DQLConfig,
        A.init_dql, A.draw_dql_randomness, A.dql_update, "eas", "ddpm",
    ),
    AgentSpec(
        "td3-k100", "edp", "EDP + TD3 with K = 100 (Table 7, Action Approx)", "td3",
        lambda: A.EDPTD3Config(diffusion=A.DiffusionConfig(num_steps=100)), A.init_edp_td3,
        A.draw_td3_randomness, A.edp_td3_update, "eas",
    ),
    AgentSpec(
        "td3-k100", "diffusion", "EDP + TD3 through 100 DDPM steps (Table 7, DDPM)", "td3",
        _k100_ddpm, A.init_edp_td3, A.draw_td3_randomness, A.edp_without_ap_update, "eas",
    ),
)  # fmt: skip

#: Every agent by ``(algorithm, policy)``.
AGENTS: dict[tuple[str, str], AgentSpec] = {(a.algorithm, a.policy): a for a in _AGENT_LIST}
#: The algorithm names ``--algos`` accepts.
ALGORITHMS: tuple[str, ...] = tuple(dict.fromkeys(a.algorithm for a in _AGENT_LIST))
#: The policy classes.
POLICIES: tuple[str, ...] = ("edp", "ff", "diffusion")


def agent_spec(algorithm: str, policy: str) -> AgentSpec:
    """The agent ``(algorithm, policy)``; ``ValueError`` naming the known ones otherwise."""
    if algorithm not in ALGORITHMS:
        raise ValueError(
            f"unknown algorithm {algorithm!r}; known algorithms: {', '.join(ALGORITHMS)}"
        )
    if (algorithm, policy) not in AGENTS:
        known = [p for (a, p) in AGENTS if a == algorithm]
        raise ValueError(
            f"algorithm {algorithm!r} has no policy class {policy!r}; it has: {', '.join(known)}"
        )
    return AGENTS[(algorithm, policy)]


def build_config(
    agent: AgentSpec,
    task: str,
    *,
    hidden: int | None = None,
    grad_clip: Literal["paper", "official"] = "paper",
) -> AlgorithmConfig:
    """The agent's config with Table 3's preset for ``task`` (learning rate, gradient clip, loss
    weight, expectile), an optional smaller network width (smoke runs) and, on CPU, no
    torch.compile."""
    config: Any = A.preset_config(agent.base_config(), task, grad_clip)  # type: ignore[type-var]
    if hidden is not None:
        config = dataclasses.replace(
            config, network=dataclasses.replace(config.network, hidden=hidden)
        )
    result: AlgorithmConfig = config
    return result
