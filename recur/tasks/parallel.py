"""Parallel text for ``--task translate``: aligned source/target sentences, tokenised and cut.

Two layouts:
    two UTF-8 files      ``--data SRC --target-data TGT``: line k of one translates line k of the
                         other. Unequal line counts are an error naming both files and counts. A
                         line pair blank on both sides is skipped (trailing blank lines, paragraph
                         breaks); a line blank on one side only is an error (the files would be
                         misaligned from there on).
    one table            .csv / .tsv / .jsonl with ``--source-column`` / ``--target-column``
                         (names, or 0-based indices with ``--no-header``); an empty cell is an
                         error naming file, line and column.

Sentences are stripped of surrounding whitespace and tokenised at the character or word level
(:func:`recur.data.text.tokenize`). A side longer than ``max_length`` tokens is cut to its first
``max_length`` tokens, with one warning on stderr per file (how many, and the first line): cutting
keeps every pair usable, and the warning says how to avoid it (raise ``--max-length``).

Example::

    pairs = read_parallel("train.en", "train.de")          # Sentences, places "data: FILE line N"
    tokens = cut(pairs.sources, pairs.places, "char", 100, "source")
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from recur.data.tables import DataError, read_table, where
from recur.data.text import load_corpus, tokenize

TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".jsonl", ".ndjson")


class Sentences(NamedTuple):
    """Aligned sentences (``targets`` None when only sources are read) and where each came from."""

    sources: list[str]
    targets: list[str] | None
    places: list[str]  # "data: FILE line N" of each pair (the source's file)
    lines: list[int]  # the 1-based line of each pair


def is_table(path: str | Path) -> bool:
    return Path(path).suffix.lower() in TABLE_SUFFIXES


def read_lines(path: str | Path) -> list[str]:
    """The stripped lines of a UTF-8 text file (DataError: missing, empty, binary, not UTF-8)."""
    try:
        text = load_corpus(path)
    except ValueError as error:
        raise DataError(str(error)) from None
    lines = text.split("\n")  # not splitlines(): form feeds and U+2028 stay inside a sentence
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start another
    return [line.strip() for line in lines]


def read_parallel(source_path: str | Path, target_path: str | Path) -> Sentences:
    """Line-aligned sentences of two text files; blank pairs skipped, half-blank ones an error."""
    sources, targets = read_lines(source_path), read_lines(target_path)
    if len(sources) != len(targets):
        raise DataError(
            f"data: {source_path} has {len(sources)} line(s) but {target_path} has "
            f"{len(targets)}; parallel files need one sentence per line on both sides"
        )
    kept = Sentences([], [], [], [])
    for number, (source, target) in enumerate(zip(sources, targets), start=1):
        if not source and not target:
            continue
        if not source or not target:
            blank, other = (source_path, target_path) if not source else (target_path, source_path)
            raise DataError(
                f"{where(blank, number)}: blank line, but line {number} of {other} is not "
                "(remove both or neither)"
            )
        kept.sources.append(source)
        kept.targets.append(target)
        kept.places.append(where(source_path, number))
        kept.lines.append(number)
    if not kept.sources:
        raise DataError(f"data: {source_path} and {target_path} hold only blank lines")
    return kept


def read_table_pairs(
    path: str | Path, source_column: str, target_column: str, header: bool, targets: bool = True
) -> Sentences:
    """Sentences of a table's source (and target) column; an empty cell is an error."""
    table = read_table(path, header)
    columns = [source_column] + ([target_column] if targets else [])
    values = [[text.strip() for text in table.column(column)] for column in columns]
    for column, texts in zip(columns, values):
        for text, line in zip(texts, table.lines):
            if not text:
                raise DataError(f"{where(path, line)}: column {column!r} is empty")
    places = [where(path, line) for line in table.lines]
    return Sentences(values[0], values[1] if targets else None, places, list(table.lines))


def read_source_lines(path: str | Path) -> Sentences:
    """Sources to translate, one per line of a text file; blank lines are skipped."""
    lines = read_lines(path)
    numbers = [k for k, line in enumerate(lines, start=1) if line]
    if not numbers:
        raise DataError(f"data: {path} holds only blank lines")
    return Sentences(
        [lines[k - 1] for k in numbers], None, [where(path, k) for k in numbers], numbers
    )


def cut(
    texts: Sequence[str], places: Sequence[str], level: str, max_length: int, side: str
) -> list[list[str]]:
    """Tokens of each text, at most ``max_length`` of them (one warning when any is cut)."""
    out, long = [], []
    for text, place in zip(texts, places):
        tokens = tokenize(text, level)
        if not tokens:  # word level: nothing but characters the tokenizer skips
            raise DataError(f"{place}: the {side} has no {level} tokens")
        if len(tokens) > max_length:
            long.append(place)
            tokens = tokens[:max_length]
        out.append(tokens)
    if long:
        print(
            f"warning: {long[0]}: {len(long)} {side} sentence(s) longer than {max_length} "
            f"{level} tokens were cut to their first {max_length} (raise --max-length to keep "
            "them whole)",
            file=sys.stderr,
        )
    return out
