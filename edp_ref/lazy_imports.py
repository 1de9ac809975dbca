"""Lazy re-exports of a package (PEP 562), so that ``edp-golden --help`` does not import torch.

A package lists its re-exports once, as ordinary ``from edp_ref.x.y import a, b`` lines inside
``if TYPE_CHECKING:`` (what mypy and readers see) named in its ``__all__``, and sets ``__getattr__ =
lazy_exports(__name__, __file__)``: the first ``package.a`` imports ``edp_ref.x.y`` and keeps
``a`` on the package; ``package.sub`` imports the submodule ``sub``, as an eager package that
imported it would have it. No re-export may be named like a submodule: importing the submodule
binds the module under that name on the package, over the export (a test checks every package).
Import-time cost: one parse of the package's ``__init__.py``.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable

__all__ = ["lazy_exports"]


def _type_checking_imports(path: str) -> dict[str, tuple[str, str]]:
    """name -> (module, attribute) of every ``from M import a [as b]`` under ``if
    TYPE_CHECKING:`` at the top level of the file ``path`` whose name its ``__all__`` lists."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found: dict[str, tuple[str, str]] = {}
    public: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "__all__":
            public = set(ast.literal_eval(node.value))
        if not (isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"):
            continue
        for statement in node.body:
            if isinstance(statement, ast.ImportFrom) and statement.module is not None:
                for alias in statement.names:
                    found[alias.asname or alias.name] = (statement.module, alias.name)
    return {name: source for name, source in found.items() if name in public}


def lazy_exports(package: str, path: str) -> Callable[[str], object]:
    """The module ``__getattr__`` of ``package`` (whose ``__init__.py`` is ``path``): a name
    imported under its ``if TYPE_CHECKING:`` is imported from its module on first use."""
    exports = _type_checking_imports(path)

    def attribute(name: str) -> object:
        if name not in exports:
            try:
                return importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        module, attribute = exports[name]
        value = getattr(importlib.import_module(module), attribute)
        # Kept on the package, so that the next access is a plain attribute.
        setattr(sys.modules[package], name, value)
        return value

    return attribute
