"""1→N: a token sequence generated from one conditioning vector (e.g. image features → caption).

Two ways to feed the vector f, the two drawn in the seeds:

    condition="first":  (h_0, c_0) = tanh(W_init f + b_init)   per layer; x_t = E[y_{t-1}]
    condition="every":  state starts at zeros;                   x_t = [E[y_{t-1}] ; f]

then o_t, state_t = RNN(x_t, state_{t-1}) and logits_t = W_out o_t + b_out, with y_0 = BOS.
"first" must carry f in the state for the whole sequence; "every" sees it at each step.

Shapes (B batch, T steps, F feature_size, V vocab_size):
    features  (B, F) real
    tokens    (B, T) int64 decoder inputs: BOS then the target shifted right (teacher forcing)
    lengths   optional (B,) ints in 1..T
    logits    (B, T, V): logits[:, t] predicts the token after tokens[:, t]

Example::

    model = ConditionalGenerator(vocab_size=18, feature_size=64, condition="every", cell="gru")
    logits = model(images, captions[:, :-1], lengths)         # teacher forcing
    loss = masked_cross_entropy(logits, captions[:, 1:], lengths)
    ids, ids_lengths = model.generate(images, max_len=8, bos=1, eos=2)   # greedy
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur.layers.checks import check_dropout, check_positive_int
from recur.layers.registry import make_layer
from recur.models.checks import check_choice, check_layer_kwargs
from recur.models.inputs import InputLayer

CONDITIONS = ("first", "every")


class ConditionalGenerator(nn.Module):
    """Generates token sequences conditioned on a feature vector; see the module docstring.

    Arguments:
        vocab_size: V (the BOS, EOS and padding ids are the caller's, all in [0, V)).
        feature_size: F, the size of the conditioning vector.
        condition: "first" (the initial state only) or "every" (concatenated to every input).
        cell, hidden_size, num_layers, embedding_dim: the decoder (unidirectional: it generates
            left to right).
        dropout: on the token embeddings, between layers and before the output layer.
        layer_kwargs: passed to the layer (``impl``, ``proj_size``, ``periods`` ...).
    """

    def __init__(
        self,
        vocab_size: int,
        feature_size: int,
        *,
        condition: str = "first",
        cell: str = "lstm",
        hidden_size: int = 128,
        num_layers: int = 1,
        embedding_dim: int = 32,
        dropout: float = 0.0,
        **layer_kwargs,
    ):
        super().__init__()
        self.condition = check_choice("condition", condition, CONDITIONS)
        self.feature_size = check_positive_int("feature_size", feature_size)
        check_layer_kwargs(cell, layer_kwargs, owned=("num_layers", "dropout", "bidirectional"))
        self.dropout = check_dropout(dropout)
        self.embed = InputLayer(vocab_size=vocab_size, embedding_dim=embedding_dim)
        self.vocab_size = vocab_size
        layer_input = embedding_dim + (feature_size if condition == "every" else 0)
        self.layer = make_layer(
            cell,
            layer_input,
            hidden_size,
            num_layers=num_layers,
            dropout=dropout,
            batch_first=True,
            **layer_kwargs,
        )
        self.state_sizes = _state_sizes(self.layer)
        if condition == "first":
            self.init_state = nn.Linear(feature_size, num_layers * sum(self.state_sizes))
        self.head = nn.Linear(self.state_sizes[0], vocab_size)

    def initial_state(self, features: Tensor):
        """The layer's initial state for these features ("first"), or None (zeros, "every")."""
        if self.condition == "every":
            return None
        batch = features.shape[0]
        parts = torch.tanh(self.init_state(features)).view(batch, self.layer.num_layers, -1)
        state = tuple(
            part.transpose(0, 1).contiguous() for part in parts.split(self.state_sizes, dim=2)
        )
        return state[0] if len(state) == 1 else state

    def forward(self, features: Tensor, tokens: Tensor, lengths=None) -> Tensor:
        """Teacher-forced logits (B, T, V) of the token after each input token."""
        x = self.embed(tokens, "tokens")
        self._check_features(features, tokens.shape[0])
        x = F.dropout(x, self.dropout, self.training)
        if self.condition == "every":
            x = torch.cat([x, features.unsqueeze(1).expand(-1, x.shape[1], -1)], dim=2)
        output, _ = self.layer(x, self.initial_state(features), lengths)
        return self.head(F.dropout(output, self.dropout, self.training))

    def step(self, features: Tensor, ids_t: Tensor, state, t: int) -> tuple[Tensor, object]:
        """One token per sequence: ids_t (B,) at step index t -> logits (B, V) and the state.

        Start with ``state = model.initial_state(features)`` and ``ids_t`` all BOS at t = 0.
        """
        x = F.dropout(self.embed(ids_t.unsqueeze(1), "ids_t")[:, 0], self.dropout, self.training)
        if self.condition == "every":
            x = torch.cat([x, features], dim=1)
        y, state = self.layer.step(x, state, t)
        return self.head(F.dropout(y, self.dropout, self.training)), state

    @torch.no_grad()
    def generate(
        self,
        features: Tensor,
        max_len: int,
        bos: int,
        eos: int,
        *,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Generate from ``features`` one recurrent :meth:`step` per token, in eval mode.

        ``temperature`` 0 is greedy (argmax); otherwise tokens are sampled from
        softmax(logits / temperature) with a generator seeded by ``seed``. Generation stops at
        ``max_len`` tokens or when every sequence has produced ``eos``. The training mode is
        restored afterwards.

        Returns:
            ``(ids, lengths)``: ids (B, L ≤ max_len) without the BOS, each row's EOS included and
            followed by EOS; lengths (B,) counts each row's tokens up to and including its EOS
            (max_len if it has none).
        """
        _check_decoding(max_len, bos, eos, temperature, self.vocab_size)
        self._check_features(features)
        batch, device = features.shape[0], features.device
        generator = torch.Generator(device=device)
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed)
        was_training = self.training
        self.eval()
        try:
            state = self.initial_state(features)
            token = torch.full((batch,), bos, dtype=torch.long, device=device)
            finished = torch.zeros(batch, dtype=torch.bool, device=device)
            lengths = torch.full((batch,), max_len, dtype=torch.long)
            ids = []
            for t in range(max_len):
                logits, state = self.step(features, token, state, t)
                if temperature == 0:
                    token = logits.argmax(-1)
                else:
                    probs = torch.softmax(logits / temperature, dim=-1)
                    token = torch.multinomial(probs, 1, generator=generator).squeeze(1)
                token = token.masked_fill(finished, eos)
                ids.append(token)
                ended = (token == eos) & ~finished
                lengths[ended.cpu()] = t + 1
                finished |= ended
                if bool(finished.all()):
                    break
        finally:
            self.train(was_training)
        return torch.stack(ids, dim=1), lengths

    def _check_features(self, features: Tensor, batch: int | None = None) -> None:
        ref = self.head.weight
        rows = "B" if batch is None else batch
        if (
            not isinstance(features, Tensor)
            or features.dim() != 2
            or features.shape[1] != self.feature_size
            or batch not in (None, features.shape[0])
        ):
            shape = tuple(features.shape) if isinstance(features, Tensor) else type(features)
            raise ValueError(
                f"features: expected shape ({rows}, {self.feature_size}) (batch, feature_size), "
                f"got {shape}"
            )
        if features.dtype != ref.dtype or features.device != ref.device:
            raise ValueError(
                f"features: expected {ref.dtype} on {ref.device} (the model's parameters), "
                f"got {features.dtype} on {features.device}"
            )
        if features.shape[0] == 0:
            raise ValueError("features: expected a non-empty batch, got 0 rows")


def _check_decoding(max_len, bos, eos, temperature, vocab_size: int) -> None:
    check_positive_int("max_len", max_len)
    for name, value in (("bos", bos), ("eos", eos)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name}: expected an int token id, got {value!r}")
        if not 0 <= value < vocab_size:
            raise ValueError(
                f"{name}: expected an id in [0, {vocab_size}) (vocab_size), got {value}"
            )
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise ValueError(f"temperature: expected a number >= 0 (0 = greedy), got {temperature!r}")
    if temperature < 0:
        raise ValueError(f"temperature: expected a number >= 0 (0 = greedy), got {temperature}")


def _state_sizes(layer) -> tuple[int, ...]:
    """Sizes of the layer's state tensors ((S,) or (S, H) for the LSTM family), from one step."""
    ref = layer.weight_hh_l0
    with torch.no_grad():
        _, state = layer.step(ref.new_zeros(1, layer.input_size))
    return tuple(s.shape[-1] for s in ((state,) if isinstance(state, Tensor) else state))
