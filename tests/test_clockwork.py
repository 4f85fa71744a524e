import pytest
import torch
import torch.nn.functional as F
from layer_checks import (
    assert_fused_matches_reference,
    assert_step_matches_sequence,
    gradcheck_layer,
    weighted_loss,
)

from recur.cells.clockwork import ClockworkCell
from recur.layers.clockwork import ClockworkRNN

DOUBLE = torch.float64
CONFIGS = [
    dict(input_size=3, hidden_size=4),
    dict(input_size=3, hidden_size=6, periods=(1, 2, 4), bidirectional=True),
    dict(input_size=3, hidden_size=6, periods=(1, 3), num_layers=2, bidirectional=True),
    dict(input_size=3, hidden_size=6, periods=(2, 3, 5), num_layers=2, batch_first=True),
    dict(input_size=3, hidden_size=4, periods=(1, 2), bias=False),
]


def weight_hh_params(layer):
    return {n: p for n, p in layer.named_parameters() if n.startswith("weight_hh")}


def masked_blocks(layer):
    """(H, H) boolean: True where W_hh must be zero (module of column < module of row)."""
    return layer.cells[0].weight_mask("cpu", DOUBLE) == 0


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("lengths", [None, [5, 3, 1]])
@pytest.mark.parametrize("kwargs", CONFIGS)
def test_fused_matches_reference(kwargs, lengths, nonlinearity):
    assert_fused_matches_reference(
        ClockworkRNN, batch=3, steps=5, lengths=lengths, nonlinearity=nonlinearity, **kwargs
    )


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_gradcheck_fused(nonlinearity):
    gradcheck_layer(
        ClockworkRNN,
        lengths=[4, 2],
        input_size=3,
        hidden_size=4,
        periods=(1, 2),
        num_layers=2,
        bidirectional=True,
        nonlinearity=nonlinearity,
    )


@pytest.mark.parametrize("kwargs", [CONFIGS[0], CONFIGS[2] | {"bidirectional": False}])
def test_step_matches_sequence(kwargs):
    assert_step_matches_sequence(ClockworkRNN, steps=7, **kwargs)


@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_update_schedule(impl):
    """Module k changes exactly at the steps t with t % T_k == 0 and is constant otherwise."""
    torch.manual_seed(0)
    periods, size = (1, 2, 4), 2
    rnn = ClockworkRNN(3, 6, periods=periods, dtype=DOUBLE, impl=impl)
    x = torch.randn(8, 2, 3, dtype=DOUBLE)
    h0 = torch.randn(1, 2, 6, dtype=DOUBLE)
    out, _ = rnn(x, h0)
    states = torch.cat([h0, out])  # states[t + 1] is h_t
    for t in range(8):
        for k, period in enumerate(periods):
            before, after = (states[s, :, k * size : (k + 1) * size] for s in (t, t + 1))
            if t % period == 0:
                assert (before != after).all(), (t, k)
            else:
                assert torch.equal(before, after), (t, k)


def test_matches_hand_loop():
    """The docstring's equations, written out with an explicit block mask and schedule."""
    torch.manual_seed(0)
    periods = (1, 2, 3)
    rnn = ClockworkRNN(3, 6, periods=periods, dtype=DOUBLE)
    with torch.no_grad():  # fill the masked blocks: the layer must ignore them
        rnn.weight_hh_l0.add_(torch.randn(6, 6, dtype=DOUBLE) * masked_blocks(rnn))
    x = torch.randn(7, 2, 3, dtype=DOUBLE)
    module = torch.arange(6) // 2
    W = rnn.weight_hh_l0 * (module[None, :] >= module[:, None])
    b = rnn.bias_ih_l0 + rnn.bias_hh_l0
    h = torch.zeros(2, 6, dtype=DOUBLE)
    out, h_n = rnn(x)
    for t in range(7):
        active = torch.tensor([t % periods[k] == 0 for k in module.tolist()])
        h = torch.where(active, torch.tanh(x[t] @ rnn.weight_ih_l0.t() + h @ W.t() + b), h)
        torch.testing.assert_close(out[t], h, rtol=0, atol=1e-12)
    torch.testing.assert_close(h_n[0], h, rtol=0, atol=1e-12)


