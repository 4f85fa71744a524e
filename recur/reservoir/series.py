"""Time series at the boundary: NumPy or torch in, float arrays inside, the same kind back out.

Accepted layouts (T steps, F features):
    (T,)         one sequence of one feature (only when F == 1)
    (T, F)       one sequence
    (n, T, F)    n sequences of equal length
    a list of (T_k, F) or (T_k,) arrays or tensors: sequences of any lengths
Results come back in the layout and kind of the input that defined them — NumPy arrays for NumPy
input, tensors on the input's device for torch input — in the network's dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from recur.reservoir.checks import check_finite

NUMPY_DTYPES = {torch.float64: np.float64, torch.float32: np.float32}
TORCH_DTYPES = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}


def numpy_dtype(dtype) -> np.dtype:
    """float64 or float32, given as a NumPy or torch dtype (or its name)."""
    if isinstance(dtype, torch.dtype):
        if dtype not in NUMPY_DTYPES:
            raise ValueError(f"dtype: expected torch.float64 or torch.float32, got {dtype}")
        return np.dtype(NUMPY_DTYPES[dtype])
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved not in TORCH_DTYPES:
        raise ValueError(f"dtype: expected float64 or float32, got {dtype!r}")
    return resolved


@dataclass(frozen=True)
class SeriesKind:
    """How a series argument was given, so results can be returned the same way."""

    layout: str  # "vector", "matrix", "stack" or "list"
    torch_device: torch.device | None  # None for NumPy input
    vector_items: tuple[bool, ...] = ()  # per list item: was it 1-D

    def restore(self, arrays: list[np.ndarray], dtype: np.dtype, device=None):
        """Lay ``arrays`` (each (T_k, O)) out like the input; for torch input, ``device``
        (when given) replaces the input's device."""
        device = None if self.torch_device is None else (device or self.torch_device)

        def convert(array: np.ndarray, vector: bool):
            if vector and array.shape[-1] == 1:
                array = array[..., 0]
            array = np.ascontiguousarray(array, dtype=dtype)
            if device is None:
                return array
            return torch.from_numpy(array).to(device)

        if self.layout == "vector":
            return convert(arrays[0], True)
        if self.layout == "matrix":
            return convert(arrays[0], False)
        if self.layout == "stack":
            return convert(np.stack(arrays), False)
        return [convert(array, vector) for array, vector in zip(arrays, self.vector_items)]


def _to_numpy(name: str, item) -> np.ndarray:
    if isinstance(item, torch.Tensor):
        return item.detach().cpu().numpy()
    if isinstance(item, np.ndarray):
        return item
    try:
        return np.asarray(item, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{name}: expected a NumPy array, a torch tensor or a list of them, "
            f"got {type(item).__name__}"
        ) from error


def as_series(name: str, data, features: int, dtype) -> tuple[list[np.ndarray], SeriesKind]:
    """Validate ``data`` and return its sequences as (T_k, features) arrays of ``dtype``.

    Errors name the argument, the expected and the given: wrong rank, wrong feature size,
    an empty sequence, NaN or inf.
    """
    if isinstance(data, (list, tuple)):
        if not data:
            raise ValueError(f"{name}: expected at least one sequence, got an empty list")
        items = [_to_numpy(f"{name}[{k}]", item) for k, item in enumerate(data)]
        names = [f"{name}[{k}]" for k in range(len(items))]
        layout = "list"
        device = next((d.device for d in data if isinstance(d, torch.Tensor)), None)
    else:
        array = _to_numpy(name, data)
        device = data.device if isinstance(data, torch.Tensor) else None
        if array.ndim == 3:
            items, names, layout = list(array), [f"{name}[{k}]" for k in range(len(array))], "stack"
        elif array.ndim in (1, 2):
            items, names, layout = [array], [name], "vector" if array.ndim == 1 else "matrix"
        else:
            raise ValueError(
                f"{name}: expected shape (T, {features}), (n, T, {features}) or a list of "
                f"sequences, got shape {array.shape}"
            )
    sequences = []
    for item_name, item in zip(names, items):
        if item.ndim == 1 and features == 1:
            item = item[:, None]
        if item.ndim != 2 or item.shape[1] != features:
            raise ValueError(
                f"{item_name}: expected shape (T, {features}) ({features} features), "
                f"got shape {item.shape}"
            )
        if item.shape[0] == 0:
            raise ValueError(f"{item_name}: expected at least one time step, got 0")
        check_finite(item_name, item)
        sequences.append(np.ascontiguousarray(item, dtype=dtype))
    vector_items = tuple(np.ndim(item) == 1 for item in items)
    return sequences, SeriesKind(layout, device, vector_items)


def check_same_lengths(
    inputs: list[np.ndarray], targets: list[np.ndarray], names=("inputs", "targets")
) -> None:
    if len(inputs) != len(targets):
        raise ValueError(
            f"{names[1]}: expected {len(inputs)} sequences (as many as {names[0]}), "
            f"got {len(targets)}"
        )
    for k, (u, y) in enumerate(zip(inputs, targets)):
        if len(u) != len(y):
            raise ValueError(
                f"{names[1]}: expected {len(u)} time steps in sequence {k} (as in {names[0]}), "
                f"got {len(y)}"
            )
