"""Training state of every algorithm: parameters, targets, optimiser state, step counter.

The state is an immutable dataclass of tensors (Appendix A's networks: the policy, the critics
Q1 and Q2, IQL's V, their Polyak targets and the EMA policy of the official code). Updates
return a new state and never mutate the old one. The network *structure* travels with the state
as :class:`Networks`: module templates whose own parameters live on the ``meta`` device and are
never read; every forward pass is ``torch.func.functional_call`` with parameters from the state.
The noise schedule (Eq. 1) of a diffusion policy travels there too, on the state's device.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import torch
from jaxtyping import Float
from torch import Tensor, nn
from torch.func import functional_call

from edp_ref.algorithms.optim import AdamState, Params, adam_init
from edp_ref.core.eps_model import EpsFn
from edp_ref.core.networks import NoisePredictionNetwork, conditioned_noise_prediction
from edp_ref.core.schedule import Schedule

__all__ = [
    "Networks",
    "TrainState",
    "build_state",
    "load_state_tensors",
    "seeded_from",
    "state_tensors",
]


def _template(module: nn.Module) -> nn.Module:
    """A copy of ``module`` on the meta device: structure only, no usable parameters."""
    return copy.deepcopy(module).to("meta").requires_grad_(False)


@dataclass(frozen=True, eq=False)
class Networks:
    """The structure of an agent's networks (meta-device templates) and its noise schedule."""

    # eps_theta(a^k, k; s) for diffusion policies, a deterministic or Gaussian MLP for the
    # feed-forward baselines.
    policy: nn.Module
    # Q(s, a): Q1 and Q2 share this structure, not their parameters.
    q: nn.Module
    # IQL's V(s), else None.
    value: nn.Module | None = None
    # The diffusion policy's noise schedule on the state's device, else None.
    schedule: Schedule | None = None

    def noise(
        self,
        params: Params,
        observations: Float[Tensor, "batch state"],
        noisy_actions: Float[Tensor, "batch action"],
        t: Float[Tensor, " batch"],
    ) -> Float[Tensor, "batch action"]:
        """eps_theta(a^k, t; s) with the given policy parameters."""
        return cast(Tensor, functional_call(self.policy, params, (observations, noisy_actions, t)))

    def conditioned_noise(
        self, params: Params, observations: Float[Tensor, "batch state"], repeats: int = 1
    ) -> EpsFn:
        """eps_theta(., t; s) of one sampler run on ``observations``, each repeated ``repeats``
        times (:func:`~edp_ref.core.networks.conditioned_noise_prediction`: equal to
        :meth:`noise` to round-off, the work that does not depend on the noisy action done once)."""
        if not isinstance(self.policy, NoisePredictionNetwork):
            raise ValueError("Networks.conditioned_noise: the policy is not a noise network")
        return conditioned_noise_prediction(self.policy, params, observations, repeats)

    def q_value(
        self,
        params: Params,
        observations: Float[Tensor, "*batch state"],
        actions: Float[Tensor, "*batch action"],
    ) -> Float[Tensor, "*batch"]:
        """Q(s, a) with the given critic parameters."""
        return cast(Tensor, functional_call(self.q, params, (observations, actions)))

    def min_q(
        self,
        q1_params: Params,
        q2_params: Params,
        observations: Float[Tensor, "*batch state"],
        actions: Float[Tensor, "*batch action"],
    ) -> Float[Tensor, "*batch"]:
        """min(Q1(s, a), Q2(s, a)) with the given critic parameters (Eqs. 14, 21; App. A.3)."""
        return torch.minimum(
            self.q_value(q1_params, observations, actions),
            self.q_value(q2_params, observations, actions),
        )

    def state_value(
        self, params: Params, observations: Float[Tensor, "*batch state"]
    ) -> Float[Tensor, "*batch"]:
        """V(s) with the given value-network parameters."""
        if self.value is None:
            raise ValueError("Networks.state_value: this agent has no value network")
        return cast(Tensor, functional_call(self.value, params, (observations,)))

    def policy_output(self, params: Params, observations: Float[Tensor, "batch state"]) -> Any:
        """The feed-forward policy's output (an action, or a (mean, log_std) pair)."""
        return functional_call(self.policy, params, (observations,))

    @property
    def state_dim(self) -> int:
        """S, the width of the observations the critics take."""
        return cast(int, self.q.state_dim)

    @property
    def action_dim(self) -> int:
        """A, the width of the actions the critics take and the policy produces."""
        return cast(int, self.q.action_dim)

    def require_schedule(self) -> Schedule:
        """The noise schedule; raises if this agent has no diffusion policy."""
        if self.schedule is None:
            raise ValueError("this agent has no diffusion policy (no noise schedule)")
        return self.schedule


