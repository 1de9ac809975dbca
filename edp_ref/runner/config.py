"""A run's resolved configuration: the algorithm config it trains with, and whether it compiles.

:func:`default_config` is a registered algorithm's config with the paper's defaults and Table 3's
values for a dataset (learning rate, gradient clip, loss weight, expectile;
:func:`edp_ref.algorithms.config.table3_config`): a paper dataset's own row, else its domain's.
It switches the per-update batch check off (``check_batch=False``): the loaders already reject
non-finite values when a dataset is read, and the check costs one host synchronisation per update.
:func:`resolve_config` turns a :class:`~edp_ref.runner.spec.RunSpec` into the config the update
runs with: ``RunSpec.config``, or the default config, with ``compile`` decided by
:func:`compile_decision`. The run folder stores it (``config.json``) and its checkpoint seals it,
so a run is reloaded, resumed or evaluated with exactly the configuration it was trained with.
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
    """The registered ``algorithm``'s default config with Table 3's values for the dataset
    ``task`` (``domain``: as ``RunSpec.domain``), the gradient clip of the paper (Table 3: 5) or
    of the official code (per paper task), and an optional network width ``hidden`` (smoke runs).

    Raises:
        ValueError: an unknown algorithm or dataset domain, or ``grad_clip="official"`` for a
            dataset outside the paper's list.
    """
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
    """Steps of the DDPM chains an update of ``config`` runs (0 if it samples with DPM-Solver or
    not at all): the next actions' sampler, and the policy action's when L_pi backpropagates
    through the sampler (Diffusion-QL, "EDP w/o AP")."""
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
    """Whether the run's update runs under torch.compile, and why (for the run log).

    The rule: ``RunSpec.compile`` ``on`` / ``off`` decides; an explicit ``config.compile`` (True /
    False) decides under ``auto``; otherwise ``auto`` compiles when the update unrolls no DDPM
    chain longer than :data:`LONG_CHAIN_STEPS` steps and the run trains on CUDA or for at least
    :data:`AUTO_COMPILE_UPDATES` updates. Compiled and eager updates agree to float round-off,
    not bit for bit: a resumed run must keep its setting (it is part of the stored config).
    """
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
