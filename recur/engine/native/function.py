"""The native engine: the whole time loop, forward and backward, in one C++ call each.

Same contract as :func:`recur.engine.fused.run_fused`. Forward runs the kernel once over all
steps; when a gradient is needed it also returns the activations the backward needs (saved here
with ``save_for_backward``, so in-place changes to the outputs are caught as in torch.nn), and
one autograd node covers the sequence. Backward runs the reverse loop in C++ (one recurrent GEMM
a step) and forms each weight gradient as one GEMM over all steps. Recurrent dropout and zoneout
(:mod:`recur.engine.regularisation`) run inside the kernels' loops, forward and backward.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from recur.cells.base import Cell, Params, State
from recur.engine.native import build, compiled
from recur.engine.native.kernels import Kernel, kernel_for
from recur.engine.regularisation import Regularisation

#: dtypes the kernels are compiled for (AT_DISPATCH_FLOATING_TYPES)
DTYPES = (torch.float32, torch.float64)


def unsupported(cell: Cell, xp: Tensor) -> str | None:
    """Why the native engine cannot run this call (None if it can), without loading it."""
    if kernel_for(cell) is None:
        return f"no native kernel for {type(cell).__name__}"
    if xp.device.type != "cpu":
        return f"the native engine runs on CPU tensors, got {xp.device}"
    if xp.dtype not in DTYPES:
        return f"the native engine supports float32 and float64, got {xp.dtype}"
    return None


def run_native(
    cell: Cell,
    params: Params,
    xp: Tensor,
    state0: State,
    valid: Tensor | None,
    reg: Regularisation | None = None,
) -> tuple[Tensor, State]:
    """Run ``cell`` natively; ValueError if the call is unsupported, RuntimeError if unbuilt.

    Same contract as :func:`recur.engine.reference.run_reference`.
    """
    reason = unsupported(cell, xp)
    if reason is not None:
        raise ValueError(f"impl='native': {reason}; use impl='fused' or 'python'")
    if not build.load():
        raise RuntimeError(
            f"impl='native': the native engine is unavailable ({build.status().reason}); "
            "use impl='fused' or 'python'"
        )
    kernel = kernel_for(cell)
    ints, reals = kernel.options(cell)
    tensors = [params.get(name) for name in kernel.params]
    if valid is not None:
        valid = valid.reshape(valid.shape[0], valid.shape[1])
    regularisation = _kernel_arguments(reg)
    needs_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (xp, *state0, *tensors)
    )
    if torch.compiler.is_compiling():  # traceable custom operators (.compiled)
        out = compiled.native_forward(
            kernel.family, xp, list(state0), [t for t in tensors if t is not None],
            [t is not None for t in tensors], valid, *regularisation, ints, reals, needs_grad,
        )  # fmt: skip
    elif needs_grad:
        out = _NativeRecurrence.apply(
            kernel, ints, reals, valid, regularisation, xp, len(state0), *state0, *tensors
        )
    else:
        forward = getattr(torch.ops.recur_native, kernel.family + "_forward")
        out = forward(xp, list(state0), tensors, valid, *regularisation, ints, reals, False)
    return out[0], tuple(out[1 : 1 + len(state0)])


def _kernel_arguments(reg: Regularisation | None) -> tuple[Tensor | None, Tensor | None, float]:
    """(recurrent_mask, zoneout_seed, zoneout): the kernels' form of ``reg``."""
    if reg is None:
        return None, None, 0.0
    return reg.recurrent_mask, reg.zoneout_seed, float(reg.zoneout)


class _NativeRecurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, kernel: Kernel, ints, reals, valid, regularisation, xp, n_state, *tensors):
        state0, params = list(tensors[:n_state]), list(tensors[n_state:])
        forward = getattr(torch.ops.recur_native, kernel.family + "_forward")
        result = forward(xp, state0, params, valid, *regularisation, ints, reals, True)
        outputs, final, saved = result[0], result[1 : 1 + n_state], result[1 + n_state :]
        ctx.save_for_backward(outputs, valid, *state0, *params, *saved)
        ctx.kernel, ctx.ints, ctx.reals = kernel, ints, reals
        ctx.regularisation = regularisation  # masks drawn by the layer: no gradient
        ctx.n_state, ctx.n_params = n_state, len(params)
        ctx.set_materialize_grads(False)  # unused outputs cost no zero tensors
        return (outputs, *final)

    @staticmethod
    @once_differentiable
    def backward(ctx, *grads):
        outputs, valid, *rest = ctx.saved_tensors
        n_state, n_params = ctx.n_state, ctx.n_params
        state0, params = rest[:n_state], rest[n_state : n_state + n_params]
        saved = rest[n_state + n_params :]
        backward = getattr(torch.ops.recur_native, ctx.kernel.family + "_backward")
        result = backward(
            list(grads),
            state0,
            params,
            [outputs, *saved],
            valid,
            *ctx.regularisation,
            ctx.ints,
            ctx.reals,
        )
        d_xp, d_state, d_params = result[0], result[1 : 1 + n_state], result[1 + n_state :]
        # Inputs of forward: kernel, ints, reals, valid, regularisation, xp, n_state, *state0,
        # *params
        return (None, None, None, None, None, d_xp, None, *d_state, *d_params)
