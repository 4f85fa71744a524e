import pytest
import torch
from layer_checks import (
    assert_fused_matches_reference,
    assert_step_matches_sequence,
    gradcheck_layer,
)
from torch_equivalence import assert_matches_torch

import recur


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("lengths", [None, [5, 3, 1]])
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(input_size=3, hidden_size=4),
        dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, batch_first=True),
        dict(input_size=3, hidden_size=4, bias=False),
    ],
)
def test_fused_matches_reference(kwargs, lengths, nonlinearity):
    assert_fused_matches_reference(
        recur.ElmanRNN, lengths=lengths, nonlinearity=nonlinearity, **kwargs
    )


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_gradcheck_fused(nonlinearity):
    gradcheck_layer(
        recur.ElmanRNN,
        lengths=[4, 2],
        input_size=3,
        hidden_size=4,
        num_layers=2,
        bidirectional=True,
        nonlinearity=nonlinearity,
    )


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(input_size=5, hidden_size=7),
        dict(input_size=5, hidden_size=7, num_layers=2, bidirectional=True, batch_first=True),
    ],
)
def test_matches_torch(kwargs, nonlinearity, packed):
    assert_matches_torch(
        recur.ElmanRNN, torch.nn.RNN, packed=packed, nonlinearity=nonlinearity, **kwargs
    )


def test_step_matches_sequence():
    assert_step_matches_sequence(recur.ElmanRNN, input_size=3, hidden_size=4, num_layers=2)


def test_seeds_notation_holds():
    """h_t = f(U x_t + W h_{t-1} + b) with U = weight_ih, W = weight_hh, b = b_ih + b_hh."""
    torch.manual_seed(0)
    rnn = recur.ElmanRNN(3, 4).double()
    x = torch.randn(6, 1, 3, dtype=torch.float64)
    U, W = rnn.weight_ih_l0, rnn.weight_hh_l0
    b = rnn.bias_ih_l0 + rnn.bias_hh_l0
    h = torch.zeros(4, dtype=torch.float64)
    expected = []
    for t in range(6):
        h = torch.tanh(U @ x[t, 0] + W @ h + b)
        expected.append(h)
    torch.testing.assert_close(rnn(x)[0][:, 0], torch.stack(expected))
