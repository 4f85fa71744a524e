"""SequenceClassifier (N→1): shapes, pooling over valid steps only, gradients, errors, learning."""

import pytest
import torch
import torch.nn.functional as F
from model_checks import (
    CELLS,
    assert_every_parameter_gets_gradient,
    assert_padding_invariant,
    random_lengths,
    single_thread,
    train,
)

from recur.data import remember_first, task_vocab_size
from recur.models.classifier import SequenceClassifier
from recur.models.pooling import POOLINGS, pool


@pytest.fixture(autouse=True)
def _one_thread():
    with single_thread():
        yield


def tokens(batch=4, steps=7, vocab=11, seed=0):
    return torch.randint(0, vocab, (batch, steps), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("cell", CELLS)
def test_every_cell_gives_logits_for_tokens_and_features(cell):
    torch.manual_seed(0)
    model = SequenceClassifier(3, vocab_size=11, embedding_dim=5, cell=cell, hidden_size=8)
    assert model(tokens(), torch.tensor([7, 2, 5, 1])).shape == (4, 3)
    model = SequenceClassifier(3, input_size=6, cell=cell, hidden_size=8, num_layers=2)
    assert model(torch.randn(4, 7, 6)).shape == (4, 3)


def test_real_features_are_projected_when_embedding_dim_is_given():
    model = SequenceClassifier(2, input_size=6, embedding_dim=4, hidden_size=8, pooling="mean")
    assert model.backbone.layer.input_size == 4
    assert model(torch.randn(3, 5, 6)).shape == (3, 2)


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_padding_never_changes_the_logits(pooling, bidirectional, cell):
    torch.manual_seed(0)
    model = SequenceClassifier(
        3, vocab_size=11, embedding_dim=5, cell=cell, hidden_size=6, num_layers=2,
        bidirectional=bidirectional, pooling=pooling,
    )  # fmt: skip
    lengths = random_lengths(5, 9)
    assert_padding_invariant(model, tokens(5, 9), lengths, per_step=False)
    # padding contents are arbitrary: other (valid) ids there change nothing
    scrambled = tokens(5, 9, seed=1)
    valid = torch.arange(9) < lengths.unsqueeze(1)
    scrambled[valid] = tokens(5, 9)[valid]
    torch.testing.assert_close(model(scrambled, lengths), model(tokens(5, 9), lengths))


def test_bidirectional_last_pooling_is_each_directions_final_state():
    """Forward: output at the last valid step; backward: its output at step 0 (its final state)."""
    torch.manual_seed(0)
    model = SequenceClassifier(2, input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    x, lengths = torch.randn(4, 6, 3), torch.tensor([6, 3, 1, 4])
    output, h = model.backbone.layer(x, lengths=lengths)
    forward_h, backward_h = h[0][-2], h[0][-1]  # last layer's two directions (h, c)
    pooled = pool(output, lengths, "last", num_directions=2)
    torch.testing.assert_close(pooled, torch.cat([forward_h, backward_h], dim=1))


def test_mean_and_max_use_valid_steps_only():
    output = torch.tensor([[[1.0], [3.0], [100.0]], [[-2.0], [-4.0], [-6.0]]])
    lengths = torch.tensor([2, 3])
    assert pool(output, lengths, "mean").flatten().tolist() == [2.0, -4.0]
    assert pool(output, lengths, "max").flatten().tolist() == [3.0, -2.0]
    assert pool(output, lengths, "last").flatten().tolist() == [3.0, -6.0]


@pytest.mark.parametrize("pooling", POOLINGS)
def test_gradients_reach_every_parameter(pooling):
    torch.manual_seed(0)
    model = SequenceClassifier(
        3, vocab_size=11, embedding_dim=5, hidden_size=6, num_layers=2, bidirectional=True,
        dropout=0.1, pooling=pooling,
    )  # fmt: skip
    logits = model(tokens(6, 8), random_lengths(6, 8))
    assert_every_parameter_gets_gradient(model, F.cross_entropy(logits, torch.arange(6) % 3))


def test_cell_options_pass_through_to_the_layer():
    model = SequenceClassifier(2, input_size=3, cell="clockwork", hidden_size=8, periods=(1, 4))
    assert model.backbone.layer.periods == (1, 4)
    model = SequenceClassifier(2, input_size=3, hidden_size=8, proj_size=3, bidirectional=True)
    assert model.head.in_features == 6
    assert model(torch.randn(2, 5, 3)).shape == (2, 2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(cell="lstn"), r"cell: expected one of \['cifg', .*\], got 'lstn'"),
        (dict(pooling="first"), r"pooling: expected one of \('last', 'mean', 'max'\), got 'first'"),
        (
            dict(periods=(1, 2)),
            r"periods: not an option of the 'lstm' layer; the layer options are \['bias', .*'impl'",
        ),
        (dict(batch_first=False), r"batch_first: set by the model itself"),
        (dict(input_size=3), r"vocab_size/input_size: expected exactly one of them"),
        (dict(hidden_size=0), r"hidden_size: expected an int >= 1, got 0"),
        (dict(dropout=2.0), r"dropout: expected a number in \[0, 1\], got 2.0"),
    ],
)
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SequenceClassifier(2, **{"vocab_size": 11, "embedding_dim": 4, **kwargs})


def test_bad_inputs_name_the_argument():
    model = SequenceClassifier(2, vocab_size=11, embedding_dim=4, hidden_size=5)
    with pytest.raises(ValueError, match=r"inputs: expected token ids in \[0, 11\) .* to 11"):
        model(torch.tensor([[1, 2, 11]]))
    with pytest.raises(ValueError, match=r"inputs: expected non-empty token ids .* \(2, 0\)"):
        model(torch.zeros(2, 0, dtype=torch.long))
    with pytest.raises(ValueError, match=r"lengths: expected every length in 1..3 .* min 0"):
        model(tokens(2, 3), torch.tensor([3, 0]))
    with pytest.raises(ValueError, match=r"lengths: expected shape \(2,\)"):
        model(tokens(2, 3), torch.tensor([3, 2, 1]))
    features = SequenceClassifier(2, input_size=3, hidden_size=5)
    with pytest.raises(ValueError, match=r"inputs: expected a non-empty \(B, T, 3\) tensor"):
        features(torch.randn(2, 0, 3))


def test_learns_a_long_range_dependency():
    """Which of two symbols came in the first 4 steps, read out 20-50 steps later (chance 0.5)."""
    torch.manual_seed(0)
    data = remember_first(4096, min_len=20, max_len=50, seed=0)
    held_out = remember_first(512, min_len=20, max_len=50, seed=1)
    model = SequenceClassifier(
        2, vocab_size=task_vocab_size(), embedding_dim=8, cell="gru", hidden_size=32
    )
    batches = torch.randint(0, 4096, (600, 128), generator=torch.Generator().manual_seed(0))

    def batch_loss(step):
        rows = batches[step - 1]
        logits = model(data.inputs[rows], data.lengths[rows])
        return F.cross_entropy(logits, data.targets[rows])

    def accuracy():
        predicted = model(held_out.inputs, held_out.lengths).argmax(1)
        return (predicted == held_out.targets).float().mean().item()

    score, steps, seconds = train(model, batch_loss, 600, evaluate=accuracy, target=0.97)
    print(f"remember_first: accuracy {score:.3f} after {steps} steps in {seconds:.1f} s")
    assert score > 0.9