@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_one_module_is_torch_rnn(impl):
    """periods=(1,): every unit updates every step, the mask is full: torch.nn.RNN's numbers."""
    torch.manual_seed(0)
    kwargs = dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, dtype=DOUBLE)
    theirs = torch.nn.RNN(**kwargs)
    ours = ClockworkRNN(**kwargs, periods=(1,), impl=impl)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(5, 2, 3, dtype=DOUBLE)
    for a, b in zip(ours(x), theirs(x)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_weight_hh_gradient_is_zero_on_masked_blocks():
    torch.manual_seed(0)
    rnn = ClockworkRNN(3, 6, periods=(1, 2, 4), num_layers=2, bidirectional=True, dtype=DOUBLE)
    x = torch.randn(9, 2, 3, dtype=DOUBLE)
    weighted_loss(rnn(x, lengths=[9, 6])).backward()
    masked = masked_blocks(rnn)
    for name, p in weight_hh_params(rnn).items():
        assert torch.equal(p.grad[masked], torch.zeros_like(p.grad[masked])), name
        assert (p.grad[~masked] != 0).all(), name


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-2),
        lambda p: torch.optim.Adam(p, lr=1e-2),
    ],
    ids=["SGD", "Adam"],
)
def test_masked_blocks_stay_zero_under_training(make_optimizer):
    torch.manual_seed(0)
    rnn = ClockworkRNN(3, 8, num_layers=2, bidirectional=True)
    masked = rnn.cells[0].weight_mask("cpu", torch.float32) == 0
    for name, p in weight_hh_params(rnn).items():
        assert torch.equal(p[masked], torch.zeros_like(p[masked])), name
        assert (p[~masked] != 0).all(), name
    before = {n: p.detach().clone() for n, p in weight_hh_params(rnn).items()}
    optimizer = make_optimizer(rnn.parameters())
    x, target = torch.randn(10, 4, 3), torch.randn(10, 4, 16).tanh()
    for _ in range(5):
        optimizer.zero_grad()
        F.mse_loss(rnn(x)[0], target).backward()
        optimizer.step()
    for name, p in weight_hh_params(rnn).items():
        assert torch.equal(p[masked], torch.zeros_like(p[masked])), name
        assert not torch.equal(p, before[name]), name


def test_default_periods():
    assert ClockworkRNN(3, 8).periods == (1, 2, 4, 8)
    assert ClockworkRNN(3, 9).periods == (1, 2, 4)
    assert ClockworkRNN(3, 6).periods == (1, 2, 4)
    assert ClockworkRNN(3, 10).periods == (1, 2)
    assert ClockworkRNN(3, 5).periods == (1,)
    assert ClockworkRNN(3, 6, periods=3).periods == (1, 2, 4)
    assert ClockworkCell(3, 12, periods=[1, 5]).periods == (1, 5)


@pytest.mark.parametrize(
    "periods",
    [(), [], 0, -1, (2, 1), (1, 1), (0, 1), (-1, 2), (1.0, 2), (1, "2"), (True, 2), "12", 2.0],
)
@pytest.mark.parametrize("factory", [ClockworkRNN, ClockworkCell])
def test_bad_periods(factory, periods):
    with pytest.raises(ValueError, match="periods") as error:
        factory(3, 4, periods=periods)
    assert repr(periods) in str(error.value)


@pytest.mark.parametrize("periods", [(1, 2, 4), 3, (1, 2, 4, 8, 16)])
def test_periods_must_divide_hidden_size(periods):
    with pytest.raises(ValueError, match=r"periods: expected .* dividing hidden_size=4, got"):
        ClockworkRNN(3, 4, periods=periods)


def test_layer_validates_before_creating_parameters(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("a parameter was created before periods was validated")

    monkeypatch.setattr(ClockworkRNN, "make_cell", fail)
    with pytest.raises(ValueError, match="periods"):
        ClockworkRNN(3, 4, periods=(2, 1))
    with pytest.raises(ValueError, match="nonlinearity: expected one of"):
        ClockworkRNN(3, 4, nonlinearity="sigmoid")


def test_masks_are_cached():
    cell = ClockworkRNN(3, 8).cells[0]
    assert cell.weight_mask("cpu", DOUBLE) is cell.weight_mask(torch.device("cpu"), DOUBLE)
    assert cell.active_mask(3, "cpu") is cell.active_mask(5, "cpu")  # both: period 1 only
    assert cell.active_mask(0, "cpu").tolist() == [[True] * 8]
    assert cell.active_mask(6, "cpu").tolist() == [[True] * 4 + [False] * 4]
