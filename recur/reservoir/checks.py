"""Eager checks of reservoir arguments: each error names the argument, the expected and given."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

ACTIVATIONS = ("tanh", "identity", "relu", "sigmoid")


def check_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return int(value)


def _check_real(name: str, value, expected: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name}: expected {expected}, got {value!r}")
    return float(value)


def check_positive(name: str, value) -> float:
    value_f = _check_real(name, value, "a finite number > 0")
    if value_f <= 0:
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")
    return value_f


def check_nonnegative(name: str, value) -> float:
    value_f = _check_real(name, value, "a finite number >= 0")
    if value_f < 0:
        raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")
    return value_f


def check_unit_interval(name: str, value) -> float:
    """A fraction in the half-open interval (0, 1]: connectivity, leak rate, forgetting factor."""
    value_f = _check_real(name, value, "a number in (0, 1]")
    if not 0 < value_f <= 1:
        raise ValueError(f"{name}: expected a number in (0, 1], got {value!r}")
    return value_f


def check_activation(value) -> str:
    if value not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {ACTIVATIONS}, got {value!r}")
    return value


def check_finite(name: str, array: np.ndarray) -> None:
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(
            f"{name}: expected finite values, got {array[tuple(bad)]} at index {tuple(bad)}"
        )
