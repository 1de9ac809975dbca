"""A fresh training state for each kind of policy network (Sec. 5, Appendix A).

The registry builds every algorithm's ``init`` here from the kind of its policy network and
whether it has IQL's V (:func:`make_init`):

* ``diffusion``: eps_theta (:class:`~edp_ref.core.networks.NoisePredictionNetwork`; config fields
  ``network``, ``diffusion``), with the EMA policy and target critics;
* ``deterministic``: TD3+BC's actor (``network``, ``max_action``), with the target actor and
  target critics;
* ``gaussian``: CRR's and IQL's Gaussian MLP (``network``, ``max_action``, ``log_std_min``,
  ``log_std_max``), with the target critics.

Every target starts equal to its online network (official code). The generator is the only
source of randomness: the networks are drawn from it in the order policy, Q1, Q2, V.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import nn

from edp_ref.algorithms.config import DiffusionConfig
from edp_ref.algorithms.critic import critic_modules
from edp_ref.algorithms.feedforward_policy import DeterministicPolicyNetwork, GaussianPolicyNetwork
from edp_ref.algorithms.state import TrainState, build_state, seeded_from
from edp_ref.core.dpm_solver import dpm_solver_plan
from edp_ref.core.networks import NoisePredictionNetwork
from edp_ref.core.schedule import Schedule, make_schedule

__all__ = ["InitFn", "PolicyNetwork", "make_init"]

#: The kind of network the policy is: a diffusion policy eps_theta, or a feed-forward MLP.
PolicyNetwork = Literal["diffusion", "deterministic", "gaussian"]
#: ``init(config, state_dim, action_dim, generator, device="cpu", dtype=float32) -> TrainState``.
InitFn = Callable[..., TrainState]


def _schedule(diffusion: DiffusionConfig) -> Schedule:
    """The noise schedule of Eq. 1, with DPM-Solver's constants cached now so that a compiled
    update never builds them (a DPM-Solver setting invalid for it raises where it is sampled)."""
    schedule = make_schedule(diffusion.schedule, diffusion.num_steps)
    with contextlib.suppress(ValueError):
        dpm_solver_plan(schedule, diffusion.dpm_steps, diffusion.dpm_order, diffusion.t_end())
    return schedule


def _policy(
    kind: PolicyNetwork, config: Any, state_dim: int, action_dim: int, generator: torch.Generator
) -> nn.Module:
    net = config.network
    if kind == "diffusion":
        return NoisePredictionNetwork(
            state_dim,
            action_dim,
            hidden=net.hidden,
            layers=net.layers,
            time_dim=net.time_dim,
            embedding=net.embedding,
            init=net.init,
            generator=generator,
            activation=net.activation,
        )
    if kind == "deterministic":
        return DeterministicPolicyNetwork(state_dim, action_dim, net, config.max_action, generator)
    return GaussianPolicyNetwork(
        state_dim,
        action_dim,
        net,
        config.max_action,
        config.log_std_min,
        config.log_std_max,
        generator,
    )


def make_init(kind: PolicyNetwork, value_network: bool) -> InitFn:
    """The ``init`` of an algorithm whose policy is a ``kind`` network (and IQL's V when
    ``value_network``): policy, Q1, Q2 (, V), their targets (table above), Adam states."""
    targets = ("q1", "q2") if kind == "gaussian" else ("policy", "q1", "q2")

    def init(
        config: Any,
        state_dim: int,
        action_dim: int,
        generator: torch.Generator,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> TrainState:
        schedule = _schedule(config.diffusion) if kind == "diffusion" else None
        with seeded_from(generator):
            modules = {
                "policy": _policy(kind, config, state_dim, action_dim, generator),
                **critic_modules(state_dim, action_dim, config.network, generator, value_network),
            }
        return build_state(modules, targets, schedule, device, dtype)

    init.__doc__ = f"A fresh state: {kind} policy, Q1, Q2{', V' if value_network else ''}."
    return init
