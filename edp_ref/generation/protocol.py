"""Local generation of D4RL-protocol datasets on Gymnasium MuJoCo v5 (the paper's Sec. 5 data).

D4RL (Fu et al., 2020) built its Gym-MuJoCo datasets thus: train SAC online; "random": rollouts
of a randomly initialised policy; "medium": rollouts of a policy stopped early at about a third
of the expert's return; "medium-replay": the replay buffer of training until that point;
"expert": rollouts of the fully trained policy; "medium-expert": medium and expert concatenated.
Default sizes are D4RL's (1M transitions each; medium-expert 2M). ``generate`` reproduces this on
Gymnasium v5 with ``edp_ref.generation.sac.SAC`` and writes each dataset with Minari's own
``create_dataset_from_buffers`` as ``edp_ref/<env>/<kind>-v0`` under ``$MINARI_DATASETS_PATH``,
with ``ref_min_score`` (mean return of uniform random actions) and ``ref_max_score`` (mean return
of the expert's episodes) in the metadata.

Choices of this implementation (not fixed by D4RL): the expert is the best-evaluated snapshot,
the medium policy the first snapshot whose evaluation reaches ``medium_fraction`` of the
expert's; data are collected with the stochastic policy. Training is resumable: the whole state
(networks, optimisers, generator, replay buffer, snapshots) is saved atomically every
``checkpoint_every`` steps to ``<work_dir>/train.pt`` (``torch.load(weights_only=True)``); a
resumed run starts a new episode (the interrupted one is closed as truncated).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm  # type: ignore[import-untyped]

from edp_ref.atomic_files import atomic_write
from edp_ref.data.minari_io import minari_dataset_path
from edp_ref.data.registry import LOCAL_ENVS, local_dataset_id
from edp_ref.generation.sac import SAC

__all__ = [
    "KINDS",
    "GenerationConfig",
    "collect_episodes",
    "estimate_seconds",
    "generate",
    "small_preset",
    "train_behaviour",
]

#: The five D4RL dataset kinds, in the order they are written.
KINDS = ("random", "medium", "medium-replay", "expert", "medium-expert")


@dataclass(frozen=True)
class GenerationConfig:
    """Settings of one environment's generation; the defaults are D4RL's sizes."""

    env: str
    size: int = 1_000_000
    train_steps: int = 1_000_000
    start_steps: int = 10_000
    batch_size: int = 256
    eval_every: int = 10_000
    eval_episodes: int = 5
    reference_episodes: int = 100
    medium_fraction: float = 1.0 / 3.0
    checkpoint_every: int = 50_000
    collect_envs: int = 10
    hidden: int = 256
    layers: int = 2
    seed: int = 0
    kinds: tuple[str, ...] = KINDS

    def __post_init__(self) -> None:
        if self.env not in LOCAL_ENVS:
            raise ValueError(f"unknown environment '{self.env}'; choose from {list(LOCAL_ENVS)}")
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown:
            raise ValueError(f"unknown dataset kind(s) {unknown}; choose from {list(KINDS)}")
        for name in ("size", "train_steps", "eval_every", "eval_episodes", "collect_envs"):
            if getattr(self, name) < 1:
                raise ValueError(f"GenerationConfig.{name} must be >= 1")

    @property
    def env_id(self) -> str:
        return LOCAL_ENVS[self.env]


def small_preset(env: str = "invertedpendulum", seed: int = 0) -> GenerationConfig:
    """A few hundred SAC steps and 500-transition datasets: seconds, for tests and smoke runs."""
    return GenerationConfig(
        env=env,
        size=500,
        train_steps=300,
        start_steps=100,
        batch_size=64,
        eval_every=100,
        eval_episodes=2,
        reference_episodes=5,
        checkpoint_every=150,
        collect_envs=4,
        hidden=64,
        seed=seed,
    )


def _to_env_action(a: np.ndarray, space: gym.spaces.Box) -> np.ndarray:
    """Map actions from [-1, 1] to the environment's bounds."""
    return (space.low + (a + 1.0) * 0.5 * (space.high - space.low)).astype(space.dtype)


