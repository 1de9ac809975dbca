"""How long a generation will take on this machine, printed before it starts: a short probe of
one environment step and one SAC update, scaled to the configuration. The probe runs under the
machine's current load and thread setting, so the estimate is only as steady as they are.
"""

from __future__ import annotations

import time

import gymnasium as gym
import torch

from edp_ref.generation.config import GenerationConfig, collected_policies
from edp_ref.generation.sac import SAC

__all__ = ["describe_estimate", "estimate_seconds", "format_seconds"]

#: Collection runs the policy network besides the environment: a rough factor on the cost of a
#: bare environment step (an assumption; docs/data.md records measured collection times).
_COLLECTION_OVERHEAD = 1.5


def estimate_seconds(config: GenerationConfig, probe_updates: int = 20) -> dict[str, float]:
    """Rough run time of ``generate(config)`` (seconds): ``train``, ``collect``, ``total``, and
    the probe's ``env_step`` and ``update`` (one SAC update plus one action)."""
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
    env.close()
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
    train = config.train_steps * env_step + (config.train_steps - config.start_steps) * update
    collect = len(collected_policies(config.kinds)) * config.size * env_step * _COLLECTION_OVERHEAD
    return {
        "train": train,
        "collect": collect,
        "total": train + collect,
        "env_step": env_step,
        "update": update,
    }


def format_seconds(s: float) -> str:
    """``42 s``, ``3.5 min`` or ``2.1 h``."""
    if s < 60:
        return f"{s:.0f} s"
    return f"{s / 60:.1f} min" if s < 3600 else f"{s / 3600:.1f} h"


def describe_estimate(config: GenerationConfig) -> str:
    """One line with :func:`estimate_seconds` for the console."""
    est = estimate_seconds(config)
    return (
        f"{config.env_id}: estimated {format_seconds(est['total'])} "
        f"(SAC training {format_seconds(est['train'])}, collection "
        f"{format_seconds(est['collect'])}; measured {1e3 * est['update']:.1f} ms per update, "
        f"{1e6 * est['env_step']:.0f} us per environment step)"
    )
