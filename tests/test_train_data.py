"""recur.data.text: the corpus, vocabularies and the contiguous rows truncated BPTT reads."""

import pytest
import torch

from recur.data.text import (
    Vocab,
    batchify,
    load_corpus,
    num_windows,
    split_by_position,
    tokenize,
    unigram_bits,
    windows,
)


def test_builtin_corpus_and_positional_split():
    text = load_corpus(None)
    assert 400_000 < len(text) < 600_000
    parts = split_by_position(text, valid=0.05, test=0.1)
    assert "".join(parts.values()) == text
    assert len(parts["valid"]) == pytest.approx(0.05 * len(text), abs=1)
    assert len(parts["test"]) == pytest.approx(0.1 * len(text), abs=1)
    assert 4.0 < unigram_bits(Vocab.build(text, "char").encode(text)) < 5.0


def test_rows_and_windows_predict_every_token_once():
    ids = torch.arange(103)
    rows = batchify(ids, 4)  # (4, 25): row k continues where row k-1 ends
    assert rows.shape == (4, 25) and torch.equal(rows[1, 0], rows[0, -1] + 1)
    pairs = list(windows(rows, bptt=7))
    assert len(pairs) == num_windows(rows, 7) == 4
    targets = torch.cat([t for _, t in pairs], dim=1)
    assert torch.equal(targets, rows[:, 1:])
    for inputs, target in pairs:
        assert torch.equal(inputs + 1, target)  # each target is the token after its input
    assert [t.shape[1] for _, t in windows(rows, bptt=7, start=3)] == [3]


def test_character_vocabulary_round_trip_and_unknowns():
    vocab = Vocab.build("hello world\n", "char")
    assert vocab.decode(vocab.encode("low\nhold")) == "low\nhold"
    assert Vocab.from_json(vocab.to_json()) == vocab
    with pytest.raises(ValueError, match=r"prompt: 2 symbol\(s\) outside the vocabulary: 'xz'"):
        vocab.encode("xzx", name="prompt")
    assert vocab.decode(vocab.encode("oxo", unknown="skip")) == "oo"


def test_word_vocabulary_caps_maps_unknowns_and_spaces_words():
    text = "The cat sat.\nThe dog sat, and the cat ran."
    assert tokenize(text, "word")[:5] == ["The", "cat", "sat", ".", "\n"]
    vocab = Vocab.build(text, "word", max_size=6)
    assert vocab.tokens == ["<unk>", ".", "The", "cat", "sat", "\n"]  # by count, then symbol
    ids = vocab.encode("The cow sat.\nThe cat")
    assert vocab.decode(ids) == "The <unk> sat.\nThe cat"
    assert vocab.unknown("zebra") == []