@dataclass
class _Buffer:
    obs: Tensor
    actions: Tensor
    rewards: Tensor
    next_obs: Tensor
    terminals: Tensor
    truncations: Tensor
    size: int = 0

    @classmethod
    def empty(cls, capacity: int, s: int, a: int) -> _Buffer:
        z = torch.zeros
        return cls(
            z(capacity, s), z(capacity, a), z(capacity), z(capacity, s), z(capacity), z(capacity)
        )

    def add(self, o: np.ndarray, a: np.ndarray, r: float, o2: np.ndarray, d: bool, t: bool) -> None:
        i = self.size
        self.obs[i] = torch.as_tensor(o)
        self.actions[i] = torch.as_tensor(a)
        self.rewards[i] = r
        self.next_obs[i] = torch.as_tensor(o2)
        self.terminals[i] = float(d)
        self.truncations[i] = float(t)
        self.size += 1


@dataclass
class TrainingResult:
    """What SAC training leaves for the datasets: snapshots and the replay buffer."""

    initial_actor: dict[str, Tensor]
    expert_actor: dict[str, Tensor]
    medium_actor: dict[str, Tensor]
    medium_step: int
    expert_step: int
    evaluations: list[tuple[int, float]]
    buffer: _Buffer
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


_TRAINING_FIELDS = (
    "env",
    "train_steps",
    "start_steps",
    "batch_size",
    "eval_every",
    "eval_episodes",
    "hidden",
    "layers",
    "seed",
)


def _training_key(config: GenerationConfig) -> str:
    """The settings a checkpoint must share to be resumed (dataset sizes and kinds may differ)."""
    return json.dumps({k: getattr(config, k) for k in _TRAINING_FIELDS}, sort_keys=True)


def _evaluate_actor(sac: SAC, env_id: str, episodes: int, seed: int) -> float:
    env = gym.make(env_id)
    space = env.action_space
    assert isinstance(space, gym.spaces.Box)
    total = 0.0
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + ep)
        done = False
        while not done:
            a = sac.act(torch.as_tensor(obs, dtype=torch.float32)[None], deterministic=True)
            obs, r, term, trunc, _ = env.step(_to_env_action(a[0].numpy(), space))
            total += float(r)
            done = term or trunc
    env.close()
    return total / episodes


