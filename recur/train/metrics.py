"""Conversions between a mean cross-entropy in nats and the numbers people quote."""

from __future__ import annotations

import math

LOG2E = 1 / math.log(2)


def bits(loss: float) -> float:
    """Bits per item of a mean cross-entropy ``loss`` in nats (bits per char for characters)."""
    return loss * LOG2E


def perplexity(loss: float) -> float:
    """exp(loss): the effective number of equally likely choices per item (inf on overflow)."""
    return math.exp(loss) if loss < 700 else math.inf
