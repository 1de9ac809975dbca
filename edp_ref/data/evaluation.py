"""Evaluation of a policy in its dataset's environment, with D4RL normalized scores.

The paper reports D4RL normalized scores (Sec. 5; Fu et al., 2020):
score = 100 (return - REF_MIN) / (REF_MAX - REF_MIN), REF_MIN the return of a random policy and
REF_MAX that of an expert; the official code evaluates 10 episodes per evaluation. For D4RL data
edp_ref uses D4RL's constants (``edp_ref.paper.D4RL_REFERENCE_SCORES``); for Minari and locally
generated data the ``ref_min_score`` / ``ref_max_score`` of the dataset's metadata (Minari's own
``get_normalized_score`` returns the fraction; edp_ref reports percentages, 0-100).

Environments run as Gymnasium ``SyncVectorEnv`` (on few CPU cores it beats ``AsyncVectorEnv``).
:func:`evaluate` steps the episodes of an evaluation together, calling the policy once per step on
the observations of the episodes still running; episode j starts from ``reset(seed=seed + j)``
whichever sub-environment runs it. With an :class:`EpisodicPolicy` (random draws per episode) an
evaluation returns the same episodes with any number of sub-environments (to round-off).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import VectorEnv
from jaxtyping import Float
from torch import Tensor

from edp_ref.data.transitions import TransitionDataset

__all__ = [
    "EpisodicPolicy",
    "EvaluationResult",
    "Policy",
    "ScoreReference",
    "dataset_env",
    "eval_env_for",
    "evaluate",
    "make_eval_env",
    "normalized_score",
    "reference_for",
]

Policy = Callable[[Tensor], Tensor]


@runtime_checkable
class EpisodicPolicy(Protocol):
    """A policy whose random draws belong to episodes: row i draws from ``episodes[i]``'s."""

    def act_in_episodes(
        self, observations: Float[Tensor, "rows state"], episodes: Sequence[int]
    ) -> Float[Tensor, "rows action"]: ...


@dataclass(frozen=True)
class ScoreReference:
    """REF_MIN / REF_MAX of a normalized score and where they come from."""

    ref_min: float
    ref_max: float
    source: str

    def __post_init__(self) -> None:
        if not (np.isfinite(self.ref_min) and np.isfinite(self.ref_max)):
            raise ValueError(f"ScoreReference ({self.source}): reference scores must be finite")
        if self.ref_max == self.ref_min:
            raise ValueError(f"ScoreReference ({self.source}): ref_max equals ref_min")


def normalized_score(
    returns: Float[np.ndarray, "*episodes"] | float, reference: ScoreReference
) -> Float[np.ndarray, "*episodes"]:
    """100 (return - REF_MIN) / (REF_MAX - REF_MIN), in percent (D4RL's ``get_normalized_score``
    times 100)."""
    r = np.asarray(returns, dtype=np.float64)
    return np.asarray(100.0 * (r - reference.ref_min) / (reference.ref_max - reference.ref_min))


def reference_for(dataset: TransitionDataset) -> ScoreReference | None:
    """The dataset's reference scores (D4RL constants or Minari metadata), or None if absent."""
    if dataset.ref_min_score is None or dataset.ref_max_score is None:
        return None
    return ScoreReference(dataset.ref_min_score, dataset.ref_max_score, dataset.source)


def _ensure_registered(env_id: str) -> None:
    try:
        gym.spec(env_id)
        return
    except gym.error.Error:
        pass
    try:
        import gymnasium_robotics  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise ValueError(
            f"environment '{env_id}' is not registered with Gymnasium; AntMaze, Adroit and "
            "Kitchen environments come from gymnasium-robotics "
            "(`pip install gymnasium-robotics`)"
        ) from None
    gym.register_envs(gymnasium_robotics)
    gym.spec(env_id)


def make_eval_env(
    env_id: str,
    num_envs: int = 1,
    *,
    rescale_actions: bool = False,
    env_factory: Callable[[], gym.Env[Any, Any]] | None = None,
) -> VectorEnv[Any, Any, Any]:
    """``num_envs`` copies of ``env_id`` in a ``SyncVectorEnv`` (dict observations flattened;
    with ``rescale_actions`` the policy acts in [-1, 1]). ``env_factory`` builds each copy
    instead of ``gym.make`` (Minari's ``recover_environment``)."""
    if num_envs < 1:
        raise ValueError(f"make_eval_env: num_envs must be >= 1, got {num_envs}")
    if env_factory is None:
        _ensure_registered(env_id)

    def make() -> gym.Env[Any, Any]:
        env = env_factory() if env_factory is not None else gym.make(env_id)
        if not isinstance(env.observation_space, gym.spaces.Box):
            env = gym.wrappers.FlattenObservation(env)
        if rescale_actions:
            env = gym.wrappers.RescaleAction(env, -1.0, 1.0)  # type: ignore[arg-type]
        return env

    return gym.vector.SyncVectorEnv([make for _ in range(num_envs)])


