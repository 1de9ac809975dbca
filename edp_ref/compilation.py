"""torch.compile for edp_ref's functions, compatible with run-time shape checking, with the CPU's
matrix products on oneDNN.

Under pytest every public function of edp_ref is wrapped by jaxtyping + beartype (see
pyproject.toml). Dynamo cannot trace those checks on its fake tensors, so :func:`compile_function`
compiles the plain function and switches jaxtyping's checks off (through jaxtyping's public
``config``) for the duration of each compiled call. Shapes are still checked by the eager calls;
outside pytest (no import hook) this is plain ``torch.compile``.

Matrix products on the CPU: PyTorch's CPU builds multiply float32 matrices with MKL, which takes
its AVX2 code path on AMD processors even where AVX-512 is available; oneDNN (shipped with the
same builds) uses the processor's widest units on both vendors. A compiled function's graph is
differentiated first (AOT autograd), then :class:`OneDNNMatmulPass`, an Inductor post-grad pass,
sends every float32 CPU ``mm`` / ``addmm`` of it, forward and backward, to oneDNN (the same
product, summed in another order: equal to round-off). Eager code keeps ATen's products.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

import jaxtyping
import torch
from torch._inductor.custom_graph_pass import CustomGraphPass, get_hash_for_files

__all__ = [
    "MIN_PRODUCT",
    "ONEDNN_MATMUL",
    "OneDNNMatmulPass",
    "compile_function",
    "compile_options",
    "onednn_matmul",
    "shape_checks_disabled",
]

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
    is bound by kernel launches), elsewhere the default mode (with :data:`ONEDNN_MATMUL`, added
    by :func:`compile_function`)."""
    return {"mode": "reduce-overhead"} if device.type == "cuda" else {}


# oneDNN's float32 inner product, where this build of torch has oneDNN.
_LINEAR: Any = (
    getattr(torch.ops.mkldnn, "_linear_pointwise", None) if torch._C._has_mkldnn else None
)


@torch.library.custom_op(
    "edp_ref::onednn_matmul",
    mutates_args=(),
    schema="(Tensor a, Tensor b, Tensor? bias) -> Tensor",  # annotations are strings here
)
def onednn_matmul(a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``a @ b + bias`` (``bias`` [N] or None) for float32 CPU matrices ``a`` [M, K], ``b``
    [K, N], computed by oneDNN's inner-product kernel (``linear(a, b^T, bias)``)."""
    assert _LINEAR is not None
    # oneDNN is fast on row- or column-major operands and very slow on other strides (a slice
    # of a wider matrix's columns): those are copied first.
    a, w = (x if x.is_contiguous() or x.t().is_contiguous() else x.contiguous() for x in (a, b.t()))
    out: torch.Tensor = _LINEAR.default(a, w, bias, "none", [], "")
    return out


@onednn_matmul.register_fake
def _onednn_matmul_shape(
    a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    return a.new_empty((a.shape[0], b.shape[1]))


#: Products of fewer multiply-adds (M K N) stay on ATen: oneDNN's call costs about 10 us more.
MIN_PRODUCT = 1 << 20


class OneDNNMatmulPass(CustomGraphPass):
    """Inductor post-grad pass: every float32 CPU ``aten.mm`` and ``aten.addmm`` (bias a vector,
    default scales) of static sizes and at least :data:`MIN_PRODUCT` multiply-adds becomes
    :func:`onednn_matmul` (module docstring)."""

    def __call__(self, graph: torch.fx.Graph) -> None:
        aten = torch.ops.aten
        for node in list(graph.nodes):
            if node.op != "call_function" or node.kwargs:
                continue
            if node.target is aten.mm.default:
                (a, b), bias = node.args, None
            elif node.target is aten.addmm.default:
                bias, a, b = node.args
                if bias.meta["val"].dim() != 1:
                    continue
            else:
                continue
            values = [a.meta["val"], b.meta["val"]]
            if any(v.dtype != torch.float32 or v.device.type != "cpu" for v in values):
                continue
            sizes = (*values[0].shape, values[1].shape[1])
            if not all(isinstance(d, int) for d in sizes) or math.prod(sizes) < MIN_PRODUCT:
                continue
            with graph.inserting_before(node):
                product = graph.call_function(onednn_matmul._opoverload, (a, b, bias))
            product.meta = dict(node.meta)
            node.replace_all_uses_with(product)
            graph.erase_node(node)

    def uuid(self) -> Any:
        return get_hash_for_files((__file__,))


#: The pass :func:`compile_function` adds where oneDNN is available (None elsewhere).
ONEDNN_MATMUL: OneDNNMatmulPass | None = OneDNNMatmulPass() if _LINEAR is not None else None


def compile_function(fn: Callable[P, R], **compile_kwargs: Any) -> Callable[P, R]:
    """``torch.compile(fn, **compile_kwargs)``, run with jaxtyping's checks switched off; in the
    default mode with :data:`ONEDNN_MATMUL` (CPU products on oneDNN, module docstring)."""
    if ONEDNN_MATMUL is not None and "mode" not in compile_kwargs:
        options = {**compile_kwargs.pop("options", {}), "post_grad_custom_post_pass": ONEDNN_MATMUL}
        compile_kwargs["options"] = options
    compiled = torch.compile(fn, **compile_kwargs)

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with shape_checks_disabled():
            out: R = compiled(*args, **kwargs)
        return out

    return run
