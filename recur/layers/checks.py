"""Eager checks of layer arguments: each error names the argument, the expected and given."""

from __future__ import annotations

import torch
from torch import Tensor


def check_positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return value


def check_dropout(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"dropout: expected a number in [0, 1], got {value!r}")
    return float(value)


def check_probability(name: str, value) -> float:
    """A drop or keep probability in [0, 1) (1 would drop everything, or scale by 1/0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{name}: expected a probability in [0, 1), got {value!r}")
    return float(value)


def check_input(input: Tensor, input_size: int, dtype: torch.dtype, device: torch.device) -> None:
    if not isinstance(input, Tensor):
        raise ValueError(f"input: expected a Tensor or PackedSequence, got {type(input).__name__}")
    if input.dim() not in (2, 3):
        raise ValueError(
            "input: expected a 3-D tensor (L, N, H_in), (N, L, H_in) with batch_first, or a 2-D "
            f"unbatched (L, H_in), got {input.dim()}-D of shape {tuple(input.shape)}"
        )
    if input.shape[-1] != input_size:
        raise ValueError(
            f"input: expected last dimension input_size={input_size}, "
            f"got shape {tuple(input.shape)}"
        )
    if input.numel() == 0:
        raise ValueError(f"input: expected a non-empty sequence, got shape {tuple(input.shape)}")
    check_tensor_like("input", input, dtype, device)


def check_tensor_like(name: str, tensor: Tensor, dtype: torch.dtype, device: torch.device) -> None:
    if tensor.dtype != dtype:
        raise ValueError(
            f"{name}: expected dtype {dtype} (the layer's parameters), got {tensor.dtype}"
        )
    if tensor.device != device:
        raise ValueError(
            f"{name}: expected device {device} (the layer's parameters), got {tensor.device}"
        )


def check_state(
    state,
    names: tuple[str, ...],
    shapes: list[tuple[int, ...]],
    dtype: torch.dtype,
    device: torch.device,
) -> tuple[Tensor, ...]:
    """``state`` is a tensor when the cell has one state tensor, else a tuple of them."""
    if len(names) == 1:
        if not isinstance(state, Tensor):
            raise ValueError(f"state: expected a Tensor h, got {type(state).__name__}")
        state = (state,)
    elif not (isinstance(state, (tuple, list)) and len(state) == len(names)):
        raise ValueError(
            f"state: expected a tuple ({', '.join(names)}) of {len(names)} tensors, "
            f"got {type(state).__name__}"
            + (f" of length {len(state)}" if isinstance(state, (tuple, list)) else "")
        )
    for name, tensor, shape in zip(names, state, shapes):
        label = f"state {name}"
        if not isinstance(tensor, Tensor):
            raise ValueError(f"{label}: expected a Tensor, got {type(tensor).__name__}")
        if tuple(tensor.shape) != shape:
            raise ValueError(f"{label}: expected shape {shape}, got {tuple(tensor.shape)}")
        check_tensor_like(label, tensor, dtype, device)
    return tuple(state)
