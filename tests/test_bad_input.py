"""Bad arguments raise ValueError naming the argument, what was expected and what was given."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import recur


def raises(match):
    return pytest.raises(ValueError, match=match)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(input_size=0, hidden_size=4), r"input_size: expected an int >= 1, got 0"),
        (dict(input_size=3, hidden_size=-2), r"hidden_size: expected an int >= 1, got -2"),
        (dict(input_size=3, hidden_size=4, num_layers=0), r"num_layers: .* got 0"),
        (dict(input_size=3, hidden_size=4, dropout=1.5), r"dropout: expected .*\[0, 1\], got 1.5"),
        (dict(input_size=3, hidden_size=4, impl="cuda"), r"impl: expected one of .* got 'cuda'"),
        (dict(input_size=3, hidden_size=4, proj_size=4), r"proj_size: expected less than"),
        (dict(input_size=3, hidden_size=4, proj_size=-1), r"proj_size: expected an int >= 0"),
    ],
)
def test_bad_constructor_arguments(kwargs, match):
    with raises(match):
        recur.LSTM(**kwargs)


def test_unknown_nonlinearity():
    with raises(r"nonlinearity: expected one of \('tanh', 'relu'\), got 'sigmoid'"):
        recur.ElmanRNN(3, 4, nonlinearity="sigmoid")


@pytest.fixture
def lstm():
    return recur.LSTM(3, 4, num_layers=2)


def test_wrong_rank(lstm):
    with raises(r"input: expected a 3-D tensor .* got 4-D of shape \(2, 2, 2, 3\)"):
        lstm(torch.randn(2, 2, 2, 3))
    with raises(r"input: expected a 3-D tensor .* got 1-D"):
        lstm(torch.randn(3))


def test_wrong_feature_size(lstm):
    with raises(r"input: expected last dimension input_size=3, got shape \(5, 2, 7\)"):
        lstm(torch.randn(5, 2, 7))


def test_wrong_dtype_and_device(lstm):
    with raises(r"input: expected dtype torch.float32 .* got torch.float64"):
        lstm(torch.randn(5, 2, 3, dtype=torch.float64))
    with raises(r"input: expected device cpu .* got meta"):
        lstm(torch.randn(5, 2, 3, device="meta"))
    with raises(r"input: expected dtype torch.float32 .* got torch.int64"):
        lstm(torch.ones(5, 2, 3, dtype=torch.int64))


def test_bad_lengths(lstm):
    x = torch.randn(5, 2, 3)
    with raises(r"lengths: expected every length in 1..5 .* got min 0 and max 5"):
        lstm(x, lengths=[5, 0])
    with raises(r"lengths: expected every length in 1..5 .* got min 2 and max 6"):
        lstm(x, lengths=[6, 2])
    with raises(r"lengths: expected shape \(2,\) .* got \(3,\)"):
        lstm(x, lengths=[5, 2, 1])
    with raises(r"lengths: expected integers, got dtype torch.float32"):
        lstm(x, lengths=torch.tensor([5.0, 2.0]))
    packed = pack_padded_sequence(x, [5, 2])
    with raises(r"lengths: must be None for a PackedSequence"):
        lstm(packed, lengths=[5, 2])


def test_bad_state(lstm):
    x = torch.randn(5, 2, 3)
    h = torch.zeros(2, 2, 4)
    with raises(r"state: expected a tuple \(h, c\) of 2 tensors, got Tensor"):
        lstm(x, h)
    with raises(r"state c: expected shape \(2, 2, 4\), got \(1, 2, 4\)"):
        lstm(x, (h, torch.zeros(1, 2, 4)))
    with raises(r"state h: expected shape \(2, 2, 4\), got \(2, 3, 4\)"):
        lstm(x, (torch.zeros(2, 3, 4), h))
    with raises(r"state h: expected dtype torch.float32 .* got torch.float64"):
        lstm(x, (h.double(), h))
    rnn = recur.ElmanRNN(3, 4)
    with raises(r"state: expected a Tensor h, got tuple"):
        rnn(x, (torch.zeros(1, 2, 4),))


def test_step_errors():
    with raises(r"step: needs a unidirectional layer"):
        recur.LSTM(3, 4, bidirectional=True).step(torch.randn(2, 3))
    with raises(r"x_t: expected shape \(N, 3\), got \(2, 5\)"):
        recur.LSTM(3, 4).step(torch.randn(2, 5))
