"""Atomic files and safetensors checkpoints that detect corruption.

Every write goes to a temporary file in the same directory, is flushed to disk, and replaces the
target with ``os.replace`` (atomic on POSIX), so a process killed at any moment leaves either the
old file or the new one, never a mixture. Checkpoints are safetensors files (no pickle) whose
metadata carries a SHA-256 of all tensor bytes; :func:`load_tensors` recomputes it and refuses a
corrupted or truncated file.

Nested training state (an optimiser's ``state_dict``, RNG states, counters) is stored with
:func:`flatten`: tensors go to the file, the structure around them to JSON metadata.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import Tensor

CHECKSUM_KEY = "sha256"
_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once: the process umask is only readable by setting it


class CheckpointError(ValueError):
    """A checkpoint file that is missing, corrupted, truncated or of another kind."""


def atomic_write(path: str | Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new content, never a part."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual mode
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (best effort: not every platform opens directories)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def checksum(tensors: dict[str, Tensor]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of ``tensors`` in name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_tensors(path: str | Path, tensors: dict[str, Tensor], metadata: dict[str, str]) -> None:
    """Atomically write ``tensors`` and string ``metadata`` (plus a checksum) as safetensors."""
    tensors = _unshared(tensors)
    metadata = {**metadata, CHECKSUM_KEY: checksum(tensors)}
    atomic_write(path, save_safetensors(tensors, metadata=metadata))


def _unshared(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """CPU, contiguous tensors, copying any that share memory (safetensors refuses aliases, e.g.
    a tied embedding and output projection: both names are stored and both load)."""
    seen, out = set(), {}
    for name, tensor in tensors.items():
        tensor = tensor.detach().cpu().contiguous()
        storage = tensor.untyped_storage().data_ptr()
        out[name] = tensor.clone() if storage in seen and tensor.numel() else tensor
        seen.add(storage)
    return out


def load_tensors(path: str | Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """The tensors and metadata of a file written by :func:`save_tensors`, verified.

    Raises CheckpointError naming the file when it is missing, truncated or corrupted.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint: {path} does not exist") from None
    try:
        metadata = _read_metadata(data)
        tensors = load_safetensors(data)
    except Exception as error:  # safetensors and json raise several types for broken bytes
        raise CheckpointError(
            f"checkpoint: {path} is corrupted or truncated ({type(error).__name__}); not loaded"
        ) from None
    if metadata.get(CHECKSUM_KEY) != checksum(tensors):
        raise CheckpointError(f"checkpoint: {path} is corrupted (checksum mismatch); not loaded")
    return tensors, metadata


def _read_metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors header (8-byte little-endian size, then JSON)."""
    (size,) = struct.unpack("<Q", data[:8])
    if size > len(data) - 8:
        raise ValueError("header longer than the file")
    header = json.loads(data[8 : 8 + size])
    return header.get("__metadata__") or {}


def flatten(obj, prefix: str, tensors: dict[str, Tensor]):
    """A JSON-able copy of the nested ``obj`` whose tensors are moved into ``tensors``.

    Handles dicts (with int or str keys, as in optimiser state), lists, tuples, scalars and None.
    """
    if isinstance(obj, Tensor):
        tensors[prefix] = obj
        return {"tensor": prefix}
    if isinstance(obj, dict):
        return {
            "dict": [
                [key, flatten(value, f"{prefix}.{key}", tensors)] for key, value in obj.items()
            ]
        }
    if isinstance(obj, (list, tuple)):
        items = [flatten(value, f"{prefix}.{i}", tensors) for i, value in enumerate(obj)]
        return {"tuple" if isinstance(obj, tuple) else "list": items}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    raise TypeError(f"flatten: cannot store {type(obj).__name__} at {prefix}")


def unflatten(skeleton, tensors: dict[str, Tensor]):
    """The inverse of :func:`flatten`."""
    ((kind, content),) = skeleton.items()
    if kind == "tensor":
        return tensors[content]
    if kind == "dict":
        return {key: unflatten(value, tensors) for key, value in content}
    if kind == "list":
        return [unflatten(value, tensors) for value in content]
    if kind == "tuple":
        return tuple(unflatten(value, tensors) for value in content)
    return content
