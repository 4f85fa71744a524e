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

The training mask comes from one seed, ``zoneout_seed`` (a 0-d int64 tensor the layer draws
from torch's RNG), through a counter-based generator (:func:`zoneout_noise`): the noise of the
call is (T, B, ΣS_k) int16, the state tensors side by side in state order, and

    k_t = [noise[t] < threshold(p)],   so P(k = 1) is p to 1/65536.

Each element is a pure function of (seed, t, b, unit), so the native kernels compute it inline,
as they go, forward and again backward, bit for bit as this module's torch code does: drawing
T x B x ΣS values from torch's generator (a serial loop) and streaming them through memory cost
about half of zoneout's time, and one seed per call keeps ``torch.manual_seed`` reproducing
every mask. Without a seed (evaluation) k_t = p. ``recurrent_mask`` is (B, S_0) of the state's
dtype.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from recur.cells.base import RECURRENT_MASK, Params, State

# splitmix64 (Steele, Lea & Flood 2014): the Weyl increment and the finaliser's multipliers.
GAMMA = 0x9E3779B97F4A7C15
MIX_1 = 0xBF58476D1CE4E5B9
MIX_2 = 0x94D049BB133111EB


def random_bits(shape: tuple[int, ...], device=None) -> Tensor:
    """int16 noise uniform on [-2^15, 2^15) from torch's RNG: four elements per 64-bit draw.

    A quarter of the generator calls of ``bernoulli_`` (one call per element); for the small
    masks (recurrent dropout, weight drop). Zoneout's noise comes from :func:`zoneout_noise`.
    """
    count = math.prod(shape)
    words = torch.randint(-(2**63), 2**63 - 1, ((count + 3) // 4,), device=device)
    return words.view(torch.int16)[:count].view(shape)


def draw_seed(device=None) -> Tensor:
    """A 0-d int64 tensor of 64 random bits from torch's RNG: the seed of :func:`zoneout_noise`.

    A tensor rather than a Python int, so that torch.compile traces the draw into its graph.
    """
    return torch.randint(-(2**63), 2**63 - 1, (), device=device)


def threshold(p: float) -> int:
    """The t with P(noise < t) = p rounded to a multiple of 1/65536 (as the kernels compute it)."""
    return math.floor(p * 65536 + 0.5) - 32768


def _int64(value: int) -> int:
    """The int64 with the same 64 bits as the unsigned ``value``: torch tensors are signed."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _shift_right(z: Tensor, bits: int) -> Tensor:
    """Logical shift of int64 bits (torch's ``>>`` is arithmetic: it copies the sign bit)."""
    return (z >> bits) & ((1 << (64 - bits)) - 1)


def splitmix64(z: Tensor) -> Tensor:
    """splitmix64's finaliser on int64 tensors holding uint64 bits (multiplication wraps)."""
    z = (z ^ _shift_right(z, 30)) * _int64(MIX_1)
    z = (z ^ _shift_right(z, 27)) * _int64(MIX_2)
    return z ^ _shift_right(z, 31)


def zoneout_noise(seed: Tensor, steps: int, batch: int, width: int) -> Tensor:
    """Zoneout's (steps, batch, width) int16 noise from ``seed``, uniform on [-2^15, 2^15).

    Row (t, b) is ``words = ceil(width / 4)`` 64-bit words; word w, at counter
    i = (t * batch + b) * words + w, is splitmix64's output number i + 1 from state ``seed``,

        z = seed + (i + 1) * GAMMA   (mod 2^64),   word = splitmix64(z),

    and its four 16-bit lanes, low bits first, are the noise of units 4w .. 4w + 3 (the last
    word's extra lanes are unused). The native kernels compute the same bits a row at a time
    (``ZoneoutNoise`` in csrc/zoneout_noise.h); tests/test_regularisation_masks.py holds them to
    it. int64 tensors hold the uint64 arithmetic: multiplication and addition wrap modulo 2^64
    alike, and :func:`_shift_right` undoes the sign extension of ``>>``.
    """
    words = (width + 3) // 4
    counters = torch.arange(1, steps * batch * words + 1, device=seed.device)
    z = splitmix64(seed + counters * _int64(GAMMA))
    lanes = torch.stack([(z >> (16 * k)) & 0xFFFF for k in range(4)], dim=-1)
    signed = (lanes ^ 0x8000) - 0x8000  # the lane's bits read as int16
    return signed.to(torch.int16).view(steps, batch, 4 * words)[..., :width]


@dataclass(frozen=True)
class Regularisation:
    """The masks of one engine call (one layer and direction); see the module docstring."""

    recurrent_mask: Tensor | None = None
    zoneout: float = 0.0
    zoneout_seed: Tensor | None = None

    @property
    def has_zoneout(self) -> bool:
        return self.zoneout > 0

    def keep_mask(self, steps: int, batch: int, width: int) -> Tensor | None:
        """The (T, B, ΣS_k) bool zoneout mask in training (True: keep), None in evaluation."""
        if self.zoneout_seed is None:
            return None
        return zoneout_noise(self.zoneout_seed, steps, batch, width) < threshold(self.zoneout)

    def keeps(self, steps: int, state: State) -> Sequence[tuple[Tensor | float, ...]]:
        """k_t for t < steps, one per state tensor: (B, S_k) 0/1 in training, else the float p."""
        sizes = [s.shape[-1] for s in state]
        mask = self.keep_mask(steps, state[0].shape[0], sum(sizes))
        if mask is None:
            return [(self.zoneout,) * len(state)] * steps
        return StepKeeps(mask, sizes, state[0].dtype)


@dataclass(frozen=True)
class StepKeeps(Sequence):
    """k_t of the state tensors at step t, made from the bool mask when read.

    The fused engine keeps k for its backward: a byte per unit and step this way, where the
    state's dtype would take four or eight.
    """

    mask: Tensor  # (T, B, ΣS_k) bool
    sizes: list[int]
    dtype: torch.dtype

    def __len__(self) -> int:
        return self.mask.shape[0]

    def __getitem__(self, t: int) -> tuple[Tensor, ...]:
        return self.mask[t].to(self.dtype).split(self.sizes, dim=-1)


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
