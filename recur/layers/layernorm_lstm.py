"""recur.LayerNormLSTM: an LSTM with layer-normalised gates and cell state, on recur's engines."""

from __future__ import annotations

from recur.cells.base import Cell
from recur.cells.layernorm_lstm import LayerNormLSTMCell
from recur.layers.base import RecurrentLayer


class LayerNormLSTM(RecurrentLayer):
    """Multi-layer layer-normalised LSTM with torch.nn.LSTM's arguments (see LayerNormLSTMCell).

    Parameters are torch.nn.LSTM's four per layer and direction plus the LayerNorm gains and bias
    ``ln_weight_ih_l{k}``, ``ln_weight_hh_l{k}`` (4*hidden_size,), ``ln_weight_c_l{k}`` and
    ``ln_bias_c_l{k}`` (hidden_size,), so torch.nn.LSTM's state_dict loads with strict=False.
    Regularisation inside the recurrence as RecurrentLayer's: ``recurrent_dropout`` masks the
    h_{t-1} whose product W_hh h_{t-1} is normalised, ``zoneout`` blends h and c after the cell
    state's normalisation, ``weight_drop`` masks W_hh.

    Example::

        lstm = recur.LayerNormLSTM(10, 20, num_layers=2, batch_first=True)
        output, (h, c) = lstm(torch.randn(3, 5, 10))   # output (3, 5, 20), h and c (2, 3, 20)
    """

    def make_cell(self, input_size: int) -> Cell:
        return LayerNormLSTMCell(input_size, self.hidden_size, self.bias)
