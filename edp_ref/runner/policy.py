"""A trained run's policy, and the one way a policy is evaluated (Sec. 4.5, Alg. 2; Sec. 5).

:class:`Policy` maps observations to actions as the run's evaluations do: the registered
algorithm's own ``act`` (energy-based action selection for diffusion policies, App. C.4's
settings; Table 6's perturbed-actor EAS for TD3+EAS; the actor or the Gaussian mean for
feed-forward ones), after the run's observation transform, its actions clipped to the action
space and mapped back to the environment's bounds when the run rescaled them to [-1, 1]. Every
random draw comes from the policy's own seeded generator, or, in an evaluation, from its
episode's own. The training loop and :func:`load_policy` build it from the same acting data
(:func:`acting_data`), so no dataset is needed to act.

:func:`evaluate` is the one evaluation of a policy (training, the re-evaluations of Figs. 4-7,
``edp-train --eval-only``); episode j's environment seed and action draws depend on the
evaluation's seeds and j alone, so its result does not depend on how many episodes run at once
(to float round-off). It reports the mean and population standard deviation (ddof 0: 0 for one
episode) of the undiscounted return and, with references in the run's own environment, of the
normalized score.

    policy, config = edp_ref.load_policy("runs/train/hopper-medium-v2/edp_td3/seed0")
    action = policy(observation)  # numpy in, numpy out (torch in, torch out)
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np
import torch
from gymnasium.vector import VectorEnv
from torch import Tensor

from edp_ref.algorithms.acting import ActingSettings, Generators
from edp_ref.algorithms.config import AlgorithmConfig
from edp_ref.algorithms.state import TrainState, load_state_tensors
from edp_ref.data import evaluation
from edp_ref.data.evaluation import ScoreReference, make_eval_env
from edp_ref.data.preprocessing import ObservationNormalizer, Preprocessed
from edp_ref.data.transitions import TransitionDataset
from edp_ref.runner.dataset import minari_root
from edp_ref.runner.run_folder import CHECKPOINT_FILE, load_checkpoint, read_configuration_document
from edp_ref.runner.spec import EVAL_ACTIONS, EVAL_ENVS, RunSpec, config_from_json

__all__ = [
    "Policy",
    "PolicyEvaluation",
    "acting_data",
    "evaluate",
    "evaluate_policy",
    "evaluation_seeds",
    "load_policy",
]


def acting_data(
    raw: TransitionDataset, prepared: Preprocessed
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """What acting needs from a run's data, as its checkpoint stores it: tensors (observation
    normalizer, action bounds) and JSON (environment, rescaling, score references)."""
    tensors: dict[str, Tensor] = {}
    transform = prepared.observation_transform
    if transform is not None:
        tensors["observation_mean"] = transform.mean
        tensors["observation_std"] = transform.std
        tensors["observation_eps"] = torch.tensor(transform.eps, dtype=torch.float64)
        tensors["observation_clip"] = torch.tensor(transform.clip, dtype=torch.float64)
    if raw.action_low is not None and raw.action_high is not None:
        tensors["action_low"], tensors["action_high"] = raw.action_low, raw.action_high
    reference = evaluation.reference_for(raw)
    environment = {
        "env_id": raw.env_id,
        "minari_id": raw.minari_id,
        "actions_rescaled": prepared.rescaled,
        "ref_min_score": None if reference is None else reference.ref_min,
        "ref_max_score": None if reference is None else reference.ref_max,
        "reference": None if reference is None else reference.source,
    }
    return tensors, environment


class Policy:
    """observations -> actions of a trained run (module docstring); ``step``: the updates of
    the state it acts with, ``reference``: the run's score references, if known."""

    def __init__(
        self,
        spec: RunSpec,
        config: AlgorithmConfig,
        state: TrainState,
        settings: ActingSettings,
        data: Mapping[str, Tensor],
        environment: Mapping[str, Any],
        *,
        seed: int = 0,
        step: int = 0,
    ) -> None:
        self.spec, self.config, self.settings, self.step = spec, config, settings, step
        self._state, self._act = state, spec.registered.act
        self.env_id: str | None = environment.get("env_id")
        self._minari_id: str | None = environment.get("minari_id")
        lo, hi = environment.get("ref_min_score"), environment.get("ref_max_score")
        self.reference = (
            None if lo is None or hi is None else ScoreReference(lo, hi, environment["reference"])
        )
        self._transform = None
        if "observation_mean" in data:
            self._transform = ObservationNormalizer(
                data["observation_mean"].to(state.device),
                data["observation_std"].to(state.device),
                float(data["observation_eps"]),
                float(data["observation_clip"]),
            )
        self._bounds = (data["action_low"], data["action_high"]) if "action_low" in data else None
        self._rescaled = bool(environment.get("actions_rescaled"))
        self.generator = torch.Generator().manual_seed(seed)
        self._seed, self._episodes = seed, dict[int, torch.Generator]()

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
        """Restart the policy's random draws from ``seed``, its episodes' too."""
        self.generator.manual_seed(seed)
        self._seed, self._episodes = seed, {}

    def act_in_episodes(self, observations: Tensor, episodes: Sequence[int]) -> Tensor:
        """Actions for observations ``[B, S]``, row b drawing from episode ``episodes[b]``'s
        generator (seeded from :meth:`reset`'s seed and the episode's index)."""
        for j in episodes:
            if j not in self._episodes:
                seed = np.random.SeedSequence((self._seed, j)).generate_state(1)[0]
                self._episodes[j] = torch.Generator().manual_seed(int(seed))
        generators = [self._episodes[j] for j in episodes]
        return self._actions(observations, generators, tuple(observations.shape))

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
        shape = tuple(obs.shape)
        actions = self._actions(obs.unsqueeze(0) if single else obs, self.generator, shape)
        if single:
            actions = actions.squeeze(0)
        return actions.cpu().numpy() if as_numpy else actions

    def _actions(self, obs: Tensor, generators: Generators, shape: tuple[int, ...]) -> Tensor:
        if obs.dim() != 2 or obs.shape[1] != self.observation_dim:
            raise ValueError(
                f"Policy: observations must have shape [{self.observation_dim}] or "
                f"[B, {self.observation_dim}] (the run's observation width), got "
                f"{shape}"
            )
        with torch.no_grad():
            obs = self.prepare(obs)
            actions = self._act(self._state, obs, self.config, self.settings, generators)
        return self.to_environment(actions)

    @property
    def state(self) -> TrainState:
        return self._state

    def prepare(self, observations: Tensor) -> Tensor:
        """Environment observations ``[B, S]`` as the networks take them."""
        obs = observations.to(device=self.device, dtype=self._state.dtype)
        return obs if self._transform is None else self._transform(obs)

    def to_environment(self, actions: Tensor) -> Tensor:
        """The networks' actions in the environment's bounds (mapped back if rescaled)."""
        if self._bounds is None:
            return actions
        low, high = (b.to(actions) for b in self._bounds)
        if self._rescaled:
            return low + (actions.clamp(-1.0, 1.0) + 1.0) * 0.5 * (high - low)
        return torch.minimum(torch.maximum(actions, low), high)

    def environment(self, envs: int = 1) -> VectorEnv[Any, Any, Any]:
        """``envs`` copies of the run's own evaluation environment (in its ``local_root``)."""
        with minari_root(self.spec.local_root):
            return evaluation.dataset_env(
                self.env_id,
                self._minari_id,
                self.observation_dim,
                self.action_dim,
                envs,
                source=f"the evaluation environment of {self.spec.task}",
            )


