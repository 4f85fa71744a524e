"""The coupled input-forget gate LSTM (CIFG): the forget gate is one minus the input gate."""

from __future__ import annotations

import torch
from torch import Tensor

from recur.cells.activations import tanh
from recur.cells.base import Cell, ParamGrad, Params, State


class CIFGLSTMCell(Cell):
    r"""LSTM whose forget gate is tied to the input gate, gate rows ordered (i, g, o).

    .. math::
        i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
        g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
        o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
        f_t = 1 - i_t \\
        c_t = (1 - i_t) \odot c_{t-1} + i_t \odot g_t \\
        h_t = o_t \odot \tanh(c_t)

    Three gates, so ``weight_ih`` is (3H, I) and ``weight_hh`` (3H, H); there are no forget-gate
    weights at all. State ``(h, c)``.

    Backward (c_t = c_{t-1} + i ⊙ (g - c_{t-1})):
        dc += dh ⊙ o ⊙ (1 - tanh² c)
        d(i,g,o) pre-activations = (dc⊙(g - c_{t-1})⊙i(1-i), dc⊙i⊙(1-g²), dh⊙tanh c⊙o(1-o))
        dh_{t-1} = W_hh^T dgates,  dc_{t-1} = dc ⊙ (1 - i)
    """

    num_gates = 3
    state_names = ("h", "c")

    def step(self, xp_t: Tensor, state: State, params: Params, t: int) -> tuple[State, tuple]:
        h_prev, c_prev = state
        gates = xp_t + self.recurrent_gemm(h_prev, params)
        i, g, o = gates.chunk(3, dim=1)
        i, g, o = torch.sigmoid(i), tanh(g), torch.sigmoid(o)
        c = (1 - i) * c_prev + i * g
        tanh_c = tanh(c)
        h = o * tanh_c
        return (h, c), (h_prev, c_prev, i, g, o, tanh_c)

    def step_backward(
        self, d_state: State, saved: tuple, params: Params, t: int
    ) -> tuple[Tensor, State, list[ParamGrad]]:
        dh, dc = d_state
        h_prev, c_prev, i, g, o, tanh_c = saved
        dc = dc + dh * o * (1 - tanh_c * tanh_c)
        d_gates = torch.cat(
            (
                dc * (g - c_prev) * i * (1 - i),
                dc * i * (1 - g * g),
                dh * tanh_c * o * (1 - o),
            ),
            dim=1,
        )
        dh_prev, terms = self.recurrent_backward(d_gates, h_prev, params)
        return d_gates, (dh_prev, dc * (1 - i)), terms
