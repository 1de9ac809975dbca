"""The official EDP code (sail-sg/edp, JAX), unmodified, driven without its trainer.

Its trainer (``diffusion/trainer.py``) needs D4RL, gym, wandb, TensorFlow and a ``data``
package that is not part of the kept snapshot, so :func:`official_edp_run` builds the agent the
way ``DiffusionTrainer._setup`` does (``GaussianDiffusion`` + ``DiffusionPolicy`` + ``Critic`` +
``Value`` + ``GaussianPolicy`` into ``diffusion/dql.py``'s ``DiffusionQL``) and one training
iteration the way ``DiffusionTrainer.train`` does: ``RandSampler`` indices
(``np.random.randint``), ``Dataset.retrieve`` (the same as ``utilities/replay_buffer.py``'s
``index_batch``), ``batch_to_jax``, ``agent.train(batch)`` (which draws its PRNG key with
``next_rng()`` and runs the jitted ``_train_step``).

Configurations (Fig. 2 and Sec. 5 of the paper; the official README's switches): ``"td3"``,
``"crr"``, ``"iql"`` are EDP + TD3 / CRR / IQL (``num_timesteps = 1000``, linear schedule,
DPM-Solver with 15 steps and ``t_end = 1e-3``, ``use_pred_astart = True``: action approximation,
Eq. 9); ``"dql_jax"`` is the paper's "DQL (JAX)" baseline in the same code
(``use_pred_astart = False``: the policy-improvement action sampled through the whole chain,
DDPM, Diffusion-QL's ``vp`` schedule with ``num_timesteps = 5``). Everything else is the
official default (``DiffusionQL.get_default_config()`` and the trainer's flags: batch 256,
3 x 256 Mish networks, time embedding 16, no layer norm, Flax default init), with the
gradient-norm clip of ``diffusion/hps.py`` for the task (walker2d-medium-expert-v2: 5).

For a differential test (same parameters, batch and random draws as edp_ref): the returned
:class:`PeerRun`'s ``agent`` holds ``train_states`` (Flax ``TrainState`` per network: ``params``
and optax ``opt_state``) and ``_tgt_params``; ``agent._train_step(train_states, tgt_params, rng,
batch, policy_tgt_update)`` is the official jitted update as a pure function of them (its
outputs are new states; the inputs are not modified), with ``rng`` the PRNG key that
``agent.train`` would draw from ``utilities.jax_utils.next_rng()``.

:data:`DIAGNOSTIC` selects a variant in which the one function ``dpm_solver.interpolate_fn``
(which argsorts all K + 1 keypoints for every element on every call) is replaced at load time by
:func:`searchsorted_interpolate`, an equivalent lookup. It is a diagnostic of where the
official code's time goes, never the official code path, and every label naming it says so.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from edp_ref.peers.common import PeerRun, SyntheticTransitions
from edp_ref.peers.isolation import (
    PeerModules,
    gym_stub,
    install_jax_adapters,
    isolated_import,
    stub_module,
)
from edp_ref.peers.locate import checked_root

__all__ = [
    "DIAGNOSTIC",
    "DIAGNOSTIC_NOTE",
    "OFFICIAL",
    "RandSampler",
    "TrainerDataset",
    "load_official_edp",
    "official_edp_run",
    "official_hyperparameters",
    "searchsorted_interpolate",
    "warm_policy_target_branch",
]

OFFICIAL = "official"
DIAGNOSTIC = "searchsorted_diagnostic"
DIAGNOSTIC_NOTE = (
    "DIAGNOSTIC, not the official code path: dpm_solver.interpolate_fn replaced by an "
    "equivalent searchsorted lookup"
)

_TOP_LEVEL = ("diffusion", "utilities", "core")
_MODULES = (
    "diffusion.diffusion",
    "diffusion.dpm_solver",
    "diffusion.nets",
    "diffusion.dql",
    "diffusion.hps",
    "utilities.jax_utils",
    "utilities.replay_buffer",
    "utilities.sampler",
    "diffusion.trainer",
)


def searchsorted_interpolate(x: Any, xp: Any, yp: Any) -> Any:
    """DIAGNOSTIC replacement of the official ``dpm_solver.interpolate_fn`` (same contract).

    The official function computes the piecewise-linear f(x) through the keypoints (xp, yp)
    (x [N, C], xp and yp [C, K], xp increasing; linear extrapolation from the two outermost
    keypoints) by concatenating x to all K keypoints, argsorting every row and gathering. With
    a stable sort, the rank of x among the keypoints is ``j = searchsorted(xp, x, "left")``; the
    segment used is [j - 1, j] clipped to [0, K - 1], which this function looks up directly
    with the same arithmetic (so the results agree to the bit on the schedules tested).
    """
    import jax
    import jax.numpy as jnp

    K = xp.shape[1]

    def per_channel(xc: Any, xpc: Any, ypc: Any) -> Any:
        j = jnp.clip(jnp.searchsorted(xpc, xc, side="left"), 1, K - 1)
        start_x, end_x = xpc[j - 1], xpc[j]
        start_y, end_y = ypc[j - 1], ypc[j]
        return start_y + (xc - start_x) * (end_y - start_y) / (end_x - start_x)

    return jax.vmap(per_channel, in_axes=(1, 0, 0), out_axes=1)(x, xp, yp)


class TrainerDataset:
    """Stand-in for ``data.Dataset``, which the official trainer imports from a ``data``
    package that the kept snapshot lacks: holds the dict ``_setup_d4rl`` builds and, with a
    :class:`RandSampler`, draws a batch with the official ``index_batch`` retrieval."""

    def __init__(self, data: dict[str, np.ndarray]) -> None:
        self.data = data
        self._sampler: RandSampler | None = None

    def size(self) -> int:
        return len(self.data["observations"])

    def set_sampler(self, sampler: RandSampler) -> None:
        self._sampler = sampler

    def sample(self) -> dict[str, np.ndarray]:
        if self._sampler is None:
            raise RuntimeError("TrainerDataset.sample: no sampler set (set_sampler)")
        indices = self._sampler.sample()
        return {k: v[indices, ...] for k, v in self.data.items()}


class RandSampler:
    """Stand-in for ``data.RandSampler`` (absent from the snapshot, see
    :class:`TrainerDataset`): ``batch_size`` indices by ``np.random.randint``."""

    def __init__(self, size: int, batch_size: int) -> None:
        self.size, self.batch_size = size, batch_size

    def sample(self) -> np.ndarray:
        return np.random.randint(self.size, size=self.batch_size)


def _stubs() -> dict[str, Any]:
    """Stub modules for what the official modules import at module level but never call here:
    D4RL and gym (utilities/traj_dataset.py), wandb (utilities/utils.py), viskit and the absent
    ``data`` package (diffusion/trainer.py; :class:`TrainerDataset` and :class:`RandSampler`
    stand in for the two classes ``_setup_d4rl`` uses). A caller may set ``gym.make`` and
    ``d4rl.qlearning_dataset`` on them (:mod:`edp_ref.fidelity.official_trainer`)."""
    why = "imported at module level by the official EDP code, not used by edp_ref's drivers"
    viskit_logging = stub_module("viskit.logging", why, {"logger": None, "setup_logger": None})
    return {
        "d4rl": stub_module("d4rl", why),
        "gym": gym_stub(why),
        "wandb": stub_module("wandb", why),
        "viskit": stub_module("viskit", why, {"logging": viskit_logging}),
        "viskit.logging": viskit_logging,
        "data": stub_module(
            "data",
            why,
            {
                "Dataset": TrainerDataset,
                "RandSampler": RandSampler,
                "DM2Gym": None,
                "RLUPDataset": None,
            },
        ),
    }


@contextmanager
def _trainer_flags_removed() -> Iterator[None]:
    """diffusion/trainer.py defines absl flags at import; take the ones it added out of
    ``absl.flags.FLAGS`` afterwards, so that importing it again (the DIAGNOSTIC copy) or other
    code's flags do not collide."""
    from absl import flags

    before = set(flags.FLAGS)
    try:
        yield
    finally:
        for name in set(flags.FLAGS) - before:
            delattr(flags.FLAGS, name)