def train_behaviour(
    config: GenerationConfig, work_dir: str, *, progress: bool = True
) -> TrainingResult:
    """Train SAC online on ``config.env_id``; resumes from ``<work_dir>/train.pt`` if present."""
    os.makedirs(work_dir, exist_ok=True)
    ckpt = os.path.join(work_dir, "train.pt")
    env = gym.make(config.env_id)
    space = env.action_space
    assert isinstance(space, gym.spaces.Box) and env.observation_space.shape is not None
    s_dim, a_dim = int(env.observation_space.shape[0]), int(space.shape[0])
    gen = torch.Generator().manual_seed(config.seed)
    sac = SAC(s_dim, a_dim, generator=gen, hidden=config.hidden, layers=config.layers)
    initial_actor = {k: v.clone() for k, v in sac.actor.state_dict().items()}
    buffer = _Buffer.empty(config.train_steps, s_dim, a_dim)
    step, episode, seconds = 0, 0, 0.0
    evaluations: list[tuple[int, float]] = []
    snapshots: list[dict[str, Tensor]] = []
    if os.path.exists(ckpt):
        damaged = (
            f"the training checkpoint {ckpt} is damaged or not a checkpoint of this version of "
            "edp_ref (an interrupted write, a truncated copy?); delete it to train from the "
            "start, or use another work directory"
        )
        try:
            state = torch.load(ckpt, weights_only=True)
            stored_config = state["config"]
        except Exception as exc:  # zip / unpickling errors, EOFError, a missing key
            raise ValueError(f"{damaged} ({type(exc).__name__}: {exc})") from exc
        if stored_config != _training_key(config):
            raise ValueError(
                f"{ckpt} was written with another configuration; delete it or use another "
                "work directory"
            )
        try:
            sac.load_state_dict(state["sac"])
            initial_actor = state["initial_actor"]
            step, episode = int(state["step"]), int(state["episode"])
            seconds = float(state["seconds"])
            if not 0 <= step <= config.train_steps:
                raise ValueError(f"step {step} is outside [0, {config.train_steps}]")
            for k in ("obs", "actions", "rewards", "next_obs", "terminals", "truncations"):
                getattr(buffer, k)[:step] = state["buffer"][k]
            evaluations = [(int(s), float(r)) for s, r in state["evaluations"].tolist()]
            snapshots = list(state["snapshots"])
        except Exception as exc:  # missing keys, wrong shapes or types
            raise ValueError(f"{damaged} ({type(exc).__name__}: {exc})") from exc
        buffer.size = step
        if step and not (buffer.terminals[step - 1] or buffer.truncations[step - 1]):
            buffer.truncations[step - 1] = 1.0  # the interrupted episode ends here
    start = time.perf_counter() - seconds
    obs, _ = env.reset(seed=config.seed * 1_000_003 + episode)
    bar = tqdm(
        total=config.train_steps,
        initial=step,
        desc=f"SAC {config.env_id}",
        disable=not progress,
        unit="step",
    )

    def save() -> None:
        payload = {
            "config": _training_key(config),
            "sac": sac.state_dict(),
            "initial_actor": initial_actor,
            "step": step,
            "episode": episode,
            "seconds": time.perf_counter() - start,
            "buffer": {
                k: getattr(buffer, k)[:step].clone()
                for k in ("obs", "actions", "rewards", "next_obs", "terminals", "truncations")
            },
            "evaluations": torch.tensor(evaluations, dtype=torch.float64).reshape(-1, 2),
            "snapshots": snapshots,
        }
        atomic_write(ckpt, lambda tmp: torch.save(payload, tmp))

    while step < config.train_steps:
        o = torch.as_tensor(obs, dtype=torch.float32)
        if step < config.start_steps:
            a = torch.rand(a_dim, generator=gen) * 2 - 1
        else:
            a = sac.act(o[None])[0]
        obs2, r, term, trunc, _ = env.step(_to_env_action(a.numpy(), space))
        buffer.add(obs, a.numpy(), float(r), obs2, bool(term), bool(trunc))
        obs = obs2
        step += 1
        if term or trunc:
            episode += 1
            obs, _ = env.reset(seed=config.seed * 1_000_003 + episode)
        if step >= config.start_steps:
            idx = torch.randint(buffer.size, (config.batch_size,), generator=gen)
            sac.update(
                buffer.obs[idx],
                buffer.actions[idx],
                buffer.rewards[idx],
                buffer.next_obs[idx],
                buffer.terminals[idx],
            )
        if step % config.eval_every == 0 or step == config.train_steps:
            ret = _evaluate_actor(sac, config.env_id, config.eval_episodes, 10_000 + step)
            evaluations.append((step, ret))
            snapshots.append({k: v.clone() for k, v in sac.actor.state_dict().items()})
            bar.set_postfix(eval_return=f"{ret:.1f}")
        if step % config.checkpoint_every == 0 or step == config.train_steps:
            save()
        bar.update(1)
    bar.close()
    env.close()
    best = int(np.argmax([r for _, r in evaluations]))
    expert_return = evaluations[best][1]
    target = config.medium_fraction * expert_return if expert_return > 0 else expert_return
    medium = next(i for i, (_, r) in enumerate(evaluations) if r >= target)
    return TrainingResult(
        initial_actor=initial_actor,
        expert_actor=snapshots[best],
        medium_actor=snapshots[medium],
        medium_step=evaluations[medium][0],
        expert_step=evaluations[best][0],
        evaluations=evaluations,
        buffer=buffer,
        seconds=time.perf_counter() - start,
    )


