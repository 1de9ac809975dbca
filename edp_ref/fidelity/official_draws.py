"""Every random draw of one official EDP update (sail-sg/edp, diffusion/dql.py), computed from
its PRNG key exactly as ``_train_step`` splits it, and the same draws as edp_ref's randomness
(the crosscheck's "same injected random draws", :mod:`edp_ref.fidelity.edp_checks`).
"""

from __future__ import annotations

from typing import Any

import torch

from edp_ref.algorithms.catalog.edp_crr import CRRRandomness
from edp_ref.algorithms.catalog.edp_iql import IQLRandomness
from edp_ref.algorithms.catalog.edp_td3 import TD3Randomness
from edp_ref.algorithms.randomness import DiffusionNoise, SamplerNoise
from edp_ref.fidelity.official_edp import EDPSetting, _t

__all__ = ["edp_ref_randomness", "official_draws"]


def _diff_term_draws(key: Any, B: int, A: int, K: int, dtype: Any) -> tuple[Any, Any]:
    """``get_diff_terms``: ts = randint(split 1), then ``training_losses``' eps (split 2)."""
    import jax

    rng, split = jax.random.split(key)
    ts = jax.random.randint(split, (B,), minval=0, maxval=K)
    rng, split = jax.random.split(rng)
    eps = jax.random.normal(split, (B, A), dtype=dtype)
    return ts, eps


def _ddpm_draws(key: Any, shape: tuple[int, ...], K: int) -> tuple[Any, Any]:
    """``p_sample_loop``: a_K from the first split, then one split per step k = K-1, ..., 0.

    Returns the initial noise and the step noises indexed by k (edp_ref's ``noises[k]``).
    """
    import jax
    import jax.numpy as jnp

    key, sample_key = jax.random.split(key)
    x = jax.random.normal(sample_key, shape)
    steps = [None] * K
    for k in reversed(range(K)):
        key, sample_key = jax.random.split(key)
        steps[k] = jax.random.normal(sample_key, shape, dtype=x.dtype)
    return x, jnp.stack(steps)


def official_draws(setting: EDPSetting, key: Any) -> dict[str, Any]:
    """Every random draw of one official ``_train_step(..., rng=key, ...)`` (diffusion/dql.py).

    The official update hands ``key`` itself to the policy evaluation's sampler of a' and splits
    it for the policy loss:

    * a' (TD3, CRR, DQL (JAX)): ``dpm_sample(key)``'s ``normal(key, [B, A])`` (DPM-Solver is
      deterministic afterwards) or ``p_sample_loop(key)``'s draws (DDPM);
    * TD3 / DQL (JAX): ``key1, key2 = split(key)``; ``get_diff_terms(key2)``: ``k, eps``; the
      Q head is ``uniform(key1) > 0.5``; DQL (JAX) draws its L_pi chain from
      ``split(split(key2)[0])[0]``'s next split (``get_diff_terms``' third split);
    * CRR: ``get_diff_terms(split(key)[1])``, then the 10 baseline samples
      ``MultivariateNormalDiag(a_hat0, 1).sample(seed=split(split(key)[0])[1], sample_shape=10)``
      (drawn here with distrax on a zero mean and unit scale: the standard-normal xi);
    * IQL: ``policy_loss(split(key)[1])`` whose ``get_diff_terms`` gets its ``split(.)[1]``.
    """
    import distrax
    import jax
    import jax.numpy as jnp

    B, A, K = setting.batch_size, setting.action_dim, setting.num_steps
    dtype = jnp.float64 if setting.float64 else jnp.float32
    draws: dict[str, Any] = {}
    alg = setting.algorithm
    if alg in ("td3", "crr", "dql_jax"):
        if alg == "dql_jax":
            draws["next_initial"], draws["next_steps"] = _ddpm_draws(key, (B, A), K)
        else:
            draws["next_initial"] = jax.random.normal(key, (B, A))
    if alg in ("td3", "dql_jax"):
        key1, key2 = jax.random.split(key)
        draws["timesteps"], draws["noise"] = _diff_term_draws(key2, B, A, K, dtype)
        draws["head_uniform"] = jax.random.uniform(key1)
        if alg == "dql_jax":
            rng, _ = jax.random.split(key2)
            rng, _ = jax.random.split(rng)
            _, split = jax.random.split(rng)
            draws["policy_initial"], draws["policy_steps"] = _ddpm_draws(split, (B, A), K)
    elif alg == "crr":
        key1, key2 = jax.random.split(key)
        draws["timesteps"], draws["noise"] = _diff_term_draws(key2, B, A, K, dtype)
        _, split = jax.random.split(key1)
        unit = distrax.MultivariateNormalDiag(jnp.zeros((B, A), dtype), jnp.ones((B, A), dtype))
        draws["baseline_noise"] = unit.sample(seed=split, sample_shape=10)
    elif alg == "iql":
        _, key2 = jax.random.split(key)
        _, key3 = jax.random.split(key2)
        draws["timesteps"], draws["noise"] = _diff_term_draws(key3, B, A, K, dtype)
    else:
        raise ValueError(f"official_draws: unknown algorithm {alg!r}")
    return draws


def edp_ref_randomness(setting: EDPSetting, draws: dict[str, Any]) -> Any:
    """The official draws in edp_ref's randomness dataclass for the algorithm."""
    dtype = setting.torch_dtype
    diffusion = DiffusionNoise(
        timesteps=_t(draws["timesteps"], torch.int64), noise=_t(draws["noise"], dtype)
    )
    alg = setting.algorithm
    if alg in ("td3", "crr", "dql_jax"):
        steps = draws.get("next_steps")
        next_actions = SamplerNoise(
            initial=_t(draws["next_initial"], dtype),
            steps=None if steps is None else _t(steps, dtype),
        )
    if alg == "td3":
        return TD3Randomness(diffusion, next_actions, _t(draws["head_uniform"], dtype))
    if alg == "dql_jax":
        policy_actions = SamplerNoise(
            initial=_t(draws["policy_initial"], dtype), steps=_t(draws["policy_steps"], dtype)
        )
        return TD3Randomness(
            diffusion, next_actions, _t(draws["head_uniform"], dtype), policy_actions
        )
    if alg == "crr":
        return CRRRandomness(diffusion, next_actions, _t(draws["baseline_noise"], dtype))
    return IQLRandomness(diffusion)
