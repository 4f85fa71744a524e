"""recur.LSTM: drop-in for torch.nn.LSTM, on recur's engines."""

from __future__ import annotations

from recur.cells.base import Cell
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
