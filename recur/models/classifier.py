"""N→1: a sequence classifier — recurrent outputs pooled over the valid steps, then logits.

Shapes (B batch, T steps, K classes, D = 2 if bidirectional, S the layer's output size):
    inputs   (B, T) int64 token ids, or (B, T, input_size) real features
    lengths  optional (B,) ints in 1..T: valid steps of each end-padded sequence
    logits   (B, K)

Equations: o_1..o_T = RNN(x_1..x_T);  z = pool(o, lengths) ∈ R^{D*S};  logits = W z + b.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from recur.layers.checks import check_positive_int
from recur.models.backbone import RecurrentBackbone
from recur.models.checks import check_choice
from recur.models.pooling import POOLINGS, pool


class SequenceClassifier(nn.Module):
    """Classifies whole sequences of tokens or real-valued features.

    Arguments:
        num_classes: K.
        vocab_size + embedding_dim (token ids) or input_size (+ optional embedding_dim, a linear
            projection of real features): the input side, see :class:`RecurrentBackbone`.
        cell, hidden_size, num_layers, bidirectional, dropout, layer_kwargs: the recurrent stack;
            dropout also applies before the output layer.
        pooling: "last" (the forward direction's own last valid step, joined by the backward
            direction's output at step 0 when bidirectional: each direction's whole-sequence
            summary), "mean" or "max" over the valid steps.

    Example::

        model = SequenceClassifier(2, vocab_size=12, embedding_dim=16, cell="gru", hidden_size=32)
        logits = model(ids, lengths)                  # ids (B, T) -> (B, 2)
        loss = torch.nn.functional.cross_entropy(logits, labels)
    """

    def __init__(
        self,
        num_classes: int,
        *,
        vocab_size: int | None = None,
        input_size: int | None = None,
        embedding_dim: int | None = None,
        cell: str = "lstm",
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        pooling: str = "last",
        **layer_kwargs,
    ):
        super().__init__()
        check_positive_int("num_classes", num_classes)
        self.pooling = check_choice("pooling", pooling, POOLINGS)
        self.backbone = RecurrentBackbone(
            cell=cell,
            hidden_size=hidden_size,
            vocab_size=vocab_size,
            input_size=input_size,
            embedding_dim=embedding_dim,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
            **layer_kwargs,
        )
        self.head = nn.Linear(self.backbone.output_size, num_classes)

    def forward(self, inputs: Tensor, lengths=None) -> Tensor:
        """Logits (B, K) of each sequence; padded steps are never read."""
        output = self.backbone(inputs, lengths)
        summary = pool(output, lengths, self.pooling, self.backbone.num_directions)
        return self.head(F.dropout(summary, self.backbone.dropout, self.training))
