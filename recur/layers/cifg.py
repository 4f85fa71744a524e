"""recur.CIFGLSTM: an LSTM with coupled input and forget gates (f = 1 - i), on recur's engines."""

from __future__ import annotations

from recur.cells.base import Cell
from recur.cells.cifg import CIFGLSTMCell
from recur.layers.base import RecurrentLayer


class CIFGLSTM(RecurrentLayer):
    """Multi-layer CIFG LSTM with torch.nn.LSTM's arguments (see CIFGLSTMCell).

    Three gates (i, g, o): ``weight_ih_l{k}`` is (3*hidden_size, ·), no forget-gate weights.
    Regularisation inside the recurrence as RecurrentLayer's (``zoneout`` blends h and c).

    Example::

        lstm = recur.CIFGLSTM(10, 20, num_layers=2, batch_first=True)
        output, (h, c) = lstm(torch.randn(3, 5, 10))   # output (3, 5, 20), h and c (2, 3, 20)
    """

    def make_cell(self, input_size: int) -> Cell:
        return CIFGLSTMCell(input_size, self.hidden_size, self.bias)
