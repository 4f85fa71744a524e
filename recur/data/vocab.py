"""Token and label vocabularies of the supervised tasks (classification, tagging, translation...).

A :class:`TokenVocab` maps tokens to ids with reserved specials first: ``<pad>`` = 0 (what padded
steps hold), ``<unk>`` = 1 (any token not seen in training), then ``<bos>``/``<eos>`` when a
decoder needs them, then the training tokens by frequency (ties by token). A :class:`LabelSet`
is the sorted set of class labels (or tags) seen in training; an unseen label at evaluation is an
error that names it, since no model can be scored on a class it cannot output.

Example::

    vocab = TokenVocab.build([["the", "cat"], ["the", "dog"]], max_size=1000)
    vocab.encode(["the", "emu"])        # tensor([4, 1])  -- "emu" is <unk>
    labels = LabelSet.build(["pos", "neg", "pos"])
    labels.index("pos")                 # 1
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"


class TokenVocab:
    """Tokens <-> ids; ``specials`` come first (``<pad>``, ``<unk>`` and optionally more)."""

    def __init__(self, tokens: Sequence[str]):
        if len(set(tokens)) != len(tokens) or tokens[:2] != [PAD, UNK]:
            raise ValueError("tokens: expected distinct tokens starting with <pad>, <unk>")
        self.tokens = list(tokens)
        self.ids = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def build(
        cls,
        sequences: Iterable[Sequence[str]],
        *,
        max_size: int | None = None,
        min_count: int = 1,
        decoder: bool = False,
    ) -> TokenVocab:
        """The vocabulary of ``sequences``: specials, then tokens seen ``min_count`` times or more,
        most frequent first, at most ``max_size`` entries in all; ``decoder`` adds <bos>/<eos>."""
        counts = Counter(token for sequence in sequences for token in sequence)
        specials = [PAD, UNK] + ([BOS, EOS] if decoder else [])
        ranked = sorted(
            (t for t, n in counts.items() if n >= min_count and t not in specials),
            key=lambda t: (-counts[t], t),
        )
        if max_size is not None:
            ranked = ranked[: max(0, max_size - len(specials))]
        return cls(specials + ranked)

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other) -> bool:
        return isinstance(other, TokenVocab) and self.tokens == other.tokens

    @property
    def pad(self) -> int:
        return 0

    @property
    def unk(self) -> int:
        return 1

    @property
    def bos(self) -> int:
        return self.ids[BOS]

    @property
    def eos(self) -> int:
        return self.ids[EOS]

    def encode(self, tokens: Sequence[str]) -> Tensor:
        """int64 ids of ``tokens``; unseen tokens become <unk>."""
        return torch.tensor([self.ids.get(t, 1) for t in tokens], dtype=torch.long)

    def decode(self, ids: Iterable[int], stop_at_eos: bool = True) -> list[str]:
        """Tokens of ``ids`` without specials, up to the first <eos> when ``stop_at_eos``."""
        out = []
        eos = self.ids.get(EOS)
        for i in ids:
            i = int(i)
            if stop_at_eos and i == eos:
                break
            if i >= 2 and self.tokens[i] not in (BOS, EOS):
                out.append(self.tokens[i])
        return out

    def to_json(self) -> list[str]:
        return list(self.tokens)

    @classmethod
    def from_json(cls, tokens: list[str]) -> TokenVocab:
        return cls(tokens)


class LabelSet:
    """The class labels seen in training, sorted; ids are positions."""

    def __init__(self, labels: Sequence[str]):
        if not labels or len(set(labels)) != len(labels):
            raise ValueError("labels: expected a non-empty list of distinct labels")
        self.labels = list(labels)
        self.ids = {label: i for i, label in enumerate(self.labels)}

    @classmethod
    def build(cls, labels: Iterable[str]) -> LabelSet:
        return cls(sorted(set(labels), key=_natural))

    def __len__(self) -> int:
        return len(self.labels)

    def __eq__(self, other) -> bool:
        return isinstance(other, LabelSet) and self.labels == other.labels

    def encode(self, labels: Sequence[str], where: Sequence[str] | None = None) -> Tensor:
        """int64 ids; ValueError naming the first unseen label (and ``where[i]``, its place)."""
        ids = []
        for k, label in enumerate(labels):
            if label not in self.ids:
                place = f"{where[k]}: " if where is not None else ""
                shown = ", ".join(self.labels[:12]) + (", ..." if len(self) > 12 else "")
                raise ValueError(
                    f"{place}label {label!r} was not seen in training (known: {shown})"
                )
            ids.append(self.ids[label])
        return torch.tensor(ids, dtype=torch.long)

    def to_json(self) -> list[str]:
        return list(self.labels)

    @classmethod
    def from_json(cls, labels: list[str]) -> LabelSet:
        return cls(labels)


def _natural(label: str):
    """Numbers in numeric order ("2" before "10"), then text."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)
