"""The cell contract: one recurrent step, its hand-derived backward step, and its parameters.

A cell owns the equations of a single time step and nothing else. Engines
(:mod:`recur.engine`) run a cell over time; layers (:mod:`recur.layers`) own the parameters and
hand them to the cell as a plain ``dict`` keyed by the torch name without the layer suffix
(``"weight_hh"`` rather than ``"weight_hh_l0_reverse"``).

Shapes (time-major inside the engine):
    x      (T, B, I)          layer input
    xp     (T, B, G*H)        input projection of all steps (``project_input``), G = num_gates
    state  tuple of (B, S_k)  e.g. ``(h,)`` or ``(h, c)``; ``state[0]`` is the step's output

Contract of :meth:`Cell.step` and :meth:`Cell.step_backward`:
    ``step(xp_t, state, params, t) -> (new_state, saved)`` is differentiable with autograd (the
    reference engine relies on it) and returns in ``saved`` whatever the backward step needs.
    ``step_backward(d_state, saved, params, t) -> (d_xp_t, d_state_prev, terms)`` returns the
    gradient of the loss with respect to ``xp_t`` and to the previous state, plus a list of
    :class:`ParamGrad` terms. The engine stacks each term over all steps and reduces it once at the
    end, so weight gradients are single large matrix products instead of one per step.

Recurrent dropout: the params handed to ``step``/``step_backward`` may carry
``params[RECURRENT_MASK]``, a (B, S_0) mask scaled to {0, 1/(1-p)} that every recurrent product
applies to h_{t-1} (:meth:`Cell.recurrent_input`); a cell routes its recurrent products through
:meth:`Cell.recurrent_gemm` / :meth:`Cell.recurrent_backward` (or ``recurrent_input``) and gets it
for free. Paths that carry h_{t-1} past the product (GRU's z ⊙ h_{t-1}) read the undropped state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

State = tuple[Tensor, ...]
Params = dict[str, Tensor]

#: key of the recurrent dropout mask in the params of a step (see the module docstring)
RECURRENT_MASK = "recurrent_mask"


@dataclass(frozen=True)
class ParamGrad:
    """One step's contribution to a parameter gradient, reduced over time by the engine.

    kind "matmul": ``grad[rows] += d.T @ x`` (d: (B, M), x: (B, K))   — weight matrices
    kind "scale":  ``grad[rows] += (d * x).sum(0)`` (d, x: (B, M))    — elementwise weights
    kind "sum":    ``grad[rows] += d.sum(0)`` (d: (B, M))             — biases

    Terms are matched across steps by position in the returned list, and a tensor shared by two
    terms is stacked once: a cell must return the same list structure, with
    the same sharing, at every step.
    """

    param: str
    kind: Literal["matmul", "scale", "sum"]
    d: Tensor
    x: Tensor | None = None
    rows: slice | None = None


class Cell:
    """Base class of all cells; subclasses document their equations.

    Arguments:
        input_size: features of the layer input ``I``.
        hidden_size: hidden units ``H``.
        bias: whether the cell has ``bias_ih`` and ``bias_hh``.
    """

    num_gates: int = 1
    #: names of the state tensors, in order; the first is the output
    state_names: tuple[str, ...] = ("h",)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias

    # ----------------------------------------------------------------- parameters
    @property
    def output_size(self) -> int:
        """Size of ``h`` (the output and the recurrent input)."""
        return self.hidden_size

    def state_sizes(self) -> tuple[int, ...]:
        return (self.output_size,) + (self.hidden_size,) * (len(self.state_names) - 1)

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter of one layer-direction, in torch's order."""
        gh = self.num_gates * self.hidden_size
        shapes = {"weight_ih": (gh, self.input_size), "weight_hh": (gh, self.output_size)}
        if self.bias:
            shapes.update(bias_ih=(gh,), bias_hh=(gh,))
        return shapes

    #: parameters consumed by :meth:`project_input`, outside the time loop
    input_param_names: tuple[str, ...] = ("weight_ih", "bias_ih")

    def recurrent_param_names(self) -> tuple[str, ...]:
        """Parameters used inside the time loop (handed to the fused engine)."""
        return tuple(n for n in self.parameter_shapes() if n not in self.input_param_names)

    def reset_parameters(self, params: Params) -> None:
        """torch.nn's default: every parameter uniform in (-1/sqrt(H), 1/sqrt(H))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for p in params.values():
                p.uniform_(-bound, bound)

    # ----------------------------------------------------------------- math
    def project_input(self, x: Tensor, params: Params, linear=F.linear) -> Tensor:
        """xp = x W_ih^T + b_ih for all steps at once: (T, B, I) -> (T, B, G*H).

        ``linear`` computes x Wᵀ + b (the engine may pass a faster one, same numbers to rounding);
        it may carry ``layer_norm_linear(x, W, γ, β, eps)``, LN(x Wᵀ) in one pass, for cells that
        normalise their input projection.
        """
        return linear(x, params["weight_ih"], params.get("bias_ih"))

    def recurrent_params(self, params: Params) -> Params:
        """The tensors the time loop uses; a cell may transform them here (e.g. masking)."""
        return {n: params[n] for n in self.recurrent_param_names()}

    def recurrent_input(self, h: Tensor, params: Params) -> Tensor:
        """m ⊙ h under recurrent dropout, else h: the h_{t-1} a recurrent product reads.

        The map is linear and diagonal, so the same call also takes a gradient back through it.
        """
        mask = params.get(RECURRENT_MASK)
        return h if mask is None else h * mask

    def recurrent_gemm(self, h_prev: Tensor, params: Params, rows: slice | None = None) -> Tensor:
        """W_hh (m ⊙) h_{t-1} + b_hh, optionally for a block of gate rows only."""
        w, b = params["weight_hh"], params.get("bias_hh")
        if rows is not None:
            w = w[rows]
            b = None if b is None else b[rows]
        h_prev = self.recurrent_input(h_prev, params)
        if b is None:
            return h_prev @ w.t()
        return torch.addmm(b, h_prev, w.t())

    def recurrent_backward(
        self, d: Tensor, h_prev: Tensor, params: Params, rows: slice | None = None
    ) -> tuple[Tensor, list[ParamGrad]]:
        """Backward of :meth:`recurrent_gemm` given d = dL/d(W_hh (m ⊙) h + b_hh).

        Returns dL/dh_{t-1} through the product, (m ⊙) d W_hh, and the parameter terms
        dW_hh += dᵀ (m ⊙) h_{t-1}, db_hh += Σ d.
        """
        w = params["weight_hh"] if rows is None else params["weight_hh"][rows]
        dh_prev = self.recurrent_input(d @ w, params)
        return dh_prev, self.recurrent_grad_terms(d, self.recurrent_input(h_prev, params), rows)

    def recurrent_grad_terms(
        self, d: Tensor, h_prev: Tensor, rows: slice | None = None
    ) -> list[ParamGrad]:
        """Gradient terms of :meth:`recurrent_gemm` given d and the input it multiplied."""
        terms = [ParamGrad("weight_hh", "matmul", d, h_prev, rows)]
        if self.bias:
            terms.append(ParamGrad("bias_hh", "sum", d, None, rows))
        return terms

    def step(self, xp_t: Tensor, state: State, params: Params, t: int) -> tuple[State, tuple]:
        raise NotImplementedError

    def step_backward(
        self, d_state: State, saved: tuple, params: Params, t: int
    ) -> tuple[Tensor, State, list[ParamGrad]]:
        raise NotImplementedError
