"""Carrying a recurrent state across batches: the stateful / truncated-BPTT pattern.

A long stream (a text, a sensor recording) is read in windows; the state at the end of one window
is the initial state of the next, so the model sees the whole past, but gradients stop at the
window's start (truncated BPTT, seeds 6.6): the state is *detached* between windows. When a
stream ends and another starts in the same batch row, that row's state is reset to zero.

Example::

    carry = StateCarry()
    for inputs, targets, starts in windows:          # starts: (B,) bool, a new stream begins
        carry.reset(starts)
        output, state = model(inputs, carry.state)
        loss(output, targets).backward()
        carry.keep(state)                            # detached: the next backward stops here

Works with any recur layer or model whose state is a tensor or a tuple of tensors ((h, c) for the
LSTM family) with the batch on dimension 1 (torch's (layers * directions, B, H)).
"""

from __future__ import annotations

from torch import Tensor


def detach_state(state):
    """The same state values cut from the autograd graph (a tensor or a tuple of tensors)."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    return tuple(s.detach() for s in state)


def reset_rows(state, rows: Tensor):
    """``state`` with the batch rows where ``rows`` (B,) is True set to zero (None stays None)."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return _zero_rows(state, rows)
    return tuple(_zero_rows(s, rows) for s in state)


def _zero_rows(s: Tensor, rows: Tensor) -> Tensor:
    if rows.dim() != 1 or rows.shape[0] != s.shape[1]:
        raise ValueError(
            f"rows: expected a (B,) = ({s.shape[1]},) bool mask of the batch rows to reset, "
            f"got shape {tuple(rows.shape)}"
        )
    return s.masked_fill(rows.to(device=s.device, dtype=bool).view(1, -1, 1), 0.0)


class StateCarry:
    """The state carried from one window to the next (None: start from zeros)."""

    def __init__(self):
        self.state = None

    def keep(self, state) -> None:
        """Carry ``state`` into the next window, detached (truncated BPTT)."""
        self.state = detach_state(state)

    def reset(self, rows: Tensor | None = None) -> None:
        """Forget everything (``rows`` None) or only the rows where a new stream begins."""
        self.state = None if rows is None else reset_rows(self.state, rows)
