"""recur.PeepholeLSTM: an LSTM whose gates also read the cell state, on recur's engines."""

from __future__ import annotations

from recur.cells.base import Cell
from recur.cells.peephole import PeepholeLSTMCell
from recur.layers.base import RecurrentLayer


class PeepholeLSTM(RecurrentLayer):
    """Multi-layer peephole LSTM with torch.nn.LSTM's arguments (see PeepholeLSTMCell).

    Parameters are torch.nn.LSTM's four per layer and direction plus the peephole vectors
    ``weight_pi_l{k}``, ``weight_pf_l{k}``, ``weight_po_l{k}`` (shape (hidden_size,)).
    Regularisation inside the recurrence as RecurrentLayer's: ``zoneout`` blends h and c (the
    peepholes read the blended c_{t-1} and the cell's own c̃_t), ``recurrent_dropout`` and
    ``weight_drop`` act on h_{t-1} and W_hh only.

    Example::

        lstm = recur.PeepholeLSTM(10, 20, num_layers=2, batch_first=True)
        output, (h, c) = lstm(torch.randn(3, 5, 10))   # output (3, 5, 20), h and c (2, 3, 20)
    """

    def make_cell(self, input_size: int) -> Cell:
        return PeepholeLSTMCell(input_size, self.hidden_size, self.bias)
