"""A recurrent language model: embedding -> recurrent stack -> projection onto the vocabulary.

Shapes (B batch, T steps, V vocabulary, E embedding, S the last layer's output size):
    ids     (B, T) int64 in [0, V)
    logits  (B, T, V)
    state   the recurrent layer's: h (num_layers, B, S), or (h, c) for the LSTM family

The state returned by :meth:`LanguageModel.forward` is the input of the next call, so a long text
is read window by window (truncated BPTT: detach it between windows, see :mod:`recur.state`).
:meth:`LanguageModel.stream` reads a prompt once and then advances one recurrent ``step`` per
generated token, never re-reading the prefix.

Example::

    model = LanguageModel(vocab_size=80, cell="gru", hidden_size=128)
    logits, state = model(ids)                      # ids (B, T) -> logits (B, T, 80)
    logits, state = model(next_ids, detach_state(state))
    new_ids = model.generate(prompt_ids, max_new_tokens=100, temperature=0.8, top_k=20, seed=0)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur.layers.checks import check_dropout, check_positive_int
from recur.layers.registry import make_layer
from recur.models.checks import check_layer_kwargs
from recur.models.inputs import InputLayer


class LanguageModel(nn.Module):
    """Predicts each next token from the tokens before it.

    Arguments:
        vocab_size: V, the number of token ids.
        cell: any name of :func:`recur.layers.registry.make_layer` ("lstm", "gru", ...).
        hidden_size, num_layers: of the recurrent stack.
        embedding_dim: E (default: the last layer's output size S, which weight tying needs).
        dropout: on the embeddings, between layers and before the projection (Zaremba et al.).
        tie_weights: share the embedding matrix with the output projection (Press & Wolf 2017);
            needs E == S.
        layer_kwargs: passed to the layer (``impl``, ``proj_size``, ``periods``, ...); anything
            the layer does not take is a ValueError.
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        cell: str = "lstm",
        hidden_size: int = 256,
        num_layers: int = 1,
        embedding_dim: int | None = None,
        dropout: float = 0.0,
        tie_weights: bool = False,
        **layer_kwargs,
    ):
        super().__init__()
        if layer_kwargs.pop("bidirectional", False):
            raise ValueError(
                "bidirectional: a language model reads left to right; expected False, got True"
            )
        check_layer_kwargs(cell, layer_kwargs, owned=("num_layers", "dropout", "bidirectional"))
        check_positive_int("hidden_size", hidden_size)
        output_size = layer_kwargs.get("proj_size") or hidden_size
        embedding_dim = output_size if embedding_dim is None else embedding_dim
        if tie_weights and embedding_dim != output_size:
            raise ValueError(
                f"tie_weights: needs embedding_dim equal to the recurrent output size "
                f"{output_size}, got embedding_dim={embedding_dim}"
            )
        self.dropout = check_dropout(dropout)
        self.embed = InputLayer(vocab_size=vocab_size, embedding_dim=embedding_dim)
        self.rnn = make_layer(
            cell,
            embedding_dim,
            hidden_size,
            num_layers=num_layers,
            dropout=dropout,
            batch_first=True,
            **layer_kwargs,
        )
        self.head = nn.Linear(output_size, vocab_size)
        if tie_weights:
            self.head.weight = self.embed.project.weight
        self.vocab_size = vocab_size
        self.tie_weights = bool(tie_weights)

    def forward(self, ids: Tensor, state=None) -> tuple[Tensor, object]:
        """ids (B, T) -> logits (B, T, V) and the final state (zeros when ``state`` is None)."""
        x = F.dropout(self.embed(ids, "ids"), self.dropout, self.training)
        output, state = self.rnn(x, state)
        return self.head(F.dropout(output, self.dropout, self.training)), state

    def step(self, ids_t: Tensor, state, t: int) -> tuple[Tensor, object]:
        """One token per sequence: ids_t (B,) at step index t -> logits (B, V) and the state."""
        x = F.dropout(self.embed(ids_t.unsqueeze(1), "ids_t")[:, 0], self.dropout, self.training)
        y, state = self.rnn.step(x, state, t)
        return self.head(F.dropout(y, self.dropout, self.training)), state

    @torch.no_grad()
    def stream(
        self,
        prompt_ids,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ) -> Iterator[Tensor]:
        """Yield the generated ids one step at a time: (B,) for a (B, P) prompt, () for (P,).

        The prompt is read once by :meth:`forward`; each new token then costs one recurrent
        :meth:`step`. Sampling: ``temperature`` 0 is greedy (argmax); otherwise the logits are
        divided by it, cut to the ``top_k`` most likely tokens and to the smallest set whose
        probability reaches ``top_p`` (nucleus sampling), and sampled with a generator seeded by
        ``seed`` (the same seed gives the same tokens). The model is put in eval mode.
        """
        prompt = _check_prompt(prompt_ids, self.vocab_size)
        check_positive_int("max_new_tokens", max_new_tokens, minimum=0)
        _check_sampling(temperature, top_k, top_p)
        unbatched = prompt.dim() == 1
        prompt = (prompt.unsqueeze(0) if unbatched else prompt).to(self.head.weight.device)
        generator = torch.Generator(device=prompt.device)
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed)
        self.eval()
        logits, state = self(prompt)
        logits, t = logits[:, -1], prompt.shape[1]
        for i in range(max_new_tokens):
            next_ids = sample(logits, temperature, top_k, top_p, generator)
            yield next_ids[0] if unbatched else next_ids
            if i + 1 < max_new_tokens:
                logits, state = self.step(next_ids, state, t)
                t += 1

    def generate(
        self,
        prompt_ids,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        callback: Callable[[Tensor], None] | None = None,
    ) -> Tensor:
        """The generated ids, (max_new_tokens,) or (B, max_new_tokens); see :meth:`stream`.

        ``callback`` receives each step's ids as soon as they are sampled.
        """
        out = []
        for ids in self.stream(prompt_ids, max_new_tokens, temperature, top_k, top_p, seed):
            if callback is not None:
                callback(ids)
            out.append(ids)
        prompt = torch.as_tensor(prompt_ids)
        if not out:
            shape = (0,) if prompt.dim() == 1 else (prompt.shape[0], 0)
            return torch.zeros(shape, dtype=torch.long)
        return torch.stack(out, dim=-1)


