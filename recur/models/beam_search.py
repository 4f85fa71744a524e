"""Greedy and batched beam-search decoding over any one-step decoder.

The decoder is a function ``step(tokens, state, t) -> (log_probs, state, weights)``: it consumes
the previous token of every row (N,), returns log-probabilities of the next token (N, V), the new
state, and optional attention weights (N, S) (or None). Each call advances one step; the prefix is
never re-run. Beam search keeps ``K`` rows per source (N = B*K) and moves decoder state between
rows with ``reorder(state, index)``.

Scores are summed log-probabilities, compared after the GNMT length normalisation (Wu et al. 2016)

    score(Y) = log P(Y) / lp(Y),   lp(Y) = ((5 + |Y|) / 6) ** alpha

where |Y| counts the generated tokens including EOS; alpha = 0 compares raw log-probabilities.
A hypothesis that emitted EOS is finished: it stops growing (its score and length stay fixed, it
is padded with ``pad_id``) yet keeps its place in the beam while it outranks live candidates.
Search ends when every kept hypothesis is finished or after ``max_length`` tokens.

Example::

    hyps = beam_search(step, state, batch_size=4, beam_size=5, max_length=20, bos_id=1, eos_id=2,
                       pad_id=0, reorder=lambda s, i: s.index_select(1, i))
    best = hyps.tokens[:, 0]                                   # (B, L), hypotheses sorted
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor

StepFn = Callable[[Tensor, Any, int], tuple[Tensor, Any, Tensor | None]]


class Hypotheses(NamedTuple):
    """Decoded sequences; beam search keeps K per source, best first (greedy: no K axis).

    tokens (B, [K,] L) ids with EOS, ``pad_id`` after it; lengths (B, [K]) tokens up to and
    including EOS; scores (B, [K]) length-normalised log-probabilities; log_probs (B, [K]) raw
    sums; attention (B, [K,] L, S) the weights used to emit each token (zeros after EOS), or None.
    """

    tokens: Tensor
    lengths: Tensor
    scores: Tensor
    log_probs: Tensor
    attention: Tensor | None


def length_penalty(lengths: Tensor, alpha: float) -> Tensor:
    """GNMT's ``((5 + |Y|) / 6) ** alpha``."""
    return ((5.0 + lengths) / 6.0) ** alpha


def greedy_search(
    step: StepFn,
    state,
    batch_size: int,
    *,
    max_length: int,
    bos_id: int,
    eos_id: int,
    pad_id: int,
    device=None,
) -> Hypotheses:
    """Emit the most probable token at every step until EOS (per row) or ``max_length``."""
    prev = torch.full((batch_size,), bos_id, dtype=torch.long, device=device)
    finished = torch.zeros(batch_size, dtype=torch.bool, device=device)
    lengths = torch.zeros(batch_size, dtype=torch.long, device=device)
    log_probs = torch.zeros(batch_size, device=device)
    tokens, weights = [], []
    for t in range(max_length):
        logp, state, attn = step(prev, state, t)
        token = torch.where(finished, pad_id, logp.argmax(dim=1))
        gained = logp.gather(1, token.unsqueeze(1)).squeeze(1)
        log_probs = log_probs + torch.where(finished, 0.0, gained)
        lengths = lengths + (~finished).long()
        tokens.append(token)
        if attn is not None:
            weights.append(torch.where(finished.unsqueeze(1), 0.0, attn))
        finished = finished | (token == eos_id)
        prev = token
        if bool(finished.all()):
            break
    attention = torch.stack(weights, dim=1) if weights else None
    return Hypotheses(torch.stack(tokens, dim=1), lengths, log_probs, log_probs, attention)


def beam_search(
    step: StepFn,
    state,
    batch_size: int,
    *,
    beam_size: int,
    max_length: int,
    bos_id: int,
    eos_id: int,
    pad_id: int,
    alpha: float = 0.6,
    reorder: Callable[[Any, Tensor], Any],
    device=None,
) -> Hypotheses:
    """Batched beam search; ``state`` already holds ``beam_size`` copies of each source's row.

    Rows are source-major: row ``b * beam_size + k`` is hypothesis k of source b.
    """
    B, K = batch_size, beam_size
    offsets = (torch.arange(B, device=device) * K).unsqueeze(1)  # (B, 1) each source's first row
    log_probs = torch.zeros(B, K, device=device)
    log_probs[:, 1:] = float("-inf")  # the K start rows are copies: expand only the first
    lengths = torch.zeros(B, K, dtype=torch.long, device=device)
    finished = torch.zeros(B, K, dtype=torch.bool, device=device)
    prev = torch.full((B * K,), bos_id, dtype=torch.long, device=device)
    history = torch.empty(B * K, 0, dtype=torch.long, device=device)
    weights = None
    for t in range(max_length):
        logp, state, attn = step(prev, state, t)
        vocab = logp.shape[1]
        logp = logp.view(B, K, vocab)
        # A finished hypothesis has a single continuation, pad, that changes neither its score
        # nor its length.
        stay = torch.full_like(logp, float("-inf"))
        stay[:, :, pad_id] = 0.0
        total = log_probs.unsqueeze(2) + torch.where(finished.unsqueeze(2), stay, logp)
        grown = torch.where(finished, lengths, lengths + 1)
        rank = total / length_penalty(grown, alpha).unsqueeze(2)
        choice = rank.view(B, K * vocab).topk(K, dim=1).indices  # (B, K), best first
        beam, token = choice // vocab, choice % vocab
        rows = (offsets + beam).view(-1)

        log_probs = total.view(B, K * vocab).gather(1, choice)
        lengths = grown.gather(1, beam)
        was_finished = finished.gather(1, beam)
        finished = was_finished | (token == eos_id)
        history = torch.cat([history[rows], token.view(-1, 1)], dim=1)
        if attn is not None:
            attn = torch.where(was_finished.view(-1, 1), 0.0, attn[rows]).unsqueeze(1)
            weights = attn if weights is None else torch.cat([weights[rows], attn], dim=1)
        state = reorder(state, rows)
        prev = token.view(-1)
        if bool(finished.all()):
            break

    # The last topk ranked by exactly this score, so the K hypotheses are already best first.
    steps = history.shape[1]
    attention = None if weights is None else weights.view(B, K, steps, -1)
    scores = log_probs / length_penalty(lengths, alpha)
    return Hypotheses(history.view(B, K, steps), lengths, scores, log_probs, attention)