def eval_env_for(dataset: TransitionDataset, num_envs: int = 1) -> VectorEnv[Any, Any, Any]:
    """The dataset's own evaluation environment (:func:`dataset_env` of its ids and widths)."""
    return dataset_env(
        dataset.env_id,
        dataset.minari_id,
        dataset.state_dim,
        dataset.action_dim,
        num_envs,
        source=dataset.source,
    )


def dataset_env(
    env_id: str | None,
    minari_id: str | None,
    state_dim: int,
    action_dim: int,
    num_envs: int = 1,
    *,
    source: str,
) -> VectorEnv[Any, Any, Any]:
    """The evaluation environment of a dataset (``source`` names it in errors): Minari's
    ``recover_environment(eval_env=True)`` for Minari and locally generated data, else the
    Gymnasium id ``env_id``; ``ValueError`` if neither is known or the widths differ."""
    if minari_id is not None:
        import minari  # type: ignore[import-untyped]

        mds = minari.load_dataset(minari_id)
        env = make_eval_env(
            env_id or minari_id,
            num_envs,
            env_factory=lambda: mds.recover_environment(eval_env=True),
        )
    elif env_id is not None:
        env = make_eval_env(env_id, num_envs)
    else:
        raise ValueError(f"{source}: no evaluation environment is known for this dataset")
    for what, space, width in (
        ("observations", env.single_observation_space, state_dim),
        ("actions", env.single_action_space, action_dim),
    ):
        if space.shape is None or int(np.prod(space.shape)) != width:
            env.close()
            raise ValueError(
                f"{source}: the evaluation environment's {what} have shape {space.shape} "
                f"but the dataset's have {width} dimensions"
            )
    return env


@dataclass(frozen=True)
class EvaluationResult:
    """Per-episode returns and lengths, and normalized scores (percent) if a reference is known."""

    returns: np.ndarray
    lengths: np.ndarray
    normalized: np.ndarray | None

    @property
    def mean_normalized(self) -> float | None:
        return None if self.normalized is None else float(self.normalized.mean())


def evaluate(
    policy: Policy | EpisodicPolicy,
    env: VectorEnv[Any, Any, Any],
    episodes: int = 10,
    *,
    seed: int = 0,
    reference: ScoreReference | None = None,
    observation_transform: Callable[[Tensor], Tensor] | None = None,
    device: torch.device | str = "cpu",
) -> EvaluationResult:
    """Run ``episodes`` full episodes of ``policy`` in the sub-environments of ``env`` (module
    docstring), under ``torch.no_grad``, ``observation_transform`` applied to the observations.
    Actions are clipped to the action space; non-finite ones are a ``ValueError`` (MuJoCo would
    only warn and step on). Returns and lengths are in episode order.
    """
    if episodes < 1:
        raise ValueError(f"evaluate: episodes must be >= 1, got {episodes}")
    subenvs: list[gym.Env[Any, Any]] | None = getattr(env, "envs", None)
    if not isinstance(env, gym.vector.SyncVectorEnv) or subenvs is None:
        raise ValueError(f"evaluate: env must be a SyncVectorEnv, got {type(env).__name__}")
    space = env.single_action_space
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f"evaluate: only Box action spaces are supported, got {space}")
    low, high = space.low, space.high
    returns, lengths = np.zeros(episodes), np.zeros(episodes, dtype=np.int64)
    running: dict[int, tuple[int, Any]] = {}  # sub-environment -> (episode, observation)
    started = 0
    while started < episodes or running:
        for i in range(len(subenvs)):
            if i not in running and started < episodes:
                running[i] = (started, subenvs[i].reset(seed=seed + started)[0])
                started += 1
        where = sorted(running)
        ids = [running[i][0] for i in where]
        obs = np.stack([np.asarray(running[i][1], dtype=np.float64).reshape(-1) for i in where])
        o = torch.as_tensor(obs, dtype=torch.float32, device=device)
        with torch.no_grad():
            if observation_transform is not None:
                o = observation_transform(o)
            a = policy.act_in_episodes(o, ids) if isinstance(policy, EpisodicPolicy) else policy(o)
        if a.shape != (len(where), *space.shape):
            raise ValueError(
                f"evaluate: the policy returned actions of shape {tuple(a.shape)}, expected "
                f"{(len(where), *space.shape)}"
            )
        raw = a.detach().cpu().numpy()
        if not bool(np.isfinite(raw).all()):
            row = int(np.argwhere(~np.isfinite(raw).reshape(len(where), -1))[0, 0])
            raise ValueError(
                f"evaluate: the policy returned non-finite actions (NaN or inf) in episode "
                f"{ids[row]}: {raw[row].tolist()}; clipping would hide them"
            )
        actions = np.clip(raw.astype(space.dtype), low, high)
        for row, i in enumerate(where):
            episode = running[i][0]
            observation, reward, terminated, truncated, _ = subenvs[i].step(actions[row])
            returns[episode] += float(reward)
            lengths[episode] += 1
            if terminated or truncated:
                del running[i]
            else:
                running[i] = (episode, observation)
    return EvaluationResult(
        returns, lengths, None if reference is None else normalized_score(returns, reference)
    )
