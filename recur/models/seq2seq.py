"""Encoder-decoder (N -> M) of any recur cells, with optional attention, greedy and beam decoding.

The encoder reads the source tokens x_1..x_S into outputs ("memory") m_1..m_S of size
M = D * H (D = 2 when bidirectional) and a summary c, the final states of its top layer's
directions concatenated (each sequence's own last valid step). The decoder is a unidirectional
stack of hidden size M that emits y_1..y_T, then EOS:

    context="init"    s_0 = tanh(W_b c) (a learned bridge to every decoder layer and state
                      tensor), decoder input [e(y_{i-1})]
    context="every"   s_0 = 0, decoder input [e(y_{i-1}); c] at every step
    attention None         p(y_i) = softmax(W_o s_i)
    attention "bahdanau"   a_i from s_{i-1} (additive score), c_i = sum_j a_ij m_j is appended to
                           the decoder input, p(y_i) = softmax(W_o tanh(W_c [c_i; s_i]))
    attention "luong"      s_i first, then a_i from s_i ("dot" or "general" score),
                           p(y_i) = softmax(W_o tanh(W_c [c_i; s_i]))  (no input feeding)

Attention is a softmax over the valid source positions only. Training is teacher-forced with a
ratio: each step's input is the gold previous token with probability ``teacher_forcing``, else the
model's own previous argmax (scheduled sampling, Bengio et al. 2015). With full teacher forcing and
no Bahdanau attention nothing in the decoder input depends on earlier outputs, so the decoder runs
as one sequence call; otherwise, and always when decoding, it advances one step at a time with the
layer's ``step`` and never re-runs the prefix.

Shapes (B batch, S source length, T target length, V target vocabulary):
    source (B, S) ids, padded at the end; source_lengths (B,) or None (all S)
    target (B, T) ids ending in EOS, padded with ``pad_id``; the decoder input is BOS + target[:-1]
    logits (B, T, V); attention (B, T, S) or None

Example::

    model = Seq2Seq(74, 14, cell="gru", hidden_size=64, bidirectional=True, attention="bahdanau")
    logits, attention = model(source, target, source_lengths)
    loss = model.loss(logits, target)
    best = model.beam_search(source, source_lengths, beam_size=4, max_length=12).tokens[:, 0]
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur.layers.checks import check_dropout, check_positive_int
from recur.layers.registry import LAYERS, make_layer
from recur.models.attention import make_attention
from recur.models.beam_search import Hypotheses, beam_search, greedy_search
from recur.models.checks import check_layer_kwargs
from recur.models.inputs import InputLayer

CONTEXTS = ("init", "every")


class Encoded(NamedTuple):
    """The encoder's view of a source batch, as the decoder uses it.

    memory (B, S, M) outputs, zero at padded positions; mask (B, S) True at valid positions;
    keys (B, S, ·) the attention's precomputed memory term, or None; summary (B, M).
    """

    memory: Tensor
    mask: Tensor
    keys: Tensor | None
    summary: Tensor

    def repeat(self, times: int) -> Encoded:
        """Each source row repeated ``times`` times in place (beam search's row layout)."""
        return Encoded(*(None if x is None else x.repeat_interleave(times, dim=0) for x in self))


class Seq2SeqOutput(NamedTuple):
    """logits (B, T, V) for every target position; attention (B, T, S), or None without it."""

    logits: Tensor
    attention: Tensor | None


class Seq2Seq(nn.Module):
    """Encoder-decoder over token ids; see the module docstring for the equations.

    Arguments:
        source_vocab_size, target_vocab_size: vocabulary sizes (ids are checked against them).
        cell: the encoder's cell by name ("rnn", "lstm", "gru", "peephole", "cifg", "lnlstm",
            "clockwork"); ``decoder_cell`` the decoder's (default: the same).
        hidden_size: H, per encoder direction; the decoder's hidden size is D * H.
        embedding_dim: size of the source and target token embeddings.
        num_layers, dropout, bidirectional: of the encoder (bidirectional) and both stacks;
            dropout also applies to the read-out input.
        context: "init" or "every" (how the summary reaches the decoder).
        attention: None, "bahdanau" or "luong"; ``score`` "dot" or "general" for Luong.
        pad_id, bos_id, eos_id: special target ids (``pad_id`` also pads the source).
        layer_kwargs: passed to the encoder and decoder layers alike (``recurrent_dropout``,
            ``zoneout``, ``weight_drop``, ``init``, ``forget_bias``, ``impl`` ...); a decoder that
            steps in training (Bahdanau, teacher_forcing < 1) draws every mask at every step.
    """

    def __init__(
        self,
        source_vocab_size: int,
        target_vocab_size: int,
        *,
        cell: str = "lstm",
        decoder_cell: str | None = None,
        hidden_size: int = 128,
        embedding_dim: int = 64,
        num_layers: int = 1,
        dropout: float = 0.0,
        bidirectional: bool = False,
        context: str = "init",
        attention: str | None = None,
        score: str = "general",
        pad_id: int = 0,
        bos_id: int = 1,
        eos_id: int = 2,
        **layer_kwargs,
    ):
        super().__init__()
        decoder_cell = cell if decoder_cell is None else decoder_cell
        for name, value in (("cell", cell), ("decoder_cell", decoder_cell)):
            if value not in LAYERS:
                raise ValueError(f"{name}: expected one of {sorted(LAYERS)}, got {value!r}")
        # proj_size too: the decoder's hidden size is the encoder's memory size, M = D * H
        owned = ("num_layers", "dropout", "bidirectional", "proj_size")
        for layer_cell in (cell, decoder_cell):
            check_layer_kwargs(layer_cell, layer_kwargs, owned=owned)
        if context not in CONTEXTS:
            raise ValueError(f"context: expected one of {CONTEXTS}, got {context!r}")
        check_positive_int("hidden_size", hidden_size)
        check_positive_int("embedding_dim", embedding_dim)
        check_positive_int("num_layers", num_layers)
        for name, value in (("pad_id", pad_id), ("bos_id", bos_id), ("eos_id", eos_id)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name}: expected an int, got {value!r}")
            if not 0 <= value < target_vocab_size:
                raise ValueError(
                    f"{name}: expected an id in [0, {target_vocab_size}) (target_vocab_size), "
                    f"got {value}"
                )
        self.context, self.attention_name = context, attention
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        directions = 2 if bidirectional else 1
        memory_size = directions * hidden_size
        self.attention = make_attention(attention, memory_size, memory_size, score)

        self.source_embed = InputLayer(
            vocab_size=source_vocab_size, embedding_dim=embedding_dim, padding_idx=pad_id
        )
        self.encoder = make_layer(
            cell,
            embedding_dim,
            hidden_size,
            num_layers=num_layers,
            dropout=dropout,
            bidirectional=bidirectional,
            batch_first=True,
            **layer_kwargs,
        )
        self.target_embed = InputLayer(
            vocab_size=target_vocab_size, embedding_dim=embedding_dim, padding_idx=pad_id
        )
        decoder_input = embedding_dim
        decoder_input += memory_size if context == "every" else 0
        decoder_input += memory_size if attention == "bahdanau" else 0
        self.decoder = make_layer(
            decoder_cell,
            decoder_input,
            memory_size,
            num_layers=num_layers,
            dropout=dropout,
            batch_first=True,
            **layer_kwargs,
        )
        state_sizes = self.decoder.cells[0].state_sizes()
        self.bridge = (
            nn.Linear(memory_size, num_layers * sum(state_sizes)) if context == "init" else None
        )
        self.combine = None if attention is None else nn.Linear(2 * memory_size, memory_size)
        self.drop = nn.Dropout(check_dropout(dropout))
        self.output = nn.Linear(memory_size, target_vocab_size)

    # ------------------------------------------------------------------ encoder
    def encode(self, source: Tensor, source_lengths=None) -> Encoded:
        """Run the encoder over ``source`` (B, S) ids with optional ``source_lengths`` (B,)."""
        embedded = self.source_embed(source, "source")
        batch, steps = source.shape
        lengths = _check_source_lengths(source_lengths, batch, steps)
        memory, state = self.encoder(embedded, lengths=lengths)
        h = state[0] if isinstance(state, tuple) else state
        directions = self.encoder.num_directions
        summary = h[-directions:].transpose(0, 1).reshape(batch, -1)
        positions = torch.arange(steps, device=source.device)
        if lengths is None:
            mask = torch.ones(batch, steps, dtype=torch.bool, device=source.device)
        else:
            mask = positions < lengths.to(source.device).unsqueeze(1)
        keys = None if self.attention is None else self.attention.keys(memory)
        return Encoded(memory, mask, keys, summary)

    def initial_state(self, encoded: Encoded):
        """The decoder's initial state, in the layer's format: bridged summary or zeros."""
        summary = encoded.summary
        batch, layers = summary.shape[0], self.decoder.num_layers
        sizes = self.decoder.cells[0].state_sizes()
        if self.bridge is None:
            state = tuple(summary.new_zeros(layers, batch, size) for size in sizes)
        else:
            flat = torch.tanh(self.bridge(summary)).split([layers * s for s in sizes], dim=1)
            state = tuple(
                part.view(batch, layers, size).transpose(0, 1).contiguous()
                for part, size in zip(flat, sizes)
            )
        return state[0] if len(state) == 1 else state

    # ------------------------------------------------------------------ decoder
    def decode_step(self, tokens: Tensor, state, encoded: Encoded, t: int):
        """One decoder step from the previous tokens (N,): ``(logits (N, V), state, weights)``.

        ``weights`` (N, S) are the attention weights used for this step's output, or None.
        """
        return self._step(self.target_embed.project(tokens), state, encoded, t)

    def _step(self, x: Tensor, state, encoded: Encoded, t: int):
        parts, context, weights = [x], None, None
        if self.context == "every":
            parts.append(encoded.summary)
        if self.attention_name == "bahdanau":
            query = (state[0] if isinstance(state, tuple) else state)[-1]  # s_{i-1}, top layer
            context, weights = self._attend(query.unsqueeze(1), encoded)
            parts.append(context)
        h, state = self.decoder.step(torch.cat(parts, dim=1), state, t)
        if self.attention_name == "luong":
            context, weights = self._attend(h.unsqueeze(1), encoded)
        return self._readout(h, context), state, weights

    def _attend(self, query: Tensor, encoded: Encoded) -> tuple[Tensor, Tensor]:
        context, weights = self.attention(query, encoded.keys, encoded.memory, encoded.mask)
        return context.squeeze(1), weights.squeeze(1)

    def _readout(self, h: Tensor, context: Tensor | None) -> Tensor:
        if context is not None:
            h = torch.tanh(self.combine(torch.cat([context, h], dim=-1)))
        return self.output(self.drop(h))

    # ------------------------------------------------------------------ training
    def forward(
        self,
        source: Tensor,
        target: Tensor,
        source_lengths=None,
        teacher_forcing: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> Seq2SeqOutput:
        """Logits (B, T, V) for every target position and attention weights (B, T, S) or None.

        ``teacher_forcing`` in [0, 1]: probability, per row and step, of feeding the gold previous
        token rather than the model's own argmax (drawn with ``generator``).
        """
        if (
            isinstance(teacher_forcing, bool)
            or not isinstance(teacher_forcing, (int, float))
            or not 0 <= teacher_forcing <= 1
        ):
            raise ValueError(
                f"teacher_forcing: expected a number in [0, 1], got {teacher_forcing!r}"
            )
        encoded = self.encode(source, source_lengths)
        if isinstance(target, Tensor) and target.dim() == 2 and target.shape[0] != source.shape[0]:
            raise ValueError(
                f"target: expected batch size {source.shape[0]} (the source's), "
                f"got {target.shape[0]}"
            )
        gold = self.target_embed(target, "target")  # (B, T, E), ids checked
        bos = torch.full_like(target[:, :1], self.bos_id, dtype=torch.long)
        inputs = torch.cat([self.target_embed.project(bos), gold[:, :-1]], dim=1)
        state = self.initial_state(encoded)
        if teacher_forcing == 1 and self.attention_name != "bahdanau":
            return self._decode_sequence(inputs, state, encoded)

        logits, weights = [], []
        x = inputs[:, 0]
        for t in range(target.shape[1]):
            logits_t, state, weights_t = self._step(x, state, encoded, t)
            logits.append(logits_t)
            weights.append(weights_t)
            if t + 1 < target.shape[1]:
                x = inputs[:, t + 1]
                if teacher_forcing < 1:
                    own = self.target_embed.project(logits_t.argmax(dim=1))
                    draw = torch.rand(x.shape[0], 1, generator=generator).to(x.device)
                    x = torch.where(draw < teacher_forcing, x, own)
        attention = None if self.attention is None else torch.stack(weights, dim=1)
        return Seq2SeqOutput(torch.stack(logits, dim=1), attention)

    def _decode_sequence(self, inputs: Tensor, state, encoded: Encoded) -> Seq2SeqOutput:
        if self.context == "every":
            summary = encoded.summary.unsqueeze(1).expand(-1, inputs.shape[1], -1)
            inputs = torch.cat([inputs, summary], dim=2)
        outputs, _ = self.decoder(inputs, state)
        context = weights = None
        if self.attention is not None:
            context, weights = self.attention(outputs, encoded.keys, encoded.memory, encoded.mask)
        return Seq2SeqOutput(self._readout(outputs, context), weights)

    def loss(self, logits: Tensor, target: Tensor) -> Tensor:
        """Mean cross-entropy over the non-padding target tokens."""
        return F.cross_entropy(logits.transpose(1, 2), target, ignore_index=self.pad_id)

    # ------------------------------------------------------------------ decoding
    @torch.no_grad()
    def greedy(self, source: Tensor, source_lengths=None, max_length: int = 64) -> Hypotheses:
        """Greedy decoding: tokens (B, L), lengths, scores, log_probs (B,), attention (B, L, S).

        Decoding runs in the module's current mode: call ``model.eval()`` to turn dropout off.
        """
        check_positive_int("max_length", max_length)
        encoded = self.encode(source, source_lengths)
        return greedy_search(
            self._log_prob_step(encoded),
            self.initial_state(encoded),
            source.shape[0],
            max_length=max_length,
            bos_id=self.bos_id,
            eos_id=self.eos_id,
            pad_id=self.pad_id,
            device=source.device,
        )

    @torch.no_grad()
    def beam_search(
        self,
        source: Tensor,
        source_lengths=None,
        beam_size: int = 4,
        max_length: int = 64,
        length_penalty: float = 0.6,
    ) -> Hypotheses:
        """Batched beam search: ``beam_size`` hypotheses per source, best first.

        Returns tokens (B, K, L), lengths, scores, log_probs (B, K), attention (B, K, L, S).
        ``length_penalty`` is GNMT's alpha (0: rank by raw log-probability).
        """
        check_positive_int("beam_size", beam_size)
        check_positive_int("max_length", max_length)
        vocab = self.output.out_features
        if beam_size > vocab:
            raise ValueError(
                f"beam_size: expected at most {vocab} (target_vocab_size), got {beam_size}"
            )
        if isinstance(length_penalty, bool) or not isinstance(length_penalty, (int, float)):
            raise ValueError(f"length_penalty: expected a number, got {length_penalty!r}")
        encoded = self.encode(source, source_lengths).repeat(beam_size)
        return beam_search(
            self._log_prob_step(encoded),
            self.initial_state(encoded),
            source.shape[0],
            beam_size=beam_size,
            max_length=max_length,
            bos_id=self.bos_id,
            eos_id=self.eos_id,
            pad_id=self.pad_id,
            alpha=float(length_penalty),
            reorder=_reorder,
            device=source.device,
        )

    def _log_prob_step(self, encoded: Encoded):
        def step(tokens: Tensor, state, t: int):
            logits, state, weights = self.decode_step(tokens, state, encoded, t)
            return logits.log_softmax(dim=-1), state, weights

        return step


def _reorder(state, rows: Tensor):
    """Select batch rows of a layer state (h, or a tuple (h, c)) of shape (layers, N, ·)."""
    if isinstance(state, tuple):
        return tuple(s.index_select(1, rows) for s in state)
    return state.index_select(1, rows)


def _check_source_lengths(lengths, batch: int, steps: int) -> Tensor | None:
    """None, or ``lengths`` as (B,) int64 on CPU with every value in 1..S."""
    if lengths is None:
        return None
    given = lengths
    if not isinstance(lengths, Tensor):
        try:
            lengths = torch.as_tensor(lengths)
        except (TypeError, ValueError, RuntimeError) as error:
            raise ValueError(
                f"source_lengths: expected a 1-D sequence of ints, got {given!r}"
            ) from error
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype == torch.bool:
        raise ValueError(f"source_lengths: expected integers, got dtype {lengths.dtype}")
    if lengths.dim() != 1 or lengths.shape[0] != batch:
        raise ValueError(
            f"source_lengths: expected shape ({batch},) (one per source row), "
            f"got {tuple(lengths.shape)}"
        )
    lengths = lengths.to("cpu", torch.int64)
    if int(lengths.min()) < 1 or int(lengths.max()) > steps:
        raise ValueError(
            f"source_lengths: expected every length in 1..{steps} (the padded source length), "
            f"got min {int(lengths.min())} and max {int(lengths.max())}"
        )
    return lengths
