"""The problem of translation (N→M) for :class:`recur.tasks.examples.ExampleTask`: batches, the
teacher-forced loss, greedy or beam decoding, and the scores of the outputs.

Loss: cross-entropy per target token (EOS included, padding excluded) of a
:class:`recur.models.seq2seq.Seq2Seq` fed the gold previous token with probability
``teacher_forcing`` (scheduled sampling below 1); evaluation always uses full teacher forcing.

Scores, at corpus level (sacrebleu, 0-100): BLEU (Papineni et al. 2002; word 1-4-grams after
sacrebleu's default 13a tokenizer) and chrF (Popović 2015; character n-grams) of the outputs
against the references, on the text at the character level and on the tokens joined by spaces at
the word level (both sides split the same way, so "don't" against "don ' t" costs nothing);
``exact_match``: the share of outputs whose tokens equal the reference's. BLEU is 0 when no
output has four words, however right the outputs are: chrF and exact match are the measures of
one-word outputs.

Example::

    problem = Translation(meta, batch_size=64, beam=4)
    outputs = problem.translate(model, [pair.source for pair in pairs])   # list of Decoded
    problem.evaluate(model, pairs)     # {"loss", "bleu", "chrf", "exact_match", "count"}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import sacrebleu
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence

from recur.data.vocab import BOS, PAD, TokenVocab
from recur.tasks.examples import chunks


class Pair(NamedTuple):
    """One example: source ids (S,), target ids ending in EOS (T,) or None, reference tokens
    (the target's tokens as read, before unseen ones became <unk>) or None."""

    source: Tensor
    target: Tensor | None
    reference: list[str] | None


class Decoded(NamedTuple):
    """One output: target ids without EOS, its score (summed log-probability; beam search:
    length-normalised) and the attention (L, S) while emitting each id and EOS, or None."""

    ids: list[int]
    score: float
    attention: Tensor | None


def join(tokens: Sequence[str], level: str) -> str:
    """The text of tokens: characters side by side, words separated by spaces."""
    return ("" if level == "char" else " ").join(tokens)


def scores(outputs: list[list[str]], references: list[list[str]], level: str) -> dict[str, float]:
    """Corpus BLEU and chrF (0-100) and the exact-match share of token sequences."""
    hyps = [join(tokens, level) for tokens in outputs]
    refs = [[join(tokens, level) for tokens in references]]
    exact = sum(o == r for o, r in zip(outputs, references)) / max(1, len(outputs))
    return {
        "bleu": round(sacrebleu.corpus_bleu(hyps, refs).score, 4),
        "chrf": round(sacrebleu.corpus_chrf(hyps, refs).score, 4),
        "exact_match": exact,
    }


class Translation:
    """Batches, loss, decoding and metrics of sentence pairs; ``meta`` is the run's (its target
    vocabulary, token level and longest training target)."""

    loss_unit, loss_scale = "nats", 1.0

    def __init__(
        self, meta: dict, batch_size: int, teacher_forcing: float = 1.0, beam: int | None = None
    ):
        self.target_vocab = TokenVocab.from_json(meta["target_vocab"])
        self.level, self.batch_size, self.beam = meta["level"], batch_size, beam
        self.teacher_forcing = teacher_forcing
        # Outputs may run somewhat longer than any training target; decoding stops as soon as
        # every row has emitted EOS, so the bound only costs time on a model that never stops.
        self.max_decode = 2 * meta["max_target"] + 10

    def collate(self, pairs: Sequence[Pair]) -> tuple[Tensor, Tensor, Tensor]:
        """source (B, S) padded with 0, source lengths (B,), target (B, T) padded with 0."""
        sources = pad_sequence([p.source for p in pairs], batch_first=True)
        lengths = torch.tensor([len(p.source) for p in pairs])
        return sources, lengths, pad_sequence([p.target for p in pairs], batch_first=True)

    def loss(self, model: nn.Module, batch, teacher_forcing: float | None = None):
        """Mean cross-entropy per target token and the number of target tokens."""
        source, lengths, target = batch
        ratio = self.teacher_forcing if teacher_forcing is None else teacher_forcing
        logits, _ = model(source, target, lengths, teacher_forcing=ratio)  # model may be DDP
        loss = F.cross_entropy(logits.transpose(1, 2), target, ignore_index=self.target_vocab.pad)
        return loss, int((target != self.target_vocab.pad).sum())

    def translate(self, model: nn.Module, sources: Sequence[Tensor]) -> list[Decoded]:
        """Greedy (or the best beam's) outputs of ``sources`` (each (S,) ids), in batches."""
        out = []
        for part in chunks(sources, self.batch_size):
            padded = pad_sequence(list(part), batch_first=True)
            lengths = torch.tensor([len(s) for s in part])
            if self.beam is None:
                hyp = model.greedy(padded, lengths, max_length=self.max_decode)
                tokens, counts, values, attention = (
                    hyp.tokens,
                    hyp.lengths,
                    hyp.scores,
                    hyp.attention,
                )
            else:
                hyp = model.beam_search(
                    padded, lengths, beam_size=self.beam, max_length=self.max_decode
                )
                tokens, counts, values = hyp.tokens[:, 0], hyp.lengths[:, 0], hyp.scores[:, 0]
                attention = None if hyp.attention is None else hyp.attention[:, 0]
            for row, source in enumerate(part):
                n = int(counts[row])
                ids = tokens[row, :n].tolist()
                if ids and ids[-1] == self.target_vocab.eos:
                    ids = ids[:-1]
                weights = None if attention is None else attention[row, :n, : len(source)]
                out.append(Decoded(ids, float(values[row]), weights))
        return out

    def words(self, decoded: Decoded) -> list[str]:
        """The output's tokens; <unk> is kept (a model may emit it), <pad>/<bos> are dropped."""
        tokens = self.target_vocab.tokens
        return [tokens[i] for i in decoded.ids if tokens[i] not in (PAD, BOS)]

    def evaluate(self, model: nn.Module, pairs: Sequence[Pair]) -> dict[str, float]:
        """Teacher-forced loss per target token, then BLEU, chrF and exact match of the outputs."""
        total, count = 0.0, 0
        for part in chunks(pairs, self.batch_size):
            loss, n = self.loss(model, self.collate(part), teacher_forcing=1.0)
            total, count = total + float(loss) * n, count + n
        outputs = [self.words(d) for d in self.translate(model, [p.source for p in pairs])]
        metrics = scores(outputs, [p.reference for p in pairs], self.level)
        return {"loss": total / max(1, count), **metrics, "count": len(pairs)}
