"""Everything a run builds from its :class:`~edp_ref.runner.spec.RunSpec` before it trains or
evaluates: the prepared dataset (on the run's device), the resolved algorithm config
(:func:`~edp_ref.runner.run_config.resolve_config`), the initial training state and generators,
the evaluation environment, and one evaluation of a policy (Sec. 5).

Randomness: every purpose (initialisation, minibatches, update randomness, each evaluation's
actions and environment seeds) draws from its own generator, seeded by :func:`stream_seed` from
the run's seed and the purpose, so a run and its resumption draw the same numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from edp_ref import algorithms as A
from edp_ref.data.evaluation import eval_env_for, evaluate, reference_for
from edp_ref.runner.agents import AgentSpec
from edp_ref.runner.run_config import resolve_config
from edp_ref.runner.run_data import (
    describe_dataset,
    load_run_dataset,
    minari_root,
    prepare_training_data,
)
from edp_ref.runner.spec import RunSpec

__all__ = ["PolicyEvaluation", "PreparedRun", "evaluation_policy", "run_device", "stream_seed"]

#: Generator streams of a run (see :func:`stream_seed`): initialisation, minibatch indices,
#: update randomness; evaluation ``i`` draws actions from stream ``EVAL_ACTIONS + i`` and seeds
#: its environments from ``EVAL_ENVS + i``.
INIT, BATCHES, UPDATES, EVAL_ACTIONS, EVAL_ENVS = 0, 1, 2, 1000, 2000


def stream_seed(seed: int, stream: int) -> int:
    """A deterministic seed per (run seed, purpose)."""
    return (seed * 1_000_003 + stream * 7_919 + 12_345) % (2**31 - 1)


def evaluation_policy(
    agent: AgentSpec,
    config: Any,
    state: A.TrainState,
    settings: A.ActingSettings,
    generator: torch.Generator,
) -> Callable[[Tensor], Tensor]:
    """observations -> actions of the agent at evaluation: its algorithm's ``act`` (Alg. 2 EAS
    for diffusion policies, the actor or Gaussian mean for feed-forward ones, Table 6's
    perturbed-actor EAS for TD3+EAS), every random draw from ``generator``."""
    return lambda obs: agent.act(state, obs, config, settings, generator)


@dataclass(frozen=True)
class PolicyEvaluation:
    """One evaluation of a policy over ``episodes`` episodes (Sec. 5).

    Attributes:
        return_mean, return_std: undiscounted episode return (raw environment reward).
        normalized_mean, normalized_std: D4RL's normalized score (or the local dataset's own
            references), None when the dataset has no reference scores.
        seconds: wall time of the evaluation.
    """

    return_mean: float
    return_std: float
    normalized_mean: float | None
    normalized_std: float | None
    seconds: float

    @property
    def score(self) -> float:
        """What RAT and OMS use: the normalized mean when known, else the mean return."""
        return self.normalized_mean if self.normalized_mean is not None else self.return_mean


def run_device(spec: RunSpec) -> torch.device:
    """The run's device; ``ValueError`` naming ``RunSpec.device`` when it is not available."""
    device = torch.device(spec.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"RunSpec.device {spec.device!r}: CUDA is not available on this machine "
            "(torch.cuda.is_available() is False; a CPU build of torch, or no GPU)"
        )
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(
            f"RunSpec.device {spec.device!r}: this machine has "
            f"{torch.cuda.device_count()} CUDA device(s)"
        )
    return device


class PreparedRun:
    """A run's data, config, state template and (lazily built) evaluation environment."""

    def __init__(self, spec: RunSpec, config: A.AlgorithmConfig | None = None) -> None:
        self.spec = spec
        self.agent = spec.agent
        self.device = run_device(spec)
        self.config = config if config is not None else resolve_config(spec)
        raw = load_run_dataset(spec)
        self.data = describe_dataset(raw)
        prepared = prepare_training_data(raw, spec)
        self.dataset = prepared.dataset.to(self.device)
        self.rescaled = prepared.rescaled
        self.obs_transform = prepared.observation_transform
        self.raw = raw
        self.state_dim, self.action_dim = self.dataset.state_dim, self.dataset.action_dim
        self.reference = reference_for(raw)
        self._env: Any = None

    def init_state(self) -> A.TrainState:
        g = torch.Generator().manual_seed(stream_seed(self.spec.seed, INIT))
        return self.agent.init(self.config, self.state_dim, self.action_dim, g, self.device)

    def generators(self) -> dict[str, torch.Generator]:
        """The minibatch and update-randomness generators, on the run's device."""
        return {
            name: torch.Generator(self.device).manual_seed(stream_seed(self.spec.seed, stream))
            for name, stream in (("batches", BATCHES), ("updates", UPDATES))
        }

    def acting_data(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """What acting needs besides the networks, for the checkpoint: the observation
        normalizer and the environment's action bounds (tensors), and the evaluation
        environment's id, whether actions were rescaled to [-1, 1] and the score references
        (JSON)."""
        tensors: dict[str, Tensor] = {}
        if self.obs_transform is not None:
            t = self.obs_transform
            tensors["observation_mean"] = t.mean
            tensors["observation_std"] = t.std
            tensors["observation_eps"] = torch.tensor(t.eps, dtype=torch.float64)
            tensors["observation_clip"] = torch.tensor(t.clip, dtype=torch.float64)
        if self.raw.action_low is not None and self.raw.action_high is not None:
            tensors["action_low"] = self.raw.action_low
            tensors["action_high"] = self.raw.action_high
        env = {
            "env_id": self.raw.env_id,
            "actions_rescaled": self.rescaled,
            "ref_min_score": None if self.reference is None else self.reference.ref_min,
            "ref_max_score": None if self.reference is None else self.reference.ref_max,
            "reference": None if self.reference is None else self.reference.source,
        }
        return tensors, env

    def env(self) -> Any:
        if self._env is None:
            n = min(self.spec.eval_envs, self.spec.eval_episodes)
            with minari_root(self.spec.local_root):
                self._env = eval_env_for(self.raw, n, rescale_actions=self.rescaled)
        return self._env

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None

    def evaluate(
        self, state: A.TrainState, index: int, settings: A.ActingSettings, episodes: int
    ) -> PolicyEvaluation:
        """Evaluate ``state``'s policy for ``episodes`` episodes as evaluation number ``index``
        (which picks its generator streams)."""
        t0 = time.perf_counter()
        generator = torch.Generator().manual_seed(stream_seed(self.spec.seed, EVAL_ACTIONS + index))
        policy = evaluation_policy(self.agent, self.config, state, settings, generator)
        result = evaluate(
            policy,
            self.env(),
            episodes,
            seed=stream_seed(self.spec.seed, EVAL_ENVS + index),
            reference=self.reference,
            observation_transform=self.obs_transform,
            device=self.device,
        )
        norm = result.normalized
        return PolicyEvaluation(
            return_mean=float(result.returns.mean()),
            return_std=float(result.returns.std()),
            normalized_mean=None if norm is None else float(norm.mean()),
            normalized_std=None if norm is None else float(norm.std()),
            seconds=time.perf_counter() - t0,
        )
