"""The layers' input projection on the native engine: xp = x W_ih^T + b_ih through brgemm.

Every layer projects all steps' inputs in one product before its time loop
(:meth:`recur.cells.base.Cell.project_input`). torch.mm runs it on MKL, whose AVX2 path on the
project's AMD CPU made it 15-20 % of an LSTM's inference; the native kernel (csrc/linear.cpp)
runs row blocks through oneDNN's brgemm, 1.3-2x faster. Backward: dx = dy W natively, and
dW = dyᵀ x, db = Σ dy by torch (a contraction over all T*B rows, where MKL is as fast).

The layer-normalised LSTM's input side LN(x W_ihᵀ; γ, β) has a one-pass form for inference
(:func:`layer_norm_linear`, attached to :func:`native_linear` for the cell to find): each block
of rows is normalised while still in cache instead of in a second pass over the whole output.

Used where the native engine runs the layer (``impl`` "fused" or "native" with the library
loaded), on float32 CPU tensors in eager mode; elsewhere, and while anything traces
(torch.compile, export), :func:`torch.nn.functional.linear`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from recur.engine.lengths import tracing
from recur.engine.native.build import load

Linear = Callable[..., Tensor]


class NativeLinear(torch.autograd.Function):
    """y = x Wᵀ + b with the native forward and input gradient (see the module docstring)."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return torch.ops.recur_native.linear_forward(x, weight, bias, None, 0.0)

    @staticmethod
    def backward(ctx, dy: Tensor):
        x, weight = ctx.saved_tensors
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            dx = torch.ops.recur_native.linear_backward_input(dy, weight)
        rows = dy.reshape(-1, dy.shape[-1])
        if ctx.needs_input_grad[1]:
            dw = rows.t() @ x.reshape(-1, x.shape[-1])
        if ctx.has_bias and ctx.needs_input_grad[2]:
            db = rows.sum(0)
        return dx, dw, db


def native_linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    return NativeLinear.apply(x, weight, bias)


def layer_norm_linear(
    x: Tensor, weight: Tensor, gamma: Tensor, beta: Tensor | None, eps: float
) -> Tensor:
    """LN(x Wᵀ; γ, β) over the last dimension (the layer-normalised LSTM's input side).

    When autograd records nothing (inference), one native pass forms and normalises each block
    of rows while it is in cache; otherwise :func:`native_linear` then torch's layer_norm.
    """
    if torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (x, weight, gamma, beta)
    ):
        return F.layer_norm(native_linear(x, weight), gamma.shape, gamma, beta, eps)
    return torch.ops.recur_native.linear_forward(x, weight, beta, gamma, eps)


#: the fused form a cell may use for LN(x Wᵀ) (see Cell.project_input)
native_linear.layer_norm_linear = layer_norm_linear


def input_linear(impl: str, x: Tensor) -> Linear:
    """The linear map a layer running on ``impl`` projects its input ``x`` with."""
    if (
        impl in ("fused", "native")
        and x.dtype == torch.float32
        and x.device.type == "cpu"
        and not tracing()
        and load()
    ):
        return native_linear
    return F.linear
