r"""Singular values of the step Jacobians ds_t/ds_{t-1} along a sequence and of their products.

Backpropagation through time multiplies the transposed step Jacobians: the gradient that reaches
step k from step t is :math:`(J_t J_{t-1} \cdots J_{k+1})^T dL/ds_t`. If the largest singular
value of the products shrinks geometrically the gradient vanishes; if it grows, it may explode.
For an Elman cell :math:`J_t = \mathrm{diag}(f'(z_t)) W_{hh}`, so with tanh (f' <= 1) the
gradient must vanish when the largest singular value of W_hh is below 1 (Pascanu et al. 2013).

The state s is every state tensor of the cell concatenated (h for Elman and GRU, (h, c) for the
LSTM family), because only the full-state Jacobians chain.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from recur.diagnostics.probe import swapped_engine
from recur.layers.base import RecurrentLayer


@dataclass
class JacobianSpectrum:
    """Result of :func:`jacobian_spectrum` (float64, on the CPU).

    Attributes:
        jacobians: (T, B, S, S) J_t = ds_t/ds_{t-1} per step t and sequence (s_{-1} = state0).
        step_singular_values: (T, B, S) singular values of J_t, largest first.
        product_singular_values: (T, B, S) singular values of J_t ... J_0 = ds_t/ds_{-1}.
        weight_spectral_radius: per gate block of W_hh (rows g*H:(g+1)*H), its largest
            |eigenvalue| (NaN for a non-square block, e.g. with proj_size).
        weight_max_singular_value: per gate block, its largest singular value.
    """

    jacobians: Tensor
    step_singular_values: Tensor
    product_singular_values: Tensor
    weight_spectral_radius: tuple[float, ...]
    weight_max_singular_value: tuple[float, ...]


def jacobian_spectrum(
    layer: RecurrentLayer, inputs: Tensor, layer_index: int = 0, direction: int = 0, state=None
) -> JacobianSpectrum:
    """Step Jacobians of one layer-direction of ``layer`` along ``inputs`` and their spectra.

    Arguments:
        layer: a recur layer.
        inputs: a full-length batch in the layer's input layout (no padding).
        layer_index, direction: which layer of a stack and which direction (1 = reverse).
        state: optional initial state, as for the layer's forward.
    Returns:
        a :class:`JacobianSpectrum`.

    Example::

        spec = jacobian_spectrum(recur.ElmanRNN(3, 8), torch.randn(20, 2, 3))
        spec.product_singular_values[-1, :, 0]   # how much ds_19/ds_{-1} can stretch a vector
    """
    if not 0 <= layer_index < layer.num_layers:
        raise ValueError(f"layer_index: expected 0..{layer.num_layers - 1}, got {layer_index}")
    if not 0 <= direction < layer.num_directions:
        raise ValueError(f"direction: expected 0..{layer.num_directions - 1}, got {direction}")
    with torch.no_grad(), swapped_engine(layer) as runs:
        layer(inputs, state)
    run = next(r for r in runs if r.layer == layer_index and r.direction == direction)
    cell, params = run.cell, run.params
    sizes = [s.shape[-1] for s in run.state0]
    state = torch.cat(run.state0, dim=1)
    jacobians = []
    for t in range(run.xp.shape[0]):
        state, jacobian = _step_jacobian(cell, params, run.xp[t], state, sizes, t)
        jacobians.append(jacobian)
    jacobians = torch.stack(jacobians).double().cpu()
    products, product = [], None
    for jacobian in jacobians:
        product = jacobian if product is None else jacobian @ product
        products.append(product)
    products = torch.stack(products)
    radius, sigma = _weight_spectra(cell, params["weight_hh"].detach().double().cpu())
    return JacobianSpectrum(
        jacobians,
        torch.linalg.svdvals(jacobians),
        torch.linalg.svdvals(products),
        radius,
        sigma,
    )


def _step_jacobian(cell, params, xp_t, state, sizes, t) -> tuple[Tensor, Tensor]:
    """The next concatenated state (B, S) and J = ds_t/ds_{t-1} per sequence (B, S, S)."""
    with torch.enable_grad():
        prev = state.detach().requires_grad_(True)
        new, _ = cell.step(xp_t, tuple(prev.split(sizes, dim=1)), params, t)
        new = torch.cat(new, dim=1)
        # Sequences are independent, so row j of every sequence's Jacobian is one backward pass;
        # the S passes are batched (vmap) through is_grads_batched.
        basis = torch.eye(new.shape[1], dtype=new.dtype, device=new.device)
        basis = basis.unsqueeze(1).expand(-1, new.shape[0], -1)
        (rows,) = torch.autograd.grad(new, prev, basis, is_grads_batched=True)
    return new.detach(), rows.transpose(0, 1)


def _weight_spectra(cell, w: Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    blocks = w.split(cell.hidden_size, dim=0)
    radius = tuple(
        float(torch.linalg.eigvals(b).abs().max()) if b.shape[0] == b.shape[1] else float("nan")
        for b in blocks
    )
    sigma = tuple(float(torch.linalg.matrix_norm(b, ord=2)) for b in blocks)
    return radius, sigma


__all__ = ["JacobianSpectrum", "jacobian_spectrum"]
