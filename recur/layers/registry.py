"""Layers by name: the one registry that models, the CLI and experiments select cells through."""

from __future__ import annotations

from recur.layers.base import RecurrentLayer
from recur.layers.cifg import CIFGLSTM
from recur.layers.clockwork import ClockworkRNN
from recur.layers.elman import ElmanRNN
from recur.layers.gru import GRU
from recur.layers.layernorm_lstm import LayerNormLSTM
from recur.layers.lstm import LSTM
from recur.layers.peephole import PeepholeLSTM

LAYERS: dict[str, type[RecurrentLayer]] = {
    "rnn": ElmanRNN,
    "lstm": LSTM,
    "gru": GRU,
    "peephole": PeepholeLSTM,
    "cifg": CIFGLSTM,
    "lnlstm": LayerNormLSTM,
    "clockwork": ClockworkRNN,
}


def layer_class(cell: str) -> type[RecurrentLayer]:
    """The layer class for a cell name ("rnn", "lstm", "gru", "peephole", "cifg", ...)."""
    if cell not in LAYERS:
        raise ValueError(f"cell: expected one of {sorted(LAYERS)}, got {cell!r}")
    return LAYERS[cell]


def make_layer(cell: str, input_size: int, hidden_size: int, **kwargs) -> RecurrentLayer:
    """Build the layer for ``cell`` with torch.nn.LSTM-style keyword arguments.

    Cell-specific options (``nonlinearity``, ``periods``, ``reset_after``, ``proj_size``) pass
    through to the layer that accepts them.

    Example::

        layer = make_layer("gru", 16, 32, num_layers=2, batch_first=True)
    """
    return layer_class(cell)(input_size, hidden_size, **kwargs)
