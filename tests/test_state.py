"""Carrying state across windows: detach, reset rows, and the StateCarry pattern."""

import pytest
import torch

import recur
from recur.state import StateCarry, detach_state, reset_rows


def test_windows_with_carried_state_equal_one_pass_and_cut_the_gradient():
    torch.manual_seed(0)
    layer = recur.LSTM(3, 5, batch_first=True)
    x = torch.randn(2, 12, 3, requires_grad=True)
    whole, _ = layer(x)
    carry, parts = StateCarry(), []
    for window in x.split(4, dim=1):
        out, state = layer(window, carry.state)
        carry.keep(state)
        parts.append(out)
    torch.testing.assert_close(torch.cat(parts, 1), whole)
    assert all(not s.requires_grad for s in carry.state)
    parts[-1].sum().backward()  # the last window's loss reaches only the last window's inputs
    assert x.grad[:, :8].abs().max() == 0 and x.grad[:, 8:].abs().max() > 0


def test_reset_rows_zeroes_only_the_new_streams():
    h, c = torch.ones(2, 3, 4), torch.full((2, 3, 4), 2.0)
    new_h, new_c = reset_rows((h, c), torch.tensor([False, True, False]))
    assert new_h[:, 1].abs().max() == 0 and new_c[:, 1].abs().max() == 0
    assert (new_h[:, [0, 2]] == 1).all() and (new_c[:, [0, 2]] == 2).all()
    assert reset_rows(None, torch.tensor([True])) is None
    with pytest.raises(ValueError, match=r"rows: expected a \(B,\) = \(3,\) bool mask"):
        reset_rows(h, torch.tensor([True, False]))


def test_state_carry_reset_and_detach_of_tensors():
    carry = StateCarry()
    h = torch.randn(1, 2, 3, requires_grad=True) * 2
    carry.keep(h)
    assert not carry.state.requires_grad and torch.equal(carry.state, h.detach())
    carry.reset(torch.tensor([True, False]))
    assert carry.state[:, 0].abs().max() == 0 and torch.equal(carry.state[:, 1], h[:, 1].detach())
    carry.reset()
    assert carry.state is None and detach_state(None) is None
