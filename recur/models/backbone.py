"""The front shared by the N→1 and N→N models: inputs → features → recurrent layer (batch first)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from recur.layers.checks import check_dropout
from recur.layers.registry import make_layer
from recur.models.checks import check_layer_kwargs
from recur.models.inputs import InputLayer


class RecurrentBackbone(nn.Module):
    """Token ids or real features (B, T, ·) → recurrent outputs (B, T, D*S).

    Arguments:
        cell: a layer by name ("rnn", "lstm", "gru", "peephole", "cifg", "lnlstm", "clockwork").
        hidden_size, num_layers, bidirectional: of the recurrent stack (D = 2 if bidirectional).
        vocab_size + embedding_dim: token inputs (B, T) embedded to embedding_dim; or
        input_size (+ optional embedding_dim): real features (B, T, input_size), projected to
            embedding_dim when it is given.
        dropout: on the layer's input and between layers (as torch.nn.LSTM's dropout).
        layer_kwargs: passed to the layer (``impl``, ``proj_size``, ``periods``, ``nonlinearity``,
            ``reset_after``, ``bias``); anything else is a ValueError.

    ``output_size`` is D*S with S = proj_size or hidden_size.
    """

    def __init__(
        self,
        *,
        cell: str,
        hidden_size: int,
        vocab_size: int | None = None,
        input_size: int | None = None,
        embedding_dim: int | None = None,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        **layer_kwargs,
    ):
        super().__init__()
        check_layer_kwargs(cell, layer_kwargs, owned=("num_layers", "bidirectional", "dropout"))
        self.dropout = check_dropout(dropout)
        self.inputs = InputLayer(
            vocab_size=vocab_size, input_size=input_size, embedding_dim=embedding_dim
        )
        self.layer = make_layer(
            cell,
            self.inputs.output_size,
            hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
            batch_first=True,
            **layer_kwargs,
        )
        self.num_directions = 2 if bidirectional else 1
        self.output_size = self.num_directions * (layer_kwargs.get("proj_size") or hidden_size)

    def forward(self, inputs: Tensor, lengths=None) -> Tensor:
        """(B, T) ids or (B, T, input_size) features → (B, T, D*S); padded steps output zeros."""
        x = F.dropout(self.inputs(inputs), self.dropout, self.training)
        output, _ = self.layer(x, lengths=lengths)
        return output