@dataclass(frozen=True, eq=False)
class TrainState:
    """Everything an update reads and writes.

    Attributes:
        networks: structure (meta templates) and schedule; static, shared between states.
        params: online parameters by network name: "policy", "q1", "q2" and (IQL) "value".
        target_params: Polyak targets: "q1", "q2", and "policy" (the EMA policy of diffusion
            agents, the target actor of TD3+BC).
        optimizers: one Adam state per trained network, keyed like ``params``.
        step: number of updates done so far, an int64 scalar tensor; the update being computed is
            number ``step + 1`` (the official ``_total_steps`` after its increment).
    """

    networks: Networks
    params: dict[str, Params]
    target_params: dict[str, Params]
    optimizers: dict[str, AdamState]
    step: Tensor

    def replace(self, **changes: Any) -> TrainState:
        """A copy with some fields replaced."""
        return dataclasses.replace(self, **changes)

    @property
    def device(self) -> torch.device:
        """The device every tensor of the state lives on."""
        return self.step.device

    @property
    def dtype(self) -> torch.dtype:
        """The floating dtype of the parameters."""
        return next(iter(self.params["q1"].values())).dtype

    def to(self, device: torch.device | str) -> TrainState:
        """The same state with every tensor (and the schedule) on ``device``."""
        flat = {k: v.to(device) for k, v in state_tensors(self).items()}
        networks = self.networks
        if networks.schedule is not None:
            networks = dataclasses.replace(networks, schedule=networks.schedule.to(device))
        return load_state_tensors(self.replace(networks=networks), flat)


def _params_of(module: nn.Module, device: torch.device | str, dtype: torch.dtype) -> Params:
    return {
        n: p.detach().to(device=device, dtype=dtype).clone() for n, p in module.named_parameters()
    }


def build_state(
    modules: Mapping[str, nn.Module],
    target_names: tuple[str, ...],
    schedule: Schedule | None,
    device: torch.device | str,
    dtype: torch.dtype,
) -> TrainState:
    """A fresh state from initialised modules by name ("policy", "q1", "q2"[, "value"]); the
    ``target_names`` get a target copy, equal to the online one."""
    params = {name: _params_of(m, device, dtype) for name, m in modules.items()}
    targets = {name: {n: p.clone() for n, p in params[name].items()} for name in target_names}
    networks = Networks(
        policy=_template(modules["policy"]),
        q=_template(modules["q1"]),
        value=_template(modules["value"]) if "value" in modules else None,
        schedule=schedule.to(device) if schedule is not None else None,
    )
    return TrainState(
        networks=networks,
        params=params,
        target_params=targets,
        optimizers={name: adam_init(p) for name, p in params.items()},
        step=torch.zeros((), dtype=torch.int64, device=device),
    )


@contextlib.contextmanager
def seeded_from(generator: torch.Generator) -> Iterator[None]:
    """Run a block with torch's global RNG seeded from ``generator``, then restore it.

    For code that draws from the global RNG (PyTorch's default Linear init): the draw depends only
    on ``generator``, and the caller's global RNG state is left as it was.
    """
    seed = int(torch.randint(0, 2**62, (), generator=generator, device=generator.device))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def state_tensors(state: TrainState) -> dict[str, Tensor]:
    """Every tensor of the state under a flat, stable key (for checkpoints, e.g. safetensors).

    Keys: ``params/<net>/<param>``, ``target/<net>/<param>``, ``adam/<net>/count``,
    ``adam/<net>/mu/<param>``, ``adam/<net>/nu/<param>`` and ``step``.
    """
    flat: dict[str, Tensor] = {"step": state.step}
    for net, p in state.params.items():
        flat.update({f"params/{net}/{n}": t for n, t in p.items()})
    for net, p in state.target_params.items():
        flat.update({f"target/{net}/{n}": t for n, t in p.items()})
    for net, opt in state.optimizers.items():
        flat[f"adam/{net}/count"] = opt.count
        flat.update({f"adam/{net}/mu/{n}": t for n, t in opt.mu.items()})
        flat.update({f"adam/{net}/nu/{n}": t for n, t in opt.nu.items()})
    return flat


def load_state_tensors(
    template: TrainState, flat: Mapping[str, Tensor], check_shapes: bool = True
) -> TrainState:
    """The inverse of :func:`state_tensors`: ``template``'s structure with ``flat``'s tensors.

    Raises ``ValueError`` naming a missing key or (``check_shapes``) a shape mismatch; stacked
    seeds (:mod:`~edp_ref.algorithms.multiseed`) differ from their template by a leading axis.
    """
    expected = state_tensors(template)
    missing = sorted(set(expected) - set(flat))
    if missing:
        raise ValueError(f"load_state_tensors: missing keys {missing[:5]} (of {len(missing)})")
    for key, ref in expected.items():
        if check_shapes and flat[key].shape != ref.shape:
            raise ValueError(
                f"load_state_tensors: '{key}' has shape {tuple(flat[key].shape)}, expected "
                f"{tuple(ref.shape)}"
            )

    def group(prefix: str, names: Params) -> Params:
        return {n: flat[f"{prefix}/{n}"] for n in names}

    return template.replace(
        params={net: group(f"params/{net}", p) for net, p in template.params.items()},
        target_params={net: group(f"target/{net}", p) for net, p in template.target_params.items()},
        optimizers={
            net: AdamState(
                count=flat[f"adam/{net}/count"],
                mu=group(f"adam/{net}/mu", opt.mu),
                nu=group(f"adam/{net}/nu", opt.nu),
            )
            for net, opt in template.optimizers.items()
        },
        step=flat["step"],
    )
