"""The LSTM cell of torch.nn.LSTM (Hochreiter & Schmidhuber 1997, with forget gate)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from recur.cells.activations import tanh
from recur.cells.base import Cell, ParamGrad, Params, State


class LSTMCell(Cell):
    r"""Long short-term memory, gate rows ordered (i, f, g, o) exactly as torch.nn.LSTM.

    .. math::
        i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
        f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
        g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
        o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
        c_t = f_t \odot c_{t-1} + i_t \odot g_t \\
        h_t = o_t \odot \tanh(c_t) \quad\text{or, with } P = \text{proj\_size} > 0,\quad
        h_t = W_{hr} (o_t \odot \tanh(c_t))

    State ``(h, c)`` with h of size P (or H) and c of size H.

    Backward (m = o ⊙ tanh c, the unprojected output):
        dm = W_hr^T dh (or dh);  dc += dm ⊙ o ⊙ (1 - tanh² c)
        d(i,f,g,o) pre-activations = (dc⊙g⊙i(1-i), dc⊙c_{t-1}⊙f(1-f), dc⊙i⊙(1-g²), dm⊙tanh c⊙o(1-o))
        dh_{t-1} = W_hh^T dgates,  dc_{t-1} = dc ⊙ f
    """

    num_gates = 4
    state_names = ("h", "c")

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, proj_size: int = 0):
        super().__init__(input_size, hidden_size, bias)
        self.proj_size = proj_size

    @property
    def output_size(self) -> int:
        return self.proj_size or self.hidden_size

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = super().parameter_shapes()
        if self.proj_size:
            shapes["weight_hr"] = (self.proj_size, self.hidden_size)
        return shapes

    def step(self, xp_t: Tensor, state: State, params: Params, t: int) -> tuple[State, tuple]:
        h_prev, c_prev = state
        gates = xp_t + self.recurrent_gemm(h_prev, params)
        i, f, g, o = gates.chunk(4, dim=1)
        i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)
        g = tanh(g)
        c = f * c_prev + i * g
        tanh_c = tanh(c)
        m = o * tanh_c
        h = m @ params["weight_hr"].t() if self.proj_size else m
        return (h, c), (h_prev, c_prev, i, f, g, o, tanh_c, m)

    def step_backward(
        self, d_state: State, saved: tuple, params: Params, t: int
    ) -> tuple[Tensor, State, list[ParamGrad]]:
        dh, dc = d_state
        h_prev, c_prev, i, f, g, o, tanh_c, m = saved
        terms: list[ParamGrad] = []
        if self.proj_size:
            terms.append(ParamGrad("weight_hr", "matmul", dh, m))
            dm = dh @ params["weight_hr"]
        else:
            dm = dh
        dc = dc + dm * o * (1 - tanh_c * tanh_c)
        d_gates = torch.cat(
            (
                dc * g * i * (1 - i),
                dc * c_prev * f * (1 - f),
                dc * i * (1 - g * g),
                dm * tanh_c * o * (1 - o),
            ),
            dim=1,
        )
        dh_prev, recurrent_terms = self.recurrent_backward(d_gates, h_prev, params)
        terms += recurrent_terms
        return d_gates, (dh_prev, dc * f), terms

    def reset_parameters(self, params: Params) -> None:
        # torch.nn.LSTM draws every parameter, weight_hr included, from U(-1/sqrt(H), 1/sqrt(H)).
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for p in params.values():
                p.uniform_(-bound, bound)
