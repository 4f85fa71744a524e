"""Nucleotide sequences: FASTA files with labels in the headers, and their one-hot encoding.

FASTA: a record is a header line ``>ID description`` followed by sequence lines (wrapped at any
width); blank lines are ignored. The label of a record is a ``label=VALUE`` word in its header's
description, e.g.::

    >chr1:1000-1100 label=bound source=ChIP
    ACGTNNacgtRYAC
    TTGA

Sequences hold the nucleotides A, C, G, T (U read as T, for RNA) and the IUPAC ambiguity codes,
in either case (lowercase is soft-masked sequence, read like uppercase). One-hot encoding gives
each position 4 features (A, C, G, T); an ambiguity code is the uniform mix of the bases it
stands for:

    R = A|G  Y = C|T  S = C|G  W = A|T  K = G|T  M = A|C      (0.5 each)
    B = C|G|T  D = A|G|T  H = A|C|T  V = A|C|G                 (1/3 each)
    N = any                                                    (0.25 each)

Any other character (gaps, digits, spaces...) is a :class:`recur.data.tables.DataError` naming
the file, the line, the column and the character, as are an empty file, sequence lines before the
first header, a header without an id or a sequence, and (when labels are required) a header
without ``label=``.

Example::

    records = read_fasta("promoters.fa")
    records.labels[0], one_hot(records.sequences[0])       # "bound", tensor (T, 4)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from recur.data.tables import DataError, read_text_file, where

SUFFIXES = (".fa", ".fasta", ".fna", ".fas", ".ffn", ".frn", ".seq")
BASES = "ACGT"
IUPAC = {"A": "A", "C": "C", "G": "G", "T": "T", "U": "T", "R": "AG", "Y": "CT", "S": "CG",
         "W": "AT", "K": "GT", "M": "AC", "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG",
         "N": "ACGT"}  # fmt: skip
_INVALID = re.compile(f"[^{''.join(IUPAC)}{''.join(IUPAC).lower()}]")


def _table() -> Tensor:
    """(128, 4): the base mix of every ASCII code (rows of non-nucleotides are never read)."""
    table = torch.zeros(128, 4)
    for code, bases in IUPAC.items():
        for letter in (code, code.lower()):
            for base in bases:
                table[ord(letter), BASES.index(base)] = 1 / len(bases)
    return table


_MIX = _table()


def is_fasta(path: str | Path) -> bool:
    return Path(path).suffix.lower() in SUFFIXES


def check_sequence(sequence: str, place: str, offset: int = 0) -> None:
    """DataError at ``place`` naming the first character that is no nucleotide code (``offset``
    + 1-based column)."""
    bad = _INVALID.search(sequence)
    if bad is not None:
        raise DataError(
            f"{place}: character {bad.group()!r} (column {offset + bad.start() + 1}) is not a "
            f"nucleotide (A, C, G, T, U or an IUPAC code such as N)"
        )


def one_hot(sequence: str) -> Tensor:
    """(T, 4) float32 base probabilities (A, C, G, T) of a checked sequence (see above)."""
    codes = torch.frombuffer(bytearray(sequence.encode("ascii")), dtype=torch.uint8).long()
    return _MIX[codes]


@dataclass(frozen=True)
class Records:
    """The records of a FASTA file; ``lines[i]`` is the 1-based line of record i's header."""

    path: Path
    ids: list[str]
    sequences: list[str]
    labels: list[str] | None
    lines: list[int]

    def __len__(self) -> int:
        return len(self.ids)

    def places(self) -> list[str]:
        return [f"{where(self.path, n)} (record {name!r})" for name, n in zip(self.ids, self.lines)]


def read_fasta(path: str | Path, labelled: bool = True) -> Records:
    """The records of a FASTA file (see the module docstring); DataError on any problem."""
    path = Path(path)
    text = read_text_file(path)
    ids: list[str] = []
    labels: list[str | None] = []
    lines: list[int] = []
    parts: list[list[str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith(">"):
            _close(path, ids, parts, lines)
            name, label = _header(path, number, line)
            ids.append(name)
            labels.append(label)
            lines.append(number)
            parts.append([])
            continue
        if not ids:
            raise DataError(f"{where(path, number)}: sequence before the first '>' header line")
        check_sequence(line, f"{where(path, number)} (record {ids[-1]!r})")
        parts[-1].append(line)
    _close(path, ids, parts, lines)
    if labelled:
        for name, label, number in zip(ids, labels, lines):
            if label is None:
                raise DataError(
                    f"{where(path, number)}: record {name!r} has no label (expected a word "
                    "'label=VALUE' in its header)"
                )
    return Records(path, ids, ["".join(p) for p in parts], labels if labelled else None, lines)


def _header(path: Path, number: int, line: str) -> tuple[str, str | None]:
    """(id, label or None) of a header line."""
    words = line[1:].split()
    if not words or words[0].startswith("label="):
        raise DataError(f"{where(path, number)}: a '>' header line without a record id")
    label = None
    for word in words[1:]:
        if word.startswith("label="):
            label = word.removeprefix("label=")
            if not label:
                raise DataError(f"{where(path, number)}: record {words[0]!r}: 'label=' is empty")
    return words[0], label


def _close(path: Path, ids: list[str], parts: list[list[str]], lines: list[int]) -> None:
    """DataError when the last record read has no sequence."""
    if ids and not parts[-1]:
        raise DataError(f"{where(path, lines[-1])}: record {ids[-1]!r} has no sequence")
