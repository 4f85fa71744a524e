"""The fused engine: one autograd node for the whole sequence, with hand-derived BPTT.

Forward runs the cell's step over time with autograd off, keeping only what each step's backward
needs. Backward walks time in reverse calling the cell's ``step_backward`` (state gradients only,
one recurrent matrix product per step), then forms every weight gradient as one large product
over all steps: for a weight W used as ``z_t = W a_t``, ``dW = sum_t dz_t^T a_t = D^T A`` with D
and A the stacked (T*B, ·) matrices. Recurrent dropout and zoneout
(:mod:`recur.engine.regularisation`) enter as in the reference engine; their backward is the
cell's (through the masked recurrent product) and :func:`zoneout_backward`.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from recur.cells.base import Cell, ParamGrad, Params, State
from recur.engine.reference import advance
from recur.engine.regularisation import (
    Regularisation,
    apply_zoneout,
    step_params,
    zoneout_backward,
)


def run_fused(
    cell: Cell,
    params: Params,
    xp: Tensor,
    state0: State,
    valid: Tensor | None,
    reg: Regularisation | None = None,
) -> tuple[Tensor, State]:
    """Same contract as :func:`recur.engine.reference.run_reference`."""
    names = tuple(params)
    out = _FusedRecurrence.apply(
        cell, names, valid, reg, xp, len(state0), *state0, *params.values()
    )
    return out[0], tuple(out[1:])


class _FusedRecurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, cell, names, valid, reg, xp, n_state, *tensors):
        state: State = tensors[:n_state]
        params: Params = dict(zip(names, tensors[n_state:]))
        step = step_params(params, reg)  # params plus the recurrent dropout mask, if any
        steps = xp.shape[0]
        keeps = reg.keeps(steps, state) if reg is not None and reg.has_zoneout else None
        outputs = xp.new_empty(steps, xp.shape[1], cell.output_size)
        saved = []
        for t in range(steps):
            new, saved_t = cell.step(xp[t], state, step, t)
            if keeps is not None:
                new = apply_zoneout(new, state, keeps[t])
            state, outputs[t] = advance(new, state, None if valid is None else valid[t])
            saved.append(saved_t)
        ctx.cell, ctx.params, ctx.step, ctx.valid, ctx.saved = cell, params, step, valid, saved
        ctx.keeps, ctx.xp_shape = keeps, xp.shape
        return (outputs, *state)

    @staticmethod
    @once_differentiable
    def backward(ctx, d_outputs, *d_final):
        cell, params, valid, saved, keeps = ctx.cell, ctx.params, ctx.valid, ctx.saved, ctx.keeps
        steps = len(saved)
        d_xp = d_outputs.new_empty(ctx.xp_shape)
        d_state = list(d_final)
        terms_per_step: list[list[ParamGrad]] = [[] for _ in range(steps)]
        for t in reversed(range(steps)):
            if valid is None:
                d_state[0] = d_state[0] + d_outputs[t]
                d_in, passed = d_state, None
            else:
                # Padded steps copied the state through and output a constant zero: their state
                # gradient bypasses the cell and their output gradient goes nowhere.
                keep = valid[t]
                d_state[0] = d_state[0] + torch.where(keep, d_outputs[t], 0.0)
                d_in = [torch.where(keep, d, 0.0) for d in d_state]
                passed = [torch.where(keep, 0.0, d) for d in d_state]
            if keeps is not None:  # zoneout: the kept units' gradient skips the cell
                d_in, carried = zoneout_backward(d_in, keeps[t])
                passed = carried if passed is None else [a + b for a, b in zip(passed, carried)]
            d_xp[t], d_prev, terms_per_step[t] = cell.step_backward(
                tuple(d_in), saved[t], ctx.step, t
            )
            d_state = list(d_prev) if passed is None else [a + b for a, b in zip(d_prev, passed)]
        grads = _reduce_param_grads(params, terms_per_step)
        # Inputs of forward: cell, names, valid, reg, xp, n_state, *state0, *params
        return (None, None, None, None, d_xp, None, *d_state, *(grads[n] for n in params))


def _reduce_param_grads(params: Params, terms_per_step: list[list[ParamGrad]]) -> dict:
    """Sum each term over all steps with one reduction (one GEMM for a weight matrix)."""
    grads = {name: torch.zeros_like(p) for name, p in params.items()}
    stacks: dict[int, Tensor] = {}  # id of a step-0 tensor -> its stack over time (shared terms)

    def stacked(j: int, field: str) -> Tensor:
        key = id(getattr(terms_per_step[0][j], field))
        if key not in stacks:
            stacks[key] = torch.stack([getattr(step[j], field) for step in terms_per_step])
        return stacks[key]

    for j, term in enumerate(terms_per_step[0]):
        d = stacked(j, "d")
        d2 = d.reshape(-1, d.shape[-1])
        if term.kind == "matmul":
            x = stacked(j, "x")
            value = d2.t() @ x.reshape(-1, x.shape[-1])
        elif term.kind == "scale":
            value = (d * stacked(j, "x")).sum(dim=(0, 1))
        else:
            value = d2.sum(dim=0)
        target = grads[term.param] if term.rows is None else grads[term.param][term.rows]
        target += value
    return grads
