import pytest
import torch
import torch.nn.functional as F
from layer_checks import (
    assert_fused_matches_reference,
    assert_step_matches_sequence,
    gradcheck_layer,
    weighted_loss,
)

from recur.layers.layernorm_lstm import LayerNormLSTM

DOUBLE = torch.float64
LN_PARAMS = ("ln_weight_ih", "ln_weight_hh", "ln_weight_c", "ln_bias_c")
CONFIGS = [
    dict(input_size=3, hidden_size=4),
    dict(input_size=3, hidden_size=4, bidirectional=True),
    dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True),
    dict(input_size=3, hidden_size=4, num_layers=2, batch_first=True, bias=False),
]


def randomize_ln(layer, seed=2):
    """Gains and biases away from their init (1 and 0), so that mistakes in them show."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in layer.named_parameters():
            if name.startswith("ln_"):
                p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.5 + 1.0)


class RandomLN(LayerNormLSTM):
    def reset_parameters(self):
        super().reset_parameters()
        randomize_ln(self)


@pytest.mark.parametrize("kwargs", CONFIGS)
@pytest.mark.parametrize("lengths", [None, [5, 3, 1]])
def test_fused_matches_reference(kwargs, lengths):
    assert_fused_matches_reference(RandomLN, batch=3, steps=5, lengths=lengths, **kwargs)


def test_gradcheck_fused():
    gradcheck_layer(
        RandomLN, lengths=[4, 2], input_size=3, hidden_size=4, num_layers=2, bidirectional=True
    )


@pytest.mark.parametrize("kwargs", [CONFIGS[0], {**CONFIGS[3], "batch_first": False}])
def test_step_matches_sequence(kwargs):
    assert_step_matches_sequence(RandomLN, **kwargs)


@pytest.mark.parametrize("bias", [True, False])
def test_parameter_names_shapes_and_init(bias):
    lstm = LayerNormLSTM(3, 4, num_layers=2, bias=bias, bidirectional=True)
    stems = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if bias else []) + list(LN_PARAMS)
    expected = [f"{s}_l{k}{d}" for k in range(2) for d in ("", "_reverse") for s in stems]
    assert [n for n, _ in lstm.named_parameters()] == expected
    assert lstm.ln_weight_ih_l1.shape == lstm.ln_weight_hh_l1.shape == (16,)
    assert lstm.ln_weight_c_l0_reverse.shape == lstm.ln_bias_c_l0_reverse.shape == (4,)
    for name, p in lstm.named_parameters():
        if name.startswith("ln_weight"):
            assert torch.equal(p, torch.ones_like(p)), name
        elif name.startswith("ln_bias"):
            assert torch.equal(p, torch.zeros_like(p)), name
        else:
            assert 0 < p.abs().max() <= 0.5, name


def hand_loop(lstm, x, h0, c0):
    """The docstring's equations with F.layer_norm, one sequence and one step at a time."""
    H = lstm.hidden_size
    W_ih, W_hh = lstm.weight_ih_l0, lstm.weight_hh_l0
    b_ih, b_hh = lstm.bias_ih_l0, lstm.bias_hh_l0
    outputs, finals = [], []
    for n in range(x.shape[1]):
        h, c = h0[0, n], c0[0, n]
        for t in range(x.shape[0]):
            a = (
                F.layer_norm(W_ih @ x[t, n], (4 * H,), lstm.ln_weight_ih_l0, eps=1e-5)
                + b_ih
                + F.layer_norm(W_hh @ h, (4 * H,), lstm.ln_weight_hh_l0, eps=1e-5)
                + b_hh
            )
            a_i, a_f, a_g, a_o = a.split(H)
            c = a_f.sigmoid() * c + a_i.sigmoid() * a_g.tanh()
            ln_c = F.layer_norm(c, (H,), lstm.ln_weight_c_l0, lstm.ln_bias_c_l0, eps=1e-5)
            h = a_o.sigmoid() * torch.tanh(ln_c)
            outputs.append(h)
        finals.append((h, c))
    out = torch.stack(outputs).view(x.shape[1], x.shape[0], H).transpose(0, 1)
    h_n = torch.stack([h for h, _ in finals]).unsqueeze(0)
    c_n = torch.stack([c for _, c in finals]).unsqueeze(0)
    return out, h_n, c_n


@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_matches_hand_loop(impl):
    """Outputs, final state and every gradient equal an independent F.layer_norm loop."""
    torch.manual_seed(0)
    lstm = RandomLN(3, 4, dtype=DOUBLE, impl=impl)
    x = torch.randn(6, 2, 3, dtype=DOUBLE, requires_grad=True)
    h0 = (0.5 * torch.randn(1, 2, 4, dtype=DOUBLE)).requires_grad_()
    c0 = (0.5 * torch.randn(1, 2, 4, dtype=DOUBLE)).requires_grad_()
    out, (h_n, c_n) = lstm(x, (h0, c0))
    expected = hand_loop(lstm, x, h0, c0)
    inputs = [x, h0, c0, *lstm.parameters()]
    grads = torch.autograd.grad(weighted_loss((out, h_n, c_n)), inputs)
    expected_grads = torch.autograd.grad(weighted_loss(expected), inputs)
    for a, b in zip((out, h_n, c_n, *grads), (*expected, *expected_grads)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_input_layer_norm_is_in_project_input():
    """LN over W_ih x runs once over the sequence under autograd: ln_weight_ih is an input
    parameter, and the engine only sees the recurrent ones."""
    cell = LayerNormLSTM(3, 4).cells[0]
    assert set(cell.input_param_names) == {"weight_ih", "bias_ih", "ln_weight_ih"}
    assert cell.recurrent_param_names() == (
        "weight_hh",
        "bias_hh",
        "ln_weight_hh",
        "ln_weight_c",
        "ln_bias_c",
    )


def test_float32_trains():
    torch.manual_seed(0)
    lstm = LayerNormLSTM(3, 8, num_layers=2, batch_first=True)
    optimizer = torch.optim.Adam(lstm.parameters(), lr=1e-2)
    x, target = torch.randn(4, 7, 3), torch.randn(4, 7, 8).tanh()
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = F.mse_loss(lstm(x)[0], target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]