def sample(
    logits: Tensor,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    generator: torch.Generator,
) -> Tensor:
    """One id per row of ``logits`` (B, V); see :meth:`LanguageModel.stream` for the options."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        sorted_probs = sorted_logits.softmax(dim=-1)
        # drop a token when the tokens before it already reach top_p (the first always stays)
        drop_sorted = sorted_probs.cumsum(dim=-1) - sorted_probs >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    probs = logits.softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


def _check_prompt(prompt_ids, vocab_size: int) -> Tensor:
    prompt = torch.as_tensor(prompt_ids)
    if prompt.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
        raise ValueError(f"prompt_ids: expected integer token ids, got dtype {prompt.dtype}")
    if prompt.dim() not in (1, 2) or prompt.shape[-1] == 0:
        raise ValueError(
            f"prompt_ids: expected a non-empty (P,) or (B, P) tensor of ids, "
            f"got shape {tuple(prompt.shape)}"
        )
    low, high = int(prompt.min()), int(prompt.max())
    if low < 0 or high >= vocab_size:
        raise ValueError(
            f"prompt_ids: expected ids in [0, {vocab_size}) (vocab_size), got {low} to {high}"
        )
    return prompt.long()


def _check_sampling(temperature, top_k, top_p) -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise ValueError(f"temperature: expected a number >= 0, got {temperature!r}")
    if not temperature >= 0:
        raise ValueError(f"temperature: expected a number >= 0, got {temperature!r}")
    if top_k is not None:
        check_positive_int("top_k", top_k)
    if top_p is not None and (
        isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1
    ):
        raise ValueError(f"top_p: expected a number in (0, 1], got {top_p!r}")
