"""recur.ElmanRNN: drop-in for torch.nn.RNN (the seeds' vanilla RNN), on recur's engines."""

from __future__ import annotations

from recur.cells.base import Cell
from recur.cells.elman import ElmanCell
from recur.layers.base import RecurrentLayer


class ElmanRNN(RecurrentLayer):
    """Multi-layer Elman RNN with torch.nn.RNN's arguments, parameters and shapes (see ElmanCell).

    Further keyword-only options (``init``, ``init_options``) go to RecurrentLayer;
    ``init="identity"`` with ``nonlinearity="relu"`` is the IRNN (Le et al. 2015).
    Regularisation inside the recurrence (see RecurrentLayer): ``recurrent_dropout`` on the
    h_{t-1} that W_hh reads, ``zoneout`` on h, ``weight_drop`` on W_hh.

    Example::

        rnn = recur.ElmanRNN(10, 20, nonlinearity="relu")
        output, h = rnn(torch.randn(5, 3, 10))   # output (5, 3, 20), h (1, 3, 20)
        rnn = recur.ElmanRNN(10, 20, zoneout=0.1)   # eval(): h_t = 0.1 h_{t-1} + 0.9 h̃_t
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
        *,
        impl: str = "fused",
        **options,
    ):
        self.nonlinearity = nonlinearity
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
        return ElmanCell(input_size, self.hidden_size, self.bias, self.nonlinearity)
