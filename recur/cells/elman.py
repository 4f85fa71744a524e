"""The Elman (vanilla) recurrent cell of the seeds and of torch.nn.RNN."""

from __future__ import annotations

import torch
from torch import Tensor

from recur.cells.activations import tanh
from recur.cells.base import Cell, ParamGrad, Params, State

NONLINEARITIES = ("tanh", "relu")


class ElmanCell(Cell):
    r"""Elman RNN: :math:`h_t = f(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`, f = tanh or ReLU.

    The seeds write it ``h_t = f(U x_t + W h_{t-1} + b)``: U is ``weight_ih``, W is ``weight_hh``.

    Backward: dz = dh ⊙ f'(z) with tanh' = 1 - h², relu' = [h > 0]; dh_{t-1} = W_hh^T dz.
    """

    num_gates = 1

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"
    ):
        super().__init__(input_size, hidden_size, bias)
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(
                f"nonlinearity: expected one of {NONLINEARITIES}, got {nonlinearity!r}"
            )
        self.nonlinearity = nonlinearity

    def step(self, xp_t: Tensor, state: State, params: Params, t: int) -> tuple[State, tuple]:
        (h_prev,) = state
        z = xp_t + self.recurrent_gemm(h_prev, params)
        h = tanh(z) if self.nonlinearity == "tanh" else torch.relu(z)
        return (h,), (h_prev, h)

    def step_backward(
        self, d_state: State, saved: tuple, params: Params, t: int
    ) -> tuple[Tensor, State, list[ParamGrad]]:
        (dh,) = d_state
        h_prev, h = saved
        dz = dh * (1 - h * h) if self.nonlinearity == "tanh" else dh * (h > 0).to(dh.dtype)
        dh_prev, terms = self.recurrent_backward(dz, h_prev, params)
        return dz, (dh_prev,), terms
