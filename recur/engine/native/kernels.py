"""Which C++ kernel runs which cell, with which parameters and options: one table.

A cell class maps to a kernel family (``torch.ops.recur_native.<family>_forward`` and
``_backward``, see ``csrc/ops.cpp``), the cell's recurrent parameters in the order the kernel
takes them (absent optional ones are passed as None), and the cell's options as integers and
reals. Only the exact classes listed run natively: a subclass may change the math, so it runs on
the Python engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from recur.cells import layernorm_lstm
from recur.cells.base import Cell
from recur.cells.cifg import CIFGLSTMCell
from recur.cells.clockwork import ClockworkCell
from recur.cells.elman import ElmanCell
from recur.cells.gru import GRUCell
from recur.cells.layernorm_lstm import LayerNormLSTMCell
from recur.cells.lstm import LSTMCell
from recur.cells.peephole import PeepholeLSTMCell

Options = tuple[list[int], list[float]]

# LSTM-family variants, as in csrc/lstm.cpp
LSTM, PEEPHOLE, CIFG = 0, 1, 2


@dataclass(frozen=True)
class Kernel:
    """A cell's native kernel: family, parameter order, and options(cell) -> (ints, reals)."""

    family: str
    params: tuple[str, ...]
    options: Callable[[Cell], Options]


def _elman_options(cell: ElmanCell) -> Options:
    # [relu, module size, *periods]: an Elman cell is a Clockwork cell with one module of
    # period 1, so both run the same kernel.
    return [int(cell.nonlinearity == "relu"), cell.hidden_size, 1], []


def _clockwork_options(cell: ClockworkCell) -> Options:
    return [int(cell.nonlinearity == "relu"), cell.module_size, *cell.periods], []


LSTM_PARAMS = ("weight_hh", "bias_hh", "weight_hr", "weight_pi", "weight_pf", "weight_po")
KERNELS: dict[type[Cell], Kernel] = {
    LSTMCell: Kernel("lstm", LSTM_PARAMS, lambda cell: ([LSTM], [])),
    PeepholeLSTMCell: Kernel("lstm", LSTM_PARAMS, lambda cell: ([PEEPHOLE], [])),
    CIFGLSTMCell: Kernel("lstm", LSTM_PARAMS, lambda cell: ([CIFG], [])),
    GRUCell: Kernel("gru", ("weight_hh", "bias_hh"), lambda cell: ([int(cell.reset_after)], [])),
    ElmanCell: Kernel("elman", ("weight_hh", "bias_hh"), _elman_options),
    ClockworkCell: Kernel("elman", ("weight_hh", "bias_hh"), _clockwork_options),
    LayerNormLSTMCell: Kernel(
        "lnlstm",
        ("weight_hh", "bias_hh", "ln_weight_hh", "ln_weight_c", "ln_bias_c"),
        lambda cell: ([], [layernorm_lstm.EPS]),
    ),
}


def kernel_for(cell: Cell) -> Kernel | None:
    """The native kernel of ``cell``, or None when its exact class has none."""
    return KERNELS.get(type(cell))
