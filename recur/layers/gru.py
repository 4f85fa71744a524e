"""recur.GRU: drop-in for torch.nn.GRU, on recur's engines."""

from __future__ import annotations

from recur.cells.base import Cell
from recur.cells.gru import GRUCell
from recur.layers.base import RecurrentLayer


class GRU(RecurrentLayer):
    """Multi-layer GRU with torch.nn.GRU's arguments, parameters and shapes (see GRUCell).

    ``reset_after=True`` (default) is torch.nn.GRU exactly; ``reset_after=False`` applies the
    reset gate before the recurrent product, as Cho et al. 2014 (same parameters and shapes).
    Further keyword-only options (``init``, ``init_options``, ``forget_bias``) go to
    RecurrentLayer.

    Regularisation inside the recurrence (see RecurrentLayer): ``recurrent_dropout`` masks the
    h_{t-1} of every W_hh product (reset before: W_hn reads r ⊙ m ⊙ h_{t-1}); the carry
    z ⊙ h_{t-1} reads the undropped state. ``zoneout`` blends h, ``weight_drop`` masks W_hh.

    Example::

        gru = recur.GRU(10, 20, num_layers=2, batch_first=True)
        output, h = gru(torch.randn(3, 5, 10))   # output (3, 5, 20), h (2, 3, 20)
        gru = recur.GRU(10, 20, recurrent_dropout=0.25)   # one mask per sequence, in training
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
        reset_after: bool = True,
        impl: str = "fused",
        **options,
    ):
        self.reset_after = bool(reset_after)
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
        return GRUCell(input_size, self.hidden_size, self.bias, self.reset_after)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.reset_after else text + ", reset_after=False"
