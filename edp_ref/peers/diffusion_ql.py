"""The official Diffusion-QL code (Zhendong-Wang/Diffusion-Policies-for-Offline-RL, PyTorch).

``agents/`` and ``utils/`` import without D4RL or gym (only ``main.py`` needs them), so
:func:`diffusion_ql_run` imports ``agents.ql_diffusion.Diffusion_QL`` and
``utils.data_sampler.Data_Sampler`` unmodified and builds them as ``main.py``'s ``train_agent``
does. One training iteration is ``agent.train(data_sampler, iterations=1, batch_size)``: the
agent's own loop draws the batch (``Data_Sampler.sample``), the diffusion timesteps and noise
(``torch.randint`` / ``torch.randn_like``), the DDPM chain's noise and the Q-head coin
(``np.random.uniform``), then updates critic and actor.

Hyper-parameters (walker2d-medium-expert-v2) are read from ``main.py`` itself without running
it (its ``hyperparameters`` table and the argparse defaults ``--T 5``, ``--beta_schedule vp``,
``--discount 0.99``, ``--tau 0.005``, ``--batch_size 256``), so the agent is configured exactly
as the official command ``python main.py --env_name walker2d-medium-expert-v2`` configures it
(``lr_decay`` off, its default; the README's ``--lr_decay`` only steps a cosine schedule once per
``train`` call).
"""

from __future__ import annotations

import ast
import functools
import importlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from edp_ref.peers.common import PeerRun, SyntheticTransitions
from edp_ref.peers.isolation import PeerModules, isolated_import
from edp_ref.peers.locate import checked_root, peer_root

__all__ = ["diffusion_ql_run", "load_diffusion_ql", "main_py_settings"]

_TOP_LEVEL = ("agents", "utils")
_MODULES = ("agents.ql_diffusion", "agents.diffusion", "utils.data_sampler")


def load_diffusion_ql(root: str | os.PathLike[str] | None = None) -> PeerModules:
    """Import Diffusion-QL's ``agents`` and ``utils`` from ``root`` (or ``DQL_OFFICIAL_ROOT``).

    Raises:
        PeerUnavailableError: naming ``DQL_OFFICIAL_ROOT`` (or the argument) when the folder is
            absent or incomplete, or naming missing modules (tabulate, dateutil).
    """
    return _load_diffusion_ql(checked_root("dql", root))


@functools.cache  # once per folder
def _load_diffusion_ql(folder: Path) -> PeerModules:
    with isolated_import(folder, _TOP_LEVEL) as loaded:
        for name in _MODULES:
            importlib.import_module(name)
    return PeerModules(folder, loaded)


def main_py_settings(root: str | os.PathLike[str] | None, task: str) -> dict[str, Any]:
    """``main.py``'s settings for ``task``: its ``hyperparameters[task]`` row plus the argparse
    defaults, read from the file's syntax tree (the file is not executed: it imports gym/d4rl).

    Raises:
        ValueError: when ``main.py`` has no such table, row or defaults.
    """
    path = peer_root("dql", root) / "main.py"
    tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=str(path))
    table: dict[str, Any] | None = None
    defaults: dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "hyperparameters" for t in node.targets
        ):
            table = ast.literal_eval(node.value)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "add_argument"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            for kw in node.keywords:
                if kw.arg == "default":
                    name = str(node.args[0].value).lstrip("-")
                    defaults[name] = ast.literal_eval(kw.value)
    if table is None or task not in table:
        raise ValueError(f"main_py_settings: {path} has no hyperparameters row for {task!r}")
    needed = ("T", "beta_schedule", "discount", "tau", "batch_size")
    absent = [k for k in needed if k not in defaults]
    if absent:
        raise ValueError(f"main_py_settings: {path} lacks the argparse defaults {absent}")
    return {**{k: defaults[k] for k in needed}, **table[task]}


def diffusion_ql_run(
    data: SyntheticTransitions,
    *,
    root: str | os.PathLike[str] | None = None,
    num_steps: int | None = None,
    batch_size: int | None = None,
    task: str = "walker2d-medium-expert-v2",
    seed: int = 0,
) -> PeerRun:
    """The official Diffusion-QL agent on ``data`` (CPU), with its fixed 3 x 256 Mish networks.

    ``num_steps`` (T) and ``batch_size`` None are ``main.py``'s defaults (5, 256); ``task`` picks
    its hyper-parameter row (lr, eta, gn, max_q_backup); ``seed`` seeds torch and NumPy as
    ``main.py`` does.
    """
    import torch

    m = load_diffusion_ql(root)
    settings = main_py_settings(root, task)
    T = int(num_steps if num_steps is not None else settings["T"])
    B = int(batch_size if batch_size is not None else settings["batch_size"])
    torch.manual_seed(seed)
    np.random.seed(seed)
    agent = m["agents.ql_diffusion"].Diffusion_QL(
        state_dim=data.obs_dim,
        action_dim=data.action_dim,
        max_action=1.0,  # walker2d's action space is [-1, 1]^6
        device="cpu",
        discount=settings["discount"],
        tau=settings["tau"],
        max_q_backup=settings["max_q_backup"],
        beta_schedule=settings["beta_schedule"],
        n_timesteps=T,
        eta=settings["eta"],
        lr=settings["lr"],
        lr_decay=False,
        lr_maxt=settings["num_epochs"],
        grad_norm=settings["gn"],
    )
    sampler = m["utils.data_sampler"].Data_Sampler(data.d4rl_dict(), "cpu", settings["reward_tune"])

    class _OneBatch:
        """A replay buffer that hands ``Diffusion_QL.train`` one given batch."""

        def __init__(self, batch: Any) -> None:
            self.batch = batch

        def sample(self, batch_size: int) -> Any:
            return self.batch

    def update(batch: Any) -> Any:
        return agent.train(_OneBatch(batch), iterations=1, batch_size=B)

    def step() -> Any:
        return agent.train(sampler, iterations=1, batch_size=B)

    record = {
        **settings,
        "T": T,
        "batch_size": B,
        "lr_decay": False,
        "device": "cpu",
        "max_action": 1.0,
        "networks": "3 x 256 Mish (agents/model.py MLP, ql_diffusion.py Critic; fixed in the code)",
        "source": f"main.py hyperparameters[{task!r}] and argparse defaults",
    }
    return PeerRun(
        key="dql_official",
        label=f"official Diffusion-QL (PyTorch) {settings['beta_schedule']} K={T}",
        framework="torch",
        diagnostic=False,
        agent=agent,
        draw_batch=lambda: sampler.sample(B),
        update=update,
        step=step,
        hyperparameters=record,
        modules=m,
    )
