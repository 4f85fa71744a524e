r"""Initialisations that decide whether a recurrent network trains.

Each function takes a recur layer (``recur.LSTM``, ``recur.GRU``, ``recur.ElmanRNN``, ...) or a
``torch.nn.LSTM`` / ``GRU`` / ``RNN``, changes its parameters in place (without recording
gradients) and returns the layer. Every layer and direction is treated alike, through torch's
parameters: W_ih = ``weight_ih_l{k}`` (G·H, H_in), W_hh = ``weight_hh_l{k}`` (G·H, S), b_ih and
b_hh (G·H,), made of G gate blocks of H rows in the cell's order: LSTM, peephole and
LayerNorm-LSTM (i, f, g, o); CIFG (i, g, o); GRU (r, z, n); Elman and Clockwork one block.

Gates and memory: a gated cell keeps a fraction κ of its state at each step, κ = f for the LSTM
family, 1 − i for CIFG and z for torch's GRU (h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}). With zero
weights κ = σ(b_κ) and a memory fades over about T = 1/(1 − κ) = 1 + e^{b_κ} steps. A bias set
here goes into b_ih and the same rows of b_hh are zeroed, so the sum the cell adds is the value.

Example::

    lstm = recur.LSTM(10, 64, init="chrono", init_options={"t_max": 784})
    rnn = recur.init.identity_(torch.nn.RNN(2, 100, nonlinearity="relu"))
    recur.init.init(gru, "orthogonal", forget_bias=1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from recur.cells.base import Cell, Params
from recur.cells.cifg import CIFGLSTMCell
from recur.cells.clockwork import ClockworkCell
from recur.cells.elman import ElmanCell
from recur.cells.gru import GRUCell
from recur.cells.layernorm_lstm import LayerNormLSTMCell
from recur.cells.lstm import LSTMCell
from recur.cells.peephole import PeepholeLSTMCell

__all__ = [
    "SCHEMES",
    "check_scheme",
    "chrono_",
    "forget_bias_",
    "identity_",
    "init",
    "orthogonal_",
    "xavier_input_",
]

#: scheme names accepted by :func:`init` and by every layer's ``init=``, with their options
SCHEMES: dict[str, tuple[str, ...]] = {
    "default": (),
    "orthogonal": ("gain",),
    "identity": ("scale",),
    "xavier": ("gain",),
    "chrono": ("t_max",),
}


# ---------------------------------------------------------------------- gate layouts
@dataclass(frozen=True)
class Layout:
    """The gate blocks of a cell, in row order, and which gate holds its memory."""

    gates: str  # one letter per block of H rows
    keep: str | None = None  # gate setting the fraction κ of the state kept
    coupled: bool = False  # κ = 1 - σ(a_keep) (CIFG's f = 1 - i) rather than σ(a_keep)
    write: str | None = None  # a separate gate letting new content in (the LSTM's i)


LSTM_LAYOUT = Layout("ifgo", keep="f", write="i")
GRU_LAYOUT = Layout("rzn", keep="z")
ONE_BLOCK = Layout("h")
CELL_LAYOUTS: tuple[tuple[type[Cell], Layout], ...] = (
    (LSTMCell, LSTM_LAYOUT),
    (PeepholeLSTMCell, LSTM_LAYOUT),
    (LayerNormLSTMCell, LSTM_LAYOUT),
    (CIFGLSTMCell, Layout("igo", keep="i", coupled=True)),
    (GRUCell, GRU_LAYOUT),
    (ElmanCell, ONE_BLOCK),
    (ClockworkCell, ONE_BLOCK),
)
TORCH_LAYOUTS = {
    "LSTM": LSTM_LAYOUT,
    "GRU": GRU_LAYOUT,
    "RNN_TANH": ONE_BLOCK,
    "RNN_RELU": ONE_BLOCK,
}


@dataclass(frozen=True)
class Group:
    """The parameters of one layer and direction, keyed by their suffix-free torch names."""

    params: Params
    hidden_size: int
    layout: Layout
    kind: str  # the layer's class name, for messages
    cell: Cell | None = None  # None for torch.nn layers
    modules: int = 1  # Clockwork: W_hh is zero below its diagonal blocks of H/modules units

    def rows(self, gate: str) -> slice:
        k = self.layout.gates.index(gate)
        return slice(k * self.hidden_size, (k + 1) * self.hidden_size)


def groups(layer: nn.Module) -> list[Group]:
    """Every layer-direction of a recur layer or a torch.nn.LSTM / GRU / RNN."""
    from recur.layers.base import RecurrentLayer  # here: recur.layers.base imports this module

    kind = type(layer).__name__
    found = []
    if isinstance(layer, RecurrentLayer):
        for k, cell in enumerate(layer.cells):
            layout = next((lay for cls, lay in CELL_LAYOUTS if isinstance(cell, cls)), None)
            if layout is None:
                raise ValueError(f"layer: recur.init does not know the gates of {kind}'s cell")
            modules = len(cell.periods) if isinstance(cell, ClockworkCell) else 1
            for d in range(layer.num_directions):
                params = layer.cell_params(k, d)
                found.append(Group(params, cell.hidden_size, layout, kind, cell, modules))
    elif isinstance(layer, nn.RNNBase) and layer.mode in TORCH_LAYOUTS:
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
        for k in range(layer.num_layers):
            for suffix in ("", "_reverse") if layer.bidirectional else ("",):
                params = {n: getattr(layer, f"{n}_l{k}{suffix}", None) for n in names}
                params = {n: p for n, p in params.items() if p is not None}
                found.append(Group(params, layer.hidden_size, TORCH_LAYOUTS[layer.mode], kind))
    else:
        raise ValueError(
            f"layer: expected a recur recurrent layer or a torch.nn.LSTM, GRU or RNN, got {kind}"
        )
    return found


# ---------------------------------------------------------------------- schemes
def orthogonal_(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    r"""Orthogonal recurrent weights: each gate's block of W_hh is an orthogonal Q, QᵀQ = gain²·I.

    W_hh = [Q_1; ...; Q_G], each (H, S) block drawn separately by ``torch.nn.init.orthogonal_``
    (QR of a Gaussian matrix; orthonormal columns when S = proj_size < H). Every singular value
    of each gate's map h_{t-1} ↦ Q_k h_{t-1} is ``gain``, so in the near-linear regime it neither
    shrinks nor grows the state, nor the gradient flowing back through time (Saxe, McClelland &
    Ganguli 2014; Henaff, Szlam & LeCun 2016). Orthogonalising the whole (G·H, H) matrix instead
    would leave each gate a block with singular values spread around 1/√G.

    ClockworkRNN: each module's diagonal block is orthogonal and the blocks above it keep their
    values, so the block upper-triangular W_hh has every eigenvalue on the circle |λ| = gain; its
    masked blocks stay zero. All other parameters are unchanged.
    """
    gain = _number("gain", gain)
    with torch.no_grad():
        for group in groups(layer):
            w, h = group.params["weight_hh"], group.hidden_size
            if group.modules == 1:  # one (H, S) block per gate
                blocks = [(group.rows(gate), slice(None)) for gate in group.layout.gates]
            else:  # Clockwork: each module's diagonal block
                m = h // group.modules
                blocks = [(slice(k * m, (k + 1) * m),) * 2 for k in range(group.modules)]
            for rows, cols in blocks:
                w[rows, cols] = nn.init.orthogonal_(torch.empty_like(w[rows, cols]), gain)
    return layer


def identity_(layer: nn.Module, scale: float = 1.0) -> nn.Module:
    r"""IRNN (Le, Jaitly & Hinton 2015): W_hh = scale·I, b_ih = b_hh = 0, for Elman ReLU networks.

    At the start h_t = relu(W_ih x_t + scale·h_{t-1}): with scale 1 the state adds up its inputs
    and the gradient passes back through time unchanged on active units (∂h_t/∂h_{t-1} = I),
    so long memories are learnable from the first step; a scale below 1 makes the network forget,
    for tasks with short dependencies. Le et al. set both biases to zero, as here; W_ih keeps
    its values. Only for one-block cells (Elman, Clockwork: I is block diagonal, so the
    Clockwork mask holds); meant for ``nonlinearity="relu"``.
    """
    scale = _number("scale", scale)
    with torch.no_grad():
        for group in _one_block(groups(layer)):
            w = group.params["weight_hh"]
            w.copy_(scale * torch.eye(*w.shape, dtype=w.dtype, device=w.device))
            for name in ("bias_ih", "bias_hh"):
                if name in group.params:
                    group.params[name].zero_()
    return layer


def xavier_input_(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    r"""Glorot/Xavier-uniform input weights, gate by gate (Glorot & Bengio 2010).

    Each gate's (H, H_in) block of W_ih is drawn from U(−a, a), a = gain·√(6 / (H_in + H)),
    which keeps the variance of the projected input about that of the input (fan-in H_in, fan-out
    H per gate). torch.nn's default a = 1/√H ignores H_in, so a wide input gets a large
    pre-activation. LayerNorm-LSTM normalises W_ih x, so there only the direction matters.
    All other parameters are unchanged.
    """
    gain = _number("gain", gain)
    with torch.no_grad():
        for group in groups(layer):
            w, h = group.params["weight_ih"], group.hidden_size
            for k in range(len(group.layout.gates)):
                nn.init.xavier_uniform_(w[k * h : (k + 1) * h], gain)
    return layer


def forget_bias_(layer: nn.Module, value: float = 1.0) -> nn.Module:
    r"""Start a gated cell remembering: the forget gate's bias is ``value`` (Gers, Schmidhuber &
    Cummins 2000; 1 as recommended by Jozefowicz, Zaremba & Sutskever 2015).

    With zero weights the kept fraction is κ = σ(value) (0.73 for 1, against 0.5 at bias 0):
        LSTM, peephole, LayerNorm-LSTM   b_f = value                f = σ(value + ...)
        CIFG (f = 1 − i)                 b_i = −value               f = 1 − σ(−value + ...)
        GRU (torch's z is kept)          b_z = value                z = σ(value + ...)
    b_ih holds the value and b_hh is zeroed in those rows. In LayerNorm-LSTM b_ih is the shift
    after the input normalisation and b_hh is added after the recurrent one, so both add straight
    into the gate pre-activation. Needs ``bias=True`` and a gated cell; nothing else changes.
    """
    value = _number("value", value)
    with torch.no_grad():
        for group in _gated(groups(layer), "forget_bias_"):
            b_keep = -value if group.layout.coupled else value
            _set_bias(group, group.layout.keep, b_keep)
    return layer


def chrono_(layer: nn.Module, t_max: float) -> nn.Module:
    r"""Chrono initialisation (Tallec & Ollivier 2018): memory timescales spread over [2, T_max].

    One draw per unit u ~ U(1, T_max − 1) and
        b_f = log u,   b_i = −b_f
    so that with zero weights each unit forgets over T = 1/(1 − f) = 1 + u steps, uniform on
    [2, T_max], and lets in new content as fast as it forgets (i = 1 − f). Choose T_max as the
    longest dependency expected, e.g. the sequence length.
        LSTM, peephole, LayerNorm-LSTM   f rows b_f, i rows −b_f
        CIFG (f = 1 − i)                 i rows −b_f (the coupling already gives i = 1 − f)
        GRU                              z rows b_f: torch's z is the fraction kept and 1 − z
                                         the fraction written, which plays the LSTM's i
    (A GRU written with z as the write fraction, h ← (1 − z) h + z n, takes b_z = −log u.)
    b_ih holds the biases and b_hh is zeroed in those rows; the other parameters are unchanged.
    """
    t_max = _number("t_max", t_max)
    with torch.no_grad():
        for group in _gated(groups(layer), "chrono_"):
            u = group.params["bias_ih"].new_empty(group.hidden_size).uniform_(1.0, t_max - 1.0)
            b_keep = u.log_()
            _set_bias(group, group.layout.keep, -b_keep if group.layout.coupled else b_keep)
            if group.layout.write is not None:
                _set_bias(group, group.layout.write, -b_keep)
    return layer


def init(layer: nn.Module, scheme: str = "default", *, forget_bias=None, **options) -> nn.Module:
    r"""Re-initialise every parameter of ``layer`` by a named scheme; returns the layer.

    Each scheme draws torch.nn's default, then changes only what it names (options in brackets):

        default      every parameter U(−1/√H, 1/√H) (LayerNorm gains 1, shift 0), exactly as
                     torch.nn.LSTM / GRU / RNN and every recur layer draw them
        orthogonal   default, then each gate's block of W_hh orthogonal      (gain=1.0)
        identity     default, then W_hh = scale·I and biases 0 (IRNN)        (scale=1.0)
        xavier       default, then each gate's block of W_ih Glorot-uniform  (gain=1.0)
        chrono       default, then forget/input gate biases log U(1, T_max−1)  (t_max, required)

    ``forget_bias=v`` then applies :func:`forget_bias_` (with any scheme but chrono, which sets
    that bias itself). Errors name the argument and list the allowed values.

    Example::

        recur.init.init(lstm, "orthogonal", forget_bias=1.0)
        recur.init.init(gru, "chrono", t_max=200)
    """
    check_scheme(scheme, options, forget_bias)
    found = groups(layer)
    if scheme == "identity":  # fail before drawing anything
        _one_block(found)
    if scheme == "chrono" or forget_bias is not None:
        _gated(found, "chrono_" if scheme == "chrono" else "forget_bias_")
    if found[0].cell is None:
        layer.reset_parameters()
    else:
        for group in found:
            group.cell.reset_parameters(group.params)
    if scheme == "orthogonal":
        orthogonal_(layer, **options)
    elif scheme == "identity":
        identity_(layer, **options)
    elif scheme == "xavier":
        xavier_input_(layer, **options)
    elif scheme == "chrono":
        chrono_(layer, **options)
    if forget_bias is not None:
        forget_bias_(layer, forget_bias)
    return layer


def check_scheme(
    scheme: str | None,
    options: dict,
    forget_bias=None,
    *,
    arg: str = "scheme",
    options_arg: str | None = None,
) -> None:
    """Validate a scheme name, its options and ``forget_bias`` before anything is drawn.

    ``arg`` and ``options_arg`` are the caller's names for the scheme and the options (a layer's
    ``init`` and ``init_options``), so that errors name what the user wrote.
    """
    if not isinstance(options, dict):
        label = options_arg or "options"
        raise ValueError(f"{label}: expected a dict of options, got {type(options).__name__}")
    if scheme is None:
        if options:
            raise ValueError(f"{options_arg}: options need a scheme, got {arg}=None")
        scheme = "default"
    if scheme not in SCHEMES:
        raise ValueError(f"{arg}: expected one of {tuple(SCHEMES)}, got {scheme!r}")
    allowed = SCHEMES[scheme]
    for key, value in options.items():
        label = key if options_arg is None else f"{options_arg}[{key!r}]"
        if key not in allowed:
            raise ValueError(
                f"{label}: not an option of {arg}={scheme!r} (its options: {allowed or 'none'})"
            )
        _number(key, value, label)
    if scheme == "chrono" and "t_max" not in options:
        label = "t_max" if options_arg is None else f"{options_arg}['t_max']"
        raise ValueError(f"{label}: {arg}='chrono' needs t_max, the longest dependency in steps")
    if forget_bias is not None:
        _number("forget_bias", forget_bias)
        if scheme == "chrono":
            raise ValueError(f"forget_bias: must be None with {arg}='chrono', which sets it")


# ---------------------------------------------------------------------- helpers
def _one_block(found: list[Group]) -> list[Group]:
    if found[0].layout is not ONE_BLOCK:
        raise ValueError(
            f"layer: identity_ needs an Elman or Clockwork RNN (one block of W_hh), "
            f"got {found[0].kind}"
        )
    return found


def _gated(found: list[Group], what: str) -> list[Group]:
    if found[0].layout.keep is None:
        raise ValueError(
            f"layer: {what} needs a gated cell (LSTM family or GRU), got {found[0].kind}"
        )
    if "bias_ih" not in found[0].params:
        raise ValueError(f"layer: {what} sets gate biases, but this {found[0].kind} has bias=False")
    return found


def _set_bias(group: Group, gate: str, value: torch.Tensor | float) -> None:
    """b_ih = value and b_hh = 0 in the rows of ``gate``: the cell adds their sum, value."""
    rows = group.rows(gate)
    group.params["bias_ih"][rows] = value
    group.params["bias_hh"][rows] = 0.0


#: (lower bound, whether strict) of each numeric option; None: any finite number
BOUNDS: dict[str, tuple[float, bool] | None] = {
    "gain": (0.0, True),
    "scale": None,
    "t_max": (2.0, False),
    "value": None,
    "forget_bias": None,
}


def _number(name: str, value, label: str | None = None) -> float:
    """``value`` as a finite float within BOUNDS[name], else a ValueError naming ``label``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    bound = BOUNDS[name]
    if ok and bound is not None:
        ok = value > bound[0] if bound[1] else value >= bound[0]
    if not ok:
        within = "" if bound is None else f" {'>' if bound[1] else '>='} {bound[0]:g}"
        raise ValueError(f"{label or name}: expected a finite number{within}, got {value!r}")
    return float(value)
