"""recur: recurrent neural networks for PyTorch on one fused, hand-derived BPTT engine."""

from recur.layers.elman import ElmanRNN
from recur.layers.lstm import LSTM

__all__ = ["LSTM", "ElmanRNN"]
