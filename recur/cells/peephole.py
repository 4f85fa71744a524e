"""The peephole LSTM cell (Gers & Schmidhuber 2000): gates also look at the cell state."""

from __future__ import annotations

import torch
from torch import Tensor

from recur.cells.activations import tanh
from recur.cells.base import Cell, ParamGrad, Params, State


class PeepholeLSTMCell(Cell):
    r"""LSTM with peephole connections, gate rows ordered (i, f, g, o) as torch.nn.LSTM.

    .. math::
        i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi} + p_i \odot c_{t-1}) \\
        f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf} + p_f \odot c_{t-1}) \\
        g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
        c_t = f_t \odot c_{t-1} + i_t \odot g_t \\
        o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho} + p_o \odot c_t) \\
        h_t = o_t \odot \tanh(c_t)

    The peephole vectors p_i, p_f, p_o of shape (H,) are ``weight_pi``, ``weight_pf`` and
    ``weight_po``, registered after torch's four parameters. The output gate looks at the new
    cell state c_t, the input and forget gates at the old one c_{t-1}. State ``(h, c)``.

    Backward (a_* the gate pre-activations):
        da_o = dh ⊙ tanh c ⊙ o(1-o)
        dc  += dh ⊙ o ⊙ (1 - tanh² c) + da_o ⊙ p_o            (c_t feeds o_t through p_o)
        (da_i, da_f, da_g) = (dc⊙g⊙i(1-i), dc⊙c_{t-1}⊙f(1-f), dc⊙i⊙(1-g²))
        dh_{t-1} = W_hh^T da,  dc_{t-1} = dc ⊙ f + da_i ⊙ p_i + da_f ⊙ p_f
        dp_i = Σ da_i ⊙ c_{t-1},  dp_f = Σ da_f ⊙ c_{t-1},  dp_o = Σ da_o ⊙ c_t
    """

    num_gates = 4
    state_names = ("h", "c")

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = super().parameter_shapes()
        for name in ("weight_pi", "weight_pf", "weight_po"):
            shapes[name] = (self.hidden_size,)
        return shapes

    def step(self, xp_t: Tensor, state: State, params: Params, t: int) -> tuple[State, tuple]:
        h_prev, c_prev = state
        gates = xp_t + self.recurrent_gemm(h_prev, params)
        a_i, a_f, a_g, a_o = gates.chunk(4, dim=1)
        i = torch.sigmoid(a_i + params["weight_pi"] * c_prev)
        f = torch.sigmoid(a_f + params["weight_pf"] * c_prev)
        g = tanh(a_g)
        c = f * c_prev + i * g
        o = torch.sigmoid(a_o + params["weight_po"] * c)
        tanh_c = tanh(c)
        h = o * tanh_c
        return (h, c), (h_prev, c_prev, i, f, g, o, c, tanh_c)

    def step_backward(
        self, d_state: State, saved: tuple, params: Params, t: int
    ) -> tuple[Tensor, State, list[ParamGrad]]:
        dh, dc = d_state
        h_prev, c_prev, i, f, g, o, c, tanh_c = saved
        da_o = dh * tanh_c * o * (1 - o)
        dc = dc + dh * o * (1 - tanh_c * tanh_c) + da_o * params["weight_po"]
        da_i = dc * g * i * (1 - i)
        da_f = dc * c_prev * f * (1 - f)
        da_g = dc * i * (1 - g * g)
        d_gates = torch.cat((da_i, da_f, da_g, da_o), dim=1)
        dh_prev, terms = self.recurrent_backward(d_gates, h_prev, params)
        dc_prev = dc * f + da_i * params["weight_pi"] + da_f * params["weight_pf"]
        terms += [
            ParamGrad("weight_pi", "scale", da_i, c_prev),
            ParamGrad("weight_pf", "scale", da_f, c_prev),
            ParamGrad("weight_po", "scale", da_o, c),
        ]
        return d_gates, (dh_prev, dc_prev), terms
