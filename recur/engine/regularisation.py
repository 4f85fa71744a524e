"""Regularisation inside the recurrence: the part of the engine contract every engine applies.

The layer draws the masks (:mod:`recur.layers.regularisation`); each engine applies them in the
same places, so the reference engine (autograd through the equations below) is the
specification the fused engines are held to.

Recurrent dropout (Gal & Ghahramani 2016): every recurrent product reads ``m ⊙ h_{t-1}``, with
one mask m per sequence, (B, S_0), scaled to {0, 1/(1-p)}. The cell applies it through
:meth:`recur.cells.base.Cell.recurrent_input` (it rides in the step's params under
``RECURRENT_MASK``). Backward: the gradient the product sends to h_{t-1} is multiplied by m, and
dW_hh = Σ dᵀ (m ⊙ h_{t-1}).

Zoneout (Krueger et al. 2017): after the cell's step, each state tensor (h, and c for the LSTM
family) keeps its previous value unit by unit:

    s_t = k_t ⊙ s_{t-1} + (1 - k_t) ⊙ s̃_t        (s̃_t the cell's new state)

with k_t a 0/1 mask per step in training (1 with probability p) and k_t = p in evaluation (the
expectation). The step's output is the blended h_t. Backward: ds̃_t = (1 - k_t) ⊙ ds_t goes
into the cell's backward step, and k_t ⊙ ds_t straight to ds_{t-1}.

The training mask arrives as noise: ``zoneout_noise`` (T, B, ΣS_k), the state tensors side by
side in state order, int16 uniform on [-2^15, 2^15) (:func:`random_bits`), and k_t is
``noise[t] < threshold(p)``, so P(k = 1) is p to 1/65536. Each engine thresholds as it goes (the
native kernels in their loops), which spares a pass over T x B x ΣS values and a mask in memory.
Without noise (evaluation) k_t = p. ``recurrent_mask`` is (B, S_0) of the state's dtype.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from recur.cells.base import RECURRENT_MASK, Params, State


def random_bits(shape: tuple[int, ...], device=None) -> Tensor:
    """int16 noise uniform on [-2^15, 2^15) from torch's RNG: four elements per 64-bit draw.

    A quarter of the generator calls of ``bernoulli_`` (one call per element), whose cost would
    otherwise dominate zoneout's (a draw per unit and step).
    """
    count = math.prod(shape)
    words = torch.randint(-(2**63), 2**63 - 1, ((count + 3) // 4,), device=device)
    return words.view(torch.int16)[:count].view(shape)


def threshold(p: float) -> int:
    """The t with P(noise < t) = p rounded to a multiple of 1/65536 (as the kernels compute it)."""
    return math.floor(p * 65536 + 0.5) - 32768


@dataclass(frozen=True)
class Regularisation:
    """The masks of one engine call (one layer and direction); see the module docstring."""

    recurrent_mask: Tensor | None = None
    zoneout: float = 0.0
    zoneout_noise: Tensor | None = None

    @property
    def has_zoneout(self) -> bool:
        return self.zoneout > 0

    def keep_mask(self) -> Tensor | None:
        """The (T, B, ΣS_k) bool zoneout mask in training (True: keep), None in evaluation."""
        if self.zoneout_noise is None:
            return None
        return self.zoneout_noise < threshold(self.zoneout)

    def keep(self, t: int, state: State) -> tuple[Tensor | float, ...]:
        """k_t for each state tensor: a (B, S_k) 0/1 tensor in training, else the float p."""
        if self.zoneout_noise is None:
            return (self.zoneout,) * len(state)
        keep = (self.zoneout_noise[t] < threshold(self.zoneout)).to(state[0].dtype)
        return keep.split([s.shape[-1] for s in state], dim=-1)


def step_params(params: Params, reg: Regularisation | None) -> Params:
    """The params a step reads: with the recurrent dropout mask when there is one."""
    if reg is None or reg.recurrent_mask is None:
        return params
    return {**params, RECURRENT_MASK: reg.recurrent_mask}


def apply_zoneout(new: State, old: State, keep: tuple[Tensor | float, ...]) -> State:
    """s_t = k ⊙ s_{t-1} + (1 - k) ⊙ s̃_t for each state tensor (differentiable)."""
    return tuple(torch.lerp(n, o, k) for n, o, k in zip(new, old, keep))


def zoneout_backward(d: list[Tensor], keep: tuple[Tensor | float, ...]):
    """Split each ds_t into the cell's share (1 - k) ⊙ ds_t and the carry k ⊙ ds_t."""
    carry = [k * g for g, k in zip(d, keep)]
    return [g - c for g, c in zip(d, carry)], carry
