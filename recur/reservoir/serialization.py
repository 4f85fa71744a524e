"""Save and load an Echo State Network: ``config.json`` plus ``weights.safetensors`` in a folder.

Each file is written to a temporary file in the same folder and moved into place with
``os.replace`` (:func:`recur.train.checkpoint.atomic_write`), so a reader never sees a
half-written file. The JSON holds the validated
:class:`~recur.reservoir.config.ESNConfig`; the safetensors file holds the sparse W as its CSR
arrays (``W_indptr``, ``W_indices``, ``W_data``), ``W_in``, ``b``, ``W_back`` (with feedback) and
``W_out`` (once fitted). The ridge accumulators are not saved: ``partial_fit`` after ``load``
starts a new accumulation.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import safetensors.numpy
import scipy.sparse

from recur.reservoir.config import ESNConfig
from recur.reservoir.matrices import ReservoirWeights
from recur.train.checkpoint import atomic_write

FORMAT = "recur.reservoir.EchoStateNetwork"
VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"


def save_esn(esn, path) -> None:
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    w = esn.weights
    tensors = {
        "W_indptr": w.W.indptr.astype(np.int64),
        "W_indices": w.W.indices.astype(np.int64),
        "W_data": w.W.data,
        "W_in": w.W_in,
        "b": w.b,
    }
    if w.W_back is not None:
        tensors["W_back"] = w.W_back
    if esn.W_out is not None:
        tensors["W_out"] = esn.W_out
    tensors = {name: np.ascontiguousarray(array) for name, array in tensors.items()}
    atomic_write(folder / WEIGHTS_FILE, safetensors.numpy.save(tensors))
    document = {"format": FORMAT, "version": VERSION, "config": esn.config.to_dict()}
    atomic_write(folder / CONFIG_FILE, (json.dumps(document, indent=2) + "\n").encode())


def _expect(name: str, tensors: dict, shape: tuple[int, ...]) -> np.ndarray:
    if name not in tensors:
        raise ValueError(f"{WEIGHTS_FILE}: expected tensor {name!r}, got only {sorted(tensors)}")
    array = tensors[name]
    if shape and array.shape != shape:
        raise ValueError(f"{WEIGHTS_FILE}: expected {name} of shape {shape}, got {array.shape}")
    return array


def load_esn(path, device=None):
    from recur.reservoir.esn import EchoStateNetwork

    folder = Path(path)
    document = json.loads((folder / CONFIG_FILE).read_text())
    if document.get("format") != FORMAT or document.get("version") != VERSION:
        raise ValueError(
            f"{CONFIG_FILE}: expected format {FORMAT!r} version {VERSION}, "
            f"got {document.get('format')!r} version {document.get('version')!r}"
        )
    config = ESNConfig.from_dict(document["config"])
    tensors = safetensors.numpy.load_file(str(folder / WEIGHTS_FILE))
    N, I, O = config.reservoir_size, config.input_size, config.output_size
    dtype = config.np_dtype
    indptr = _expect("W_indptr", tensors, (N + 1,))
    indices = _expect("W_indices", tensors, ())
    data = _expect("W_data", tensors, indices.shape)
    weights = ReservoirWeights(
        W=scipy.sparse.csr_matrix(
            (data.astype(dtype), indices.astype(np.int32), indptr.astype(np.int32)), shape=(N, N)
        ),
        W_in=_expect("W_in", tensors, (N, I)).astype(dtype),
        b=_expect("b", tensors, (N,)).astype(dtype),
        W_back=_expect("W_back", tensors, (N, O)).astype(dtype) if config.feedback else None,
    )
    esn = EchoStateNetwork.from_config(config, weights, device=device)
    if "W_out" in tensors:
        esn.W_out = _expect("W_out", tensors, (O, config.feature_size)).astype(np.float64)
    return esn
