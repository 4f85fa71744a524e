"""recur.LSTM: drop-in for torch.nn.LSTM, on recur's engines."""

from __future__ import annotations

import torch
from torch import Tensor

from recur.cells.base import Cell, State
from recur.cells.lstm import LSTMCell
from recur.layers.base import RecurrentLayer
from recur.layers.checks import check_positive_int


class LSTM(RecurrentLayer):
    """Multi-layer LSTM with torch.nn.LSTM's arguments, parameters and shapes (see LSTMCell).

    ``proj_size > 0`` projects h to that size (h and the output have size proj_size). Further
    keyword-only options (``init``, ``init_options``, ``forget_bias``) go to RecurrentLayer.

    Regularisation inside the recurrence (see RecurrentLayer): ``recurrent_dropout`` masks the
    h_{t-1} that W_hh reads (of size proj_size when projecting), ``zoneout`` acts on h and on c
    with independent masks, ``weight_drop`` on W_hh.

    With the default ``impl="fused"``, a call that needs nothing of recur's own — no gradient,
    float32 on the CPU, full-length sequences, no projection, no regulariser or dropout acting —
    and where oneDNN is the faster (hidden_size >= 128, batch > 1) runs torch's oneDNN LSTM
    (``torch.lstm``) on the same weights, the same equations. ``impl="native"`` always runs
    recur's engine.

    Example::

        lstm = recur.LSTM(10, 20, num_layers=2, batch_first=True)
        output, (h, c) = lstm(torch.randn(3, 5, 10))   # output (3, 5, 20), h and c (2, 3, 20)
        awd = recur.LSTM(10, 20, weight_drop=0.5, zoneout=0.1)   # regularised in training
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
        *,
        impl: str = "fused",
        **options,
    ):
        check_positive_int("hidden_size", hidden_size)
        self.proj_size = check_positive_int("proj_size", proj_size, minimum=0)
        if proj_size >= hidden_size:
            raise ValueError(
                f"proj_size: expected less than hidden_size={hidden_size}, got {proj_size}"
            )
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device,
            dtype,
            impl=impl,
            **options,
        )

    def make_cell(self, input_size: int) -> Cell:
        return LSTMCell(input_size, self.hidden_size, self.bias, self.proj_size)

    def uses_torch_lstm(self, x: Tensor, state0: State, lengths) -> bool:
        """Whether this call runs torch's oneDNN LSTM (see the class docstring)."""
        if self.impl != "fused" or lengths is not None or self.proj_size:
            return False
        if x.dtype != torch.float32 or x.device.type != "cpu":
            return False
        # measured on 2 cores (benchmarks.rnn, inference tokens/s, oneDNN / native): 1.21 at
        # (B, H) = (64, 128), 1.59 at (32, 256), 1.28 at (128, 512); 0.83 at (16, 64) and 0.51
        # at (1, 32), where the native loop's lower per-step overhead wins
        if self.hidden_size < 128 or x.shape[1] == 1:
            return False
        if self.training and (self.dropout or self.recurrent_dropout or self.weight_drop):
            return False
        if self.zoneout:  # also in eval: the blend with the previous state
            return False
        needs_grad = (
            x.requires_grad
            or any(s.requires_grad for s in state0)
            or any(p.requires_grad for p in self.parameters())
        )
        return not (torch.is_grad_enabled() and needs_grad)

    def _run_stack(self, x: Tensor, state0: State, lengths, valid) -> tuple[Tensor, State]:
        if not self.uses_torch_lstm(x, state0, lengths):
            return super()._run_stack(x, state0, lengths, valid)
        names = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if self.bias else ())
        weights = [
            getattr(self, f"{name}_l{layer}{suffix}")
            for layer in range(self.num_layers)
            for suffix in self._suffixes()
            for name in names
        ]
        output, h, c = torch.lstm(
            x, state0, weights, self.bias, self.num_layers, 0.0, False, self.bidirectional, False
        )
        return output, (h, c)
