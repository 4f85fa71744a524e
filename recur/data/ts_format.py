"""Labelled time series in the ``.ts`` format of the UCR/UEA archives (sktime, aeon).

A file is ``#`` comments, ``@key value`` headers, ``@data``, then one case per line: its
dimensions separated by ``:``, each a comma-separated series, and the class label last::

    @problemName JapaneseVowels
    @dimensions 12
    @equalLength false
    @classLabel true 1 2 3 4 5 6 7 8 9
    @data
    1.86,1.89,1.93:-0.20,-0.19,-0.23:...:1

Cases may differ in length (``@equalLength false``); within a case every dimension has the same
length. Missing values (``?``) and time stamps are rejected with the line that holds them.

Example::

    series, labels = read_ts("JapaneseVowels_TRAIN.ts")   # list of (T_i, 12) float32, list of str
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from recur.data.tables import DataError, where


def read_ts(path: str | Path) -> tuple[list[Tensor], list[str]]:
    """The cases of a ``.ts`` file: one (T, dimensions) float32 tensor and one label each."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{where(path)} does not exist or is not a file")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise DataError(f"{where(path)} is not UTF-8 text (byte {error.start})") from None
    headers: dict[str, str] = {}
    series, labels = [], []
    in_data = False
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise DataError(
                    f"{where(path, number)}: expected an @header or @data, got {line!r:.40}"
                )
            key, _, value = line[1:].partition(" ")
            if key.lower() == "data":
                in_data = True
                _check_headers(path, headers)
            else:
                headers[key.lower()] = value.strip()
            continue
        case, label = _parse_case(path, number, line)
        if series and case.shape[1] != series[0].shape[1]:
            raise DataError(
                f"{where(path, number)}: {case.shape[1]} dimension(s), expected "
                f"{series[0].shape[1]} like the first case"
            )
        series.append(case)
        labels.append(label)
    if not series:
        raise DataError(f"{where(path)} has no cases (no lines after @data)")
    return series, labels


def _check_headers(path: Path, headers: dict[str, str]) -> None:
    if headers.get("timestamps", "false").lower() == "true":
        raise DataError(f"{where(path)}: time-stamped series are not supported")
    if not headers.get("classlabel", "").lower().startswith("true"):
        raise DataError(f"{where(path)}: expected '@classLabel true ...' (labelled cases)")


def _parse_case(path: Path, number: int, line: str) -> tuple[Tensor, str]:
    *dimensions, label = line.split(":")
    if not dimensions:
        raise DataError(f"{where(path, number)}: expected values and a label separated by ':'")
    rows = []
    for d, text in enumerate(dimensions):
        try:
            values = [float(v) for v in text.split(",")]
        except ValueError:
            bad = next(v for v in text.split(",") if not _is_float(v))
            problem = "a missing value" if bad.strip() == "?" else f"{bad!r} is not a number"
            raise DataError(f"{where(path, number)}: dimension {d}: {problem}") from None
        if rows and len(values) != len(rows[0]):
            raise DataError(
                f"{where(path, number)}: dimension {d} has {len(values)} values, dimension 0 has "
                f"{len(rows[0])} (ragged case)"
            )
        rows.append(values)
    case = torch.tensor(rows, dtype=torch.float32).T.contiguous()  # (T, dimensions)
    if not torch.isfinite(case).all():
        raise DataError(f"{where(path, number)}: non-finite value")
    return case, label.strip()


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
