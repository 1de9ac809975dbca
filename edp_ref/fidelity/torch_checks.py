"""edp_ref's baselines against the PyTorch peers: DQL against the official Diffusion-QL
(agents/ql_diffusion.py), TD3+BC and IQL against CORL (algorithms/offline/{td3_bc,iql}.py).

Same protocol as :mod:`edp_ref.fidelity.edp_checks`: the peer trains a few updates of its own
(its own draws), its targets are re-initialised and its critics' outputs scaled
(:func:`~edp_ref.fidelity.torch_sides.powered_start`), its state is converted to edp_ref's
(:mod:`edp_ref.fidelity.torch_layout`), then each side makes one update (or many) on the same
batch (a quarter terminals, a quarter time-outs) with the same draws; state groups are compared
relative to the peer's change, losses each at its own scale. The peers draw
from torch's global generator (and Diffusion-QL's Q head from ``np.random.uniform``): before each
peer update the generators are reseeded, and edp_ref's randomness is the same calls replayed
from the same seed (:func:`peer_draws`: Diffusion-QL's order is a' chain ``randn`` + K
``randn_like``, ``randint`` of k, ``randn_like`` of eps, the L_pi chain, then the coin; TD3+BC's
is one ``randn_like``; IQL draws nothing). In float64 the peer runs with torch's default dtype
set to float64 (its modules converted; Diffusion-QL's schedule buffers stay float32 as its code
computes them).

CORL's IQL differs from IQL's original update (and from edp_ref's and the official EDP's): it
computes V(s') before the value step and uses the pre-update V both in the Q target and in the
policy's advantage, and updates V -> Q -> policy; its critic loss is the mean, not the sum, of
the two critics' losses, and its actor's learning rate follows a cosine schedule
(``CosineAnnealingLR``, T_max = max_timesteps). ``iql_order="corl"`` runs CORL's ``train`` as
shipped, against edp_ref's ``GaussianIQLConfig(update_order="corl")``; ``iql_order="iql"``
composes CORL's own methods (``_update_v``, ``_update_policy``, ``_update_q``) in IQL's order
V -> policy -> Q with the updated V, against edp_ref's default. Both are checked. CORL's Adam
moments of Q are compared at edp_ref's loss scale (x2 and x4); its critics' half loss makes its
critic steps edp_ref's with Adam's epsilon doubled, so the critics are checked on a second line
with ``q_adam_eps=2e-8`` (INFO on the first). Its cosine actor learning rate moves the first
updates' rate by about 1e-11 relative, below round-off.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

from edp_ref.algorithms import Batch, TrainState
from edp_ref.fidelity.compare import Comparison, Rules, compare_values
from edp_ref.fidelity.edp_checks import Drift, compare_states, state_groups
from edp_ref.fidelity.torch_sides import (
    Side,
    TorchSetting,
    compared_batch,
    make_side,
    peer_draws,
    peer_losses,
    peer_step,
    powered_start,
)

__all__ = ["TorchSetting", "peer_draws", "torch_many_updates", "torch_one_update"]


def _start(side: Side, warmup: int, start_step: int | None) -> TrainState:
    for i in range(warmup):
        peer_step(side, compared_batch(side.setting, 1000 + i)[0], 2000 + i)
    powered_start(side)
    if start_step is not None:
        setattr(side.run.agent, "step" if side.setting.peer == "dql" else "total_it", start_step)
    return side.state()


def _steps(side: Side, state: TrainState, batch: Batch, seed: int) -> tuple[Any, Any, Any]:
    """One peer update and one edp_ref update on ``batch`` with the same draws from ``seed``:
    the peer's losses (edp_ref's names), edp_ref's new state and its metrics."""
    peer = peer_losses(side, peer_step(side, batch, seed))
    num_steps = side.config.diffusion.num_steps if side.setting.peer == "dql" else 5
    new, metrics = side.update(state, batch, peer_draws(side.setting, seed, num_steps))
    return peer, new, metrics


def torch_one_update(
    setting: TorchSetting,
    root: str | os.PathLike[str] | None,
    rules: Rules,
    warmup: int = 3,
    edit_config: Callable[[Any], Any] | None = None,
) -> list[Comparison]:
    """One update of the peer and of edp_ref from the peer's powered state after ``warmup``
    updates (Diffusion-QL's counter set to 1000 so that the update moves its EMA actor; TD3+BC's
    to an odd value so that the actor and the targets move), same batch and draws.
    ``edit_config`` changes edp_ref's config first (negative controls, the power suite)."""
    side = make_side(setting, root)
    if edit_config is not None:
        side.config = edit_config(side.config)
    start_step = {"dql": 1000, "td3bc": 2 * warmup + 1, "iql": None}[setting.peer]
    start = _start(side, warmup, start_step)
    batch, note = compared_batch(setting, 7)
    peer_l, ours, metrics = _steps(side, start, batch, 77)
    prefix = f"{setting.label} one-update"
    peer = state_groups(side.state())
    out = compare_states(prefix, state_groups(ours), peer, state_groups(start), rules)
    informational = False
    if setting.peer == "iql":
        # The critics' groups are checked only with edp_ref's Adam epsilon doubled (CORL's critic
        # loss is half edp_ref's); everything else only without.
        critics_only = setting.q_adam_eps is not None
        why = "CORL's critic loss is the mean of the two (half edp_ref's): checked on the line "
        why += "with edp_ref's Adam eps 2e-08"
        out = [
            dataclasses.replace(
                c,
                informational=(c.name[-2:] in ("q1", "q2")) != critics_only,
                note=c.note
                if c.name[-2:] not in ("q1", "q2") or critics_only
                else f"{c.note}; {why}",
            )
            for c in out
        ]
        informational = critics_only
    ours_l = {k: float(metrics[k]) for k in peer_l}
    out.append(
        compare_values(
            f"{prefix} losses", ours_l, peer_l, rules.values, note, informational=informational
        )
    )
    return out


def torch_many_updates(
    setting: TorchSetting,
    root: str | os.PathLike[str] | None,
    updates: int,
    record_every: int = 10,
    warmup: int = 3,
) -> Drift:
    """``updates`` updates of the peer and of edp_ref on the same batches and draws, each side
    feeding its own state forward; the drift is recorded every ``record_every`` updates and
    after the last."""
    side = make_side(setting, root)
    ours = _start(side, warmup, None)
    drift = Drift()
    for i in range(1, updates + 1):
        peer_l, ours, metrics = _steps(side, ours, compared_batch(setting, 5000 + i)[0], 6000 + i)
        if i % record_every == 0 or i == updates:
            ours_l = {k: float(metrics[k]) for k in peer_l}
            drift.record(i, ours, side.state(), ours_l, peer_l)
    return drift