def _episode_buffer(ep_id: int, obs: Any, acts: Any, rews: Any, terms: Any, truncs: Any) -> Any:
    from minari.data_collector import EpisodeBuffer  # type: ignore[import-untyped]

    return EpisodeBuffer(
        id=ep_id,
        observations=np.asarray(obs),
        actions=np.asarray(acts),
        rewards=np.asarray(rews, dtype=np.float64),
        terminations=np.asarray(terms, dtype=bool),
        truncations=np.asarray(truncs, dtype=bool),
    )


def collect_episodes(
    env_id: str,
    policy: Callable[[np.ndarray], np.ndarray],
    size: int,
    *,
    seed: int,
    num_envs: int = 10,
    progress: bool = True,
    desc: str = "collect",
) -> tuple[list[Any], int]:
    """Exactly ``size`` steps of ``policy`` (observations [n, S] -> env actions [n, A]) in
    ``num_envs`` synchronous copies of ``env_id``, as Minari ``EpisodeBuffer``s (T + 1
    observations), and how many of them (the last ones) were cut by ``size`` rather than ended by
    the environment: episodes still running when ``size`` is reached end as truncated."""
    envs = gym.make_vec(env_id, num_envs, vectorization_mode="sync")
    obs, _ = envs.reset(seed=seed)

    def fresh(o: np.ndarray) -> dict[str, list[Any]]:
        return {"o": [o], "a": [], "r": [], "d": [], "t": []}

    cur: list[dict[str, list[Any]] | None] = [fresh(obs[i]) for i in range(num_envs)]
    resetting = np.zeros(num_envs, dtype=bool)
    episodes: list[Any] = []
    steps = 0
    bar = tqdm(total=size, desc=desc, disable=not progress, unit="step")
    while steps < size:
        actions = policy(np.asarray(obs))
        obs, rew, term, trunc, _ = envs.step(actions)
        for i in range(num_envs):
            if resetting[i]:  # NEXT_STEP autoreset: this step only reset sub-environment i
                cur[i] = fresh(obs[i])
                continue
            c = cur[i]
            if steps >= size or c is None:
                continue
            c["o"].append(obs[i])
            c["a"].append(actions[i])
            c["r"].append(float(rew[i]))
            c["d"].append(bool(term[i]))
            c["t"].append(bool(trunc[i]))
            steps += 1
            bar.update(1)
            if term[i] or trunc[i]:
                episodes.append(
                    _episode_buffer(len(episodes), c["o"], c["a"], c["r"], c["d"], c["t"])
                )
                cur[i] = None
        resetting = np.logical_or(term, trunc)
    cut = 0
    for c in cur:
        if c is not None and c["a"]:
            c["t"][-1] = True
            episodes.append(_episode_buffer(len(episodes), c["o"], c["a"], c["r"], c["d"], c["t"]))
            cut += 1
    bar.close()
    envs.close()
    return episodes, cut