def load_official_edp(
    root: str | os.PathLike[str] | None = None, interpolation: str = OFFICIAL
) -> PeerModules:
    """Import the official EDP modules from ``root`` (or ``EDP_OFFICIAL_ROOT``), once per process;
    :data:`DIAGNOSTIC` imports a separate copy whose ``dpm_solver.interpolate_fn`` is
    :func:`searchsorted_interpolate` (the official copy is never touched).

    Raises:
        PeerUnavailableError: naming ``EDP_OFFICIAL_ROOT`` (or the argument) when the folder is
            absent or incomplete, or naming the missing modules when JAX & co. are not installed.
        ValueError: for an unknown ``interpolation``.
    """
    if interpolation not in (OFFICIAL, DIAGNOSTIC):
        raise ValueError(
            f"load_official_edp: interpolation must be {OFFICIAL!r} or {DIAGNOSTIC!r}, "
            f"got {interpolation!r}"
        )
    return _load_official_edp(checked_root("edp", root), interpolation)


@functools.cache  # once per folder and interpolation
def _load_official_edp(folder: Path, interpolation: str) -> PeerModules:
    install_jax_adapters()
    with isolated_import(folder, _TOP_LEVEL, _stubs()) as loaded, _trainer_flags_removed():
        for name in _MODULES:
            importlib.import_module(name)
    modules = PeerModules(folder, loaded)
    if interpolation == DIAGNOSTIC:
        modules["diffusion.dpm_solver"].interpolate_fn = searchsorted_interpolate
    return modules


