import pytest
import torch
from layer_checks import (
    assert_fused_matches_reference,
    assert_step_matches_sequence,
    gradcheck_layer,
)

from recur.layers.peephole import PeepholeLSTM

DOUBLE = torch.float64
PEEPHOLES = ("weight_pi", "weight_pf", "weight_po")
CONFIGS = [
    dict(input_size=3, hidden_size=4),
    dict(input_size=3, hidden_size=4, bidirectional=True),
    dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True),
    dict(input_size=3, hidden_size=4, num_layers=2, batch_first=True, bias=False),
]


@pytest.mark.parametrize("kwargs", CONFIGS)
@pytest.mark.parametrize("lengths", [None, [5, 3, 1]])
def test_fused_matches_reference(kwargs, lengths):
    assert_fused_matches_reference(PeepholeLSTM, batch=3, steps=5, lengths=lengths, **kwargs)


def test_gradcheck_fused():
    gradcheck_layer(
        PeepholeLSTM, lengths=[4, 2], input_size=3, hidden_size=4, num_layers=2, bidirectional=True
    )


@pytest.mark.parametrize("kwargs", [CONFIGS[0], {**CONFIGS[3], "batch_first": False}])
def test_step_matches_sequence(kwargs):
    assert_step_matches_sequence(PeepholeLSTM, **kwargs)


@pytest.mark.parametrize("bias", [True, False])
def test_parameter_names(bias):
    lstm = PeepholeLSTM(3, 4, num_layers=2, bias=bias, bidirectional=True)
    stems = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if bias else []) + list(PEEPHOLES)
    expected = [f"{s}_l{k}{d}" for k in range(2) for d in ("", "_reverse") for s in stems]
    assert [n for n, _ in lstm.named_parameters()] == expected
    assert lstm.weight_pf_l1_reverse.shape == (4,)
    assert lstm.weight_ih_l1.shape == (16, 8)


def test_matches_hand_loop():
    """The equations of the docstring, written out independently, one sequence at a time."""
    torch.manual_seed(0)
    lstm = PeepholeLSTM(3, 4, dtype=DOUBLE)
    x = torch.randn(6, 2, 3, dtype=DOUBLE)
    h0, c0 = 0.5 * torch.randn(1, 2, 4, dtype=DOUBLE), 0.5 * torch.randn(1, 2, 4, dtype=DOUBLE)
    out, (h_n, c_n) = lstm(x, (h0, c0))
    W, U = lstm.weight_ih_l0.split(4), lstm.weight_hh_l0.split(4)
    b = (lstm.bias_ih_l0 + lstm.bias_hh_l0).split(4)
    p_i, p_f, p_o = lstm.weight_pi_l0, lstm.weight_pf_l0, lstm.weight_po_l0
    for n in range(2):
        h, c = h0[0, n], c0[0, n]
        for t in range(6):
            a = [W[k] @ x[t, n] + U[k] @ h + b[k] for k in range(4)]
            i = torch.sigmoid(a[0] + p_i * c)
            f = torch.sigmoid(a[1] + p_f * c)
            c = f * c + i * torch.tanh(a[2])
            o = torch.sigmoid(a[3] + p_o * c)
            h = o * torch.tanh(c)
            torch.testing.assert_close(out[t, n], h, rtol=0, atol=1e-12)
        torch.testing.assert_close(h_n[0, n], h, rtol=0, atol=1e-12)
        torch.testing.assert_close(c_n[0, n], c, rtol=0, atol=1e-12)


@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_zero_peepholes_equal_torch_lstm(impl):
    """Same four weights, peepholes zero: torch.nn.LSTM's numbers (proves the gate layout)."""
    torch.manual_seed(0)
    kwargs = dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, dtype=DOUBLE)
    theirs = torch.nn.LSTM(**kwargs)
    ours = PeepholeLSTM(**kwargs, impl=impl)
    result = ours.load_state_dict(theirs.state_dict(), strict=False)
    assert not result.unexpected_keys
    assert all(k.split("_l")[0] in PEEPHOLES for k in result.missing_keys)
    assert len(result.missing_keys) == 3 * 4
    with torch.no_grad():
        for name in result.missing_keys:
            getattr(ours, name).zero_()
    x = torch.randn(5, 2, 3, dtype=DOUBLE, requires_grad=True)
    grads = []
    for layer in (theirs, ours):
        out, (h, c) = layer(x)
        gen = torch.Generator().manual_seed(1)
        loss = sum(
            (v * torch.randn(v.shape, generator=gen, dtype=DOUBLE)).sum() for v in (out, h, c)
        )
        params = [getattr(layer, n) for n, _ in theirs.named_parameters()]
        grads.append((out, h, c, *torch.autograd.grad(loss, [x, *params])))
    for a, b in zip(*grads):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-12)
