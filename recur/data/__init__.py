"""Data for recur's models: generated tasks (and the text and date sets of their own modules)."""

from recur.data.generated import (
    CAPTION_BOS,
    CAPTION_EOS,
    CAPTION_PAD,
    CAPTION_TOKENS,
    DIGIT_NAMES,
    DIRECTIONS,
    DigitCaptions,
    MovingClips,
    SequenceTask,
    decode_caption,
    digit_captions,
    encode_caption,
    flip_flop,
    moving_digit_clips,
    remember_first,
    task_vocab_size,
)

__all__ = [
    "CAPTION_BOS",
    "CAPTION_EOS",
    "CAPTION_PAD",
    "CAPTION_TOKENS",
    "DIGIT_NAMES",
    "DIRECTIONS",
    "DigitCaptions",
    "MovingClips",
    "SequenceTask",
    "decode_caption",
    "digit_captions",
    "encode_caption",
    "flip_flop",
    "moving_digit_clips",
    "remember_first",
    "task_vocab_size",
]
