"""CORL's single-file TD3+BC and IQL (corl-team/CORL, PyTorch), unmodified.

Each file imports gym, d4rl, wandb and pyrallis at module level but its agent uses none of them
(only ``train()`` does), so :func:`load_corl` executes the file under a private module name with
stub modules for those four (``gym.Env`` is kept as a placeholder class because the file names it
in annotations). :func:`corl_run` then builds the agent as the file's ``train()`` does, from the
repository's own config ``configs/offline/{td3_bc,iql}/walker2d/medium_expert_v2.yaml`` read into
the file's ``TrainConfig``; one iteration is the loop body of ``train()``:
``replay_buffer.sample(batch_size)`` (``np.random.randint`` indices), ``.to(device)``,
``trainer.train(batch)`` (TD3+BC draws its target-policy noise with ``torch.randn_like``; IQL is
deterministic).

Deviations from ``train()``, none of which changes the work of an iteration: the device is the
CPU (the configs say "cuda"); the replay buffer holds exactly the dataset (the config's
``buffer_size`` of 10M only sizes a preallocated buffer whose first N rows are sampled); states
are normalized with the file's own ``compute_mean_std`` / ``normalize_states`` as
``normalize: true`` asks (rewards are not: ``normalize_reward: false``).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import os
import typing
from pathlib import Path
from typing import Any

import numpy as np

from edp_ref.peers.common import PeerRun, SyntheticTransitions
from edp_ref.peers.isolation import gym_stub, isolated_import, load_file_module, stub_module
from edp_ref.peers.locate import checked_root, peer_root

__all__ = ["corl_config", "corl_run", "load_corl"]


def load_corl(algorithm: str, root: str | os.PathLike[str] | None = None) -> Any:
    """The module ``algorithms/offline/{algorithm}.py`` of CORL (``root`` or ``CORL_ROOT``).

    Raises:
        PeerUnavailableError: naming ``CORL_ROOT`` (or the argument) when the folder is absent
            or incomplete.
        ValueError: for an unknown algorithm.
    """
    if algorithm not in ("td3_bc", "iql"):
        raise ValueError(
            f"edp_ref.peers.corl: algorithm must be 'td3_bc' or 'iql', got {algorithm!r}"
        )
    return _load_corl(checked_root("corl", root), algorithm)


@functools.cache  # once per folder and file: a second import would make new classes
def _load_corl(folder: Path, algorithm: str) -> Any:
    why = f"imported at module level by CORL's {algorithm}.py, used only by its train()"
    stubs = {
        "gym": gym_stub(why),
        "d4rl": stub_module("d4rl", why),
        "wandb": stub_module("wandb", why),
        "pyrallis": stub_module("pyrallis", why, {"wrap": lambda *a, **k: lambda f: f}),
    }
    path = folder / "algorithms" / "offline" / f"{algorithm}.py"
    with isolated_import(folder, (), stubs):
        return load_file_module(path, f"_edp_ref_peer_corl_{algorithm}")


def _decode(value: Any, annotation: Any, where: str) -> Any:
    """A YAML value as the dataclass field's type, as pyrallis decodes it (PyYAML reads "3e-4"
    as a string: YAML 1.1 floats need a dot)."""
    options = typing.get_args(annotation) if typing.get_origin(annotation) is not None else ()
    targets = [t for t in (options or (annotation,)) if t is not type(None)]
    if value is None or any(isinstance(value, t) for t in targets if isinstance(t, type)):
        return value
    for t in targets:
        if t in (float, int) and isinstance(value, str):
            try:
                return t(value)
            except ValueError:
                continue
    raise ValueError(f"corl_config: {where} = {value!r} is not a {annotation}")


def corl_config(algorithm: str, root: str | os.PathLike[str] | None = None) -> Any:
    """The file's ``TrainConfig`` from CORL's walker2d medium-expert YAML (device set to "cpu")."""
    yaml = importlib.import_module("yaml")  # PyYAML (untyped)
    module = load_corl(algorithm, root)
    path = peer_root("corl", root) / "configs" / "offline" / algorithm / "walker2d"
    with open(path / "medium_expert_v2.yaml", encoding="utf-8") as f:
        values = yaml.safe_load(f)
    unknown = sorted(set(values) - set(module.TrainConfig.__dataclass_fields__))
    if unknown:
        raise ValueError(f"corl_config: {path} has keys TrainConfig lacks: {unknown}")
    fields_ = module.TrainConfig.__dataclass_fields__
    decoded = {k: _decode(v, fields_[k].type, f"{path.name}/{k}") for k, v in values.items()}
    return module.TrainConfig(**{**decoded, "device": "cpu"})


def corl_run(
    algorithm: str,
    data: SyntheticTransitions,
    *,
    root: str | os.PathLike[str] | None = None,
    batch_size: int | None = None,
    seed: int = 0,
) -> PeerRun:
    """CORL's TD3+BC or IQL ("td3_bc" / "iql") on ``data`` (CPU), built as the file's ``train()``
    builds it with CORL's own 2 x 256 ReLU networks; ``batch_size`` None is the config's 256,
    ``seed`` goes to the file's ``set_seed`` (NumPy, random, torch)."""
    import torch

    module = load_corl(algorithm, root)
    config = corl_config(algorithm, root)
    B = int(batch_size if batch_size is not None else config.batch_size)
    d = data.d4rl_dict()
    if config.normalize:
        mean, std = module.compute_mean_std(d["observations"], eps=1e-3)
    else:
        mean, std = 0.0, 1.0
    d = {
        **d,
        "observations": module.normalize_states(d["observations"], mean, std).astype(np.float32),
        "next_observations": module.normalize_states(d["next_observations"], mean, std).astype(
            np.float32
        ),
    }
    S, A, max_action = data.obs_dim, data.action_dim, 1.0
    buffer = module.ReplayBuffer(S, A, data.size, config.device)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "Dataset size: N"
        buffer.load_d4rl_dataset(d)
    module.set_seed(seed)
    if algorithm == "td3_bc":
        actor = module.Actor(S, A, max_action)
        critic_1, critic_2 = module.Critic(S, A), module.Critic(S, A)
        trainer = module.TD3_BC(
            max_action=max_action,
            actor=actor,
            actor_optimizer=torch.optim.Adam(actor.parameters(), lr=3e-4),
            critic_1=critic_1,
            critic_1_optimizer=torch.optim.Adam(critic_1.parameters(), lr=3e-4),
            critic_2=critic_2,
            critic_2_optimizer=torch.optim.Adam(critic_2.parameters(), lr=3e-4),
            discount=config.discount,
            tau=config.tau,
            device=config.device,
            policy_noise=config.policy_noise * max_action,
            noise_clip=config.noise_clip * max_action,
            policy_freq=config.policy_freq,
            alpha=config.alpha,
        )
        networks = "actor and critics 2 x 256 ReLU (td3_bc.py Actor / Critic)"
    else:
        q_network, v_network = module.TwinQ(S, A), module.ValueFunction(S)
        policy_cls = (
            module.DeterministicPolicy if config.iql_deterministic else module.GaussianPolicy
        )
        actor = policy_cls(S, A, max_action, dropout=config.actor_dropout)
        trainer = module.ImplicitQLearning(
            max_action=max_action,
            actor=actor,
            actor_optimizer=torch.optim.Adam(actor.parameters(), lr=config.actor_lr),
            q_network=q_network,
            q_optimizer=torch.optim.Adam(q_network.parameters(), lr=config.qf_lr),
            v_network=v_network,
            v_optimizer=torch.optim.Adam(v_network.parameters(), lr=config.vf_lr),
            discount=config.discount,
            tau=config.tau,
            device=config.device,
            beta=config.beta,
            iql_tau=config.iql_tau,
            max_steps=config.max_timesteps,
        )
        networks = (
            "policy, twin Q and V 2 x 256 ReLU (iql.py GaussianPolicy / TwinQ / ValueFunction)"
        )

    def draw_batch() -> Any:
        return [b.to(config.device) for b in buffer.sample(B)]

    record = {
        **{k: getattr(config, k) for k in sorted(config.__dataclass_fields__)},
        "batch_size": B,
        "device": "cpu",
        "buffer_size": data.size,
        "max_action": max_action,
        "networks": networks,
        "source": f"configs/offline/{algorithm}/walker2d/medium_expert_v2.yaml",
    }
    record.pop("name", None)  # TrainConfig appends a random uuid to it
    label = {"td3_bc": "CORL TD3+BC (PyTorch)", "iql": "CORL IQL (PyTorch)"}[algorithm]
    return PeerRun(
        key=f"corl_{algorithm}",
        label=label,
        framework="torch",
        diagnostic=False,
        agent=trainer,
        draw_batch=draw_batch,
        update=trainer.train,
        step=lambda: trainer.train(draw_batch()),
        hyperparameters=record,
        modules=module,
    )
