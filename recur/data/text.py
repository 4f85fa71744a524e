"""Text for language models: corpus loading, a vocabulary, positional splits and token streams.

A corpus is one string: the user's UTF-8 file or, by default, the Python documentation's topic
texts shipped with every Python (``pydoc_data.topics``, ~465k characters, offline). It is split
by position (train, then valid, then test), tokenised at the character or word level, and each
split is cut into N contiguous rows read side by side in windows of ``bptt`` steps (Zaremba et al.
2014), the hidden state carried from one window to the next.

Example::

    text = load_corpus(None)                            # the built-in corpus
    splits = split_by_position(text, valid=0.05, test=0.05)
    vocab = Vocab.build(text, "char")
    rows = batchify(vocab.encode(splits["train"]), batch_size=32)   # (32, L)
    for inputs, targets in windows(rows, bptt=64):                  # each (32, <=64)
        ...
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor

LEVELS = ("char", "word")
UNK = "<unk>"
BUILTIN_CORPUS = "pydoc_data.topics"
# A word, a single punctuation mark or a newline; other whitespace separates tokens.
_WORD = re.compile(r"\w+|[^\w\s]|\n")


def load_corpus(path: str | Path | None) -> str:
    """The text of a UTF-8 file, or the built-in corpus when ``path`` is None.

    Raises ValueError (naming the file) when the file is missing, unreadable, empty, binary or
    not valid UTF-8.
    """
    if path is None:
        from pydoc_data.topics import topics

        return "".join(topics[key] for key in sorted(topics))
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"data: {path} does not exist or is not a file")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ValueError(f"data: cannot read {path}: {error.strerror}") from None
    if not raw.strip():
        raise ValueError(f"data: {path} is empty")
    if b"\x00" in raw:
        raise ValueError(f"data: {path} looks binary (it contains NUL bytes); expected UTF-8 text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"data: {path} is not valid UTF-8 (byte {error.start}: {error.reason})"
        ) from None


def tokenize(text: str, level: str) -> list[str]:
    """Characters, or words / punctuation marks / newlines for ``level="word"``."""
    if level == "char":
        return list(text)
    if level == "word":
        return _WORD.findall(text)
    raise ValueError(f"level: expected one of {LEVELS}, got {level!r}")


def split_by_position(text: str, valid: float, test: float) -> dict[str, str]:
    """Cut ``text`` into train, valid and test parts, in that order, by character position."""
    n = len(text)
    valid_start = round(n * (1 - valid - test))
    test_start = round(n * (1 - test))
    return {
        "train": text[:valid_start],
        "valid": text[valid_start:test_start],
        "test": text[test_start:],
    }


class Vocab:
    """A bijection between tokens and ids, at the character or word level.

    Character vocabularies hold every symbol of the corpus. Word vocabularies hold the training
    split's words (the ``max_size - 1`` most frequent when ``max_size`` is given) plus ``<unk>``,
    to which unseen words map.
    """

    def __init__(self, tokens: list[str], level: str):
        if level not in LEVELS:
            raise ValueError(f"level: expected one of {LEVELS}, got {level!r}")
        if len(set(tokens)) != len(tokens) or not tokens:
            raise ValueError("tokens: expected a non-empty list of distinct tokens")
        self.tokens = list(tokens)
        self.level = level
        self.index = {token: i for i, token in enumerate(self.tokens)}
        self.unk = self.index.get(UNK) if level == "word" else None

    @classmethod
    def build(cls, text: str, level: str, max_size: int | None = None) -> Vocab:
        """The vocabulary of ``text``; ids ordered by symbol (char) or by frequency (word)."""
        counts = Counter(tokenize(text, level))
        if level == "char":
            return cls(sorted(counts), level)
        ranked = sorted(counts, key=lambda token: (-counts[token], token))
        if max_size is not None:
            ranked = ranked[: max_size - 1]
        return cls([UNK, *ranked], level)

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocab) and (self.level, self.tokens) == (other.level, other.tokens)

    def unknown(self, text: str) -> list[str]:
        """Tokens of ``text`` that have no id (always empty for word vocabularies: they map to
        ``<unk>``)."""
        if self.unk is not None:
            return []
        return sorted({token for token in tokenize(text, self.level) if token not in self.index})

    def encode(self, text: str, unknown: str = "error", name: str = "text") -> Tensor:
        """Ids (int64) of ``text``'s tokens.

        ``unknown`` says what to do with characters outside a character vocabulary: "error"
        (ValueError naming ``name`` and the symbols) or "skip" (drop them).
        """
        if unknown not in ("error", "skip"):
            raise ValueError(f"unknown: expected 'error' or 'skip', got {unknown!r}")
        missing = self.unknown(text)
        if missing and unknown == "error":
            shown = "".join(repr(token)[1:-1] for token in missing[:20])
            raise ValueError(
                f"{name}: {len(missing)} symbol(s) outside the vocabulary: '{shown}'"
                f"{'...' if len(missing) > 20 else ''} (use --unk skip to drop them)"
            )
        index, unk = self.index, self.unk
        ids = [index.get(token, unk) for token in tokenize(text, self.level)]
        return torch.tensor([i for i in ids if i is not None], dtype=torch.long)

    def decode(self, ids) -> str:
        """Text of ``ids``; words are joined by spaces, none before punctuation or after a
        newline."""
        ids = [int(i) for i in ids]
        return "".join(self.piece(i, ids[k - 1] if k else None) for k, i in enumerate(ids))

    def piece(self, i: int, previous: int | None = None) -> str:
        """The text of token ``i`` following token ``previous`` (for printing one by one)."""
        token = self.tokens[i]
        if self.level == "char" or previous is None or self.tokens[previous] == "\n":
            return token
        return " " + token if token[0].isalnum() or token[0] == "_" or token == UNK else token

    def to_json(self) -> str:
        return json.dumps({"level": self.level, "tokens": self.tokens}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Vocab:
        data = json.loads(text)
        return cls(data["tokens"], data["level"])


def batchify(ids: Tensor, batch_size: int) -> Tensor:
    """Cut ``ids`` (N*L + r,) into ``batch_size`` = N contiguous rows: (N, L), batch first.

    The last r < N tokens are dropped; row k continues where row k-1's text ends.
    """
    length = ids.numel() // batch_size
    return ids[: length * batch_size].view(batch_size, length)


def windows(rows: Tensor, bptt: int, start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
    """Successive (inputs, targets) windows of ``rows`` (N, L), each (N, <=bptt), the
    targets shifted by one step, starting at window index ``start``.

    Windows overlap by one step so that every token but each row's first is predicted once.
    """
    for pos in range(start * bptt, rows.shape[1] - 1, bptt):
        window = rows[:, pos : pos + bptt + 1]
        yield window[:, :-1], window[:, 1:]


def num_windows(rows: Tensor, bptt: int) -> int:
    """How many windows :func:`windows` yields for ``rows`` (N, L)."""
    return math.ceil((rows.shape[1] - 1) / bptt) if rows.shape[1] > 1 else 0


def unigram_bits(ids: Tensor) -> float:
    """Entropy of the token frequencies in bits: the loss of a model that ignores context."""
    counts = torch.bincount(ids).double()
    p = counts[counts > 0] / counts.sum()
    return float(-(p * p.log2()).sum())
