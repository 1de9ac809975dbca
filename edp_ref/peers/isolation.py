"""Import-time adapters that let the peers' unmodified files run on today's stack.

Nothing here edits or copies a peer file. Three kinds of adapter, all applied while a loader
imports a peer:

* :func:`isolated_import`: the peer's folder is on ``sys.path`` only while its modules are
  imported; afterwards its top-level names (``diffusion``, ``utilities``, ``core``, ``agents``,
  ``utils``) are taken out of ``sys.modules`` again and whatever was there before is put back,
  so nothing of the peer leaks into edp_ref's own imports (the loaded modules live on through
  the references the loader keeps).
* Stub modules for packages a peer imports at module level but its agent never calls (gym, d4rl,
  wandb, pyrallis): present in ``sys.modules`` only during the import; any use of one of their
  attributes raises an error that says so.
* :func:`install_jax_adapters`: the JAX APIs the official EDP code calls that modern JAX removed,
  restored as aliases of their replacements, only where missing.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "PeerModules",
    "gym_stub",
    "install_jax_adapters",
    "isolated_import",
    "load_file_module",
    "stub_module",
]


def stub_module(
    name: str, why: str, attributes: Mapping[str, Any] | None = None
) -> types.ModuleType:
    """A placeholder module ``name``: ``attributes`` as given (names the peer evaluates at import
    time), any other attribute an error quoting ``why`` (which peer imports it, why a stub is
    enough)."""
    module = types.ModuleType(name, f"edp_ref.peers stub: {why}")
    for key, value in (attributes or {}).items():
        setattr(module, key, value)

    def __getattr__(attr: str) -> Any:  # noqa: N807 (PEP 562 module __getattr__)
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise AttributeError(
            f"edp_ref.peers: {name}.{attr} is not available: {name} is a stub module ({why})"
        )

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    return module


class _StubGymEnv:
    """Placeholder for ``gym.Env``, which peers only name in annotations."""


def gym_stub(why: str) -> types.ModuleType:
    """A stub ``gym`` whose only attribute is ``Env`` (evaluated in the peers' annotations)."""
    return stub_module("gym", why, {"Env": _StubGymEnv})


def _top(module_name: str) -> str:
    return module_name.split(".", 1)[0]


class PeerModules:
    """The modules of one peer import, by dotted name (``modules["diffusion.dql"]``)."""

    def __init__(self, root: Path, modules: dict[str, types.ModuleType]) -> None:
        self.root = root
        self._modules = modules

    def __getitem__(self, name: str) -> Any:
        if name not in self._modules:
            raise KeyError(
                f"edp_ref.peers: module {name!r} was not imported from {self.root}; "
                f"imported: {sorted(self._modules)}"
            )
        return self._modules[name]


@contextmanager
def isolated_import(
    root: Path, top_level: tuple[str, ...], stubs: Mapping[str, types.ModuleType] | None = None
) -> Iterator[dict[str, types.ModuleType]]:
    """Import from ``root`` inside the block without leaking its names afterwards: ``root``
    first on ``sys.path``, the ``sys.modules`` entries under ``top_level`` and the stubbed names
    set aside, ``stubs`` installed; on exit the peer's modules are moved into the yielded dict and
    everything else put back."""
    stubs = dict(stubs or {})
    guarded = set(top_level) | {_top(n) for n in stubs}
    saved = {n: m for n, m in sys.modules.items() if _top(n) in guarded}
    for n in saved:
        del sys.modules[n]
    sys.modules.update(stubs)
    entry = str(root)
    sys.path.insert(0, entry)
    importlib.invalidate_caches()
    loaded: dict[str, types.ModuleType] = {}
    try:
        yield loaded
    finally:
        if entry in sys.path:
            sys.path.remove(entry)
        for n in [n for n in sys.modules if _top(n) in guarded]:
            module = sys.modules.pop(n)
            if _top(n) in top_level and n not in stubs:
                loaded[n] = module
        sys.modules.update(saved)


def load_file_module(path: Path, private_name: str) -> Any:
    """Execute the single-file module ``path`` as ``private_name`` (kept in ``sys.modules`` under
    that private name only, which dataclasses need while the file executes)."""
    spec = importlib.util.spec_from_file_location(private_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"edp_ref.peers: cannot load {path} as a module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[private_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[private_name]
        raise
    return module


def install_jax_adapters() -> list[str]:
    """Restore, as aliases, the JAX APIs the official EDP code calls that modern JAX removed:
    ``jax.tree_multimap`` (gone in JAX 0.3.16) and ``jax.tree_map`` (0.6), used by
    ``diffusion/dql.py`` and ``utilities/jax_utils.py``; the array method ``x.tile(reps)``
    (``diffusion/dpm_solver.py``), on concrete arrays and tracers. Returns the names added by
    this call (empty when already present)."""
    import jax
    import jax.numpy as jnp

    added: list[str] = []
    for name in ("tree_multimap", "tree_map"):
        if not hasattr(jax, name):
            setattr(jax, name, jax.tree_util.tree_map)
            added.append(f"jax.{name}")

    def tile(self: Any, reps: Any) -> Any:
        return jnp.tile(self, reps)

    for cls in (type(jnp.zeros(())), jax.core.Tracer):
        if not hasattr(cls, "tile"):
            setattr(cls, "tile", tile)  # noqa: B010 (a class mypy knows has no "tile")
            added.append(f"{cls.__name__}.tile")
    return added
