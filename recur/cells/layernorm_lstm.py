"""The layer-normalised LSTM cell (Ba, Kiros & Hinton 2016), in the layout haste uses."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from recur.cells.activations import tanh
from recur.cells.base import Cell, ParamGrad, Params, State

EPS = 1e-5


def normalize(x: Tensor) -> tuple[Tensor, Tensor]:
    """x̂ = (x - μ) / σ over the last dimension, σ = sqrt(var + eps) (biased var); (x̂, 1/σ)."""
    var, mean = torch.var_mean(x, dim=-1, unbiased=False, keepdim=True)
    inv_sigma = torch.rsqrt(var + EPS)
    return (x - mean) * inv_sigma, inv_sigma


def normalize_backward(dx_hat: Tensor, x_hat: Tensor, inv_sigma: Tensor) -> Tensor:
    """dx = (1/σ)(dx̂ - mean(dx̂) - x̂ ⊙ mean(dx̂ ⊙ x̂)), the gradient through :func:`normalize`."""
    mean_dx_hat = dx_hat.mean(dim=-1, keepdim=True)
    mean_dx_hat_x_hat = (dx_hat * x_hat).mean(dim=-1, keepdim=True)
    return inv_sigma * (dx_hat - mean_dx_hat - x_hat * mean_dx_hat_x_hat)


class LayerNormLSTMCell(Cell):
    r"""LSTM with layer normalisation, gate rows ordered (i, f, g, o) as torch.nn.LSTM.

    .. math::
        a_t = \mathrm{LN}(W_{ih} x_t; \gamma_{ih}) + b_{ih}
              + \mathrm{LN}(W_{hh} h_{t-1}; \gamma_{hh}) + b_{hh} \qquad (a_t \in R^{4H}) \\
        (i_t, f_t, g_t, o_t) = (\sigma(a_i), \sigma(a_f), \tanh(a_g), \sigma(a_o)) \\
        c_t = f_t \odot c_{t-1} + i_t \odot g_t \\
        h_t = o_t \odot \tanh(\mathrm{LN}(c_t; \gamma_c, \beta_c))

    with :math:`\mathrm{LN}(x; \gamma, \beta) = \gamma \odot \hat x + \beta`,
    :math:`\hat x = (x - \mu) / \sigma`, μ and σ² the mean and (biased) variance of x over its
    whole vector, :math:`\sigma = \sqrt{\sigma^2 + 10^{-5}}`. The two gate normalisations run over
    all 4H pre-activations together and have no β (b_ih and b_hh play that role); the cell-state
    one runs over H and has both. The state ``(h, c)`` keeps the unnormalised c.

    Parameters after torch's four: ``ln_weight_ih`` γ_ih (4H), ``ln_weight_hh`` γ_hh (4H),
    ``ln_weight_c`` γ_c (H), ``ln_bias_c`` β_c (H) (kept with ``bias=False``, which drops only
    b_ih and b_hh as in torch.nn.LSTM). Init: gains 1, β_c 0, the rest as torch.nn.LSTM.
    The input side LN(W_ih x; γ_ih) + b_ih is one layer_norm over the whole sequence in
    :meth:`project_input` (autograd); the recurrent and cell-state ones are in the time loop.

    Backward of y = γ ⊙ x̂ + β (means over the normalised vector, Σ over batch and time):
        dx̂ = dy ⊙ γ,  dγ = Σ dy ⊙ x̂,  dβ = Σ dy
        dx = (1/σ)(dx̂ - mean(dx̂) - x̂ ⊙ mean(dx̂ ⊙ x̂))
    (from dx̂/dx = (1/σ)(I - 1/n - x̂ x̂ᵀ/n), symmetric). Then, with n_t = LN(c_t; γ_c, β_c)
    and r_t = W_hh h_{t-1}:
        da_o = dh ⊙ tanh n ⊙ o(1-o),  dn = dh ⊙ o ⊙ (1 - tanh² n)
        dc  += LN backward of dn (x̂ = ĉ, γ = γ_c)
        (da_i, da_f, da_g) = (dc⊙g⊙i(1-i), dc⊙c_{t-1}⊙f(1-f), dc⊙i⊙(1-g²))
        d(LN(W_ih x) + b_ih) = d(b_hh) = da,  dγ_hh = Σ da ⊙ r̂
        dr = LN backward of da (x̂ = r̂, γ = γ_hh),  dW_hh = Σ drᵀ h_{t-1}
        dh_{t-1} = W_hhᵀ dr,  dc_{t-1} = dc ⊙ f
    """

    num_gates = 4
    state_names = ("h", "c")
    input_param_names = ("weight_ih", "bias_ih", "ln_weight_ih")

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = super().parameter_shapes()
        gh, h = self.num_gates * self.hidden_size, self.hidden_size
        shapes.update(ln_weight_ih=(gh,), ln_weight_hh=(gh,), ln_weight_c=(h,), ln_bias_c=(h,))
        return shapes

    def reset_parameters(self, params: Params) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for name, p in params.items():
                if name.startswith("ln_weight"):
                    p.fill_(1.0)
                elif name == "ln_bias_c":
                    p.zero_()
                else:
                    p.uniform_(-bound, bound)

    def project_input(self, x: Tensor, params: Params, linear=F.linear) -> Tensor:
        """LN(x W_ih^T; γ_ih) + b_ih for all steps at once: (T, B, I) -> (T, B, 4H)."""
        fused = getattr(linear, "layer_norm_linear", None)  # the engine's one-pass form
        if fused is not None:
            gamma, beta = params["ln_weight_ih"], params.get("bias_ih")
            return fused(x, params["weight_ih"], gamma, beta, EPS)
        w_x = linear(x, params["weight_ih"])
        gh = (w_x.shape[-1],)
        return F.layer_norm(w_x, gh, params["ln_weight_ih"], params.get("bias_ih"), EPS)

    def step(self, xp_t: Tensor, state: State, params: Params, t: int) -> tuple[State, tuple]:
        h_prev, c_prev = state
        h_in = self.recurrent_input(h_prev, params)  # m ⊙ h_{t-1} under recurrent dropout
        r_hat, inv_sigma_r = normalize(h_in @ params["weight_hh"].t())
        gates = torch.addcmul(xp_t, r_hat, params["ln_weight_hh"])
        if self.bias:
            gates = gates + params["bias_hh"]
        i, f, g, o = gates.chunk(4, dim=1)
        i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)
        g = tanh(g)
        c = f * c_prev + i * g
        c_hat, inv_sigma_c = normalize(c)
        tanh_n = tanh(torch.addcmul(params["ln_bias_c"], c_hat, params["ln_weight_c"]))
        h = o * tanh_n
        return (h, c), (h_prev, c_prev, r_hat, inv_sigma_r, i, f, g, o, c_hat, inv_sigma_c, tanh_n)

    def step_backward(
        self, d_state: State, saved: tuple, params: Params, t: int
    ) -> tuple[Tensor, State, list[ParamGrad]]:
        dh, dc = d_state
        h_prev, c_prev, r_hat, inv_sigma_r, i, f, g, o, c_hat, inv_sigma_c, tanh_n = saved
        dn = dh * o * (1 - tanh_n * tanh_n)
        dc = dc + normalize_backward(dn * params["ln_weight_c"], c_hat, inv_sigma_c)
        d_gates = torch.cat(
            (
                dc * g * i * (1 - i),
                dc * c_prev * f * (1 - f),
                dc * i * (1 - g * g),
                dh * tanh_n * o * (1 - o),
            ),
            dim=1,
        )
        dr = normalize_backward(d_gates * params["ln_weight_hh"], r_hat, inv_sigma_r)
        terms = [
            ParamGrad("weight_hh", "matmul", dr, self.recurrent_input(h_prev, params)),
            ParamGrad("ln_weight_hh", "scale", d_gates, r_hat),
            ParamGrad("ln_weight_c", "scale", dn, c_hat),
            ParamGrad("ln_bias_c", "sum", dn),
        ]
        if self.bias:
            terms.append(ParamGrad("bias_hh", "sum", d_gates))
        dh_prev = self.recurrent_input(dr @ params["weight_hh"], params)
        return d_gates, (dh_prev, dc * f), terms
