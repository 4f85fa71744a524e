"""Users' tabular files: CSV, TSV and JSON Lines read into rows of strings, columns chosen by name.

The format follows the suffix: ``.csv`` (comma), ``.tsv``/``.tab`` (tab), ``.jsonl``/``.ndjson``
(one JSON object per line; nested values are rejected). Anything else is read as CSV. A column is
named by its header, or by a 0-based index when the file has no header row (``header=False``:
columns are then called "0", "1", ...). Every problem is a :class:`DataError` (a ValueError) whose
message names the file, the line and the column, so that the CLI can print it as one line:

    data: sales.csv line 14: column 'value': 'n/a' is not a number

Example::

    table = read_table("reviews.csv")
    texts = table.column("text")              # list of str, one per data row
    labels = table.column("1")                # by index when header=False
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path


class DataError(ValueError):
    """A user's data file cannot be used; the message names file, line and problem."""


def where(path: str | Path, line: int | None = None) -> str:
    """``data: FILE`` or ``data: FILE line N`` (the prefix of every data error)."""
    return f"data: {path}" + (f" line {line}" if line is not None else "")


@dataclass(frozen=True)
class Table:
    """Rows of a tabular file; ``lines[i]`` is the 1-based file line of ``rows[i]``."""

    path: Path
    columns: list[str]
    rows: list[list[str | None]]
    lines: list[int]

    def __len__(self) -> int:
        return len(self.rows)

    def index(self, column: str | int) -> int:
        """The position of ``column`` (a header name, or an index given as int or digits)."""
        name = str(column)
        if name in self.columns:
            return self.columns.index(name)
        if name.isdigit() and int(name) < len(self.columns):
            return int(name)
        raise DataError(
            f"{where(self.path)}: no column {name!r} (columns: {', '.join(self.columns[:20])}"
            f"{', ...' if len(self.columns) > 20 else ''})"
        )

    def column(self, column: str | int) -> list[str]:
        """The values of one column, as strings (DataError where a JSONL object lacks it)."""
        k = self.index(column)
        values = [row[k] for row in self.rows]
        if None in values:
            line = self.lines[values.index(None)]
            raise DataError(f"{where(self.path, line)}: no value for {self.columns[k]!r}")
        return values

    def numbers(self, column: str | int) -> list[float]:
        """The values of one column as finite floats (DataError naming the first bad cell)."""
        name = self.columns[self.index(column)]
        texts = self.column(column)
        return [parse_number(t, self.path, line, name) for t, line in zip(texts, self.lines)]


def parse_number(text: str, path, line: int, column: str) -> float:
    """``text`` as a finite float, or a DataError naming file, line and column."""
    try:
        value = float(text)
    except ValueError:
        raise DataError(
            f"{where(path, line)}: column {column!r}: {text!r} is not a number"
        ) from None
    if not math.isfinite(value):
        raise DataError(f"{where(path, line)}: column {column!r}: {text!r} is not finite")
    return value


def read_text_file(path: Path) -> str:
    """The text of a user's UTF-8 file (a byte-order mark is dropped); DataError when it is
    missing, not UTF-8 or empty."""
    if not path.is_file():
        raise DataError(f"{where(path)} does not exist or is not a file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"{where(path)} is not UTF-8 text (byte {error.start})") from None
    if not text.strip():
        raise DataError(f"{where(path)} is empty")
    return text


def read_table(path: str | Path, header: bool = True) -> Table:
    """Read a CSV, TSV or JSONL file (see the module docstring); DataError on any problem."""
    path = Path(path)
    text = read_text_file(path)
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return _read_jsonl(path, text)
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    return _read_delimited(path, text, delimiter, header)


def _read_delimited(path: Path, text: str, delimiter: str, header: bool) -> Table:
    reader = csv.reader(text.splitlines(), delimiter=delimiter)
    records: list[tuple[int, list[str]]] = []
    try:
        for fields in reader:
            if fields and any(field.strip() for field in fields):  # blank lines are skipped
                records.append((reader.line_num, fields))
    except csv.Error as error:
        raise DataError(f"{where(path, reader.line_num)}: {error}") from None
    if header:
        first_line, columns = records[0]
        columns = [name.strip() for name in columns]
        records = records[1:]
        duplicated = sorted({c for c in columns if columns.count(c) > 1})
        if duplicated:
            raise DataError(f"{where(path, first_line)}: duplicate column(s) {duplicated}")
    else:
        columns = [str(k) for k in range(len(records[0][1]))]
    if not records:
        raise DataError(f"{where(path)} has a header but no data rows")
    for line, fields in records:
        if len(fields) != len(columns):
            raise DataError(
                f"{where(path, line)}: {len(fields)} field(s), expected {len(columns)} "
                f"(like {'the header' if header else 'the first row'})"
            )
    return Table(path, columns, [f for _, f in records], [n for n, _ in records])


def _read_jsonl(path: Path, text: str) -> Table:
    columns: list[str] = []
    objects, lines = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{where(path, number)}: not valid JSON ({error.msg})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{where(path, number)}: expected a JSON object, got {obj!r:.40}")
        for key, value in obj.items():
            if isinstance(value, (dict, list)):
                raise DataError(
                    f"{where(path, number)}: key {key!r} holds a nested value; expected a "
                    f"string, number, boolean or null, got {type(value).__name__}"
                )
            if key not in columns:
                columns.append(key)
        objects.append(obj)
        lines.append(number)
    # a key an object lacks is None, an error only if that column is used
    rows = [[None if obj.get(c) is None else str(obj[c]) for c in columns] for obj in objects]
    return Table(path, columns, rows, lines)