def official_hyperparameters(
    algorithm: str,
    task: str,
    num_steps: int,
    dpm_steps: int = 15,
    dpm_t_end: float | None = None,
    *,
    root: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """The ``algo_cfg`` overrides the official trainer applies for ``algorithm`` on ``task``.

    ``loss_type``, K, the schedule (linear; vp for DQL (JAX)), ``use_pred_astart`` (off for DQL
    (JAX)), the DPM-Solver steps and end time, the task's gradient-norm clip ``gn`` from
    ``diffusion/hps.py`` and ``lr_decay_steps`` (epochs x iterations; unused with lr_decay off).
    ``DiffusionQL.get_default_config(hps)`` gives the full config.

    Raises:
        ValueError: for an unknown algorithm or task.
    """
    if algorithm not in ("td3", "crr", "iql", "dql_jax"):
        raise ValueError(
            f"edp_ref.peers: algorithm must be 'td3', 'crr', 'iql' or 'dql_jax', got {algorithm!r}"
        )
    table = load_official_edp(root)["diffusion.hps"].hyperparameters
    if task not in table:
        raise ValueError(f"official_hyperparameters: task {task!r} is not in diffusion/hps.py")
    is_dql = algorithm == "dql_jax"
    return {
        "loss_type": "TD3" if is_dql else algorithm.upper(),
        "num_timesteps": num_steps,
        "schedule_name": "vp" if is_dql else "linear",
        "use_pred_astart": not is_dql,
        "dpm_steps": dpm_steps,
        **({} if dpm_t_end is None else {"dpm_t_end": dpm_t_end}),
        "max_grad_norm": float(table[task]["gn"]),
        # trainer.py: lr_decay_steps = n_epochs * n_train_step_per_epoch (unused: lr_decay off).
        "lr_decay_steps": 2000 * 1000,
    }


def official_edp_run(
    algorithm: str,
    data: SyntheticTransitions,
    *,
    root: str | os.PathLike[str] | None = None,
    interpolation: str = OFFICIAL,
    num_steps: int | None = None,
    dpm_steps: int = 15,
    dpm_t_end: float | None = None,
    arch: tuple[int, ...] = (256, 256, 256),
    batch_size: int = 256,
    task: str = "walker2d-medium-expert-v2",
    seed: int = 0,
) -> PeerRun:
    """The official EDP agent for ``algorithm`` on ``data``, with one-iteration callables.

    Args:
        algorithm: "td3", "crr", "iql" (EDP + TD3 / CRR / IQL) or "dql_jax" (DQL (JAX)).
        root: the official EDP folder (None: ``EDP_OFFICIAL_ROOT``).
        interpolation: :data:`OFFICIAL`, or the labelled :data:`DIAGNOSTIC`.
        num_steps: K (None: 1000 for EDP, 5 for DQL (JAX)).
        dpm_t_end: DPM-Solver end time (None: the official 1e-3 = 1/1000; a smaller K needs
            at least 1/K, below which the official schedule interpolation extrapolates to
            log alpha > 0 and the solver returns NaN).
        arch: hidden sizes of the noise, Q and V networks (official "256-256-256").
        task: the ``diffusion/hps.py`` row giving the gradient-norm clip ``gn``.
        seed: the agent's PRNG seed (``utilities.jax_utils.init_rng``).

    Raises:
        ValueError: for an unknown algorithm or task.
        PeerUnavailableError: when the peer or JAX is absent.
    """
    is_dql = algorithm == "dql_jax"
    K = num_steps if num_steps is not None else (5 if is_dql else 1000)
    hps = official_hyperparameters(algorithm, task, K, dpm_steps, dpm_t_end, root=root)
    m = load_official_edp(root, interpolation)
    dql, nets, diffusion, jax_utils = (
        m["diffusion.dql"],
        m["diffusion.nets"],
        m["diffusion.diffusion"],
        m["utilities.jax_utils"],
    )
    max_action = 1.0  # walker2d's action space is [-1, 1]^6
    sample_method = "ddpm" if is_dql else "dpm"
    cfg = dql.DiffusionQL.get_default_config(hps)
    jax_utils.init_rng(seed)
    gd = diffusion.GaussianDiffusion(
        num_timesteps=K,
        schedule_name=hps["schedule_name"],
        model_mean_type=diffusion.ModelMeanType.EPSILON,
        model_var_type=diffusion.ModelVarType.FIXED_SMALL,
        loss_type=diffusion.LossType.MSE,
        min_value=-max_action,
        max_value=max_action,
    )
    obs_dim, action_dim = data.obs_dim, data.action_dim
    policy = nets.DiffusionPolicy(
        diffusion=gd,
        observation_dim=obs_dim,
        action_dim=action_dim,
        arch=tuple(arch),
        time_embed_size=cfg.time_embed_size,
        use_layer_norm=False,
        sample_method=sample_method,
        dpm_steps=cfg.dpm_steps,
        dpm_t_end=cfg.dpm_t_end,
    )
    critic = nets.Critic(obs_dim, action_dim, tuple(arch), act=nets.mish, use_layer_norm=False)
    value = nets.Value(obs_dim, tuple(arch), act=nets.mish, use_layer_norm=False)
    agent = dql.DiffusionQL(
        cfg, policy, critic, value, nets.GaussianPolicy(action_dim, temperature=1.0)
    )

    # trainer.py _setup_d4rl: actions clipped to +-clip_action (0.999), dones = terminals.
    dataset = {
        "observations": data.observations,
        "actions": np.clip(data.actions, -0.999, 0.999),
        "next_observations": data.next_observations,
        "rewards": data.rewards,
        "dones": data.terminals,
        "dones_float": data.terminals,
    }
    index_batch = m["utilities.replay_buffer"].index_batch
    batch_to_jax = jax_utils.batch_to_jax
    size = data.size

    def draw_batch() -> Any:
        # data/sampler.py RandSampler.sample + data/dataset.py Dataset.retrieve (not in the
        # snapshot; index_batch is the same retrieval), then trainer.py's batch_to_jax.
        indices = np.random.randint(size, size=batch_size)
        return batch_to_jax(index_batch(dataset, indices))

    def sync() -> None:
        import jax

        jax.block_until_ready((agent.train_states, agent._tgt_params))

    names = {
        "td3": "official EDP + TD3 (JAX)",
        "crr": "official EDP + CRR (JAX)",
        "iql": "official EDP + IQL (JAX)",
        "dql_jax": "official EDP code, DQL (JAX) mode",
    }
    label = names[algorithm]
    if interpolation == DIAGNOSTIC:
        label += f" [{DIAGNOSTIC_NOTE}]"
    record: dict[str, Any] = {
        **{k: cfg[k] for k in sorted(cfg.keys())},
        "sample_method": sample_method,
        "batch_size": batch_size,
        "policy_arch": list(arch),
        "qf_arch": list(arch),
        "activation": "mish",
        "clip_action": 0.999,
        "max_action": max_action,
        "policy_temp": 1.0,
        "interpolation": interpolation,
        "source": (
            "DiffusionQL.get_default_config() + trainer.py flags; README: sample_method=dpm, "
            f"num_timesteps=1000 for EDP; diffusion/hps.py gn for {task}"
        ),
    }
    key = f"edp_official_{algorithm}" + ("_diagnostic" if interpolation == DIAGNOSTIC else "")
    return PeerRun(
        key=key,
        label=label,
        framework="jax",
        diagnostic=interpolation == DIAGNOSTIC,
        agent=agent,
        draw_batch=draw_batch,
        update=agent.train,
        step=lambda: agent.train(draw_batch()),
        sync=sync,
        hyperparameters=record,
        modules=m,
    )


def warm_policy_target_branch(run: PeerRun) -> None:
    """Compile the official ``_train_step``'s ``policy_tgt_update=True`` branch without changing
    the agent (its outputs are discarded), so that crossing step 1000 does not recompile inside
    a timed round."""
    import jax

    agent = run.agent
    out = agent._train_step(
        agent.train_states, agent._tgt_params, jax.random.PRNGKey(0), run.draw_batch(), True
    )
    jax.block_until_ready(out)
