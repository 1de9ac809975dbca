"""torch.compile for edp_ref's functions, compatible with run-time shape checking.

Under pytest every public function of edp_ref is wrapped by jaxtyping + beartype (see
pyproject.toml). Dynamo cannot trace those checks on its fake tensors, so :func:`compile_function`
compiles the plain function and switches jaxtyping's checks off (through jaxtyping's public
``config``) for the duration of each compiled call. Shapes are still checked by the eager calls;
outside pytest (no import hook) this is plain ``torch.compile``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

import jaxtyping
import torch

__all__ = ["compile_function", "compile_options", "shape_checks_disabled"]

P = ParamSpec("P")
R = TypeVar("R")


@contextlib.contextmanager
def shape_checks_disabled() -> Iterator[None]:
    """Switch jaxtyping's run-time checks off inside the block (restored afterwards)."""
    previous = bool(jaxtyping.config.jaxtyping_disable)
    jaxtyping.config.update("jaxtyping_disable", True)
    try:
        yield
    finally:
        jaxtyping.config.update("jaxtyping_disable", previous)


def compile_options(device: torch.device) -> dict[str, Any]:
    """``torch.compile`` options for work on ``device``: on CUDA ``mode="reduce-overhead"``
    (CUDA graphs: one launch replays a whole update or sampling run, where op-by-op execution
    is bound by kernel launches), elsewhere the default mode."""
    return {"mode": "reduce-overhead"} if device.type == "cuda" else {}


def compile_function(fn: Callable[P, R], **compile_kwargs: Any) -> Callable[P, R]:
    """``torch.compile(fn, **compile_kwargs)``, run with jaxtyping's checks switched off."""
    compiled = torch.compile(fn, **compile_kwargs)

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with shape_checks_disabled():
            out: R = compiled(*args, **kwargs)
        return out

    return run
