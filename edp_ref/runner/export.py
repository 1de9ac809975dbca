"""A trained run's policy as a file that acts without edp_ref: :func:`export_policy`.

The file (``torch.export.save``; load it with ``torch.export.load``, PyTorch alone) holds one
program that acts as :class:`~edp_ref.runner.policy.Policy` does (Sec. 4.5, Alg. 2): the run's
observation normalizer, then energy-based action selection over N DPM-Solver samples scored by
min(Q1, Q2) (EDP's diffusion policies) or the actor's output / the Gaussian mean (feed-forward
policies), then the actions clipped to the environment's bounds. The policy's randomness is an
input, drawn by the caller:

* ``observations`` [B, S] float32, the environment's;
* EAS only: ``noise`` [B * N, A] ~ N(0, I), the candidates' initial noise (row b * N + i:
  candidate i of observation b), and ``uniforms`` [B] ~ U[0, 1), EAS's categorical draws.

Drawn from a ``torch.Generator`` as ``randn(B * N, A)`` then ``rand(B)``, they are the draws of a
:class:`Policy` whose generator is in the same state, and the program's actions are its actions.
B is free; N, S, A and the settings are the file's (``edp_ref.json`` inside it says them)::

    extra = {"edp_ref.json": ""}
    program = torch.export.load("policy.pt2", extra_files=extra).module()
    g, B = torch.Generator().manual_seed(0), len(obs)
    actions = program(obs, torch.randn(B * N, A, generator=g), torch.rand(B, generator=g))
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from edp_ref.algorithms.acting import ActingSettings, DiffusionAct, feedforward_act
from edp_ref.algorithms.diffusion_policy import select_actions
from edp_ref.algorithms.feedforward_policy import feedforward_actions
from edp_ref.algorithms.randomness import SamplerNoise
from edp_ref.algorithms.state import TrainState
from edp_ref.runner.policy import Policy, load_policy

__all__ = ["METADATA_FILE", "PolicyProgram", "export_policy"]

#: The JSON inside an exported file that describes its inputs.
METADATA_FILE = "edp_ref.json"


class PolicyProgram(nn.Module):
    """``forward(observations, noise, uniforms) -> actions`` of a :class:`Policy` (module
    docstring; ``forward(observations)`` for a feed-forward one), its parameters as buffers.
    ``ValueError`` for a policy that acts otherwise (DDPM candidates, Table 6's perturbed
    actor)."""

    def __init__(self, policy: Policy) -> None:
        super().__init__()
        act, settings = policy.spec.registered.act, policy.settings
        if isinstance(act, DiffusionAct) and (settings.sampler or act.sampler) == "dpm_solver":
            self.candidates: int | None = settings.eas_candidates
        elif act is feedforward_act:
            self.candidates = None
        else:
            raise ValueError(
                f"export_policy: {policy.spec.algorithm} acts by {act!r} with sampler "
                f"{settings.sampler!r}; only EAS over DPM-Solver samples and feed-forward "
                "policies are exported (DDPM's K steps of noise would be inputs)"
            )
        self._policy, self._act = policy, act
        self._keys: dict[str, tuple[str, str, str]] = {}
        state = policy.state
        for kind, nets in (("params", state.params), ("target", state.target_params)):
            for net, params in nets.items():
                for name, tensor in params.items():
                    key = f"{kind}__{net}__{name.replace('.', '__')}"
                    self.register_buffer(key, tensor)
                    self._keys[key] = (kind, net, name)

    def _state(self) -> TrainState:
        nets: dict[str, dict[str, dict[str, Tensor]]] = {"params": {}, "target": {}}
        for key, (kind, net, name) in self._keys.items():
            nets[kind].setdefault(net, {})[name] = getattr(self, key)
        return self._policy.state.replace(params=nets["params"], target_params=nets["target"])

    def forward(
        self, observations: Tensor, noise: Tensor | None = None, uniforms: Tensor | None = None
    ) -> Tensor:
        policy, state = self._policy, self._state()
        obs = policy.prepare(observations)
        if self.candidates is None:
            return policy.to_environment(feedforward_actions(state, obs))
        assert noise is not None and uniforms is not None and isinstance(self._act, DiffusionAct)
        s: ActingSettings = policy.settings
        diffusion = policy.config.diffusion  # type: ignore[attr-defined]
        if s.dpm_steps is not None:
            diffusion = dataclasses.replace(diffusion, dpm_steps=s.dpm_steps)
        actions = select_actions(
            state,
            obs,
            SamplerNoise(initial=noise),
            uniforms,
            self.candidates,
            diffusion,
            "dpm_solver",
            policy_scale=s.policy_scale,
            initial_noise_scale=s.initial_noise_scale,
            critics=self._act.critics,
        )
        return policy.to_environment(actions)


def export_policy(
    run_dir: str | Path, path: str | Path, *, settings: ActingSettings | None = None
) -> Path:
    """Write the policy of a run folder's latest checkpoint (``settings`` as
    :func:`~edp_ref.runner.policy.load_policy`'s) to ``path`` (``.pt2``) as a ``torch.export``
    program (module docstring), on the CPU; returns ``path``. Errors as :func:`load_policy` and
    :class:`PolicyProgram`."""
    policy, _ = load_policy(run_dir, settings=settings)
    program = PolicyProgram(policy).eval()
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    obs = torch.zeros(2, policy.observation_dim)
    args: tuple[Tensor, ...] = (obs,)
    shapes: dict[str, Any] = {"observations": {0: batch}}
    n = program.candidates
    if n is not None:
        args += (torch.zeros(2 * n, policy.action_dim), torch.full((2,), 0.5))
        shapes |= {"noise": {0: n * batch}, "uniforms": {0: batch}}
    with torch.no_grad():
        exported = torch.export.export(program, args, dynamic_shapes=shapes)
    metadata = {
        "schema": "edp_ref.policy_export/1",
        "run": str(run_dir),
        "algorithm": policy.spec.algorithm,
        "step": policy.step,
        "observation_dim": policy.observation_dim,
        "action_dim": policy.action_dim,
        "candidates": n,
        "inputs": ["observations"] + ([] if n is None else ["noise", "uniforms"]),
        "env_id": policy.env_id,
    }
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(exported, out, extra_files={METADATA_FILE: json.dumps(metadata)})
    return out