def load_policy(
    run_dir: str | Path,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    settings: ActingSettings | None = None,
) -> tuple[Policy, AlgorithmConfig]:
    """The policy of a run folder's latest checkpoint (finished or not), and its algorithm
    config. ``settings``: how it acts (None: EAS with the run's ``eas_candidates``). Raises
    ``RunFolderError`` or ``CheckpointError`` naming the file."""
    run_dir = Path(run_dir)
    document = read_configuration_document(run_dir)
    spec = RunSpec.from_json(document["run"])
    config = config_from_json(
        spec.registered.config_class, document["algorithm"].get("config"), "config.json algorithm"
    )
    ckpt = load_checkpoint(run_dir / CHECKPOINT_FILE, document)
    init = spec.registered.init
    template = init(config, ckpt.state_dim, ckpt.action_dim, torch.Generator(), device)
    policy = Policy(
        spec,
        config,
        load_state_tensors(template, ckpt.state),
        settings or ActingSettings(eas_candidates=spec.eas_candidates),
        ckpt.data,
        ckpt.environment,
        seed=seed,
        step=ckpt.step,
    )
    return policy, config


@dataclass(frozen=True)
class PolicyEvaluation:
    """One evaluation of a policy (:func:`evaluate`): undiscounted return and normalized score
    (None without references), mean and population standard deviation over the episodes."""

    episodes: int
    return_mean: float
    return_std: float
    normalized_mean: float | None
    normalized_std: float | None
    seconds: float

    @property
    def score(self) -> float:
        """What RAT and OMS use: the normalized mean when known, else the mean return."""
        return self.normalized_mean if self.normalized_mean is not None else self.return_mean

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "score": self.score}


def evaluation_seeds(spec: RunSpec, index: int) -> tuple[int, int]:
    """(environment seed, action seed) of the run's evaluation number ``index``."""
    return spec.stream_seed(EVAL_ENVS + index), spec.stream_seed(EVAL_ACTIONS + index)


def evaluate(
    policy: Policy,
    env: VectorEnv[Any, Any, Any],
    episodes: int,
    *,
    seed: int,
    action_seed: int | None = None,
    normalized: bool = True,
) -> PolicyEvaluation:
    """Run ``episodes`` episodes of ``policy`` in ``env`` (reset with ``seed``, the policy's draws
    from ``action_seed``, default ``seed``); ``normalized=False`` in another environment."""
    t0 = time.perf_counter()
    policy.reset(seed if action_seed is None else action_seed)
    out = evaluation.evaluate(
        policy,
        env,
        episodes,
        seed=seed,
        reference=policy.reference if normalized else None,
        device=policy.device,
    )
    norm = out.normalized
    return PolicyEvaluation(
        episodes=episodes,
        return_mean=float(out.returns.mean()),
        return_std=float(out.returns.std()),
        normalized_mean=None if norm is None else float(norm.mean()),
        normalized_std=None if norm is None else float(norm.std()),
        seconds=time.perf_counter() - t0,
    )


def evaluate_policy(
    policy: Policy, env_id: str | None = None, *, episodes: int = 10, seed: int = 0, envs: int = 1
) -> dict[str, Any]:
    """:func:`evaluate` in the Gymnasium environment ``env_id`` (None: the run's own), as JSON
    with the environment and the checkpoint's step."""
    own = env_id is None or env_id == policy.env_id
    env = (
        make_eval_env(env_id, envs) if env_id is not None and not own else policy.environment(envs)
    )
    try:
        result = evaluate(policy, env, episodes, seed=seed, normalized=own)
    finally:
        env.close()
    return {"env_id": env_id or policy.env_id, **result.to_json(), "step": policy.step}
