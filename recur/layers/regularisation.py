"""A layer's regularisers inside the recurrence: validated probabilities, and the masks they draw.

Three keyword-only options of every layer, each a probability in [0, 1):

    recurrent_dropout  variational dropout on h_{t-1} where it enters the recurrent product, one
                       mask per sequence, layer and direction (Gal & Ghahramani 2016)
    zoneout            each unit of each state tensor keeps its previous value with probability
                       p at each step (Krueger et al. 2017); in evaluation the expectation
    weight_drop        DropConnect on W_hh, one mask per forward (Merity et al. 2018)

Masks come from torch's global RNG (``torch.manual_seed`` reproduces them), drawn by the layer
in a fixed order whatever the engine: for each layer, for each direction, weight_drop, then
recurrent_dropout, then zoneout. Every mask is made of 16 random bits per element, so p is
honoured to 1/65536: the dropout masks take four elements per 64-bit draw
(:func:`recur.engine.regularisation.random_bits`); zoneout, which needs a mask per unit and step
(T x N x ΣS values, a quarter of an LSTM's training step if drawn one by one with ``bernoulli_``),
draws one 64-bit seed per call, from which every engine computes the same noise with a
counter-based generator (:func:`recur.engine.regularisation.zoneout_noise`), the native kernels
inline.

Recurrent dropout and zoneout are applied by the engine (:mod:`recur.engine.regularisation`);
weight_drop acts on the weight before the engine, so its gradient reaches the raw weight through
plain autograd. Evaluation (``layer.eval()``) is deterministic: no dropout of either kind,
zoneout as the blend with p.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from recur.cells.base import Params, State
from recur.engine.regularisation import Regularisation, draw_seed, random_bits, threshold
from recur.layers.checks import check_probability


def bernoulli_mask(shape: tuple[int, ...], p: float, device=None) -> Tensor:
    """A bool tensor, each element True with probability p rounded to a multiple of 1/65536."""
    return random_bits(shape, device) < threshold(p)


@dataclass(frozen=True)
class Regularisers:
    """The probabilities of a layer's regularisers (see the module docstring)."""

    recurrent_dropout: float = 0.0
    zoneout: float = 0.0
    weight_drop: float = 0.0

    def __post_init__(self) -> None:
        for name in ("recurrent_dropout", "zoneout", "weight_drop"):
            object.__setattr__(self, name, check_probability(name, getattr(self, name)))

    def drop_weights(self, params: Params, training: bool) -> Params:
        """DropConnect: W_hh with a fresh mask, kept weights scaled by 1/(1-p), in training."""
        if not (training and self.weight_drop):
            return params
        w, keep = params["weight_hh"], 1.0 - self.weight_drop
        dropped = dict(params)
        dropped["weight_hh"] = torch.where(bernoulli_mask(w.shape, keep, w.device), w / keep, 0.0)
        return dropped

    def draw(self, state0: State, training: bool) -> Regularisation | None:
        """The masks of one engine call from its initial state (B, S_k); None when there are none.

        recurrent_mask (B, S_0) in {0, 1/(1-p)}; zoneout p, with the seed of its noise in training
        (:class:`Regularisation`).
        """
        h0 = state0[0]
        mask = None
        if training and self.recurrent_dropout:
            keep = 1.0 - self.recurrent_dropout
            mask = bernoulli_mask(h0.shape, keep, h0.device).to(h0.dtype).div_(keep)
        if mask is None and not self.zoneout:
            return None
        seed = draw_seed(h0.device) if training and self.zoneout else None
        return Regularisation(mask, self.zoneout, seed)
