"""The input side every model shares: token embedding or a linear projection of real features."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from recur.engine.lengths import tracing


class InputLayer(nn.Module):
    """Maps a model's raw input to the recurrent layer's features.

    Token inputs (``vocab_size`` given): (B, T) int64 ids -> (B, T, embedding_dim), ids checked
    to lie in [0, vocab_size). Real-valued inputs (``input_size`` given): (B, T, input_size) ->
    (B, T, embedding_dim) through a linear projection, or unchanged when ``embedding_dim`` is None.

    Example::

        tokens = InputLayer(vocab_size=100, embedding_dim=32)    # ids (B, T) -> (B, T, 32)
        series = InputLayer(input_size=3)                        # (B, T, 3) passes through
    """

    def __init__(
        self,
        *,
        vocab_size: int | None = None,
        input_size: int | None = None,
        embedding_dim: int | None = None,
        padding_idx: int | None = None,
    ):
        super().__init__()
        if (vocab_size is None) == (input_size is None):
            raise ValueError(
                "vocab_size/input_size: expected exactly one of them (token ids or real features), "
                f"got vocab_size={vocab_size!r}, input_size={input_size!r}"
            )
        for name, value in (
            ("vocab_size", vocab_size),
            ("input_size", input_size),
            ("embedding_dim", embedding_dim),
        ):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
        self.vocab_size = vocab_size
        self.input_size = input_size
        if vocab_size is not None:
            if embedding_dim is None:
                raise ValueError("embedding_dim: expected an int >= 1 for token inputs, got None")
            self.project: nn.Module = nn.Embedding(vocab_size, embedding_dim, padding_idx)
            self.output_size = embedding_dim
        elif embedding_dim is None:
            self.project = nn.Identity()
            self.output_size = input_size
        else:
            self.project = nn.Linear(input_size, embedding_dim)
            self.output_size = embedding_dim

    @property
    def tokens(self) -> bool:
        return self.vocab_size is not None

    def forward(self, inputs: Tensor, name: str = "inputs") -> Tensor:
        """Embed or project ``inputs``; ``name`` is the argument named in error messages."""
        if not isinstance(inputs, Tensor):
            raise ValueError(f"{name}: expected a Tensor, got {type(inputs).__name__}")
        if self.tokens:
            if inputs.dtype in (torch.int64, torch.int32, torch.int16, torch.uint8):
                if inputs.dim() != 2 or inputs.numel() == 0:
                    raise ValueError(
                        f"{name}: expected non-empty token ids of shape (B, T), "
                        f"got {tuple(inputs.shape)}"
                    )
                # A traced graph (export, compile) cannot branch on values: eager calls check them.
                if not tracing():
                    low, high = int(inputs.min()), int(inputs.max())
                    if low < 0 or high >= self.vocab_size:
                        raise ValueError(
                            f"{name}: expected token ids in [0, {self.vocab_size}) "
                            f"(vocab_size), got values from {low} to {high}"
                        )
                return self.project(inputs.long())
            raise ValueError(f"{name}: expected integer token ids, got dtype {inputs.dtype}")
        if not inputs.dtype.is_floating_point:
            raise ValueError(f"{name}: expected real-valued features, got dtype {inputs.dtype}")
        if inputs.dim() != 3 or inputs.shape[-1] != self.input_size or inputs.numel() == 0:
            raise ValueError(
                f"{name}: expected a non-empty (B, T, {self.input_size}) tensor, "
                f"got {tuple(inputs.shape)}"
            )
        return self.project(inputs)
