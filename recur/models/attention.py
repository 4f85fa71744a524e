"""Attention over an encoder's outputs: additive (Bahdanau) and multiplicative (Luong) scores.

A decoder query q_i is compared with every encoder output ("memory") m_j; the scores e_ij become
weights a_ij by a softmax over the valid source positions only, and the context is their average:

    additive (Bahdanau et al. 2015)   e_ij = v^T tanh(W q_i + U m_j)
    dot      (Luong et al. 2015)      e_ij = q_i . m_j                    (needs H_q == M)
    general  (Luong et al. 2015)      e_ij = q_i . (W_a m_j)
    a_ij = exp(e_ij) / sum_{k < length} exp(e_ik)   (zero for padded j)     c_i = sum_j a_ij m_j

The part of the score that depends on the memory only (``U m_j``, ``W_a m_j``) is computed once
per source batch by :meth:`keys` and reused at every decoder step.

Shapes (B batch, T queries, S source positions, H_q query size, M memory size):
    query (B, T, H_q), memory (B, S, M), keys (B, S, ·), mask (B, S) bool (True = valid)
    context (B, T, M), weights (B, T, S)

Example::

    attend = make_attention("luong", query_size=32, memory_size=32, score="general")
    context, weights = attend(query, attend.keys(memory), memory, mask)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

ATTENTIONS = (None, "bahdanau", "luong")
SCORES = ("dot", "general")


def masked_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    """Softmax over the last axis of ``scores`` (B, T, S) restricted to ``mask`` (B, S).

    Masked positions get exactly zero weight; every row needs at least one valid position.
    """
    return scores.masked_fill(~mask.unsqueeze(1), float("-inf")).softmax(dim=-1)


class _Attention(nn.Module):
    def keys(self, memory: Tensor) -> Tensor:
        raise NotImplementedError

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(
        self, query: Tensor, keys: Tensor, memory: Tensor, mask: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Context vectors (B, T, M) and attention weights (B, T, S) for queries (B, T, H_q)."""
        weights = masked_softmax(self.scores(query, keys), mask)
        return weights @ memory, weights


class AdditiveAttention(_Attention):
    """Bahdanau's additive score ``v^T tanh(W q + U m)`` with a hidden size ``attention_size``."""

    def __init__(self, query_size: int, memory_size: int, attention_size: int):
        super().__init__()
        self.query_proj = nn.Linear(query_size, attention_size, bias=False)
        self.memory_proj = nn.Linear(memory_size, attention_size)
        self.v = nn.Linear(attention_size, 1, bias=False)

    def keys(self, memory: Tensor) -> Tensor:
        return self.memory_proj(memory)  # U m_j (+ bias): (B, S, A)

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        # (B, T, 1, A) + (B, 1, S, A) -> (B, T, S, A) -> (B, T, S)
        hidden = torch.tanh(self.query_proj(query).unsqueeze(2) + keys.unsqueeze(1))
        return self.v(hidden).squeeze(-1)


class MultiplicativeAttention(_Attention):
    """Luong's "dot" (``q . m``) or "general" (``q . W_a m``) score."""

    def __init__(self, query_size: int, memory_size: int, score: str = "general"):
        super().__init__()
        if score not in SCORES:
            raise ValueError(f"score: expected one of {SCORES}, got {score!r}")
        if score == "dot" and query_size != memory_size:
            raise ValueError(
                f"score: 'dot' needs the query size ({query_size}) to equal the memory size "
                f"({memory_size}); use 'general'"
            )
        self.score = score
        general = score == "general"
        self.memory_proj = nn.Linear(memory_size, query_size, bias=False) if general else None

    def keys(self, memory: Tensor) -> Tensor:
        return memory if self.memory_proj is None else self.memory_proj(memory)

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        return query @ keys.transpose(1, 2)  # (B, T, H_q) @ (B, H_q, S)

    def extra_repr(self) -> str:
        return f"score={self.score!r}"


def make_attention(
    name: str | None, query_size: int, memory_size: int, score: str = "general"
) -> _Attention | None:
    """The attention module for ``name`` (None, "bahdanau" or "luong"); None means no attention.

    Bahdanau's hidden size is the query size; ``score`` ("dot" or "general") applies to Luong.
    """
    if name not in ATTENTIONS:
        raise ValueError(f"attention: expected one of {ATTENTIONS}, got {name!r}")
    if score not in SCORES:
        raise ValueError(f"score: expected one of {SCORES}, got {score!r}")
    if name is None:
        return None
    if name == "bahdanau":
        return AdditiveAttention(query_size, memory_size, query_size)
    return MultiplicativeAttention(query_size, memory_size, score)
