"""SequenceTagger (N→N): shapes, masked loss, padding invariance, gradients, errors, learning."""

import pytest
import torch
from model_checks import (
    CELLS,
    assert_every_parameter_gets_gradient,
    assert_padding_invariant,
    random_lengths,
    single_thread,
    train,
)

from recur.data import flip_flop, task_vocab_size
from recur.models.pooling import IGNORE_INDEX
from recur.models.tagger import SequenceTagger


@pytest.fixture(autouse=True)
def _one_thread():
    with single_thread():
        yield


def tokens(batch=4, steps=7, vocab=11, seed=0):
    return torch.randint(0, vocab, (batch, steps), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_one_output_per_step(cell, bidirectional):
    torch.manual_seed(0)
    model = SequenceTagger(
        5, vocab_size=11, embedding_dim=4, cell=cell, hidden_size=8, bidirectional=bidirectional
    )
    assert model(tokens(), torch.tensor([7, 3, 1, 5])).shape == (4, 7, 5)
    model = SequenceTagger(5, input_size=3, cell=cell, hidden_size=8, bidirectional=bidirectional)
    assert model(torch.randn(4, 7, 3)).shape == (4, 7, 5)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_never_changes_the_valid_steps(bidirectional):
    torch.manual_seed(0)
    model = SequenceTagger(
        3, input_size=4, hidden_size=6, num_layers=2, bidirectional=bidirectional, cell="lnlstm"
    )
    lengths = random_lengths(5, 8)
    assert_padding_invariant(model, torch.randn(5, 8, 4), lengths, per_step=True)


def test_loss_counts_valid_steps_only():
    torch.manual_seed(0)
    model = SequenceTagger(3, vocab_size=11, embedding_dim=4, hidden_size=6)
    inputs, lengths = tokens(4, 6), torch.tensor([6, 2, 4, 1])
    tags = torch.randint(0, 3, (4, 6))
    logits = model(inputs, lengths)
    loss = model.loss(logits, tags, lengths)
    # padded tags are arbitrary, even out of range; marking them -100 instead gives the same loss
    valid = torch.arange(6) < lengths.unsqueeze(1)
    torch.testing.assert_close(model.loss(logits, tags.masked_fill(~valid, 99), lengths), loss)
    torch.testing.assert_close(model.loss(logits, tags.masked_fill(~valid, IGNORE_INDEX)), loss)
    # the mean over all valid steps of the batch: each sequence alone, weighted by its length
    total = sum(
        model.loss(model(inputs[b : b + 1, :n]), tags[b : b + 1, :n]) * n
        for b, n in enumerate(lengths.tolist())
    )
    torch.testing.assert_close(loss, total / lengths.sum(), rtol=1e-5, atol=1e-6)


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = SequenceTagger(
        3, input_size=4, embedding_dim=5, hidden_size=6, num_layers=2, bidirectional=True,
        dropout=0.1, cell="peephole",
    )  # fmt: skip
    lengths = random_lengths(6, 8)
    logits = model(torch.randn(6, 8, 4), lengths)
    tags = torch.randint(0, 3, (6, 8))
    assert_every_parameter_gets_gradient(model, model.loss(logits, tags, lengths))


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match=r"cell: expected one of \[.*\], got 'crf'"):
        SequenceTagger(3, vocab_size=11, embedding_dim=4, cell="crf")
    with pytest.raises(ValueError, match=r"num_tags: expected an int >= 1, got 0"):
        SequenceTagger(0, vocab_size=11, embedding_dim=4)
    model = SequenceTagger(3, vocab_size=11, embedding_dim=4, hidden_size=5)
    with pytest.raises(ValueError, match=r"inputs: expected token ids in \[0, 11\)"):
        model(torch.tensor([[3, -1]]))
    with pytest.raises(ValueError, match=r"inputs: expected non-empty token ids"):
        model(torch.zeros(0, 4, dtype=torch.long))
    logits = model(tokens(2, 4))
    with pytest.raises(ValueError, match=r"tags: expected shape \(2, 4\) .* got \(2, 3\)"):
        model.loss(logits, torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"tags: expected classes in \[0, 3\) or -100"):
        model.loss(logits, torch.full((2, 4), 3))
    with pytest.raises(ValueError, match=r"tags: expected a \(B, T\) integer tensor"):
        model.loss(logits, torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"tags: no valid step"):
        model.loss(logits, torch.full((2, 4), IGNORE_INDEX))


def test_learns_to_latch_the_last_signal():
    """Tag each step with the last of two signals seen, up to ~60 steps back (chance ~0.5)."""
    torch.manual_seed(0)
    data = flip_flop(2048, min_len=30, max_len=60, switch_prob=0.03, seed=0)
    held_out = flip_flop(512, min_len=30, max_len=60, switch_prob=0.03, seed=1)
    model = SequenceTagger(2, vocab_size=task_vocab_size(), embedding_dim=8, hidden_size=32)
    batches = torch.randint(0, 2048, (300, 64), generator=torch.Generator().manual_seed(0))

    def batch_loss(step):
        rows = batches[step - 1]
        logits = model(data.inputs[rows], data.lengths[rows])
        return model.loss(logits, data.targets[rows], data.lengths[rows])

    def accuracy():
        predicted = model(held_out.inputs, held_out.lengths).argmax(2)
        valid = held_out.targets != IGNORE_INDEX
        return (predicted[valid] == held_out.targets[valid]).float().mean().item()

    score, steps, seconds = train(model, batch_loss, 300, evaluate=accuracy, target=0.99, every=20)
    print(f"flip_flop: accuracy {score:.3f} after {steps} steps in {seconds:.1f} s")
    assert score > 0.95
