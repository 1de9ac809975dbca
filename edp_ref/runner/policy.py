"""A trained policy, loaded from its run folder: observations in, actions out (Sec. 4.5, Alg. 2).

:func:`load_policy` reads a run folder's ``config.json`` and its sealed checkpoint and returns a
:class:`Policy` and the algorithm config it was trained with. The policy acts as the run's
evaluations did: the algorithm's own ``act`` (energy-based action selection over N DPM-Solver or
DDPM samples for diffusion policies, App. C.4's settings; the actor or the Gaussian mean for
feed-forward ones), after the run's observation transform, with its actions clipped to the
action space and mapped back to the environment's bounds when the run rescaled them to [-1, 1].
Every random draw comes from the policy's own seeded generator. No dataset is needed: the
checkpoint holds what acting needs.

    policy, config = edp_ref.load_policy("runs/train/hopper-medium-v2/edp_td3/seed0")
    action = policy(observation)  # numpy in, numpy out (torch in, torch out)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, overload

import numpy as np
import torch
from torch import Tensor

from edp_ref import algorithms as A
from edp_ref.algorithms.acting import ActingSettings
from edp_ref.data.evaluation import ScoreReference, evaluate, make_eval_env
from edp_ref.data.preprocessing import ObservationNormalizer
from edp_ref.runner.agents import AgentSpec
from edp_ref.runner.checkpoint import load_checkpoint
from edp_ref.runner.config_json import config_from_json
from edp_ref.runner.run_folder import CHECKPOINT_FILE, read_configuration_document
from edp_ref.runner.spec import RunSpec

__all__ = ["Policy", "evaluate_policy", "load_policy"]


class Policy:
    """observations -> actions of a trained run (see the module docstring).

    Attributes:
        spec: the run's :class:`~edp_ref.runner.spec.RunSpec`.
        config: the algorithm config it was trained with.
        settings: how it acts (EAS candidates N, sampler; App. C.4).
        step: the training updates of the checkpoint it was loaded from.
        env_id: the Gymnasium id of the run's evaluation environment (None if unknown).
        reference: REF_MIN / REF_MAX of normalized scores for the run's dataset, if known.
    """

    def __init__(
        self,
        agent: AgentSpec,
        spec: RunSpec,
        config: A.AlgorithmConfig,
        state: A.TrainState,
        settings: ActingSettings,
        *,
        seed: int,
        step: int,
        observation_transform: ObservationNormalizer | None,
        action_bounds: tuple[Tensor, Tensor] | None,
        actions_rescaled: bool,
        env_id: str | None,
        reference: ScoreReference | None,
    ) -> None:
        self._agent, self._state = agent, state
        self.spec, self.config, self.settings, self.step = spec, config, settings, step
        self.env_id, self.reference = env_id, reference
        self._transform = observation_transform
        self._bounds, self._rescaled = action_bounds, actions_rescaled
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def device(self) -> torch.device:
        return self._state.device

    @property
    def observation_dim(self) -> int:
        return int(self._state.networks.state_dim)

    @property
    def action_dim(self) -> int:
        return int(self._state.networks.action_dim)

    def reset(self, seed: int) -> None:
        """Restart the policy's random draws from ``seed``."""
        self.generator.manual_seed(seed)

    @overload
    def __call__(self, observations: np.ndarray) -> np.ndarray: ...
    @overload
    def __call__(self, observations: Tensor) -> Tensor: ...
    def __call__(self, observations: np.ndarray | Tensor) -> np.ndarray | Tensor:
        """Actions for observations ``[S]`` or ``[B, S]`` (numpy or torch; the same comes back,
        ``[A]`` or ``[B, A]``, in the environment's action bounds)."""
        as_numpy = not isinstance(observations, Tensor)
        obs = torch.as_tensor(np.asarray(observations) if as_numpy else observations)
        single = obs.dim() == 1
        if single:
            obs = obs.unsqueeze(0)
        if obs.dim() != 2 or obs.shape[1] != self.observation_dim:
            raise ValueError(
                f"Policy: observations must have shape [{self.observation_dim}] or "
                f"[B, {self.observation_dim}] (the run's observation width), got "
                f"{tuple(observations.shape)}"
            )
        obs = obs.to(device=self.device, dtype=self._state.dtype)
        with torch.no_grad():
            if self._transform is not None:
                obs = self._transform(obs)
            actions = self._agent.act(self._state, obs, self.config, self.settings, self.generator)
        if self._bounds is not None:
            # As the run's evaluations: actions clipped to the action space (the run's [-1, 1]
            # when it rescaled them, then mapped back to the environment's bounds).
            low, high = (b.to(actions) for b in self._bounds)
            if self._rescaled:
                actions = low + (actions.clamp(-1.0, 1.0) + 1.0) * 0.5 * (high - low)
            else:
                actions = torch.minimum(torch.maximum(actions, low), high)
        if single:
            actions = actions.squeeze(0)
        return actions.cpu().numpy() if as_numpy else actions


