"""CNNLSTM: a CNN per frame, a recurrent model over frames; both heads, errors, moving digits."""

import pytest
import torch
from model_checks import (
    assert_every_parameter_gets_gradient,
    assert_padding_invariant,
    random_lengths,
    single_thread,
    train,
)

from recur.data import DIRECTIONS, moving_digit_clips
from recur.models.cnn_lstm import CNNLSTM, HEADS, FrameEncoder


@pytest.fixture(autouse=True)
def _one_thread():
    with single_thread():
        yield


def model_for(head="sequence", **kwargs):
    torch.manual_seed(0)
    options = dict(channels=(4, 6), feature_size=10, hidden_size=8, head=head)
    return CNNLSTM(2, 5, **{**options, **kwargs})


def clips(batch=3, frames=4, size=12, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, frames, 2, size, size, generator=gen)


@pytest.mark.parametrize("cell", ["lstm", "gru", "clockwork"])
def test_shapes_of_both_heads(cell):
    assert model_for("sequence", cell=cell)(clips()).shape == (3, 5)
    assert model_for("frames", cell=cell, bidirectional=True)(clips()).shape == (3, 4, 5)
    encoder = FrameEncoder(3, channels=(4, 8, 8), feature_size=7)
    assert encoder(torch.randn(6, 3, 9, 11)).shape == (6, 7)


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padded_frames_never_change_results(head, bidirectional):
    model = model_for(
        head, bidirectional=bidirectional, pooling="mean" if head == "sequence" else None
    )
    lengths = random_lengths(4, 5)
    assert_padding_invariant(model, clips(4, 5), lengths, per_step=head == "frames")


@pytest.mark.parametrize("head", HEADS)
def test_gradients_reach_every_parameter(head):
    model = model_for(head, num_layers=2, dropout=0.1)
    lengths = torch.tensor([4, 2, 1])
    logits = model(clips(), lengths)
    targets = torch.tensor([0, 3, 1]) if head == "sequence" else torch.randint(0, 5, (3, 4))
    assert_every_parameter_gets_gradient(model, model.loss(logits, targets, lengths))


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match=r"head: expected one of \('sequence', 'frames'\)"):
        model_for("clip")
    with pytest.raises(ValueError, match=r"pooling: expected one of \('last', 'mean', 'max'\)"):
        model_for(pooling="sum")
    with pytest.raises(ValueError, match=r'pooling: only for head="sequence"'):
        model_for("frames", pooling="mean")
    with pytest.raises(ValueError, match=r"cell: expected one of \[.*\], got 'conv'"):
        model_for(cell="conv")
    with pytest.raises(ValueError, match=r"channels: expected a non-empty sequence"):
        model_for(channels=())
    model = model_for()
    with pytest.raises(ValueError, match=r"clips: expected a \(B, T, 2, H, W\) tensor"):
        model(torch.randn(3, 2, 12, 12))
    with pytest.raises(ValueError, match=r"clips: expected a \(B, T, 2, H, W\) .* \(3, 4, 1,"):
        model(torch.randn(3, 4, 1, 12, 12))
    with pytest.raises(ValueError, match=r"clips: expected non-empty clips .* at least 4x4"):
        model(torch.randn(3, 0, 2, 12, 12))
    with pytest.raises(ValueError, match=r"clips: expected non-empty clips .* at least 4x4"):
        model(torch.randn(3, 4, 2, 3, 12))
    with pytest.raises(ValueError, match=r"lengths: expected every length in 1..4"):
        model(clips(), torch.tensor([4, 0, 2]))


def test_recognises_the_direction_a_digit_moves():
    """Clips of 6 frames, 16x16: which way (of 4) the digit slides, seen by comparing frames."""
    torch.manual_seed(0)
    data = moving_digit_clips(2000, seed=0)
    held_out = moving_digit_clips(500, seed=1)
    model = CNNLSTM(
        1, len(DIRECTIONS), channels=(8, 16), feature_size=32, cell="gru", hidden_size=32
    )
    batches = torch.randint(0, 2000, (300, 32), generator=torch.Generator().manual_seed(0))

    def batch_loss(step):
        rows = batches[step - 1]
        return model.loss(model(data.clips[rows]), data.directions[rows])

    def accuracy():
        predicted = model(held_out.clips).argmax(1)
        return (predicted == held_out.directions).float().mean().item()

    score, steps, seconds = train(
        model, batch_loss, 300, lr=5e-3, evaluate=accuracy, target=0.97, every=25
    )
    print(f"moving digits: direction accuracy {score:.3f} after {steps} steps in {seconds:.1f} s")
    assert score > 0.9
