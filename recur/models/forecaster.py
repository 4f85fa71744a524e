r"""Window → future values: a recurrent encoder of the lookback window and a linear head.

Shapes (B batch, L lookback steps, C columns, K steps predicted at once):
    window    (B, L, C) real values (standardised by the caller)
    forecast  (B, K, C)

Equations: :math:`o_1..o_L = \mathrm{RNN}(x_1..x_L)`;
:math:`\hat y_{L+k} = x_L + (W o_L + b)_k` for k = 1..K. The head predicts the change from the
last observed value, so that an untrained model starts as the naive forecast; the bidirectional
summary joins the backward direction's output at step 1 (see :func:`recur.models.pooling.pool`).

K = H predicts the whole horizon at once ("direct"); K = 1 predicts one step, and
:func:`forecast` feeds each prediction back into the window H times ("autoregressive"). Any
module with an ``output_steps`` attribute and this ``forward`` can be rolled out that way.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur.layers.checks import check_positive_int
from recur.models.backbone import RecurrentBackbone
from recur.models.pooling import pool


class RecurrentForecaster(nn.Module):
    """Forecasts the next ``output_steps`` values of C real-valued columns from a window.

    Arguments:
        input_size: C, the columns (read and predicted).
        output_steps: K, the steps predicted at once.
        cell, hidden_size, num_layers, bidirectional, dropout, embedding_dim, layer_kwargs: the
            recurrent encoder (see :class:`recur.models.backbone.RecurrentBackbone`); dropout
            also applies before the head.

    Example::

        model = RecurrentForecaster(2, 12, cell="gru", hidden_size=32)
        future = model(torch.randn(8, 48, 2))           # (8, 12, 2)
        loss = torch.nn.functional.mse_loss(future, targets)
    """

    def __init__(
        self,
        input_size: int,
        output_steps: int,
        *,
        cell: str = "lstm",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        embedding_dim: int | None = None,
        **layer_kwargs,
    ):
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        self.output_steps = check_positive_int("output_steps", output_steps)
        self.backbone = RecurrentBackbone(
            cell=cell,
            hidden_size=hidden_size,
            input_size=input_size,
            embedding_dim=embedding_dim,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
            **layer_kwargs,
        )
        self.head = nn.Linear(self.backbone.output_size, output_steps * input_size)
        nn.init.zeros_(self.head.weight)  # start at the naive forecast (see the module docstring)
        nn.init.zeros_(self.head.bias)

    def forward(self, window: Tensor) -> Tensor:
        """(B, L, C) → (B, K, C): the next K values."""
        summary = pool(self.backbone(window), None, "last", self.backbone.num_directions)
        change = self.head(F.dropout(summary, self.backbone.dropout, self.training))
        return window[:, -1:, :] + change.view(len(window), self.output_steps, self.input_size)


def forecast(model: nn.Module, window: Tensor, horizon: int) -> Tensor:
    """(B, L, C) → (B, H, C): ``model``'s K-step outputs, each fed back into the window until H
    steps are predicted (one call when K >= H)."""
    lookback, parts, done = window.shape[1], [], 0
    while done < horizon:
        step = model(window)
        parts.append(step)
        done += step.shape[1]
        if done < horizon:
            window = torch.cat([window, step], dim=1)[:, -lookback:]
    return torch.cat(parts, dim=1)[:, :horizon]
