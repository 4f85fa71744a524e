"""The model and the problem of image captioning (1→N) for ``--task caption``.

Model (:class:`ImageCaptioner`): a small CNN (:class:`recur.models.cnn_lstm.FrameEncoder`) maps an
image to a feature vector f, and a :class:`recur.models.conditional_generator.ConditionalGenerator`
writes the caption from f (f as the initial state, ``condition="first"``, or fed at every step,
``"every"``):

    f = LayerNorm(CNN(image)) ∈ R^F;   logits_t = Generator(f, y_0 = BOS, y_1 .. y_{t-1})

The layer norm fixes the scale of f: with ``condition="first"`` the initial state is
tanh(W f + b), and unnormalised CNN features grew until it saturated, which cut the gradient to
the CNN (the generator then learnt the caption prior and ignored the image).

Loss: cross-entropy per caption token (EOS included, padding excluded) with teacher forcing.
Decoding: greedy, or beam search (:func:`recur.models.beam_search.beam_search`, GNMT length
normalisation) with ``beam`` K.

Scores of the decoded captions against the references (corpus level, sacrebleu 2, 13a tokenizer):
BLEU up to 4-grams with ``effective_order`` (n-gram orders that no reference is long enough to
have are left out, so that corpora of two-word captions do not score 0), on the tokens joined by
spaces (word level) or on the text (char level); ``exact_match``: the share of captions whose
tokens equal the reference's.

Example::

    model = ImageCaptioner(1, vocab_size=16, channels=(16, 32), feature_size=64, cell="gru")
    problem = Captioning(meta, batch_size=64, beam=None)
    problem.caption(model, images)            # list of token lists
    problem.evaluate(model, examples)         # {"loss", "bleu", "exact_match", "count"}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from sacrebleu.metrics import BLEU
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence

from recur.data.vocab import TokenVocab
from recur.models.beam_search import beam_search, greedy_search
from recur.models.cnn_lstm import FrameEncoder
from recur.models.conditional_generator import ConditionalGenerator
from recur.tasks.examples import chunks


class Captioned(NamedTuple):
    """One example: the image (C, H, W), the caption's ids ending in EOS (T,) or None, and the
    reference tokens as read (before unseen ones became <unk>) or None."""

    image: Tensor
    target: Tensor | None
    reference: list[str] | None


class ImageCaptioner(nn.Module):
    """images (B, C, H, W) → caption logits (B, T, V); see the module docstring.

    Arguments:
        in_channels: C.
        vocab_size: V (including <pad>, <unk>, <bos>, <eos>).
        channels, feature_size: the CNN (one conv stage per entry of ``channels``).
        condition, cell, hidden_size, num_layers, embedding_dim, dropout: the generator.
    """

    def __init__(
        self,
        in_channels: int,
        vocab_size: int,
        *,
        channels: tuple[int, ...] = (16, 32),
        feature_size: int = 64,
        condition: str = "first",
        cell: str = "lstm",
        hidden_size: int = 128,
        num_layers: int = 1,
        embedding_dim: int = 32,
        dropout: float = 0.0,
        **layer_kwargs,
    ):
        super().__init__()
        self.encoder = nn.Sequential(
            FrameEncoder(in_channels, tuple(channels), feature_size), nn.LayerNorm(feature_size)
        )
        self.generator = ConditionalGenerator(
            vocab_size,
            feature_size,
            condition=condition,
            cell=cell,
            hidden_size=hidden_size,
            num_layers=num_layers,
            embedding_dim=embedding_dim,
            dropout=dropout,
            **layer_kwargs,
        )

    def forward(self, images: Tensor, tokens: Tensor, lengths=None) -> Tensor:
        """Teacher-forced logits (B, T, V) of the token after each of ``tokens`` (B, T)."""
        return self.generator(self.encoder(images), tokens, lengths)

    @torch.no_grad()
    def decode(self, images: Tensor, *, max_length: int, bos: int, eos: int, pad: int, beam=None):
        """(tokens (B, L) with EOS then padding, lengths (B,)): greedy, or the best of ``beam``."""
        features = self.encoder(images)
        generator, batch = self.generator, images.shape[0]

        def step(prev: Tensor, state, t: int):
            rows, layer_state = state
            logits, layer_state = generator.step(rows, prev, layer_state, t)
            return logits.log_softmax(-1), (rows, layer_state), None

        common = dict(max_length=max_length, bos_id=bos, eos_id=eos, pad_id=pad)
        if beam is None:
            start = (features, generator.initial_state(features))
            hyp = greedy_search(step, start, batch, device=images.device, **common)
            return hyp.tokens, hyp.lengths
        beam = min(beam, generator.vocab_size)
        repeated = features.repeat_interleave(beam, dim=0)  # row b * K + k: beam k of image b
        start = (repeated, generator.initial_state(repeated))
        hyp = beam_search(
            step, start, batch, beam_size=beam, reorder=_reorder, device=images.device, **common
        )
        return hyp.tokens[:, 0], hyp.lengths[:, 0]


def _reorder(state, rows: Tensor):
    """Select rows of (features (N, F), layer state: None, h or (h, c) of shape (layers, N, ·))."""
    features, layer_state = state
    if isinstance(layer_state, tuple):
        layer_state = tuple(s.index_select(1, rows) for s in layer_state)
    elif layer_state is not None:
        layer_state = layer_state.index_select(1, rows)
    return features.index_select(0, rows), layer_state


def join(tokens: Sequence[str], level: str) -> str:
    """The text of tokens: characters side by side, words separated by spaces."""
    return ("" if level == "char" else " ").join(tokens)


def caption_scores(outputs: list[list[str]], references: list[list[str]], level: str) -> dict:
    """Corpus BLEU (0-100, effective order) and the exact-match share of token sequences."""
    hyps = [join(tokens, level) for tokens in outputs]
    refs = [[join(tokens, level) for tokens in references]]
    exact = sum(o == r for o, r in zip(outputs, references)) / max(1, len(outputs))
    bleu = BLEU(effective_order=True).corpus_score(hyps, refs).score
    return {"bleu": round(bleu, 4), "exact_match": exact}


class Captioning:
    """Batches, loss, decoding and metrics of captioned images; ``meta`` is the run's (its
    vocabulary, token level and longest training caption)."""

    loss_unit, loss_scale = "nats", 1.0

    def __init__(self, meta: dict, batch_size: int, beam: int | None = None):
        self.vocab = TokenVocab.from_json(meta["vocab"])
        self.level, self.batch_size, self.beam = meta["level"], batch_size, beam
        # Decoding stops once every caption has ended; the bound matters only for a model that
        # never emits EOS.
        self.max_decode = 2 * meta["max_caption"] + 10

    def collate(self, examples: Sequence[Captioned]):
        """images (B, C, H, W), decoder inputs (B, T) = BOS then the caption without its EOS,
        targets (B, T) = the caption with EOS, both padded with <pad>; lengths (B,)."""
        images = torch.stack([e.image for e in examples])
        targets = pad_sequence([e.target for e in examples], batch_first=True)
        bos = torch.full((len(examples), 1), self.vocab.bos, dtype=torch.long)
        inputs = torch.cat([bos, targets[:, :-1]], dim=1)
        inputs = inputs.masked_fill(inputs == self.vocab.eos, self.vocab.pad)
        lengths = torch.tensor([len(e.target) for e in examples])
        return images, inputs, targets, lengths

    def loss(self, model: nn.Module, batch) -> tuple[Tensor, int]:
        """Mean cross-entropy per caption token and the number of tokens."""
        images, inputs, targets, lengths = batch
        logits = model(images, inputs, lengths)  # model may be DDP-wrapped
        loss = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=self.vocab.pad)
        return loss, int(lengths.sum())

    def caption(self, model: ImageCaptioner, images: Tensor) -> list[list[str]]:
        """The decoded tokens of each image (N, C, H, W), in batches; <unk> kept, EOS dropped."""
        out = []
        for start in range(0, len(images), self.batch_size):
            tokens, lengths = model.decode(
                images[start : start + self.batch_size],
                max_length=self.max_decode,
                bos=self.vocab.bos,
                eos=self.vocab.eos,
                pad=self.vocab.pad,
                beam=self.beam,
            )
            specials = (self.vocab.pad, self.vocab.bos, self.vocab.eos)
            for row, n in zip(tokens.tolist(), lengths.tolist()):
                out.append([self.vocab.tokens[i] for i in row[:n] if i not in specials])
        return out

    def evaluate(self, model: nn.Module, examples: Sequence[Captioned]) -> dict[str, float]:
        """Teacher-forced loss per token, then BLEU and exact match of the decoded captions."""
        total, count = 0.0, 0
        for part in chunks(examples, self.batch_size):
            loss, n = self.loss(model, self.collate(part))
            total, count = total + float(loss) * n, count + n
        images = torch.stack([e.image for e in examples])
        outputs = self.caption(model, images)
        metrics = caption_scores(outputs, [e.reference for e in examples], self.level)
        return {"loss": total / max(1, count), **metrics, "count": len(examples)}
