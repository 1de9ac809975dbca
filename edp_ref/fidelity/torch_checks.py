"""edp_ref's baselines against the PyTorch peers: DQL against the official Diffusion-QL
(agents/ql_diffusion.py), TD3+BC and IQL against CORL (algorithms/offline/{td3_bc,iql}.py).

Same protocol as :mod:`edp_ref.fidelity.edp_checks`: the peer trains a few updates of its own
(its own draws), its state is converted to edp_ref's (:mod:`edp_ref.fidelity.torch_layout`),
then each side makes one update (or many) on the same batch with the same draws. The peers draw
from torch's global generator (and Diffusion-QL's Q head from ``np.random.uniform``): before each
peer update the generators are reseeded, and edp_ref's randomness is the same calls replayed
from the same seed (:func:`peer_draws`: Diffusion-QL's order is a' chain ``randn`` + K
``randn_like``, ``randint`` of k, ``randn_like`` of eps, the L_pi chain, then the coin; TD3+BC's
is one ``randn_like``; IQL draws nothing). In float64 the peer runs with torch's default dtype
set to float64 (its modules converted with ``.double()``; Diffusion-QL's schedule buffers are
computed in float32 by its code and are given to edp_ref as they are, see ``peer_tables``).

CORL's IQL differs from IQL's original update (and from edp_ref's and the official EDP's): it
computes V(s') before the value step and uses the pre-update V both in the Q target and in the
policy's advantage, and updates V -> Q -> policy; its critic loss is the mean, not the sum, of
the two critics' losses, and its actor's learning rate follows a cosine schedule
(``CosineAnnealingLR``, T_max = max_timesteps). ``iql_order="corl"`` runs CORL's ``train`` as
shipped (reported as INFO lines); ``iql_order="original"`` composes CORL's own methods
(``_update_v``, ``_update_policy``, ``_update_q``) in IQL's original order V -> policy -> Q with
the updated V, which is the pass/fail comparison. Its Adam moments of Q are compared at edp_ref's
loss scale (x2 and x4).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any

import torch

from edp_ref.algorithms import Batch, TrainState
from edp_ref.fidelity.compare import Comparison, compare_group
from edp_ref.fidelity.torch_sides import (
    Side,
    TorchSetting,
    make_side,
    peer_draws,
    peer_step,
    synthetic_batch,
)

__all__ = ["TorchSetting", "peer_draws", "torch_many_updates", "torch_one_update"]


def _groups(state: TrainState) -> dict[str, Mapping[str, Any]]:
    from edp_ref.fidelity.edp_checks import state_groups

    return state_groups(state)


def _start(side: Side, warmup: int, start_step: int | None) -> TrainState:
    for i in range(warmup):
        peer_step(side, side.run, synthetic_batch(side.setting, 1000 + i), 2000 + i)
    if start_step is not None:
        agent = side.run.agent
        if side.setting.peer == "dql":
            agent.step = start_step
        else:
            agent.total_it = start_step
    return side.to_state(side.run, side.template)


def _compare(
    prefix: str, ours: TrainState, peer: TrainState, tol: Mapping[str, float], informational: bool
) -> list[Comparison]:
    a, b = _groups(ours), _groups(peer)
    return [
        compare_group(
            f"{prefix} {name}",
            a[name],
            b[name],
            tol[name.split("/")[0]],
            informational=informational,
        )
        for name in sorted(b)
    ]


def _edp_step(side: Side, state: TrainState, batch: Batch, seed: int) -> tuple[TrainState, Any]:
    randomness = peer_draws(
        side.setting, seed, side.config.diffusion.num_steps if side.setting.peer == "dql" else 5
    )
    return side.update(state, batch, randomness, side.config)  # type: ignore[no-any-return]


def torch_one_update(
    setting: TorchSetting,
    root: str | os.PathLike[str] | None,
    tolerances: Mapping[str, float],
    warmup: int = 3,
    edit_config: Callable[[Any], Any] | None = None,
) -> list[Comparison]:
    """One update of the peer and of edp_ref from the peer's state after ``warmup`` updates
    (Diffusion-QL's counter set to 1000 so that the update moves its EMA actor; TD3+BC's to an
    odd value so that the actor and the targets move), same batch and draws. ``edit_config``
    changes edp_ref's config first (what-if diagnostics, negative controls)."""
    side = make_side(setting, root)
    if edit_config is not None:
        side.config = edit_config(side.config)
    start = {"dql": 1000, "td3bc": 2 * warmup + 1, "iql": None}[setting.peer]
    ours = _start(side, warmup, start)
    batch, seed = synthetic_batch(setting, 7), 77
    peer_metrics = peer_step(side, side.run, batch, seed)
    ours, metrics = _edp_step(side, ours, batch, seed)
    informational = setting.peer == "iql" and setting.iql_order == "corl"
    prefix = f"{setting.label} one-update"
    out = _compare(prefix, ours, side.to_state(side.run, side.template), tolerances, informational)
    if setting.peer == "iql" and setting.iql_order == "original":
        # The critics' groups are checked only with edp_ref's Adam epsilon doubled (CORL's critic
        # loss is half edp_ref's); everything else only without.
        critics_only = setting.q_adam_eps is not None
        out = [
            dataclasses.replace(
                c,
                informational=(c.name[-2:] in ("q1", "q2")) != critics_only,
                note=c.note
                if c.name[-2:] not in ("q1", "q2") or critics_only
                else (
                    f"{c.note}; CORL's critic loss is the mean of the two (half edp_ref's): "
                    "checked on the Adam eps 2e-08 line"
                ),
            )
            for c in out
        ]
        informational = critics_only
    peer_l = side.losses(peer_metrics)
    ours_l = {k: float(metrics[k]) for k in side.edp_losses if k in peer_l}
    out.append(
        compare_group(
            f"{prefix} losses",
            ours_l,
            side.losses(peer_metrics),
            tolerances["losses"],
            informational=informational,
        )
    )
    return out


