"""A run's resolved configuration: the algorithm config it trains with, and whether it compiles.

:func:`default_config` is a registered algorithm's config with Table 3's values for a dataset
(:func:`edp_ref.algorithms.config.table3_config`) and the per-update batch check off (the
loaders already reject non-finite data; the check costs a host synchronisation per update).
:func:`resolve_config` is the config a :class:`~edp_ref.runner.spec.RunSpec` trains with,
``compile`` decided (:func:`compile_decision`); the run folder stores it and its checkpoint seals
it, so a run is resumed or evaluated with exactly the configuration it was trained with.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from edp_ref.algorithms.config import AlgorithmConfig, table3_config
from edp_ref.algorithms.registry import REGISTRY
from edp_ref.paper import find_paper_dataset
from edp_ref.runner.dataset import dataset_domain
from edp_ref.runner.spec import RunSpec

__all__ = [
    "AUTO_COMPILE_UPDATES",
    "LONG_CHAIN_STEPS",
    "compile_decision",
    "default_config",
    "resolve_config",
    "unrolled_ddpm_steps",
]

#: ``compile="auto"`` compiles CPU runs of at least this many updates: compiling is a fixed cost
#: that shorter runs do not earn back.
AUTO_COMPILE_UPDATES = 5000
#: ``compile="auto"`` never compiles an update that unrolls a DDPM chain longer than this: the
#: graph holds every step of the chain and compiling it takes far longer than it saves.
LONG_CHAIN_STEPS = 100


def default_config(
    algorithm: str,
    task: str,
    domain: str = "auto",
    *,
    grad_clip: Literal["paper", "official"] = "paper",
    hidden: int | None = None,
) -> AlgorithmConfig:
    """``algorithm``'s default config with Table 3's values for the dataset ``task`` (a paper
    dataset's row, else its domain's), the gradient clip of the paper (Table 3: 5) or of the
    official code (per paper task), and an optional network width ``hidden`` (smoke runs)."""
    entry = find_paper_dataset(task)
    if grad_clip == "official" and entry is None:
        raise ValueError(
            f"grad_clip 'official' needs a dataset of the paper (the official per-task clip); "
            f"{task!r} is not one"
        )
    if algorithm not in REGISTRY:
        raise ValueError(f"unknown algorithm {algorithm!r}; registered: {', '.join(REGISTRY)}")
    key = entry.name if entry is not None else dataset_domain(task, domain)
    config = table3_config(REGISTRY[algorithm].config_class(), key, grad_clip)
    if hidden is not None:
        config = dataclasses.replace(
            config, network=dataclasses.replace(config.network, hidden=hidden)
        )
    return dataclasses.replace(config, check_batch=False)


def unrolled_ddpm_steps(config: AlgorithmConfig) -> int:
    """Steps of the DDPM chain an update of ``config`` unrolls (0: DPM-Solver or none): the next
    actions' sampler, or the policy action's (Diffusion-QL, "EDP w/o AP")."""
    diffusion = getattr(config, "diffusion", None)
    if diffusion is None:
        return 0
    ddpm = getattr(config, "next_action_sampler", None) == "ddpm" or (
        getattr(config, "policy_action", None) == "sampler"
        and getattr(config, "policy_action_sampler", None) == "ddpm"
    )
    return int(diffusion.num_steps) if ddpm else 0


def _unresolved(spec: RunSpec) -> AlgorithmConfig:
    if spec.config is not None:
        return spec.config
    return default_config(spec.algorithm, spec.task, spec.domain)


def compile_decision(spec: RunSpec) -> tuple[bool, str]:
    """Whether the run's update runs under torch.compile, and why (for the run log): as
    ``RunSpec.compile`` says, else as ``config.compile`` says, else when the update unrolls no
    long DDPM chain and the run trains on CUDA or for many updates. Compiled and eager updates
    agree to round-off only: the setting is part of the stored config."""
    config = _unresolved(spec)
    if spec.compile != "auto":
        return spec.compile == "on", f"compile={spec.compile}"
    if config.compile is not None:
        return bool(config.compile), f"config.compile={config.compile}"
    chain = unrolled_ddpm_steps(config)
    if chain > LONG_CHAIN_STEPS:
        return False, (
            f"auto: the update unrolls a {chain}-step DDPM chain (> {LONG_CHAIN_STEPS}), whose "
            "compilation would take far longer than it saves"
        )
    if spec.device.startswith("cuda"):
        return True, "auto: CUDA"
    if spec.total_steps >= AUTO_COMPILE_UPDATES:
        return True, f"auto: {spec.total_steps} updates >= {AUTO_COMPILE_UPDATES}"
    return False, f"auto: {spec.total_steps} updates < {AUTO_COMPILE_UPDATES} on the CPU"


def resolve_config(spec: RunSpec) -> AlgorithmConfig:
    """The algorithm config ``spec`` trains with (see the module docstring)."""
    compiled, _ = compile_decision(spec)
    return dataclasses.replace(_unresolved(spec), compile=compiled)
