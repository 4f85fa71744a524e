"""Reductions over the valid steps of padded batches: pooling to one vector, masked losses.

Sequences are padded at the end; step t of sequence b is valid when t < lengths[b]. Nothing here
reads a padded step, so padding contents never change a result.

Shapes (B batch, T steps, F features, D directions):
    output   (B, T, F), F = D * S: a batch-first layer output, the directions side by side
    lengths  (B,) ints in 1..T, or None when every sequence is T steps long
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from recur.models.checks import check_choice

POOLINGS = ("last", "mean", "max")
IGNORE_INDEX = -100  # torch's cross_entropy default: targets equal to it are left out of a loss


def valid_steps(lengths: Tensor | None, batch: int, steps: int, device=None) -> Tensor:
    """(B, T) boolean mask, True on valid steps (all True when ``lengths`` is None)."""
    if lengths is None:
        return torch.ones(batch, steps, dtype=torch.bool, device=device)
    time = torch.arange(steps, device=device)
    return time.unsqueeze(0) < torch.as_tensor(lengths, device=device).unsqueeze(1)


def pool(output: Tensor, lengths: Tensor | None, mode: str, num_directions: int = 1) -> Tensor:
    """One (B, F) vector per sequence from its valid steps.

    "last": the state after reading the whole sequence. For the forward direction that is the
    output at its own last valid step ``lengths[b] - 1``; the backward direction reads the
    sequence from its end, so its whole-sequence summary is its output at step 0.
    "mean" / "max": average / elementwise maximum over the valid steps.
    """
    check_choice("pooling", mode, POOLINGS)
    batch, steps, features = output.shape
    if lengths is None:
        lengths = torch.full((batch,), steps, dtype=torch.long)
    lengths = torch.as_tensor(lengths, device=output.device).long()
    if mode == "last":
        size = features // num_directions
        index = (lengths - 1).view(batch, 1, 1).expand(batch, 1, size)
        forward_end = output[..., :size].gather(1, index).squeeze(1)
        if num_directions == 1:
            return forward_end
        return torch.cat([forward_end, output[:, 0, size:]], dim=1)
    valid = valid_steps(lengths, batch, steps, output.device).unsqueeze(2)
    if mode == "mean":
        total = output.masked_fill(~valid, 0.0).sum(1)
        return total / lengths.unsqueeze(1).to(output.dtype)
    return output.masked_fill(~valid, float("-inf")).amax(1)


def masked_cross_entropy(
    logits: Tensor, targets: Tensor, lengths: Tensor | None = None, name: str = "targets"
) -> Tensor:
    """Mean cross entropy over the valid steps of (B, T, V) logits and (B, T) class targets.

    A step counts when it is within ``lengths`` and its target is not ``IGNORE_INDEX`` (-100):
    either way of marking padding works, and both may be used together.
    """
    if not isinstance(targets, Tensor) or targets.dtype.is_floating_point or targets.dim() != 2:
        raise ValueError(f"{name}: expected a (B, T) integer tensor, got {_describe(targets)}")
    if tuple(targets.shape) != tuple(logits.shape[:2]):
        raise ValueError(
            f"{name}: expected shape {tuple(logits.shape[:2])} (the logits' B, T), "
            f"got {tuple(targets.shape)}"
        )
    batch, steps, classes = logits.shape
    valid = valid_steps(lengths, batch, steps, targets.device) & (targets != IGNORE_INDEX)
    if not bool(valid.any()):
        raise ValueError(f"{name}: no valid step to compute a loss over (all padded or ignored)")
    chosen = targets[valid]
    if int(chosen.min()) < 0 or int(chosen.max()) >= classes:
        raise ValueError(
            f"{name}: expected classes in [0, {classes}) or {IGNORE_INDEX} (ignored), "
            f"got values from {int(chosen.min())} to {int(chosen.max())}"
        )
    return F.cross_entropy(logits[valid], chosen.long())


def _describe(value) -> str:
    if isinstance(value, Tensor):
        return f"{value.dim()}-D {value.dtype} of shape {tuple(value.shape)}"
    return type(value).__name__
