"""Generated tasks for the model examples: long-range sequences, digit captions, moving digits.

Everything is seeded (``numpy.random.default_rng(seed)``); nothing is downloaded: the digit
images are scikit-learn's bundled 8x8 digits (scikit-learn is a dev extra, imported on use).

Token tasks share one vocabulary layout: 0 is padding, 1 and 2 are the two signal symbols
("A", "B"), and 3 .. 2 + num_distractors are distractors.

Example::

    train = remember_first(2000, seed=0)      # train.inputs (N, T), .lengths (N,), .targets (N,)
    tags = flip_flop(2000, seed=0)            # .targets (N, T), padded with -100
    captions_train, captions_test = digit_captions(seed=0)
    clips = moving_digit_clips(1000, seed=0)  # .clips (N, 6, 1, 16, 16), .directions (N,)
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

PAD, SYMBOL_A, SYMBOL_B = 0, 1, 2
IGNORE_INDEX = -100


class SequenceTask(NamedTuple):
    inputs: Tensor  # (N, T) int64 ids, padded with PAD
    lengths: Tensor  # (N,) int64
    targets: Tensor  # (N,) labels, or (N, T) per-step tags padded with IGNORE_INDEX


def task_vocab_size(num_distractors: int = 8) -> int:
    """Vocabulary of :func:`remember_first` and :func:`flip_flop`: padding, A, B, distractors."""
    return 3 + num_distractors


def remember_first(
    n: int,
    *,
    min_len: int = 20,
    max_len: int = 60,
    lead: int = 4,
    num_distractors: int = 8,
    seed: int = 0,
) -> SequenceTask:
    """N→1 with a long-range dependency: which signal symbol appeared near the start?

    Each sequence of length L ~ U{min_len..max_len} holds exactly one signal (A or B, label 0 or
    1) at a random position among the first ``lead`` steps; every other step is a distractor.
    The label must be carried from the start to the end: 15-60 steps. Chance is 0.5.
    """
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_len, max_len + 1, n)
    labels = rng.integers(0, 2, n)
    inputs = np.full((n, max_len), PAD, dtype=np.int64)
    for i, length in enumerate(lengths):
        inputs[i, :length] = rng.integers(3, 3 + num_distractors, length)
        inputs[i, rng.integers(0, lead)] = SYMBOL_A + labels[i]
    return SequenceTask(*(torch.from_numpy(a) for a in (inputs, lengths, labels)))


def flip_flop(
    n: int,
    *,
    min_len: int = 20,
    max_len: int = 60,
    switch_prob: float = 0.05,
    num_distractors: int = 8,
    seed: int = 0,
) -> SequenceTask:
    """N→N with long-range dependencies: tag every step with the last signal seen (a latch).

    Step 0 is a signal (A or B); later steps are a signal with probability ``switch_prob``
    (gaps of ~1/switch_prob steps) and a distractor otherwise. The tag of step t is 0 if the
    latest signal at or before t is A, 1 if B; padded steps are tagged IGNORE_INDEX. Chance
    (always one tag) is about 0.5.
    """
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_len, max_len + 1, n)
    inputs = np.full((n, max_len), PAD, dtype=np.int64)
    tags = np.full((n, max_len), IGNORE_INDEX, dtype=np.int64)
    for i, length in enumerate(lengths):
        signal = rng.random(length) < switch_prob
        signal[0] = True
        row = rng.integers(3, 3 + num_distractors, length)
        row[signal] = rng.integers(SYMBOL_A, SYMBOL_B + 1, int(signal.sum()))
        latest = np.maximum.accumulate(np.where(signal, np.arange(length), 0))
        inputs[i, :length] = row
        tags[i, :length] = row[latest] - SYMBOL_A
    return SequenceTask(*(torch.from_numpy(a) for a in (inputs, lengths, tags)))


# ---------------------------------------------------------------------------------- digit images
DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
CAPTION_TOKENS = ("<pad>", "<bos>", "<eos>", *sorted(set("".join(DIGIT_NAMES))))
CAPTION_PAD, CAPTION_BOS, CAPTION_EOS = 0, 1, 2


class DigitCaptions(NamedTuple):
    features: Tensor  # (N, 64) float32 pixels in [0, 1]
    tokens: Tensor  # (N, 7) int64: BOS, the name's characters, EOS, padded with CAPTION_PAD
    lengths: Tensor  # (N,) tokens after BOS: len(name) + 1 (the EOS)
    digits: Tensor  # (N,) int64 labels 0..9


def encode_caption(name: str) -> list[int]:
    """``"two"`` → [BOS, t, w, o, EOS] as ids of CAPTION_TOKENS."""
    return [CAPTION_BOS, *(CAPTION_TOKENS.index(ch) for ch in name), CAPTION_EOS]


def decode_caption(ids) -> str:
    """Characters of ``ids`` up to the first EOS; BOS and padding are skipped."""
    text = []
    for i in (int(i) for i in ids):
        if i == CAPTION_EOS:
            break
        if i not in (CAPTION_PAD, CAPTION_BOS):
            text.append(CAPTION_TOKENS[i])
    return "".join(text)


@lru_cache(maxsize=1)
def _digit_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 8x8 digits as float32 in [0, 1], and their labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("the digit tasks need scikit-learn: pip install scikit-learn") from error
    digits = load_digits()
    return (digits.images / 16.0).astype(np.float32), digits.target.astype(np.int64)


def digit_captions(test_fraction: float = 0.25, seed: int = 0) -> tuple[DigitCaptions, ...]:
    """1→N captioning: each digit image → its English name spelled character by character.

    Returns ``(train, test)``: a seeded split of the 1,797 images, the test part held out.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction: expected a number in (0, 1), got {test_fraction!r}")
    images, labels = _digit_images()
    order = np.random.default_rng(seed).permutation(len(labels))
    width = 2 + max(map(len, DIGIT_NAMES))
    captions = np.full((10, width), CAPTION_PAD, dtype=np.int64)
    for digit, name in enumerate(DIGIT_NAMES):
        captions[digit, : len(name) + 2] = encode_caption(name)
    name_lengths = np.array([len(name) + 1 for name in DIGIT_NAMES])
    cut = int(round(len(order) * (1 - test_fraction)))
    parts = []
    for rows in (order[:cut], order[cut:]):
        digit = labels[rows]
        parts.append(
            DigitCaptions(
                torch.from_numpy(images[rows].reshape(len(rows), 64)),
                torch.from_numpy(captions[digit]),
                torch.from_numpy(name_lengths[digit]),
                torch.from_numpy(digit),
            )
        )
    return tuple(parts)


