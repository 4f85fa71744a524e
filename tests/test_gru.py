import pytest
import torch
import torch.nn.functional as F
from layer_checks import (
    assert_fused_matches_reference,
    assert_step_matches_sequence,
    gradcheck_layer,
)
from torch_equivalence import assert_matches_torch

from recur.layers.gru import GRU

DOUBLE = torch.float64
CONFIGS = [
    dict(input_size=3, hidden_size=4),
    dict(input_size=3, hidden_size=4, bidirectional=True),
    dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True),
    dict(input_size=3, hidden_size=4, num_layers=2, batch_first=True, bias=False),
]


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("kwargs", CONFIGS)
@pytest.mark.parametrize("lengths", [None, [5, 3, 1]])
def test_fused_matches_reference(kwargs, lengths, reset_after):
    assert_fused_matches_reference(
        GRU, batch=3, steps=5, lengths=lengths, reset_after=reset_after, **kwargs
    )


@pytest.mark.parametrize("reset_after", [True, False])
def test_gradcheck_fused(reset_after):
    gradcheck_layer(
        GRU,
        lengths=[4, 2],
        input_size=3,
        hidden_size=4,
        num_layers=2,
        bidirectional=True,
        reset_after=reset_after,
    )


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(input_size=5, hidden_size=7),
        dict(input_size=5, hidden_size=7, num_layers=2, bidirectional=True),
        dict(input_size=5, hidden_size=7, num_layers=2, bidirectional=True, batch_first=True),
        dict(input_size=5, hidden_size=7, bias=False),
    ],
)
def test_matches_torch(kwargs, packed):
    assert_matches_torch(GRU, torch.nn.GRU, batch=4, steps=6, packed=packed, **kwargs)


def cho_gru(gru: GRU, x: torch.Tensor) -> torch.Tensor:
    """Cho et al. 2014 written out by hand: the reset gate acts on h before W_hn."""
    H = gru.hidden_size
    W_irz, W_in = gru.weight_ih_l0.split([2 * H, H])
    W_hrz, W_hn = gru.weight_hh_l0.split([2 * H, H])
    b_irz, b_in = gru.bias_ih_l0.split([2 * H, H])
    b_hrz, b_hn = gru.bias_hh_l0.split([2 * H, H])
    h, outputs = torch.zeros(x.shape[1], H, dtype=x.dtype), []
    for x_t in x:
        r, z = torch.sigmoid(F.linear(x_t, W_irz, b_irz) + F.linear(h, W_hrz, b_hrz)).chunk(2, 1)
        n = torch.tanh(F.linear(x_t, W_in, b_in) + F.linear(r * h, W_hn, b_hn))
        h = (1 - z) * n + z * h
        outputs.append(h)
    return torch.stack(outputs)


def test_reset_before_is_cho_and_differs_from_torch():
    torch.manual_seed(0)
    theirs = torch.nn.GRU(3, 4, dtype=DOUBLE)
    ours = GRU(3, 4, dtype=DOUBLE, reset_after=False)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(6, 2, 3, dtype=DOUBLE)
    out, h = ours(x)
    torch.testing.assert_close(out, cho_gru(ours, x), rtol=0, atol=1e-12)
    torch.testing.assert_close(h[0], out[-1], rtol=0, atol=0)
    assert not torch.allclose(out, theirs(x)[0], rtol=1e-3, atol=1e-3)
    assert "reset_after=False" in repr(ours)


@pytest.mark.parametrize("reset_after", [True, False])
def test_step_matches_sequence(reset_after):
    assert_step_matches_sequence(
        GRU, input_size=3, hidden_size=4, num_layers=2, reset_after=reset_after
    )
