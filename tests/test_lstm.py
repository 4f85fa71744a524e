import pytest
import torch
from layer_checks import (
    assert_fused_matches_reference,
    assert_step_matches_sequence,
    gradcheck_layer,
)
from torch_equivalence import assert_matches_torch

import recur

CONFIGS = [
    dict(input_size=3, hidden_size=4),
    dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True),
    dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, proj_size=2),
    dict(input_size=3, hidden_size=4, batch_first=True, bias=False),
]


@pytest.mark.parametrize("kwargs", CONFIGS)
@pytest.mark.parametrize("lengths", [None, [5, 3, 1]])
def test_fused_matches_reference(kwargs, lengths):
    assert_fused_matches_reference(recur.LSTM, batch=3, steps=5, lengths=lengths, **kwargs)


@pytest.mark.parametrize("kwargs", [CONFIGS[0], CONFIGS[2]])
def test_gradcheck_fused(kwargs):
    gradcheck_layer(recur.LSTM, lengths=[4, 2], **kwargs)


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(input_size=5, hidden_size=7),
        dict(input_size=5, hidden_size=7, num_layers=2, bidirectional=True, batch_first=True),
        dict(input_size=5, hidden_size=7, num_layers=2, bidirectional=True, proj_size=3),
        dict(input_size=5, hidden_size=7, bias=False),
    ],
)
def test_matches_torch(kwargs, packed):
    assert_matches_torch(recur.LSTM, torch.nn.LSTM, batch=4, steps=6, packed=packed, **kwargs)


@pytest.mark.parametrize("kwargs", [CONFIGS[0], {**CONFIGS[2], "bidirectional": False}])
def test_step_matches_sequence(kwargs):
    assert_step_matches_sequence(recur.LSTM, **kwargs)


def test_unbatched_input_matches_batch_of_one():
    torch.manual_seed(0)
    lstm = recur.LSTM(3, 4, num_layers=2)
    x = torch.randn(6, 3)
    out, (h, c) = lstm(x)
    out_b, (h_b, c_b) = lstm(x.unsqueeze(1))
    assert out.shape == (6, 4) and h.shape == (2, 4)
    torch.testing.assert_close(out, out_b.squeeze(1))
    torch.testing.assert_close(c, c_b.squeeze(1))


def test_dropout_between_layers_only_in_training():
    torch.manual_seed(0)
    lstm = recur.LSTM(3, 8, num_layers=2, dropout=0.5)
    x = torch.randn(5, 2, 3)
    lstm.eval()
    first, second = lstm(x)[0], lstm(x)[0]
    torch.testing.assert_close(first, second)
    lstm.train()
    assert not torch.allclose(lstm(x)[0], first)


def test_torch_calling_conventions():
    """hx= keyword and flatten_parameters(), as code written for torch.nn.LSTM uses them."""
    torch.manual_seed(0)
    lstm = recur.LSTM(3, 4)
    lstm.flatten_parameters()
    x, h0 = torch.randn(5, 2, 3), (torch.randn(1, 2, 4), torch.randn(1, 2, 4))
    torch.testing.assert_close(lstm(x, hx=h0)[0], lstm(x, h0)[0])
    with pytest.raises(ValueError, match="hx: give the initial state as state or as hx"):
        lstm(x, h0, hx=h0)


# ---------------------------------------------------------------- torch's oneDNN LSTM in inference
def test_inference_that_needs_nothing_else_runs_torch_lstm(monkeypatch):
    torch.manual_seed(0)
    ours = recur.LSTM(5, 128, num_layers=2, bidirectional=True, batch_first=True).eval()
    native = recur.LSTM(5, 128, num_layers=2, bidirectional=True, batch_first=True, impl="native")
    native.load_state_dict(ours.state_dict())
    x, h0 = torch.randn(3, 9, 5), torch.randn(4, 3, 128)
    calls = []
    real = torch.lstm
    monkeypatch.setattr(torch, "lstm", lambda *a: calls.append(1) or real(*a))
    with torch.no_grad():
        y, (h, c) = ours(x, (h0, h0))
        y_native, (h_native, c_native) = native.eval()(x, (h0, h0))
    assert calls == [1]
    torch.testing.assert_close(y, y_native, rtol=0, atol=1e-5)
    torch.testing.assert_close((h, c), (h_native, c_native), rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "make, call",
    [
        (lambda: recur.LSTM(5, 128), lambda m, x: m(x)),  # gradients wanted
        (lambda: recur.LSTM(5, 128, impl="native"), "no_grad"),
        (lambda: recur.LSTM(5, 128, proj_size=3), "no_grad"),
        (lambda: recur.LSTM(5, 128, zoneout=0.1).eval(), "no_grad"),
        (lambda: recur.LSTM(5, 128, num_layers=2, dropout=0.5), "no_grad"),  # training dropout
        (lambda: recur.LSTM(5, 128, dtype=torch.float64), "no_grad"),
        (lambda: recur.LSTM(5, 128), lambda m, x: m(x, lengths=[9, 4])),
        (lambda: recur.LSTM(5, 64), "no_grad"),  # small: the native loop is faster
        (lambda: recur.LSTM(5, 128), lambda m, x: m(x[:, :1])),  # batch 1, with gradients
    ],
)
def test_recur_engines_serve_every_other_call(make, call, monkeypatch):
    monkeypatch.setattr(torch, "lstm", lambda *a: pytest.fail("torch.lstm was called"))
    module = make()
    x = torch.randn(9, 2, 5, dtype=module.weight_hh_l0.dtype)
    if call == "no_grad":
        with torch.no_grad():
            module(x)
            module(x[:, :1])  # batch 1: the native loop is faster
    else:
        call(module, x)
