"""N→N: a sequence tagger — one label per step, read from that step's recurrent output.

Shapes (B batch, T steps, K tags, D = 2 if bidirectional, S the layer's output size):
    inputs   (B, T) int64 token ids, or (B, T, input_size) real features
    lengths  optional (B,) ints in 1..T: valid steps of each end-padded sequence
    logits   (B, T, K); rows of padded steps are meaningless and left out of :meth:`loss`
    tags     (B, T) ints in [0, K); padded steps may hold anything when ``lengths`` is given,
             or IGNORE_INDEX (-100, torch's cross-entropy convention) to be skipped

Equations: o_1..o_T = RNN(x_1..x_T) (both directions side by side when bidirectional);
logits_t = W o_t + b.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from recur.layers.checks import check_positive_int
from recur.models.backbone import RecurrentBackbone
from recur.models.pooling import masked_cross_entropy


class SequenceTagger(nn.Module):
    """Labels every step of sequences of tokens or real-valued features.

    Arguments:
        num_tags: K.
        vocab_size + embedding_dim (token ids) or input_size (+ optional embedding_dim, a linear
            projection of real features): the input side, see :class:`RecurrentBackbone`.
        cell, hidden_size, num_layers, bidirectional, dropout, layer_kwargs: the recurrent stack;
            dropout also applies before the output layer.

    Example::

        model = SequenceTagger(5, vocab_size=100, embedding_dim=32, bidirectional=True)
        logits = model(ids, lengths)                  # ids (B, T) -> (B, T, 5)
        loss = model.loss(logits, tags, lengths)      # mean over valid steps only
    """

    def __init__(
        self,
        num_tags: int,
        *,
        vocab_size: int | None = None,
        input_size: int | None = None,
        embedding_dim: int | None = None,
        cell: str = "lstm",
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        **layer_kwargs,
    ):
        super().__init__()
        self.num_tags = check_positive_int("num_tags", num_tags)
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
        self.head = nn.Linear(self.backbone.output_size, num_tags)

    def forward(self, inputs: Tensor, lengths=None) -> Tensor:
        """Logits (B, T, K) of every step."""
        output = self.backbone(inputs, lengths)
        return self.head(F.dropout(output, self.backbone.dropout, self.training))

    def loss(self, logits: Tensor, tags: Tensor, lengths=None) -> Tensor:
        """Mean cross entropy over the valid steps (within ``lengths``, tag != -100)."""
        return masked_cross_entropy(logits, tags, lengths, name="tags")
