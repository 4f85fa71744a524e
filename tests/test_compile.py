"""torch.compile: recur layers compile without graph breaks and match eager.

Under compile the native engine runs as the custom operators of recur.engine.native.compiled;
``torch.library.opcheck`` checks their fake implementations and autograd registration.
"""

import pytest
import torch
from torch import nn

import recur
from recur.engine import native
from recur.engine.native import compiled

pytestmark = [
    pytest.mark.skipif(not native.load(), reason="the native engine is unavailable"),
    # inductor's own imports use deprecated torch.jit APIs
    pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"),
]


class Tagger(nn.Module):
    """A recurrent layer with a linear head: the smallest model around a recur layer."""

    def __init__(self, rnn: nn.Module, features: int):
        super().__init__()
        self.rnn, self.head = rnn, nn.Linear(features, 3, dtype=rnn.weight_hh_l0.dtype)

    def forward(self, x, lengths=None):
        output, state = self.rnn(x, lengths=lengths)
        first = state[0] if isinstance(state, tuple) else state
        return self.head(output), first


def _outputs_and_grads(model, x, lengths):
    model.zero_grad()
    x = x.detach().clone().requires_grad_()
    y, h = model(x, lengths)
    (y.square().sum() + h.sin().sum()).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    return [y.detach(), h.detach(), x.grad, *grads]


CASES = [
    # (name, layer factory, features of its output, dtype, padded lengths)
    ("lstm", lambda dt: recur.LSTM(4, 6, dtype=dt), 6, torch.float32, None),
    ("lstm-proj-f64", lambda dt: recur.LSTM(4, 6, proj_size=3, dtype=dt), 3, torch.float64, None),
    (
        "gru-bi-lengths",
        lambda dt: recur.GRU(4, 5, bidirectional=True, dtype=dt),
        10,
        torch.float32,
        [7, 4, 2],
    ),  # fmt: skip
    ("elman-f64", lambda dt: recur.ElmanRNN(4, 5, num_layers=2, dtype=dt), 5, torch.float64, None),
    ("layernorm-lstm", lambda dt: recur.LayerNormLSTM(4, 5, dtype=dt), 5, torch.float32, None),
]


@pytest.mark.parametrize(
    "name, factory, features, dtype, lengths", CASES, ids=[c[0] for c in CASES]
)
def test_compiled_matches_eager(name, factory, features, dtype, lengths):
    torch.manual_seed(0)
    model = Tagger(factory(dtype), features)
    x = torch.randn(7, 3, 4, dtype=dtype)
    lengths = None if lengths is None else torch.tensor(lengths)
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(model)(x, lengths)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert "recur.native_forward" in explanation.graphs[0].code  # the native kernels, traced
    compiled_model = torch.compile(model, fullgraph=True)
    got = _outputs_and_grads(compiled_model, x, lengths)
    want = _outputs_and_grads(model, x, lengths)
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)


def test_compiled_regularised_training_matches_eager():
    # recurrent dropout and zoneout masks drawn as eager does (fallback_random), so the saved
    # buffers of both regularisers go through the compiled forward and backward
    torch.manual_seed(0)
    model = Tagger(recur.LSTM(4, 6, recurrent_dropout=0.3, zoneout=0.2), 6).train()
    x = torch.randn(5, 2, 4)
    torch._dynamo.reset()
    with torch._inductor.config.patch(fallback_random=True):
        torch.manual_seed(1)
        got = _outputs_and_grads(torch.compile(model, fullgraph=True), x, None)
    torch.manual_seed(1)
    want = _outputs_and_grads(model, x, None)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_compiled_inference_matches_eager():
    torch.manual_seed(0)
    model = Tagger(recur.LSTM(4, 6, num_layers=2), 6).eval()
    x = torch.randn(5, 2, 4)
    torch._dynamo.reset()
    with torch.no_grad():
        got = torch.compile(model, fullgraph=True)(x)
        want = model(x)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def _forward_args(family, has_param, valid=False, dtype=torch.float64, training=True):
    """Sample arguments of recur::native_forward: T=4, B=3, H=5 (state0 as the family's)."""
    torch.manual_seed(0)
    gates = {"lstm": 4, "gru": 3, "elman": 1, "lnlstm": 4}[family]
    steps, batch, hidden = 4, 3, 5
    state0 = [torch.randn(batch, hidden, dtype=dtype)]
    if family in ("lstm", "lnlstm"):
        state0.append(torch.randn(batch, hidden, dtype=dtype))
    shapes = {
        "lstm": [(4 * hidden, hidden), (4 * hidden,)],
        "gru": [(3 * hidden, hidden), (3 * hidden,)],
        "elman": [(hidden, hidden), (hidden,)],
        "lnlstm": [(4 * hidden, hidden), (4 * hidden,), (4 * hidden,), (hidden,), (hidden,)],
    }[family]
    params = [0.3 * torch.randn(s, dtype=dtype) for s, has in zip(shapes, has_param) if has]
    for t in (*state0, *params):
        t.requires_grad_(training)
    has_param = list(has_param) + [False] * (6 - len(has_param) if family == "lstm" else 0)
    xp = torch.randn(steps, batch, gates * hidden, dtype=dtype, requires_grad=training)
    # All steps valid: the kernels leave the saved buffers of padded steps unwritten, and opcheck
    # compares every output, scratch included (padding is checked by the compiled layers above).
    mask = torch.ones(steps, batch, dtype=torch.bool)
    options = {"lstm": [0], "gru": [1], "elman": [0, hidden, 1], "lnlstm": []}[family]
    reals = [1e-5] if family == "lnlstm" else []
    return (family, xp, state0, params, has_param, mask if valid else None, None, None, 0.0,
            options, reals, training)  # fmt: skip


@pytest.mark.parametrize(
    "family, has_param, valid",
    [
        ("lstm", [True, True], False),
        ("lstm", [True, False], True),
        ("gru", [True, True], True),
        ("elman", [True, True], False),
        ("lnlstm", [True, True, True, True, True], True),
    ],
)
def test_opcheck_native_forward(family, has_param, valid):
    args = _forward_args(family, has_param, valid)
    torch.library.opcheck(compiled.native_forward, args)


def test_opcheck_native_forward_without_grad():
    args = _forward_args("lstm", [True, True], training=False)
    torch.library.opcheck(compiled.native_forward, args)
