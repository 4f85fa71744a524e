"""recur.ClockworkRNN: modules of hidden units ticking at their own periods, on recur's engines."""

from __future__ import annotations

from recur.cells.base import Cell
from recur.cells.clockwork import ClockworkCell, check_periods
from recur.cells.elman import NONLINEARITIES
from recur.layers.base import RecurrentLayer
from recur.layers.checks import check_positive_int


class ClockworkRNN(RecurrentLayer):
    """Multi-layer Clockwork RNN with torch.nn.RNN's parameters and shapes (see ClockworkCell).

    Keyword-only options: ``periods`` (default None: 1, 2, 4, 8 when 4 divides hidden_size, else
    3, 2 or 1 modules; an int g: the first g powers of two; or a strictly increasing sequence of
    positive ints whose length divides hidden_size) and ``nonlinearity`` ("tanh" or "relu").
    ``weight_hh_l{k}`` is block upper triangular; its masked blocks stay exactly zero. ``step``
    takes the step index t, on which the schedule depends. Further keyword-only options
    (``init``, ``init_options``) go to RecurrentLayer.
    takes the step index t, on which the schedule depends. Regularisation inside the recurrence
    (see RecurrentLayer): ``recurrent_dropout`` masks the h_{t-1} that W_hh reads (idle modules
    carry the undropped state), ``zoneout`` blends h after the schedule, ``weight_drop`` masks the
    block-triangular W_hh (its zero blocks stay zero).

    Example::

        rnn = recur.ClockworkRNN(10, 24, periods=(1, 2, 4, 8), batch_first=True)
        output, h = rnn(torch.randn(3, 16, 10))   # output (3, 16, 24), h (1, 3, 24)
        y, h = rnn.step(torch.randn(3, 10), h, t=16)   # module k updates when t % periods[k] == 0
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
        device=None,
        dtype=None,
        *,
        periods=None,
        nonlinearity: str = "tanh",
        impl: str = "fused",
        **options,
    ):
        check_positive_int("hidden_size", hidden_size)
        self.periods = check_periods(periods, hidden_size)
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(
                f"nonlinearity: expected one of {NONLINEARITIES}, got {nonlinearity!r}"
            )
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
        return ClockworkCell(
            input_size, self.hidden_size, self.bias, self.nonlinearity, self.periods
        )

    def extra_repr(self) -> str:
        text = super().extra_repr() + f", periods={self.periods}"
        if self.nonlinearity != "tanh":
            text += f", nonlinearity={self.nonlinearity!r}"
        return text