def load_policy(
    run_dir: str | Path,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    settings: ActingSettings | None = None,
) -> tuple[Policy, A.AlgorithmConfig]:
    """The policy of a run folder's latest checkpoint, and its algorithm config.

    Args:
        run_dir: a run folder of ``edp-train`` or ``edp-reproduce`` (finished or not).
        device: where the networks act.
        seed: the seed of the policy's random draws (EAS candidates).
        settings: how it acts (None: EAS with the run's ``eas_candidates``).

    Raises:
        RunFolderError: ``config.json`` is missing or damaged.
        CheckpointError: the checkpoint is missing, damaged, of an older format or of another
            configuration.
    """
    run_dir = Path(run_dir)
    document = read_configuration_document(run_dir)
    spec = RunSpec.from_json(document["run"])
    agent = spec.agent
    config = config_from_json(
        agent.spec.config_class, document["algorithm"].get("config"), "config.json algorithm"
    )
    ckpt = load_checkpoint(run_dir / CHECKPOINT_FILE, document)
    template = agent.init(
        config, ckpt.state_dim, ckpt.action_dim, torch.Generator().manual_seed(0), device
    )
    state = A.load_state_tensors(template, ckpt.state)
    data = ckpt.data
    transform = None
    if "observation_mean" in data:
        transform = ObservationNormalizer(
            data["observation_mean"].to(device),
            data["observation_std"].to(device),
            float(data["observation_eps"]),
            float(data["observation_clip"]),
        )
    bounds = (data["action_low"], data["action_high"]) if "action_low" in data else None
    env: dict[str, Any] = ckpt.environment
    reference = None
    if env.get("ref_min_score") is not None and env.get("ref_max_score") is not None:
        reference = ScoreReference(env["ref_min_score"], env["ref_max_score"], env["reference"])
    policy = Policy(
        agent,
        spec,
        config,
        state,
        settings or ActingSettings(eas_candidates=spec.eas_candidates),
        seed=seed,
        step=ckpt.step,
        observation_transform=transform,
        action_bounds=bounds,
        actions_rescaled=bool(env.get("actions_rescaled")),
        env_id=env.get("env_id"),
        reference=reference,
    )
    return policy, config


def evaluate_policy(
    policy: Policy, env_id: str | None = None, *, episodes: int = 10, seed: int = 0, envs: int = 1
) -> dict[str, Any]:
    """Run ``episodes`` episodes of ``policy`` in the Gymnasium environment ``env_id`` (None: the
    run's own) and return the mean and std of the return and, when the run's dataset has
    references and the environment is the run's own, of the normalized score."""
    env_name = env_id or policy.env_id
    if env_name is None:
        raise ValueError(
            "evaluate_policy: the run names no evaluation environment; pass a Gymnasium id"
        )
    env = make_eval_env(env_name, envs)
    try:
        reference = policy.reference if env_name == policy.env_id else None
        out = evaluate(
            lambda obs: torch.as_tensor(policy(obs)),
            env,
            episodes,
            seed=seed,
            reference=reference,
        )
    finally:
        env.close()
    normalized = out.normalized
    return {
        "env_id": env_name,
        "episodes": episodes,
        "return_mean": out.mean_return,
        "return_std": float(out.returns.std()) if episodes > 1 else math.nan,
        "normalized_mean": None if normalized is None else float(normalized.mean()),
        "normalized_std": None if normalized is None else float(normalized.std()),
        "step": policy.step,
    }
