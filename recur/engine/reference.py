"""The reference engine: plain autograd through the cell's step equations.

This is the specification every fused engine is tested against. It builds one autograd graph
per step, so it is slow and memory-hungry; use it to check, not to train.
"""

from __future__ import annotations

import torch
from torch import Tensor

from recur.cells.base import Cell, Params, State
from recur.engine.regularisation import Regularisation, apply_zoneout, step_params


def advance(new: State, old: State, valid_t: Tensor | None) -> tuple[State, Tensor]:
    """Apply one step's validity mask (B, 1): padded sequences keep their state and output zero."""
    if valid_t is None:
        return new, new[0]
    state = tuple(torch.where(valid_t, n, o) for n, o in zip(new, old))
    return state, torch.where(valid_t, new[0], 0.0)


def run_reference(
    cell: Cell,
    params: Params,
    xp: Tensor,
    state0: State,
    valid: Tensor | None,
    reg: Regularisation | None = None,
) -> tuple[Tensor, State]:
    """Run ``cell`` over the projected input ``xp`` (T, B, G*H) from ``state0``.

    ``valid`` is an optional (T, B, 1) boolean mask whose True steps form a prefix of each
    sequence; ``reg`` the optional recurrent dropout and zoneout masks
    (:mod:`recur.engine.regularisation`). Returns the outputs (T, B, S_0) and the final state.
    """
    outputs = []
    state = state0
    keeps = reg.keeps(xp.shape[0], state0) if reg is not None and reg.has_zoneout else None
    params = step_params(params, reg)
    for t in range(xp.shape[0]):
        new, _ = cell.step(xp[t], state, params, t)
        if keeps is not None:
            new = apply_zoneout(new, state, keeps[t])
        state, y = advance(new, state, None if valid is None else valid[t])
        outputs.append(y)
    return torch.stack(outputs), state
