"""The generated tasks of the model examples hold what their docstrings promise."""

import pytest
import torch

from recur.data import (
    CAPTION_BOS,
    CAPTION_EOS,
    DIGIT_NAMES,
    DIRECTIONS,
    decode_caption,
    digit_captions,
    encode_caption,
    flip_flop,
    moving_digit_clips,
    remember_first,
    task_vocab_size,
)
from recur.data.generated import IGNORE_INDEX, PAD, SYMBOL_A, SYMBOL_B


def test_remember_first_has_one_early_signal_naming_the_label():
    task = remember_first(200, min_len=10, max_len=30, lead=4, seed=3)
    assert task.inputs.shape == (200, 30) and int(task.inputs.max()) < task_vocab_size()
    for row, length, label in zip(task.inputs, task.lengths.tolist(), task.targets.tolist()):
        assert 10 <= length <= 30 and bool((row[length:] == PAD).all())
        signals = ((row == SYMBOL_A) | (row == SYMBOL_B)).nonzero().flatten().tolist()
        assert len(signals) == 1 and signals[0] < 4
        assert int(row[signals[0]]) - SYMBOL_A == label
    assert torch.equal(remember_first(50, seed=3).inputs, remember_first(50, seed=3).inputs)


def test_flip_flop_tags_are_the_latest_signal():
    task = flip_flop(100, min_len=10, max_len=40, switch_prob=0.1, seed=2)
    for row, tags, length in zip(task.inputs, task.targets, task.lengths.tolist()):
        assert int(row[0]) in (SYMBOL_A, SYMBOL_B)
        assert bool((tags[length:] == IGNORE_INDEX).all())
        latest = None
        for t in range(length):
            if int(row[t]) in (SYMBOL_A, SYMBOL_B):
                latest = int(row[t]) - SYMBOL_A
            assert int(tags[t]) == latest


def test_digit_captions_spell_each_digits_name():
    train, test = digit_captions(test_fraction=0.25, seed=0)
    assert len(train.digits) + len(test.digits) == 1797 and len(test.digits) == 449
    assert train.features.shape == (1348, 64) and float(train.features.max()) <= 1.0
    for tokens, length, digit in zip(test.tokens, test.lengths.tolist(), test.digits.tolist()):
        assert int(tokens[0]) == CAPTION_BOS and int(tokens[length]) == CAPTION_EOS
        assert decode_caption(tokens) == DIGIT_NAMES[digit]
    assert decode_caption(encode_caption("seven")) == "seven"
    with pytest.raises(ValueError, match=r"test_fraction: expected a number in \(0, 1\)"):
        digit_captions(test_fraction=1.0)


def test_clips_slide_one_pixel_per_frame_in_their_direction():
    data = moving_digit_clips(40, frames=5, canvas=14, seed=1)
    assert data.clips.shape == (40, 5, 1, 14, 14)
    grid = torch.arange(14, dtype=torch.float32)
    for clip, direction in zip(data.clips[:, :, 0], data.directions.tolist()):
        mass = clip.sum((1, 2))
        centre_y = (clip.sum(2) * grid).sum(1) / mass
        centre_x = (clip.sum(1) * grid).sum(1) / mass
        dy, dx = (centre_y.diff(), centre_x.diff())
        expected = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}
        ey, ex = expected[DIRECTIONS[direction]]
        torch.testing.assert_close(dy, torch.full_like(dy, ey), rtol=0, atol=1e-4)
        torch.testing.assert_close(dx, torch.full_like(dx, ex), rtol=0, atol=1e-4)
    with pytest.raises(ValueError, match=r"canvas: expected at least 8 \+ speed"):
        moving_digit_clips(3, frames=6, canvas=12)
