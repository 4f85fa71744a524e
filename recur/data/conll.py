"""CoNLL-style tagged text: one token per line, its tag in the last column, sentences apart.

The format of the CoNLL-2000 chunking and CoNLL-2002/2003 NER files::

    -DOCSTART- -X- -X- O

    EU NNP B-NP B-ORG
    rejects VBZ B-VP O
    German JJ B-NP B-MISC

Columns are separated by whitespace (spaces or tabs); the token is the first column and the tag
the last, columns in between are ignored. A blank line ends a sentence; ``-DOCSTART-`` lines
(document boundaries) are skipped. Without tags (``tagged=False``, what ``recur predict``
reads) a line may hold the token alone; any further columns are ignored. Every problem is a
:class:`recur.data.tables.DataError` naming the file and the line.

Example::

    corpus = read_conll("train.conll")
    corpus.tokens[0], corpus.tags[0]      # ["EU", "rejects", "German"], ["B-ORG", "O", "B-MISC"]
    corpus.lines[0]                       # [3, 4, 5]: the file line of each token
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recur.data.tables import DataError, read_text_file, where

DOCSTART = "-DOCSTART-"


@dataclass(frozen=True)
class Tagged:
    """Sentences of a file: tokens, tags (None when read untagged) and each token's file line."""

    path: Path
    tokens: list[list[str]]
    tags: list[list[str]] | None
    lines: list[list[int]]

    def __len__(self) -> int:
        return len(self.tokens)

    def places(self) -> list[list[str]]:
        """``data: FILE line N`` of every token (for errors about single tokens)."""
        return [[where(self.path, n) for n in sentence] for sentence in self.lines]


def read_conll(path: str | Path, tagged: bool = True) -> Tagged:
    """The sentences of a CoNLL-style file (see the module docstring); DataError on problems."""
    path = Path(path)
    text = read_text_file(path)
    tokens: list[list[str]] = []
    tags: list[list[str]] = []
    lines: list[list[int]] = []
    current: tuple[list[str], list[str], list[int]] = ([], [], [])

    def close() -> None:
        nonlocal current
        if current[0]:
            tokens.append(current[0])
            tags.append(current[1])
            lines.append(current[2])
        current = ([], [], [])

    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0] == DOCSTART:
            close()
            continue
        if tagged and len(fields) < 2:
            raise DataError(
                f"{where(path, number)}: one field ({fields[0]!r}); expected a token and its "
                "tag in the last column"
            )
        current[0].append(fields[0])
        current[1].append(fields[-1] if tagged else "")
        current[2].append(number)
    close()
    if not tokens:
        raise DataError(f"{where(path)} has no sentences (only blank or -DOCSTART- lines)")
    return Tagged(path, tokens, tags if tagged else None, lines)
