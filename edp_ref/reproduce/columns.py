"""The agents the runner trains: the (algorithm, policy class) columns of the paper's tables, each
bound to a registered algorithm (:data:`edp_ref.algorithms.REGISTRY`), a config variant and the
way it acts at evaluation.

| algorithm / policy | paper | registered algorithm |
|---|---|---|
| {td3,crr,iql} / edp | EDP + TD3 / CRR / IQL (Tables 2, 5) | ``edp_{td3,crr,iql}`` |
| {td3,crr,iql} / ff | Table 2's FF columns | ``td3bc``, ``gaussian_crr``, ``gaussian_iql`` |
| td3-eas / ff | Table 6's TD3+EAS: TD3+BC evaluated with EAS | ``td3bc`` (perturbed-actor EAS) |
| dql / diffusion | Tables 1, 4's DQL (Diffusion-QL's configuration) | ``dql`` |
| td3-k100 / edp | Table 7's "Action Approx" (K = 100) | ``edp_td3`` with K = 100 |
| td3-k100 / diffusion | Table 7's "DDPM" (100 DDPM steps) | ``edp_without_ap`` with DDPM, K = 100 |

Every config starts from the registered algorithm's defaults (the paper's), then Table 3's
per-domain preset (:func:`edp_ref.algorithms.table3_config`). Any registered algorithm is an
agent too (:func:`registered_agent`: ``edp-train --algorithm edp_td3``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from edp_ref import algorithms as alg
from edp_ref.algorithms.acting import ActFn
from edp_ref.algorithms.registry import AlgorithmSpec, DrawFn, InitFn, RewardFamily, UpdateFn

__all__ = [
    "AGENTS",
    "ALGORITHMS",
    "POLICIES",
    "AgentSpec",
    "agent_spec",
    "build_config",
    "registered_agent",
]


@dataclass(frozen=True)
class AgentSpec:
    """One column of the paper's tables: a registered algorithm, a config variant, an act.

    Attributes:
        algorithm: the runner's algorithm name (``td3``, ``crr``, ``iql``, ``dql``, ...).
        policy: ``edp`` (efficient diffusion policy), ``ff`` (feed-forward MLP) or
            ``diffusion`` (a diffusion policy trained through its whole sampler).
        description: the paper's name of the agent.
        registered: the name of the algorithm in :data:`edp_ref.algorithms.REGISTRY`.
        config_changes: fields that differ from the registered algorithm's default config
            (nested configs given by their changed fields, e.g. ``{"diffusion": {...}}``).
        act_override: how it acts at evaluation when not the algorithm's own ``act``.
    """

    algorithm: str
    policy: str
    description: str
    registered: str
    config_changes: Mapping[str, Any] = field(default_factory=dict)
    act_override: ActFn | None = None

    @property
    def key(self) -> str:
        return f"{self.algorithm}-{self.policy}"

    @property
    def spec(self) -> AlgorithmSpec:
        """The registered algorithm."""
        return alg.REGISTRY[self.registered]

    @property
    def init(self) -> InitFn:
        return self.spec.init

    @property
    def draw(self) -> DrawFn:
        return self.spec.draw

    @property
    def update(self) -> UpdateFn:
        return self.spec.update

    @property
    def act(self) -> ActFn:
        return self.act_override or self.spec.act

    @property
    def family(self) -> RewardFamily:
        return self.spec.reward_family

    @property
    def is_diffusion(self) -> bool:
        return self.spec.policy_class == "diffusion"

    def base_config(self) -> alg.AlgorithmConfig:
        """The registered algorithm's default config with this agent's changes."""
        config: alg.AlgorithmConfig = _with_changes(self.spec.config_class(), self.config_changes)
        return config


def _with_changes(config: Any, changes: Mapping[str, Any]) -> Any:
    resolved = {
        name: _with_changes(getattr(config, name), value) if isinstance(value, Mapping) else value
        for name, value in changes.items()
    }
    return dataclasses.replace(config, **resolved)


_K100 = {"diffusion": {"num_steps": 100}}

_AGENT_LIST = (
    AgentSpec("td3", "edp", "EDP + TD3", "edp_td3"),
    AgentSpec("crr", "edp", "EDP + CRR", "edp_crr"),
    AgentSpec("iql", "edp", "EDP + IQL", "edp_iql"),
    AgentSpec("td3", "ff", "TD3+BC (feed-forward)", "td3bc"),
    AgentSpec("crr", "ff", "CRR (Gaussian feed-forward)", "gaussian_crr"),
    AgentSpec("iql", "ff", "IQL (Gaussian feed-forward)", "gaussian_iql"),
    AgentSpec(
        "td3-eas",
        "ff",
        "TD3+BC evaluated with EAS (Table 6)",
        "td3bc",
        act_override=alg.perturbed_actor_eas_act,
    ),
    AgentSpec("dql", "diffusion", "DQL: Diffusion-QL's configuration (vp, K = 5)", "dql"),
    AgentSpec(
        "td3-k100", "edp", "EDP + TD3 with K = 100 (Table 7, Action Approx)", "edp_td3", _K100
    ),
    AgentSpec(
        "td3-k100",
        "diffusion",
        "EDP + TD3 through 100 DDPM steps (Table 7, DDPM)",
        "edp_without_ap",
        {**_K100, "policy_action_sampler": "ddpm"},
    ),
)

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


def registered_agent(name: str) -> AgentSpec:
    """A registered algorithm (:data:`edp_ref.algorithms.REGISTRY`) as an agent: its own config
    class, defaults and ``act``; ``ValueError`` listing the registered names otherwise."""
    spec = alg.algorithm(name)
    return AgentSpec(name, spec.policy_class, spec.title, name)


def build_config(
    agent: AgentSpec,
    task: str,
    *,
    hidden: int | None = None,
    grad_clip: Literal["paper", "official"] = "paper",
) -> alg.AlgorithmConfig:
    """The agent's config with Table 3's preset for ``task`` (learning rate, gradient clip, loss
    weight, expectile) and an optional smaller network width (smoke runs)."""
    config = alg.table3_config(agent.base_config(), task, grad_clip)
    if hidden is not None:
        config = dataclasses.replace(
            config, network=dataclasses.replace(config.network, hidden=hidden)
        )
    return config