def torch_many_updates(
    setting: TorchSetting,
    root: str | os.PathLike[str] | None,
    updates: int,
    record_every: int = 10,
    warmup: int = 3,
    versus: str = "edp_ref",
) -> tuple[list[int], list[float], list[float]]:
    """``updates`` updates of the peer and of ``versus`` ("edp_ref", or "peer+1ulp": the peer
    from its start with every parameter moved by one ulp) on the same batches and draws.

    Returns the checkpoints and the relative deviation of all online parameters and of the
    losses at each.
    """
    side = make_side(setting, root)
    ours = _start(side, warmup, None)
    other = None
    if versus == "peer+1ulp":
        # A second peer built and warmed up the same way (a peer run holds modules: no deepcopy).
        twin = make_side(setting, root)
        _start(twin, warmup, None)
        other = twin.run
        with torch.no_grad():
            for module in vars(other.agent).values():
                if isinstance(module, torch.nn.Module):
                    for p in module.parameters():
                        p.copy_(torch.nextafter(p, torch.full_like(p, float("inf"))))
    elif versus != "edp_ref":
        raise ValueError(
            f"torch_many_updates: versus must be 'edp_ref' or 'peer+1ulp', got {versus!r}"
        )
    checkpoints, params_dev, loss_dev = [], [], []
    for i in range(1, updates + 1):
        batch, seed = synthetic_batch(setting, 5000 + i), 6000 + i
        peer_metrics = side.losses(peer_step(side, side.run, batch, seed))
        if other is None:
            ours, metrics = _edp_step(side, ours, batch, seed)
            ours_l = {k: float(metrics[k]) for k in side.edp_losses if k in peer_metrics}
        else:
            ours_l = side.losses(peer_step(side, other, batch, seed))
        if i % record_every and i != updates:
            continue
        peer_state = side.to_state(side.run, side.template)
        mine = ours if other is None else side.to_state(other, side.template)
        flat_p = {f"{n}/{k}": v for n, p in peer_state.params.items() for k, v in p.items()}
        flat_o = {f"{n}/{k}": v for n, p in mine.params.items() for k, v in p.items()}
        checkpoints.append(i)
        params_dev.append(compare_group("params", flat_o, flat_p, 1.0).deviation)
        loss_dev.append(compare_group("losses", ours_l, peer_metrics, 1.0).deviation)
    return checkpoints, params_dev, loss_dev