DIRECTIONS = ("up", "down", "left", "right")
_MOVES = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}


class MovingClips(NamedTuple):
    clips: Tensor  # (N, T, 1, canvas, canvas) float32
    directions: Tensor  # (N,) int64 index into DIRECTIONS
    digits: Tensor  # (N,) int64 labels 0..9


def moving_digit_clips(
    n: int, *, frames: int = 6, canvas: int = 16, speed: int = 1, seed: int = 0
) -> MovingClips:
    """Clips of one 8x8 digit sliding across a blank canvas, ``speed`` pixels per frame.

    The direction (up, down, left or right; chance 0.25) is visible only by comparing frames.
    The start is random with the whole path inside the canvas.
    """
    travel = speed * (frames - 1)
    if canvas < 8 + travel:
        raise ValueError(
            f"canvas: expected at least 8 + speed * (frames - 1) = {8 + travel} pixels, "
            f"got {canvas}"
        )
    images, labels = _digit_images()
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(labels), n)
    directions = rng.integers(0, len(DIRECTIONS), n)
    clips = np.zeros((n, frames, 1, canvas, canvas), dtype=np.float32)
    for i, (pick, direction) in enumerate(zip(picks, directions)):
        dy, dx = (speed * m for m in _MOVES[DIRECTIONS[direction]])
        y0 = rng.integers(max(0, -dy * (frames - 1)), canvas - 8 - max(0, dy * (frames - 1)) + 1)
        x0 = rng.integers(max(0, -dx * (frames - 1)), canvas - 8 - max(0, dx * (frames - 1)) + 1)
        for t in range(frames):
            y, x = y0 + dy * t, x0 + dx * t
            clips[i, t, 0, y : y + 8, x : x + 8] = images[pick]
    return MovingClips(
        torch.from_numpy(clips), torch.from_numpy(directions), torch.from_numpy(labels[picks])
    )
