"""Variable-length batches: validity masks and per-sequence time reversal.

Sequences are padded at the end. Step t of sequence b is valid when t < lengths[b]; the engines
keep the state of a finished sequence unchanged and emit zeros for its padded steps, so the final
state is each sequence's own last valid step. The reverse direction reverses each sequence within
its own length (padding stays at the end) so that it starts at the sequence's own end.
"""

from __future__ import annotations

import torch
from torch import Tensor

from recur.engine.scan import exporting


def tracing() -> bool:
    """True while torch.export or torch.compile traces: no branching on tensor values."""
    return exporting() or torch.compiler.is_compiling()


def check_lengths(lengths, batch: int, steps: int) -> Tensor:
    """Validate ``lengths`` (a sequence or 1-D integer tensor) and return it as int64 on CPU."""
    given = lengths
    if not isinstance(lengths, Tensor):
        try:
            lengths = torch.as_tensor(lengths)
        except (TypeError, ValueError, RuntimeError) as error:
            raise ValueError(f"lengths: expected a 1-D sequence of ints, got {given!r}") from error
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype == torch.bool:
        raise ValueError(f"lengths: expected integers, got dtype {lengths.dtype}")
    if lengths.dim() != 1 or lengths.shape[0] != batch:
        raise ValueError(
            f"lengths: expected shape ({batch},) (one length per sequence in the batch), "
            f"got {tuple(lengths.shape)}"
        )
    lengths = lengths.to("cpu", torch.int64)
    if tracing():  # a traced graph cannot branch on values (recur.export, torch.compile)
        return lengths
    if batch and (int(lengths.min()) < 1 or int(lengths.max()) > steps):
        raise ValueError(
            f"lengths: expected every length in 1..{steps} (the padded sequence length), "
            f"got min {int(lengths.min())} and max {int(lengths.max())}"
        )
    return lengths


def valid_mask(lengths: Tensor, steps: int, device: torch.device) -> Tensor | None:
    """(T, B, 1) boolean mask of valid steps, or None when every sequence is full length.

    Under torch.export and torch.compile the mask is always built: the traced graph serves any
    lengths.
    """
    if not tracing() and bool((lengths == steps).all()):
        return None
    time = torch.arange(steps, device=device).unsqueeze(1)
    return (time < lengths.to(device).unsqueeze(0)).unsqueeze(2)


def reverse_sequences(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence of ``x`` (T, B, ...) within its own length; padding stays at the end.

    The map is its own inverse, so the same call turns reversed outputs back.
    """
    if lengths is None:
        return x.flip(0)
    steps = x.shape[0]
    time = torch.arange(steps).unsqueeze(1)
    lengths = lengths.unsqueeze(0)
    index = torch.where(time < lengths, lengths - 1 - time, time).to(x.device)
    index = index.view(steps, -1, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(0, index)
