"""Variable-length batches: each sequence behaves exactly as if it were run alone, unpadded."""

import pytest
import torch

import recur
from recur.engine.lengths import reverse_sequences
from recur.layers import registry

LAYERS = list(registry.LAYERS.values())


@pytest.mark.parametrize("impl", ["fused", "reference"])
@pytest.mark.parametrize("layer_cls", LAYERS)
def test_padded_batch_equals_each_sequence_alone(layer_cls, impl):
    torch.manual_seed(0)
    layer = layer_cls(3, 4, num_layers=2, bidirectional=True, impl=impl).double()
    lengths = [6, 2, 4]
    x = torch.randn(6, 3, 3, dtype=torch.float64, requires_grad=True)
    out, state = layer(x, lengths=lengths)
    state = state if isinstance(state, tuple) else (state,)
    weights = torch.randn(out.shape, dtype=torch.float64)
    (out * weights).sum().backward()
    for b, n in enumerate(lengths):
        alone = x.detach()[:n, b : b + 1].clone().requires_grad_()
        out_b, state_b = layer(alone)
        state_b = state_b if isinstance(state_b, tuple) else (state_b,)
        torch.testing.assert_close(out[:n, b : b + 1], out_b)
        assert torch.all(out[n:, b] == 0), "padded steps output zeros"
        for s, s_b in zip(state, state_b):
            torch.testing.assert_close(s[:, b : b + 1], s_b)
        (out_b * weights[:n, b : b + 1]).sum().backward()
        torch.testing.assert_close(x.grad[:n, b : b + 1], alone.grad)
        assert torch.all(x.grad[n:, b] == 0), "padded steps get no gradient"


def test_reverse_keeps_padding_at_the_end_and_is_its_own_inverse():
    x = torch.arange(12.0).view(4, 3)
    reversed_ = reverse_sequences(x, torch.tensor([4, 2, 1]))
    assert reversed_[:, 0].tolist() == [9.0, 6.0, 3.0, 0.0]
    assert reversed_[:, 1].tolist() == [4.0, 1.0, 7.0, 10.0]
    assert reversed_[:, 2].tolist() == [2.0, 5.0, 8.0, 11.0]
    torch.testing.assert_close(reverse_sequences(reversed_, torch.tensor([4, 2, 1])), x)


def test_lengths_as_list_tensor_and_full_length_agree():
    torch.manual_seed(0)
    lstm = recur.LSTM(3, 4)
    x = torch.randn(5, 2, 3)
    plain = lstm(x)[0]
    torch.testing.assert_close(lstm(x, lengths=[5, 5])[0], plain)
    torch.testing.assert_close(lstm(x, lengths=torch.tensor([5, 5]))[0], plain)
