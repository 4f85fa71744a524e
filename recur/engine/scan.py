"""The scan engine: the reference step equations as one ``scan`` operator, for torch.export.

The fused and native engines are an ``autograd.Function`` and a C++ kernel that torch.export
cannot look inside, and the reference engine's Python loop would be unrolled into one copy of the
step per time step, fixing the sequence length of the traced graph. While torch.export traces
(and so ``torch.onnx.export(..., dynamo=True)``), this engine calls the ``higher_order.scan``
operator with the cell's own :meth:`~recur.cells.base.Cell.step` as its body: the graph holds one
scan node per layer and direction, as long as the input (a dynamic length), and the ONNX
exporter lowers each to an ONNX ``Scan``. Otherwise (eager calls, torch.compile) it runs the
reference loop, the same equations.

The operator is called directly rather than through ``torch._higher_order_ops.scan.scan``: that
wrapper first traces the body with Dynamo, about ten times slower to export than the operator's
own make_fx tracing, which needs a pure body and so takes the parameters as explicit inputs.

The body receives the step index ``t`` as a 0-d int64 tensor (only ClockworkRNN's schedule reads
it) and, for padded batches, the step's validity mask (T, B, 1) sliced to (B, 1).
"""

from __future__ import annotations

import torch
from torch import Tensor

from recur.cells.base import Cell, Params, State
from recur.engine.reference import advance, run_reference
from recur.engine.regularisation import Regularisation, apply_zoneout


def exporting() -> bool:
    """True while torch.export traces (``torch.compiler.is_exporting``; torch < 2.6 lacks it)."""
    is_exporting = getattr(torch.compiler, "is_exporting", None)
    return is_exporting is not None and is_exporting()


def run_scan(
    cell: Cell,
    params: Params,
    xp: Tensor,
    state0: State,
    valid: Tensor | None,
    reg: Regularisation | None = None,
) -> tuple[Tensor, State]:
    """Same contract as :func:`recur.engine.reference.run_reference`.

    Exported models are in eval mode, where only zoneout still acts: as the constant blend
    s_t = p s_{t-1} + (1 - p) s̃_t; training-time masks are random and are not exported.
    """
    if not exporting():
        return run_reference(cell, params, xp, state0, valid, reg)
    if reg is not None and (reg.recurrent_mask is not None or reg.zoneout_seed is not None):
        raise ValueError(
            "model: training-mode recurrent dropout or zoneout cannot be exported; call "
            "model.eval() first"
        )
    zoneout = reg.zoneout if reg is not None else 0.0
    time = torch.arange(xp.shape[0], device=xp.device)
    xs = [xp, time] if valid is None else [xp, time, valid]
    names = tuple(params)
    n_state, n_xs = len(state0), len(xs)

    def body(*args: Tensor) -> list[Tensor]:
        """(state..., xp_t, t[, valid_t], params...) -> (new state..., y_t)."""
        state = args[:n_state]
        xp_t, t, *valid_t = args[n_state : n_state + n_xs]
        step_params = dict(zip(names, args[n_state + n_xs :]))
        new, _ = cell.step(xp_t, state, step_params, t)
        if zoneout:
            new = apply_zoneout(new, state, (zoneout,) * len(state))
        new, y = advance(new, state, valid_t[0] if valid_t else None)
        return [*new, y.clone()]  # scan forbids an output aliasing the carry

    out = torch.ops.higher_order.scan(body, list(state0), xs, tuple(params.values()))
    return out[n_state], tuple(out[:n_state])
