"""The models the experiments compare: one recur layer and a linear read-out at every step.

Variants are named after the cells and initialisations the claims are about; every one is built
through :func:`recur.layers.registry.make_layer`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from recur.layers.base import RecurrentLayer
from recur.layers.registry import make_layer

#: gate rows of the forget gate in torch's (i, f, g, o) LSTM layout
_FORGET = 1
#: forget-gate bias of the no-forget-gate LSTM: sigmoid(30) = 1 - 1e-13, i.e. f = 1
NO_FORGET_BIAS = 30.0


class SequenceModel(nn.Module):
    """``layer`` then a linear read-out at every step: (T, B, I) -> (T, B, O), time-major."""

    def __init__(self, layer: RecurrentLayer, output_size: int):
        super().__init__()
        self.rnn = layer
        features = layer.num_directions * layer.cells[-1].output_size
        self.head = nn.Linear(features, output_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.rnn(x)[0])


def build(
    variant: str, input_size: int, hidden_size: int, output_size: int, **layer_kwargs
) -> SequenceModel:
    """A :class:`SequenceModel` of the named variant (see :data:`VARIANTS`)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {sorted(VARIANTS)}, got {variant!r}")
    cell, kwargs, init = VARIANTS[variant]
    layer = make_layer(cell, input_size, hidden_size, **kwargs, **layer_kwargs)
    if init is not None:
        init(layer)
    return SequenceModel(layer, output_size)


def identity_init(layer: RecurrentLayer) -> None:
    """Le, Jaitly & Hinton (2015), IRNN: W_hh = I, biases 0, W_ih ~ N(0, 0.001^2)."""
    with torch.no_grad():
        for name, p in layer.named_parameters():
            if name.startswith("weight_hh"):
                p.copy_(torch.eye(*p.shape))
            elif name.startswith("weight_ih"):
                p.normal_(0.0, 1e-3)
            else:
                p.zero_()


def no_forget_gate(layer: RecurrentLayer) -> None:
    """Emulate the original LSTM without forget gate (Hochreiter & Schmidhuber 1997).

    The forget gate's weights are zeroed and its bias set to :data:`NO_FORGET_BIAS`, so f = 1
    and c_t = c_{t-1} + i_t g_t; gradient hooks zero those rows' gradients so no optimizer moves
    them (Adam's update of a parameter whose gradient is always zero is zero).
    """
    hidden = layer.hidden_size
    rows = slice(_FORGET * hidden, (_FORGET + 1) * hidden)
    with torch.no_grad():
        for name, p in layer.named_parameters():
            p[rows] = 0.0
            if name.startswith("bias_ih"):
                p[rows] = NO_FORGET_BIAS
            p.register_hook(_zero_rows(rows))


def _zero_rows(rows: slice):
    def hook(grad: Tensor) -> Tensor:
        grad = grad.clone()
        grad[rows] = 0.0
        return grad

    return hook


VARIANTS = {
    "elman-tanh": ("rnn", {"nonlinearity": "tanh"}, None),
    "irnn": ("rnn", {"nonlinearity": "relu"}, identity_init),
    "lstm": ("lstm", {}, None),
    "gru": ("gru", {}, None),
    "peephole": ("peephole", {}, None),
    "cifg": ("cifg", {}, None),
    "lstm-no-forget": ("lstm", {}, no_forget_gate),
    "clockwork": ("clockwork", {}, None),
}
"""name -> (registry cell, layer keyword arguments, initialiser or None)."""


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters; a Clockwork RNN's masked recurrent weights are not counted."""
    total = 0
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            cells = getattr(module, "cells", None)
            if name.startswith("weight_hh") and cells and hasattr(cells[0], "weight_mask"):
                total += int(cells[0].weight_mask(p.device, p.dtype).sum())
            else:
                total += p.numel()
    return total
