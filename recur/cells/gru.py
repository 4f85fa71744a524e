"""The gated recurrent unit of torch.nn.GRU, and Cho et al.'s original reset-before variant."""

from __future__ import annotations

import torch
from torch import Tensor

from recur.cells.activations import tanh
from recur.cells.base import Cell, ParamGrad, Params, State


class GRUCell(Cell):
    r"""Gated recurrent unit, gate rows ordered (r, z, n) exactly as torch.nn.GRU.

    ``reset_after=True`` (torch.nn.GRU, cuDNN):

    .. math::
        r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
        h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    ``reset_after=False`` (Cho et al. 2014, as in the textbooks): the reset gate acts on
    :math:`h_{t-1}` before the recurrent product,
    :math:`n_t = \tanh(W_{in} x_t + b_{in} + W_{hn} (r_t \odot h_{t-1}) + b_{hn})`,
    so each step makes two recurrent products: rows [0:2H] of ``weight_hh`` on h_{t-1}, then rows
    [2H:3H] on s = r ⊙ h_{t-1}. Same parameters and shapes either way. State ``(h,)``.

    Backward (a_· the pre-activations, hn = W_hn h_{t-1} + b_hn):
        da_n = dh ⊙ (1 - z) ⊙ (1 - n²),  da_z = dh ⊙ (h_{t-1} - n) ⊙ z(1-z)
        reset after:  da_r = da_n ⊙ hn ⊙ r(1-r);  d(W_hh h + b_hh) = (da_r, da_z, da_n ⊙ r)
                      dh_{t-1} = dh ⊙ z + W_hh^T d(W_hh h + b_hh)
        reset before: ds = W_hn^T da_n;  da_r = ds ⊙ h_{t-1} ⊙ r(1-r)
                      dh_{t-1} = dh ⊙ z + ds ⊙ r + W_{h(r,z)}^T (da_r, da_z)
                      dW_h(r,z) = Σ (da_r, da_z)^T h_{t-1},  dW_hn = Σ da_n^T s
        d xp_t = (da_r, da_z, da_n) in both conventions.
    """

    num_gates = 3

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, reset_after: bool = True
    ):
        super().__init__(input_size, hidden_size, bias)
        self.reset_after = reset_after
        self.rz_rows = slice(0, 2 * hidden_size)
        self.n_rows = slice(2 * hidden_size, 3 * hidden_size)

    def step(self, xp_t: Tensor, state: State, params: Params, t: int) -> tuple[State, tuple]:
        (h_prev,) = state
        x_r, x_z, x_n = xp_t.chunk(3, dim=1)
        if self.reset_after:
            h_r, h_z, hn = self.recurrent_gemm(h_prev, params).chunk(3, dim=1)
            r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
            n = tanh(x_n + r * hn)
            kept = hn  # what da_r needs: the product r multiplies
        else:
            h_r, h_z = self.recurrent_gemm(h_prev, params, self.rz_rows).chunk(2, dim=1)
            r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
            s = r * h_prev
            n = tanh(x_n + self.recurrent_gemm(s, params, self.n_rows))
            kept = s  # the input of the second recurrent product
        h = (1 - z) * n + z * h_prev
        return (h,), (h_prev, r, z, n, kept)

    def step_backward(
        self, d_state: State, saved: tuple, params: Params, t: int
    ) -> tuple[Tensor, State, list[ParamGrad]]:
        (dh,) = d_state
        h_prev, r, z, n, kept = saved
        da_n = dh * (1 - z) * (1 - n * n)
        da_z = dh * (h_prev - n) * z * (1 - z)
        if self.reset_after:
            hn = kept
            da_r = da_n * hn * r * (1 - r)
            d_xp = torch.cat((da_r, da_z, da_n), dim=1)
            d_gh = torch.cat((da_r, da_z, da_n * r), dim=1)
            dh_rec, terms = self.recurrent_backward(d_gh, h_prev, params)
            return d_xp, (dh * z + dh_rec,), terms
        s = kept
        ds, terms_n = self.recurrent_backward(da_n, s, params, self.n_rows)
        da_r = ds * h_prev * r * (1 - r)
        d_rz = torch.cat((da_r, da_z), dim=1)
        dh_rz, terms = self.recurrent_backward(d_rz, h_prev, params, self.rz_rows)
        return torch.cat((d_rz, da_n), dim=1), (dh * z + ds * r + dh_rz,), terms + terms_n
