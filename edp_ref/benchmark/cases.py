"""The benchmark's workload: one training case per registered algorithm and the training loop the
timings run (Figure 2, Appendix C.5).

The cases come from :data:`edp_ref.algorithms.REGISTRY`: every registered algorithm, with its
paper defaults except the benchmark's network (``hidden`` x ``layers``), K = ``num_steps`` for a
diffusion policy, the batch checks off (no host synchronisation inside an iteration) and
compilation chosen by the mode. Diffusion-QL (:data:`CHAIN_ALGORITHM`), whose update
backpropagates through the whole K-step chain (Sec. 4.4) so that its cost grows with K, is one
case per K of ``dql_steps`` (record ``dql_k<K>``); every other record is named as registered.
An algorithm registered later is benchmarked without a change here.

An iteration (:class:`Trainer`) is one :class:`edp_ref.algorithms.step.TrainingStep`: a uniform
batch and the update's randomness drawn on the device, then one update, on the synthetic dataset
of :mod:`edp_ref.data.synthetic`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from edp_ref.algorithms import REGISTRY, Algorithm, DiffusionAlgorithmConfig
from edp_ref.algorithms.step import TrainingStep
from edp_ref.benchmark.paper_speeds import paper_training_figures
from edp_ref.benchmark.settings import BenchmarkSettings
from edp_ref.data import TransitionDataset

__all__ = [
    "CHAIN_ALGORITHM",
    "DATASET_FIELDS",
    "BenchmarkCase",
    "Trainer",
    "benchmark_config",
    "check_compile_names",
    "training_case",
    "training_cases",
]

#: The registered algorithm benchmarked at every K of ``BenchmarkSettings.dql_steps``.
CHAIN_ALGORITHM = "dql"

#: The tensors of a :class:`~edp_ref.data.TransitionDataset` (their bytes are the dataset's size).
DATASET_FIELDS = (
    "observations",
    "actions",
    "rewards",
    "next_observations",
    "terminals",
    "timeouts",
)


@dataclass(frozen=True)
class BenchmarkCase:
    """One training record's algorithm and configuration.

    Attributes:
        name: the record name (the registry name; ``dql_k<K>`` for Diffusion-QL).
        label: the name printed in the report (the registry's title; "Diffusion-QL K=<K>").
        spec: the registered algorithm.
        config: its config with the benchmark's network and K, checks and compilation off.
        num_steps: K of a diffusion policy; None for a feed-forward one.
        paper: the paper's figures set beside it (:func:`paper_training_figures`).
    """

    name: str
    label: str
    spec: Algorithm
    config: Any
    num_steps: int | None
    paper: tuple[dict[str, Any], ...] = ()

    @property
    def backpropagates_through_chain(self) -> bool:
        """Whether every update runs the K-step chain with gradients (Diffusion-QL)."""
        return self.spec.name == CHAIN_ALGORITHM

    def compiled(self) -> BenchmarkCase:
        """The same case with ``torch.compile`` on."""
        return dataclasses.replace(self, config=dataclasses.replace(self.config, compile=True))


def benchmark_config(
    spec: Algorithm, hidden: int, layers: int, num_steps: int, **diffusion: Any
) -> Any:
    """``spec``'s default config (the paper's) at a benchmark's sizes: ``hidden`` x ``layers``
    networks and, for a diffusion policy, K = ``num_steps`` and the other ``diffusion`` fields;
    batch checks (a host synchronisation) and compilation off."""
    default = spec.config_class()
    changes: dict[str, Any] = {
        "network": dataclasses.replace(default.network, hidden=hidden, layers=layers),
        "check_batch": False,
        "compile": False,
    }
    if isinstance(default, DiffusionAlgorithmConfig):
        changes["diffusion"] = dataclasses.replace(
            default.diffusion, num_steps=num_steps, **diffusion
        )
    return dataclasses.replace(default, **changes)


def _case(spec: Algorithm, s: BenchmarkSettings, name: str, label: str, k: int) -> BenchmarkCase:
    config = benchmark_config(spec, s.hidden, s.layers, k)
    diffusion = isinstance(config, DiffusionAlgorithmConfig)
    return BenchmarkCase(
        name=name,
        label=label,
        spec=spec,
        config=config,
        num_steps=k if diffusion else None,
        paper=paper_training_figures(name),
    )


def training_cases(s: BenchmarkSettings) -> list[BenchmarkCase]:
    """Every training case of ``s``, in registry order (Diffusion-QL once per K)."""
    cases: list[BenchmarkCase] = []
    for name, spec in REGISTRY.items():
        if name == CHAIN_ALGORITHM:
            for k in s.dql_steps:
                cases.append(_case(spec, s, f"{name}_k{k}", f"Diffusion-QL K={k}", k))
        else:
            cases.append(_case(spec, s, name, spec.title, s.num_steps))
    return cases


def training_case(s: BenchmarkSettings, name: str) -> BenchmarkCase:
    """The training case named ``name``; ``ValueError`` listing the case names otherwise."""
    cases = training_cases(s)
    for case in cases:
        if case.name == name:
            return case
    raise ValueError(
        f"no benchmark training case {name!r}; cases: {', '.join(c.name for c in cases)}"
    )


def check_compile_names(s: BenchmarkSettings) -> None:
    """Raise ``ValueError`` if ``s.compile_names`` holds a name that is no training case of ``s``
    (the message lists the case names)."""
    names = [c.name for c in training_cases(s)]
    unknown = [n for n in s.compile_names if n not in names]
    if unknown:
        raise ValueError(
            f"BenchmarkSettings.compile_names = {s.compile_names!r}: {unknown} name no training "
            f"case; cases: {', '.join(names)}"
        )


class Trainer:
    """One case's state and its :class:`~edp_ref.algorithms.step.TrainingStep` (batch and
    randomness drawn on the device, then one update)."""

    def __init__(
        self,
        case: BenchmarkCase,
        s: BenchmarkSettings,
        data: TransitionDataset,
        device: torch.device,
    ) -> None:
        self.training_step = TrainingStep(
            algorithm=case.spec,
            config=case.config,
            dataset=data,
            batch_size=s.batch_size,
            batches=torch.Generator(device=device).manual_seed(s.seed),
            randomness=torch.Generator(device=device).manual_seed(s.seed + 1),
        )
        init_gen = torch.Generator().manual_seed(s.seed)
        self.state = case.spec.init(case.config, s.obs_dim, s.action_dim, init_gen, device)

    def step(self) -> None:
        """One iteration: draw, update, keep the new state."""
        self.state, _ = self.training_step(self.state)

    def update_only(self) -> Callable[[], object]:
        """One update on a batch drawn now, as a call (for counting its FLOPs)."""
        batch, randomness = self.training_step.draw()
        step = self.training_step
        return lambda: step.algorithm.update(self.state, batch, randomness, step.config)
