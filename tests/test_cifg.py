import pytest
import torch
from layer_checks import (
    assert_fused_matches_reference,
    assert_step_matches_sequence,
    gradcheck_layer,
)

from recur.layers.cifg import CIFGLSTM

DOUBLE = torch.float64
CONFIGS = [
    dict(input_size=3, hidden_size=4),
    dict(input_size=3, hidden_size=4, bidirectional=True),
    dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True),
    dict(input_size=3, hidden_size=4, num_layers=2, batch_first=True, bias=False),
]


@pytest.mark.parametrize("kwargs", CONFIGS)
@pytest.mark.parametrize("lengths", [None, [5, 3, 1]])
def test_fused_matches_reference(kwargs, lengths):
    assert_fused_matches_reference(CIFGLSTM, batch=3, steps=5, lengths=lengths, **kwargs)


def test_gradcheck_fused():
    gradcheck_layer(
        CIFGLSTM, lengths=[4, 2], input_size=3, hidden_size=4, num_layers=2, bidirectional=True
    )


@pytest.mark.parametrize("kwargs", [CONFIGS[0], {**CONFIGS[3], "batch_first": False}])
def test_step_matches_sequence(kwargs):
    assert_step_matches_sequence(CIFGLSTM, **kwargs)


@pytest.mark.parametrize("bias", [True, False])
def test_parameters_have_three_gates_and_no_forget_gate(bias):
    lstm = CIFGLSTM(3, 4, num_layers=2, bias=bias, bidirectional=True)
    shapes = {"weight_ih": (12, 3), "weight_hh": (12, 4), "bias_ih": (12,), "bias_hh": (12,)}
    stems = list(shapes) if bias else ["weight_ih", "weight_hh"]
    expected = [f"{s}_l{k}{d}" for k in range(2) for d in ("", "_reverse") for s in stems]
    named = dict(lstm.named_parameters())
    assert list(named) == expected
    for name, p in named.items():
        stem = name.split("_l")[0]
        assert "f" not in stem, name  # no forget-gate weight (weight_if, weight_hf, bias_f ...)
        inputs = 3 if "_l0" in name else 8
        assert p.shape == ((12, inputs) if stem == "weight_ih" else shapes[stem]), name


def test_matches_hand_loop():
    """The equations of the docstring, written out with an explicit forget gate f = 1 - i."""
    torch.manual_seed(0)
    lstm = CIFGLSTM(3, 4, dtype=DOUBLE)
    x = torch.randn(6, 2, 3, dtype=DOUBLE)
    h0, c0 = 0.5 * torch.randn(1, 2, 4, dtype=DOUBLE), 0.5 * torch.randn(1, 2, 4, dtype=DOUBLE)
    out, (h_n, c_n) = lstm(x, (h0, c0))
    W, U = lstm.weight_ih_l0.split(4), lstm.weight_hh_l0.split(4)
    b = (lstm.bias_ih_l0 + lstm.bias_hh_l0).split(4)
    for n in range(2):
        h, c = h0[0, n], c0[0, n]
        for t in range(6):
            a = [W[k] @ x[t, n] + U[k] @ h + b[k] for k in range(3)]
            i, g, o = torch.sigmoid(a[0]), torch.tanh(a[1]), torch.sigmoid(a[2])
            f = 1 - i
            c = f * c + i * g
            h = o * torch.tanh(c)
            torch.testing.assert_close(out[t, n], h, rtol=0, atol=1e-12)
        torch.testing.assert_close(h_n[0, n], h, rtol=0, atol=1e-12)
        torch.testing.assert_close(c_n[0, n], c, rtol=0, atol=1e-12)


@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_equals_torch_lstm_with_negated_input_gate_as_forget_gate(impl):
    """sigmoid(-a) = 1 - sigmoid(a): torch.nn.LSTM with f rows = -(i rows) is a CIFG LSTM."""
    torch.manual_seed(0)
    kwargs = dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, dtype=DOUBLE)
    ours = CIFGLSTM(**kwargs, impl=impl)
    theirs = torch.nn.LSTM(**kwargs)
    with torch.no_grad():
        for name, p in ours.named_parameters():
            i, g, o = p.split(4)
            getattr(theirs, name).copy_(torch.cat((i, -i, g, o)))
    x = torch.randn(5, 2, 3, dtype=DOUBLE, requires_grad=True)
    results = []
    for layer in (theirs, ours):
        out, (h, c) = layer(x)
        gen = torch.Generator().manual_seed(1)
        loss = sum(
            (v * torch.randn(v.shape, generator=gen, dtype=DOUBLE)).sum() for v in (out, h, c)
        )
        params = [getattr(layer, n) for n, _ in ours.named_parameters()]
        results.append(((out, h, c), torch.autograd.grad(loss, [x, *params])))
    (values_t, grads_t), (values_o, grads_o) = results
    for a, b in zip(values_t, values_o):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-12)
    torch.testing.assert_close(grads_o[0], grads_t[0], rtol=0, atol=1e-12)
    for a, b in zip(grads_t[1:], grads_o[1:]):  # i is shared: dL/d(i rows) = d_i - d_f
        d_i, d_f, d_g, d_o = a.split(4)
        torch.testing.assert_close(b, torch.cat((d_i - d_f, d_g, d_o)), rtol=0, atol=1e-12)
