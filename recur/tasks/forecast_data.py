"""The series of ``--task forecast``: reading, demos, chronological split, scaling, windows.

A series is T rows of C values in time order (the rows of a CSV/TSV/JSONL file, sorted by the
time column when there is one). It is cut by position into train / valid / test parts (the last
``valid_fraction`` and ``test_fraction`` of the rows; never shuffled across time), and each column
is standardised, :math:`z = (x - \\mu) / \\sigma`, with the mean and standard deviation of the
training part alone.

A window at origin t (the index of the last observed row) is the input
:math:`z_{t-L+1..t}` (L = lookback) and the target :math:`z_{t+1..t+K}`. A part's windows are
those whose targets lie inside it; their inputs may reach back into the parts before it.

Example::

    series = read_series("sales.csv", time_column="date", value_columns=["units"])
    n_train, n_valid, n_test = split_sizes(len(series), 0.15, 0.15)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from recur.data.bundled import file_digest, package_dir
from recur.data.tables import DataError, Table, parse_number, read_table, where

#: the built-in series (no --data) and the season the demo's report uses
BUILTINS = {"sunspots": 11, "mackey-glass": 1}
MACKEY_GLASS_STEPS = 2000


@dataclass
class Series:
    """T rows of C values (float64, original units) in time order, and where they came from."""

    values: np.ndarray  # (T, C)
    columns: list[str]
    times: list | None  # T floats or datetimes (None without a time column)
    time_column: str | None
    lines: list[int] | None  # the file line of each row (None for generated series)
    source: str  # the file, or the built-in's name

    def __len__(self) -> int:
        return len(self.values)

    def place(self, row: int | None = None) -> str:
        """``data: FILE`` or ``data: FILE line N`` of a row (for messages)."""
        line = self.lines[row] if self.lines is not None and row is not None else None
        return where(self.source, line)


# ---------------------------------------------------------------------- reading
def parse_time(text: str, path, line: int, column: str) -> float | datetime:
    """A time stamp: a finite number, or an ISO 8601 date / date-time."""
    try:
        return parse_number(text, path, line, column)
    except DataError as error:
        if "not finite" in str(error):
            raise
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise DataError(
            f"{where(path, line)}: column {column!r}: {text!r} is neither a number nor an ISO "
            "date/time (e.g. 2024-01-31 or 2024-01-31T12:00)"
        ) from None


def read_times(table: Table, column: str) -> list:
    """The time column parsed, all of one kind (numbers, naive or aware date-times)."""
    name = table.columns[table.index(column)]
    times = [
        parse_time(text, table.path, line, name)
        for text, line in zip(table.column(column), table.lines)
    ]

    def kind(t) -> str:
        if isinstance(t, float):
            return "a number"
        return "a date/time with a time zone" if t.tzinfo is not None else "a date/time"

    first = kind(times[0])
    for t, line in zip(times, table.lines):
        if kind(t) != first:
            raise DataError(
                f"{where(table.path, line)}: column {name!r}: {kind(t)}, but line "
                f"{table.lines[0]} holds {first}"
            )
    return times


def read_series(
    path: str | Path,
    *,
    header: bool = True,
    time_column: str | None = None,
    value_columns: list[str] | None = None,
) -> Series:
    """The series of a CSV/TSV/JSONL file (DataError naming file, line and column on a problem).

    Without ``value_columns`` every column but the time column is a value column. With a time
    column the rows are sorted by it; two rows with the same time stamp are an error.
    """
    table = read_table(path, header)
    time_name = table.columns[table.index(time_column)] if time_column is not None else None
    if value_columns is None:
        value_columns = [c for c in table.columns if c != time_name]
        if not value_columns:
            raise DataError(f"{where(path)}: no column besides the time column {time_name!r}")
    names = [table.columns[table.index(c)] for c in value_columns]
    if time_name in names:
        raise DataError(f"{where(path)}: column {time_name!r} is both the time and a value column")
    if len(set(names)) < len(names):
        raise DataError(f"{where(path)}: a value column is named twice ({', '.join(names)})")
    values = np.array([table.numbers(name) for name in names], dtype=np.float64).T
    lines = list(table.lines)
    times = None
    if time_name is not None:
        times = read_times(table, time_name)
        order = sorted(range(len(times)), key=times.__getitem__)  # stable: ties keep file order
        times, lines, values = [times[k] for k in order], [lines[k] for k in order], values[order]
        for k in range(1, len(times)):
            if times[k] == times[k - 1]:
                raise DataError(
                    f"{where(path, lines[k])}: column {time_name!r}: time stamp "
                    f"{format_time(times[k])} repeats line {lines[k - 1]}"
                )
    return Series(values, names, times, time_name, lines, str(path))


def builtin_series(name: str) -> tuple[Series, str]:
    """(series, sha256) of a built-in demo.

    ``sunspots``: yearly mean sunspot numbers 1700-2008 (309 values) from the copy shipped with
    statsmodels (read from its CSV on disk, statsmodels is not imported); the solar cycle is
    about 11 years. ``mackey-glass``: 2,000 samples of the chaotic Mackey–Glass series (tau = 17,
    one sample per time unit) from :func:`recur.reservoir.mackey_glass`.
    """
    if name == "sunspots":
        path = package_dir("statsmodels", "the sunspots demo") / "datasets/sunspots/sunspots.csv"
        if not path.is_file():
            raise ValueError(f"data: {path} is missing from the installed statsmodels package")
        series = read_series(path, time_column="YEAR", value_columns=["SUNACTIVITY"])
        return series, file_digest(path)
    if name == "mackey-glass":
        from recur.reservoir.datasets import mackey_glass

        values = mackey_glass(MACKEY_GLASS_STEPS, seed=0)[:, None]
        series = Series(values, ["x"], None, None, None, name)
        return series, hashlib.sha256(values.tobytes()).hexdigest()
    raise ValueError(f"data.builtin: expected one of {', '.join(BUILTINS)}, got {name!r}")


def format_time(t) -> str | int | float:
    """A time stamp for output: ISO text (a date alone at midnight), an int for whole numbers."""
    if isinstance(t, datetime):
        midnight = t.tzinfo is None and t.time() == datetime.min.time()
        return t.date().isoformat() if midnight else t.isoformat()
    return int(t) if float(t).is_integer() else t


def future_times(times: list | None, steps: int) -> list | None:
    """The ``steps`` time stamps after the last one, when the spacing is regular, else None.

    Regular: a constant difference (numbers, or date-times a constant duration apart), or
    date-times on the same day and time of a month a constant number of months apart (monthly,
    quarterly, yearly data).
    """
    if times is None or len(times) < 2:
        return None
    gaps = {b - a for a, b in zip(times, times[1:])}
    if isinstance(times[0], float):
        gap = times[-1] - times[-2]
        if max(gaps) - min(gaps) > 1e-9 * max(1.0, abs(gap)):
            return None
        return [times[-1] + gap * (k + 1) for k in range(steps)]
    if len(gaps) == 1:
        (gap,) = gaps
        return [times[-1] + gap * (k + 1) for k in range(steps)]
    months = {(b.year - a.year) * 12 + b.month - a.month for a, b in zip(times, times[1:])}
    same_day = len({(t.day, t.time(), t.tzinfo) for t in times}) == 1
    if len(months) != 1 or not same_day or times[0].day > 28:
        return None
    (gap,) = months
    last = times[-1]
    future = []
    for k in range(1, steps + 1):
        total = last.year * 12 + last.month - 1 + gap * k
        future.append(last.replace(year=total // 12, month=total % 12 + 1))
    return future


# ---------------------------------------------------------------------- split and scaling
def split_sizes(rows: int, valid_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """(train, valid, test) row counts of a chronological split: the last rows are held out."""
    n_test = round(rows * test_fraction)
    n_valid = round(rows * valid_fraction)
    return rows - n_valid - n_test, n_valid, n_test


def split_fits(rows: int, lookback: int, horizon: int, season: int, fractions) -> bool:
    """Whether each part of ``rows`` has a window: train L + H rows (and more than the season,
    for the seasonal-naive scale), valid and test H rows each."""
    n_train, n_valid, n_test = split_sizes(rows, *fractions)
    return n_train >= max(lookback + horizon, season + 1) and min(n_valid, n_test) >= horizon


def check_split(series: Series, lookback: int, horizon: int, season: int, fractions) -> None:
    """DataError saying how many rows are needed when the series is too short to split."""
    if split_fits(len(series), lookback, horizon, season, fractions):
        return
    needed = len(series) + 1
    while not split_fits(needed, lookback, horizon, season, fractions):
        needed += 1
    raise DataError(
        f"{series.place()}: {len(series)} rows are too few for lookback {lookback} + horizon "
        f"{horizon} (season {season}) with {fractions[0]:.0%} validation and {fractions[1]:.0%} "
        f"test rows; at least {needed} rows are needed"
    )


def check_length(series: Series, needed: int, what: str) -> None:
    if len(series) < needed:
        raise DataError(f"{series.place()}: {len(series)} rows; {what} needs at least {needed}")


def fit_scaling(series: Series, n_train: int) -> tuple[list[float], list[float]]:
    """Per-column mean and standard deviation of the training rows (DataError if constant)."""
    train = series.values[:n_train]
    mean, std = train.mean(0), train.std(0)
    for name, s in zip(series.columns, std):
        if not s > 1e-12 * max(1.0, float(np.abs(train).max())):
            raise DataError(
                f"{series.place()}: column {name!r} is constant over the {n_train} training rows; "
                "there is nothing to forecast"
            )
    return mean.tolist(), std.tolist()


def standardise(values: np.ndarray, meta: dict) -> np.ndarray:
    return (values - np.asarray(meta["mean"])) / np.asarray(meta["std"])


def unstandardise(z, meta: dict) -> np.ndarray:
    return np.asarray(z, dtype=np.float64) * np.asarray(meta["std"]) + np.asarray(meta["mean"])


# ---------------------------------------------------------------------- windows
def windows(z: np.ndarray, origins: range, lookback: int, steps: int) -> tuple[Tensor, Tensor]:
    """Inputs (N, L, C) and targets (N, K, C) (float32) of the windows at ``origins``."""
    z = torch.as_tensor(z, dtype=torch.float32)
    inputs = torch.stack([z[t - lookback + 1 : t + 1] for t in origins])
    targets = torch.stack([z[t + 1 : t + 1 + steps] for t in origins])
    return inputs, targets


def part_origins(first_target: int, end: int, lookback: int, horizon: int) -> range:
    """Origins whose H targets lie in rows [first_target, end) and whose input is whole."""
    start = max(first_target - 1, lookback - 1)
    return range(start, max(start, end - horizon))
