"""A run's resolved configuration: the algorithm config it trains with, and whether it compiles.

:func:`resolve_config` turns a :class:`~edp_ref.runner.spec.RunSpec` into the config the update
runs with: the explicit ``RunSpec.config``, or the agent's defaults with Table 3's preset for the
dataset's domain (learning rate, gradient clip, loss weight, expectile), with ``compile`` decided
by :func:`compile_decision`. :func:`configuration_document` is what a run folder stores as
``config.json`` and what its checkpoint seals: the run spec and the resolved algorithm config,
so a run is reloaded, resumed or evaluated with exactly the configuration it was trained with.

The runner's preset configs switch the per-update batch check off (``check_batch=False``): the
loaders already reject non-finite values when a dataset is read, and the check costs one host
synchronisation per update.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from edp_ref.algorithms import AlgorithmConfig
from edp_ref.paper import find_paper_dataset
from edp_ref.runner.agents import build_config
from edp_ref.runner.config_json import config_to_json
from edp_ref.runner.dataset_ref import dataset_domain
from edp_ref.runner.spec import RunSpec

__all__ = [
    "AUTO_COMPILE_UPDATES",
    "CONFIG_FORMAT",
    "LONG_CHAIN_STEPS",
    "compile_decision",
    "compile_reason",
    "configuration_document",
    "resolve_config",
    "unresolved_config",
    "unrolled_ddpm_steps",
]

#: ``compile="auto"`` compiles CPU runs of at least this many updates (compiling an update takes
#: tens of seconds on a CPU; shorter runs finish sooner eagerly).
AUTO_COMPILE_UPDATES = 5000
#: ``compile="auto"`` never compiles an update that unrolls a DDPM chain longer than this: the
#: graph holds every step of the chain and compiling it takes far longer than it saves.
LONG_CHAIN_STEPS = 100
#: Format tag of ``config.json``.
CONFIG_FORMAT = "edp_ref.runner.config/1"


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


def compile_decision(spec: RunSpec, config: AlgorithmConfig) -> tuple[bool, str]:
    """Whether the run's update runs under torch.compile, and why (for the run log).

    The rule: ``RunSpec.compile`` ``on`` / ``off`` decides; an explicit ``config.compile`` (True /
    False) decides under ``auto``; otherwise ``auto`` compiles when the update unrolls no DDPM
    chain longer than :data:`LONG_CHAIN_STEPS` steps and the run trains on CUDA or for at least
    :data:`AUTO_COMPILE_UPDATES` updates. Compiled and eager updates agree to float round-off,
    not bit for bit: a resumed run must keep its setting (it is part of the stored config).
    """
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
    config = unresolved_config(spec)
    compiled, _ = compile_decision(spec, config)
    return dataclasses.replace(config, compile=compiled)


def compile_reason(spec: RunSpec) -> str:
    """Why ``spec``'s update runs compiled or eagerly (:func:`compile_decision`), for the log."""
    return compile_decision(spec, unresolved_config(spec))[1]


def unresolved_config(spec: RunSpec) -> AlgorithmConfig:
    """The run's config before the compile decision: ``spec.config``, or the agent's defaults
    with Table 3's preset (what ``edp-train --help`` shows as the defaults)."""
    if spec.config is not None:
        config = spec.config
    else:
        # A paper dataset picks its own task's preset (and official clip); other data their
        # domain's.
        entry = find_paper_dataset(spec.task)
        key = entry.name if entry is not None else dataset_domain(spec.task, spec.domain)
        config = build_config(spec.agent, key, hidden=spec.hidden, grad_clip=spec.grad_clip)
        config = dataclasses.replace(config, check_batch=False)
    return config


def configuration_document(spec: RunSpec, config: AlgorithmConfig) -> dict[str, Any]:
    """``config.json``: the run spec and the resolved algorithm config (the run's identity)."""
    agent = spec.agent
    return {
        "format": CONFIG_FORMAT,
        "run": spec.to_json(),
        "algorithm": {
            "name": agent.registered,
            "title": agent.spec.title,
            "config": config_to_json(config),
        },
    }
