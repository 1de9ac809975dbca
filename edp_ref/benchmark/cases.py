"""The benchmark's workload: one training case per registered algorithm, the synthetic dataset
and the training loop the timings run (Figure 2, Appendix C.5).

The cases come from :data:`edp_ref.algorithms.REGISTRY`: every registered algorithm, with its
paper defaults except the benchmark's network (``hidden`` x ``layers``), K = ``num_steps`` for a
diffusion policy, the batch checks off (no host synchronisation inside an iteration) and
compilation chosen by the mode. Diffusion-QL (:data:`CHAIN_ALGORITHM`), whose update
backpropagates through the whole K-step chain (Sec. 4.4) so that its cost grows with K, is one
case per K of ``dql_steps`` (record ``dql_k<K>``); every other record is named as registered.
An algorithm registered later is benchmarked without a change here.

An iteration (:class:`Trainer`) is one uniform batch drawn on the device
(:func:`edp_ref.data.sample_batch`), the update's randomness drawn on the device, and one update.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from edp_ref.algorithms import REGISTRY, Algorithm, Batch, DiffusionAlgorithmConfig
from edp_ref.benchmark.paper_speeds import paper_training_figures
from edp_ref.benchmark.settings import BenchmarkSettings
from edp_ref.data import TransitionDataset, sample_batch

__all__ = [
    "CHAIN_ALGORITHM",
    "DATASET_FIELDS",
    "BenchmarkCase",
    "Trainer",
    "check_compile_names",
    "synthetic_dataset",
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


def _config(spec: Algorithm, s: BenchmarkSettings, num_steps: int) -> Any:
    default = spec.config_class()
    changes: dict[str, Any] = {
        "network": dataclasses.replace(default.network, hidden=s.hidden, layers=s.layers),
        "check_batch": False,
        "compile": False,
    }
    if isinstance(default, DiffusionAlgorithmConfig):
        changes["diffusion"] = dataclasses.replace(default.diffusion, num_steps=num_steps)
    return dataclasses.replace(default, **changes)


def _case(spec: Algorithm, s: BenchmarkSettings, name: str, label: str, k: int) -> BenchmarkCase:
    config = _config(spec, s, k)
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


def synthetic_dataset(s: BenchmarkSettings, n: int, device: torch.device) -> TransitionDataset:
    """A synthetic dataset of ``n`` walker-shaped transitions (float32, actions in [-1, 1])."""
    g = torch.Generator(device="cpu").manual_seed(s.seed)
    obs = torch.randn(n, s.obs_dim, generator=g)
    nxt = torch.randn(n, s.obs_dim, generator=g)
    act = torch.rand(n, s.action_dim, generator=g).mul_(1.998).sub_(0.999)
    rew = torch.randn(n, generator=g)
    zeros = torch.zeros(n)
    return TransitionDataset(
        observations=obs.to(device),
        actions=act.to(device),
        rewards=rew.to(device),
        next_observations=nxt.to(device),
        terminals=zeros.to(device),
        timeouts=zeros.clone().to(device),
        source="synthetic-walker2d-shapes",
    )


class Trainer:
    """One case's training loop: batch and randomness drawn on the device, one update."""

    def __init__(
        self,
        case: BenchmarkCase,
        s: BenchmarkSettings,
        data: TransitionDataset,
        device: torch.device,
    ) -> None:
        self.case = case
        self.s = s
        self.data = data
        self.device = device
        self.generator = torch.Generator(device=device).manual_seed(s.seed)
        init_gen = torch.Generator().manual_seed(s.seed)
        self.state = case.spec.init(case.config, s.obs_dim, s.action_dim, init_gen, device)

    def draw(self) -> tuple[Batch, Any]:
        """One batch and the update's randomness (None for an update that draws nothing)."""
        batch = sample_batch(self.data, self.s.batch_size, self.generator)
        rand = self.case.spec.draw(
            self.case.config, self.s.batch_size, self.s.action_dim, self.generator, self.device
        )
        return batch, rand

    def step(self) -> None:
        """One iteration: draw, update, keep the new state."""
        batch, rand = self.draw()
        self.state, _ = self.case.spec.update(self.state, batch, rand, self.case.config)

    def update_only(self) -> Callable[[], object]:
        """One update on a batch drawn now, as a call (for counting its FLOPs)."""
        batch, rand = self.draw()
        return lambda: self.case.spec.update(self.state, batch, rand, self.case.config)