def _actor_policy(
    state: dict[str, Tensor], config: GenerationConfig, space: gym.spaces.Box, s_dim: int, seed: int
) -> Callable[[np.ndarray], np.ndarray]:
    from edp_ref.generation.sac import SquashedGaussianActor

    actor = SquashedGaussianActor(s_dim, int(space.shape[0]), config.hidden, config.layers)
    actor.load_state_dict(state)
    gen = torch.Generator().manual_seed(seed)

    def policy(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            a, _ = actor(torch.as_tensor(obs, dtype=torch.float32), gen)
        return _to_env_action(a.numpy(), space)

    return policy


def _buffer_episodes(buffer: _Buffer, end: int, space: gym.spaces.Box) -> list[Any]:
    """The replay buffer's first ``end`` steps as episodes (medium-replay)."""
    episodes: list[Any] = []
    start = 0
    ends = (buffer.terminals[:end] + buffer.truncations[:end]) > 0
    ends[end - 1] = True
    for e in torch.nonzero(ends).flatten().tolist():
        sl = slice(start, e + 1)
        obs = torch.cat([buffer.obs[sl], buffer.next_obs[e : e + 1]]).numpy()
        truncs = buffer.truncations[sl].bool().numpy().copy()
        terms = buffer.terminals[sl].bool().numpy()
        if not (terms[-1] or truncs[-1]):
            truncs[-1] = True
        acts = _to_env_action(buffer.actions[sl].numpy(), space)
        episodes.append(
            _episode_buffer(
                len(episodes),
                list(obs),
                list(acts),
                buffer.rewards[sl].tolist(),
                list(terms),
                list(truncs),
            )
        )
        start = e + 1
    return episodes


def _random_reference(env_id: str, episodes: int, seed: int) -> float:
    env = gym.make(env_id)
    env.action_space.seed(seed)
    total = 0.0
    for ep in range(episodes):
        env.reset(seed=seed + ep)
        done = False
        while not done:
            _, r, term, trunc, _ = env.step(env.action_space.sample())
            total += float(r)
            done = term or trunc
    env.close()
    return total / episodes


def _write(
    dataset_id: str,
    episodes: list[Any],
    config: GenerationConfig,
    kind: str,
    ref_min: float,
    ref_max: float,
    force: bool,
) -> None:
    import minari  # type: ignore[import-untyped]

    path = minari_dataset_path(dataset_id)
    if os.path.exists(path):
        if not force:
            raise FileExistsError(f"{dataset_id} already exists at {path}; pass force=True")
        minari.delete_dataset(dataset_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        minari.create_dataset_from_buffers(
            dataset_id,
            episodes,
            env=config.env_id,
            eval_env=config.env_id,
            algorithm_name="SAC (edp_ref.generation.sac), D4RL protocol",
            author="edp_ref",
            author_email="edp_ref@users.noreply.github.com",
            code_permalink="edp_ref/generation/protocol.py",
            description=(
                f"D4RL-protocol '{kind}' dataset for {config.env_id} generated by edp_ref; "
                f"config: {json.dumps(dataclasses.asdict(config), sort_keys=True)}"
            ),
            ref_min_score=ref_min,
            ref_max_score=ref_max,
            num_episodes_average_score=config.reference_episodes,
        )


def estimate_seconds(config: GenerationConfig, probe_updates: int = 20) -> dict[str, float]:
    """Rough run time of ``generate(config)`` from a short probe of this machine (seconds)."""
    env = gym.make(config.env_id)
    assert env.observation_space.shape is not None and env.action_space.shape is not None
    s, a = int(env.observation_space.shape[0]), int(env.action_space.shape[0])
    env.reset(seed=0)
    t0 = time.perf_counter()
    for _ in range(200):
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            env.reset()
    env_step = (time.perf_counter() - t0) / 200
    sac = SAC(
        s, a, generator=torch.Generator().manual_seed(0), hidden=config.hidden, layers=config.layers
    )
    b = config.batch_size
    batch = (
        torch.randn(b, s),
        torch.rand(b, a) * 2 - 1,
        torch.randn(b),
        torch.randn(b, s),
        torch.zeros(b),
    )
    sac.update(*batch)
    t0 = time.perf_counter()
    for _ in range(probe_updates):
        sac.update(*batch)
        sac.act(torch.randn(1, s))
    update = (time.perf_counter() - t0) / probe_updates
    train = config.train_steps * env_step + max(0, config.train_steps - config.start_steps) * update
    n_rollout = sum({"random": 1, "medium": 1, "expert": 1}.get(k, 0) for k in config.kinds)
    if "medium-expert" in config.kinds:
        n_rollout += ("medium" not in config.kinds) + ("expert" not in config.kinds)
    collect = n_rollout * config.size * env_step * 1.5
    return {
        "train": train,
        "collect": collect,
        "total": train + collect,
        "env_step": env_step,
        "update": update,
    }


def generate(
    config: GenerationConfig,
    work_dir: str,
    *,
    force: bool = False,
    progress: bool = True,
) -> dict[str, str]:
    """Train the behaviour policy and write the datasets; returns {kind: Minari id}.

    A JSON record of the run (configuration, seeds, evaluations, chosen snapshots, reference
    scores, timings) is written to ``<work_dir>/generation.json``.
    """
    result = train_behaviour(config, work_dir, progress=progress)
    env = gym.make(config.env_id)
    space = env.action_space
    assert isinstance(space, gym.spaces.Box) and env.observation_space.shape is not None
    s_dim = int(env.observation_space.shape[0])
    env.close()
    t0 = time.perf_counter()
    ref_min = _random_reference(config.env_id, config.reference_episodes, config.seed + 777)
    seeds = {k: config.seed * 100 + i for i, k in enumerate(KINDS)}
    needed = set(config.kinds)
    if "medium-expert" in needed:
        needed |= {"medium", "expert"}
    rollouts: dict[str, list[Any]] = {}
    cut: dict[str, int] = {}
    actors = {
        "random": result.initial_actor,
        "medium": result.medium_actor,
        "expert": result.expert_actor,
    }
    for kind in ("random", "medium", "expert"):
        if kind in needed:
            rollouts[kind], cut[kind] = collect_episodes(
                config.env_id,
                _actor_policy(actors[kind], config, space, s_dim, seeds[kind]),
                config.size,
                seed=seeds[kind],
                num_envs=config.collect_envs,
                progress=progress,
                desc=f"{config.env} {kind}",
            )
    # REF_MAX: mean return of the expert's episodes that the environment ended (not those cut
    # by the dataset size); without any, the expert's evaluation return.
    expert_eps = rollouts.get("expert", [])
    complete = expert_eps[: len(expert_eps) - cut.get("expert", 0)]
    if complete:
        ref_max = float(np.mean([np.sum(e.rewards) for e in complete]))
    else:
        ref_max = max(r for _, r in result.evaluations)
    if "medium-replay" in needed:
        rollouts["medium-replay"] = _buffer_episodes(result.buffer, result.medium_step, space)
    if "medium-expert" in needed:
        me = [*rollouts["medium"], *rollouts["expert"]]
        rollouts["medium-expert"] = [dataclasses.replace(e, id=i) for i, e in enumerate(me)]
    written = {}
    for kind in config.kinds:
        dataset_id = local_dataset_id(config.env, kind)
        _write(dataset_id, rollouts[kind], config, kind, ref_min, ref_max, force)
        written[kind] = dataset_id
    record = {
        "config": dataclasses.asdict(config),
        "seeds": {"training": config.seed, "random_reference": config.seed + 777, **seeds},
        "evaluations": result.evaluations,
        "medium_step": result.medium_step,
        "expert_step": result.expert_step,
        "ref_min_score": ref_min,
        "ref_max_score": ref_max,
        "training_seconds": result.seconds,
        "collection_seconds": time.perf_counter() - t0,
        "datasets": written,
        "episodes_cut_by_size": cut,
    }
    with open(os.path.join(work_dir, "generation.json"), "w") as f:
        json.dump(record, f, indent=2)
    return written


def _format_seconds(s: float) -> str:
    if s < 60:
        return f"{s:.0f} s"
    return f"{s / 60:.1f} min" if s < 3600 else f"{s / 3600:.1f} h"


def describe_estimate(config: GenerationConfig) -> str:
    """One line with ``estimate_seconds`` for the console."""
    est = estimate_seconds(config)
    return (
        f"{config.env_id}: estimated {_format_seconds(est['total'])} "
        f"(SAC training {_format_seconds(est['train'])}, collection "
        f"{_format_seconds(est['collect'])}; measured {1e3 * est['update']:.1f} ms per update, "
        f"{1e6 * est['env_step']:.0f} us per environment step)"
    )
