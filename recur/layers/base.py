"""The torch-compatible layer front shared by every cell: parameters, shapes, stacking, directions.

A layer holds the parameters of ``num_layers x num_directions`` copies of one cell under torch's
names (``weight_ih_l{k}[_reverse]`` ...), so a torch.nn.LSTM/GRU/RNN ``state_dict`` loads
unchanged. ``forward`` converts once to the engine's time-major layout, runs each layer and
direction through the chosen engine (:mod:`recur.engine`), and converts back.

Shapes (N batch, L sequence length, D = 2 if bidirectional else 1, S = hidden or proj size):
    input   (L, N, H_in), (N, L, H_in) with ``batch_first``, (L, H_in) unbatched, or PackedSequence
    output  (L, N, D*S) (or batch first / unbatched / packed like the input)
    state   h of shape (num_layers*D, N, S), or (h, c) for the LSTM family, c of size H

Regularisation inside the recurrence (:mod:`recur.layers.regularisation`): the keyword-only
``recurrent_dropout``, ``zoneout`` and ``weight_drop`` act within each layer's time loop, on every
engine; ``dropout`` is torch's, between layers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from recur.cells.base import Cell, Params, State
from recur.engine import get_engine
from recur.engine.lengths import check_lengths, reverse_sequences, valid_mask
from recur.engine.native.linear import input_linear
from recur.engine.regularisation import apply_zoneout, step_params
from recur.init import check_scheme
from recur.init import init as init_parameters
from recur.layers.checks import (
    check_dropout,
    check_input,
    check_positive_int,
    check_state,
    check_tensor_like,
)
from recur.layers.regularisation import Regularisers


class RecurrentLayer(nn.Module):
    """Base of the public layers; subclasses choose the cell in :meth:`make_cell`.

    Arguments (as torch.nn.LSTM): input_size, hidden_size, num_layers, bias, batch_first,
    dropout (on the outputs of every layer but the last, in training), bidirectional, device,
    dtype; plus the keyword-only ``impl``: "fused" (hand-derived BPTT, default), "native",
    "python" or "reference" (autograd through the step equations, the specification), and the
    regularisers inside the recurrence, each a probability in [0, 1), 0 for off:

    * ``recurrent_dropout``: variational dropout on the h_{t-1} each recurrent product reads,
      W_hh (m ⊙ h_{t-1}) / (1-p), one Bernoulli mask m (N, S) per sequence, layer and direction
      (Gal & Ghahramani 2016); training only.
    * ``zoneout``: h_t = d_t ⊙ h_{t-1} + (1-d_t) ⊙ h̃_t for h and, in the LSTM family, c, with
      d_t ~ Bernoulli(p) per unit and step in training (Krueger et al. 2017), and the expectation
      h_t = p h_{t-1} + (1-p) h̃_t in evaluation. h̃_t is the cell's step; the output is h_t.
    * ``weight_drop``: DropConnect on W_hh, one mask per forward in training, kept weights scaled
      by 1/(1-p) (Merity et al. 2018); applied before the engine, its gradient is autograd's.

    Recurrent dropout and zoneout run inside every engine's time loop, with the fused engines'
    hand-derived backward. Masks come from torch's RNG (``torch.manual_seed`` reproduces them);
    evaluation is deterministic. :meth:`step` treats each call as a sequence of one step: in
    training it draws fresh recurrent-dropout and weight-drop masks at every call.

    Initialisation (:mod:`recur.init`): ``init`` names a scheme ("default", "orthogonal",
    "identity", "xavier", "chrono"; None: torch.nn's default), ``init_options`` its options (e.g.
    ``{"t_max": 100}`` for chrono), ``forget_bias`` the forget-gate bias of gated cells;
    :meth:`reset_parameters` applies them again.
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
        impl: str = "fused",
        init: str | None = None,
        init_options: dict | None = None,
        forget_bias: float | None = None,
        recurrent_dropout: float = 0.0,
        zoneout: float = 0.0,
        weight_drop: float = 0.0,
    ):
        super().__init__()
        self.init, self.forget_bias = init, forget_bias
        self.init_options = {} if init_options is None else init_options
        check_scheme(init, self.init_options, forget_bias, arg="init", options_arg="init_options")
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = check_dropout(dropout)
        self.bidirectional = bool(bidirectional)
        self.impl = impl
        get_engine(impl)  # validates impl early
        self.regularisers = Regularisers(recurrent_dropout, zoneout, weight_drop)
        self.cells: list[Cell] = []
        factory = {"device": device, "dtype": dtype}
        for layer in range(self.num_layers):
            layer_input = (
                self.input_size if layer == 0 else self.num_directions * self.cells[0].output_size
            )
            cell = self.make_cell(layer_input)
            self.cells.append(cell)
            for suffix in self._suffixes():
                for name, shape in cell.parameter_shapes().items():
                    param = nn.Parameter(torch.empty(shape, **factory))
                    self.register_parameter(f"{name}_l{layer}{suffix}", param)
        self.reset_parameters()

    # ------------------------------------------------------------------ structure
    def make_cell(self, input_size: int) -> Cell:
        raise NotImplementedError

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def recurrent_dropout(self) -> float:
        return self.regularisers.recurrent_dropout

    @property
    def zoneout(self) -> float:
        return self.regularisers.zoneout

    @property
    def weight_drop(self) -> float:
        return self.regularisers.weight_drop

    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    def cell_params(self, layer: int, direction: int = 0) -> Params:
        """The parameters of one layer and direction, keyed by their suffix-free names."""
        suffix = f"_l{layer}{self._suffixes()[direction]}"
        return {n: getattr(self, n + suffix) for n in self.cells[layer].parameter_shapes()}

    def reset_parameters(self) -> None:
        """torch.nn's default draw; with ``init`` or ``forget_bias``, recur.init's scheme."""
        if self.init is not None or self.forget_bias is not None:
            scheme = self.init or "default"
            init_parameters(self, scheme, forget_bias=self.forget_bias, **self.init_options)
            return
        for layer, cell in enumerate(self.cells):
            for direction in range(self.num_directions):
                cell.reset_parameters(self.cell_params(layer, direction))

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        for name, default in (
            ("num_layers", 1),
            ("bias", True),
            ("batch_first", False),
            ("dropout", 0.0),
            ("bidirectional", False),
            ("impl", "fused"),
            ("recurrent_dropout", 0.0),
            ("zoneout", 0.0),
            ("weight_drop", 0.0),
        ):
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)!r}"
        return text

    # ------------------------------------------------------------------ forward
    def flatten_parameters(self) -> None:
        """No-op kept for drop-in use: recur's engines need no flat weight buffer."""

    def forward(self, input, state=None, lengths=None, *, hx=None):
        """Run the layer over a batch of sequences.

        Arguments:
            input: see the module docstring; a PackedSequence carries its own lengths.
            state: initial state (zeros when None), torch's shapes; ``hx=`` is torch's name for it.
            lengths: optional (N,) ints in 1..L: valid steps of each padded sequence. Padded steps
                leave the state unchanged, output zeros and receive no gradient.
        Returns:
            ``(output, state)`` where state holds each sequence's last valid step.
        """
        if hx is not None:
            if state is not None:
                raise ValueError("hx: give the initial state as state or as hx, not both")
            state = hx
        ref = self.weight_hh_l0
        packed = isinstance(input, PackedSequence)
        if packed:
            if lengths is not None:
                raise ValueError(
                    "lengths: must be None for a PackedSequence input (it has its own)"
                )
            x, lengths = pad_packed_sequence(input)
            packed_lengths = lengths
            check_tensor_like("input", x, ref.dtype, ref.device)
            unbatched = False
        else:
            check_input(input, self.input_size, ref.dtype, ref.device)
            unbatched = input.dim() == 2
            x = input.unsqueeze(1) if unbatched else input
            if self.batch_first and not unbatched:
                x = x.transpose(0, 1)
        steps, batch = x.shape[0], x.shape[1]
        if packed and x.shape[2] != self.input_size:
            raise ValueError(
                f"input: expected feature size input_size={self.input_size}, got {x.shape[2]}"
            )
        if lengths is not None:
            lengths = check_lengths(lengths, batch, steps)
        valid = None if lengths is None else valid_mask(lengths, steps, x.device)
        if valid is None:
            lengths = None  # every sequence is full length: no masking needed
        state0 = self._initial_state(state, batch, unbatched, x)

        output, final = self._run_stack(x, state0, lengths, valid)

        if packed:
            output = _repack(output, packed_lengths, input)
        elif unbatched:
            output = output.squeeze(1)
            final = tuple(s.squeeze(1) for s in final)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, final[0] if len(final) == 1 else final

    def _initial_state(self, state, batch: int, unbatched: bool, x: Tensor) -> State:
        cell = self.cells[0]
        count = self.num_layers * self.num_directions
        if state is None:
            return tuple(x.new_zeros(count, batch, size) for size in cell.state_sizes())
        shapes = [
            (count, size) if unbatched else (count, batch, size) for size in cell.state_sizes()
        ]
        state = check_state(state, cell.state_names, shapes, x.dtype, x.device)
        return tuple(s.unsqueeze(1) for s in state) if unbatched else state

    def _run_stack(self, x: Tensor, state0: State, lengths, valid) -> tuple[Tensor, State]:
        engine = get_engine(self.impl)
        linear = input_linear(self.impl, x)
        regularisers, training = self.regularisers, self.training
        finals: list[State] = []
        for layer, cell in enumerate(self.cells):
            outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                params = self.cell_params(layer, direction)
                inp = x if direction == 0 else reverse_sequences(x, lengths)
                xp = cell.project_input(inp, params, linear)
                start = tuple(s[index] for s in state0)
                recurrent = regularisers.drop_weights(cell.recurrent_params(params), training)
                reg = regularisers.draw(start, training)
                out, final = engine(cell, recurrent, xp, start, valid, reg)
                outputs.append(out if direction == 0 else reverse_sequences(out, lengths))
                finals.append(final)
            x = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        state = tuple(torch.stack(parts) for parts in zip(*finals))
        return x, state

    # ------------------------------------------------------------------ one step
    def step(self, x_t: Tensor, state=None, t: int = 0):
        """Advance a unidirectional layer by one step; same numbers as the sequence call.

        Arguments:
            x_t: (N, H_in) input at this step.
            state: as for :meth:`forward` (zeros when None).
            t: index of this step counting from 0 (only ClockworkRNN's schedule depends on it).
        Returns:
            ``(y_t, state)`` with y_t of shape (N, S).
        """
        if self.bidirectional:
            raise ValueError("step: needs a unidirectional layer (bidirectional=False)")
        ref = self.weight_hh_l0
        if not isinstance(x_t, Tensor) or x_t.dim() != 2 or x_t.shape[1] != self.input_size:
            shape = tuple(x_t.shape) if isinstance(x_t, Tensor) else type(x_t).__name__
            raise ValueError(f"x_t: expected shape (N, {self.input_size}), got {shape}")
        check_tensor_like("x_t", x_t, ref.dtype, ref.device)
        state = self._initial_state(state, x_t.shape[0], False, x_t)
        y, finals = x_t, []
        for layer, cell in enumerate(self.cells):
            params = self.cell_params(layer)
            xp = cell.project_input(y.unsqueeze(0), params)[0]
            start = tuple(s[layer] for s in state)
            recurrent = self.regularisers.drop_weights(cell.recurrent_params(params), self.training)
            reg = self.regularisers.draw(start, self.training)
            new, _ = cell.step(xp, start, step_params(recurrent, reg), t)
            if reg is not None and reg.has_zoneout:
                new = apply_zoneout(new, start, reg.keeps(1, start)[0])
            finals.append(new)
            y = new[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                y = F.dropout(y, self.dropout, training=True)
        final = tuple(torch.stack(parts) for parts in zip(*finals))
        return y, final[0] if len(final) == 1 else final


def _repack(output: Tensor, lengths: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack ``output`` (L, N, ·) with the same batch order and sizes as the input ``like``."""
    if like.sorted_indices is not None:
        order = like.sorted_indices
        output, lengths = output.index_select(1, order), lengths[order.cpu()]
    data = pack_padded_sequence(output, lengths, enforce_sorted=True).data
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)
