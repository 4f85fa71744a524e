"""recur: recurrent neural networks for PyTorch on one fused, hand-derived BPTT engine.

Layers are drop-in for torch.nn.LSTM / GRU / RNN (same arguments, parameter names, shapes) and
add the rest of the recurrent family on the same engines.
"""

from recur import export, init
from recur.diagnostics import GradientTracker, gradient_flow, jacobian_spectrum
from recur.engine import engine_info
from recur.layers.cifg import CIFGLSTM
from recur.layers.clockwork import ClockworkRNN
from recur.layers.elman import ElmanRNN
from recur.layers.gru import GRU
from recur.layers.layernorm_lstm import LayerNormLSTM
from recur.layers.lstm import LSTM
from recur.layers.peephole import PeepholeLSTM
from recur.reservoir import EchoStateNetwork, ESNLayer
from recur.state import StateCarry, detach_state, reset_rows

__all__ = [
    "CIFGLSTM",
    "GRU",
    "LSTM",
    "ClockworkRNN",
    "ESNLayer",
    "EchoStateNetwork",
    "ElmanRNN",
    "LayerNormLSTM",
    "PeepholeLSTM",
    "GradientTracker",
    "StateCarry",
    "detach_state",
    "engine_info",
    "reset_rows",
    "gradient_flow",
    "jacobian_spectrum",
    "export",
    "init",
]
