"""Engines run a cell over time. All share one contract:

``engine(cell, params, xp, state0, valid, reg=None) -> (outputs (T, B, S_0), final_state)``
with ``xp`` the cell's input projection of all steps (T, B, G*H), time-major, ``valid`` the
optional (T, B, 1) mask of valid steps and ``reg`` the optional recurrent dropout and zoneout
masks (:class:`recur.engine.regularisation.Regularisation`), applied inside the recurrence by
every engine.

``impl`` names an engine:
    "fused"      the default: the native engine where it can run (its library built, the cell
                 has a kernel, CPU tensors of float32/float64), else the Python fused engine;
                 a build failure or a CUDA tensor is reported once through ``warnings``
    "native"     the C++ engine (:mod:`recur.engine.native`), forced: errors if it cannot run
    "python"     the fused engine in PyTorch (:mod:`recur.engine.fused`): hand BPTT, any device
    "reference"  autograd through the step equations: the specification
    "scan"       the reference equations as one ``scan`` operator under torch.export, so the
                 traced time loop keeps a dynamic length (:mod:`recur.engine.scan`); eagerly,
                 the reference engine
"""

from __future__ import annotations

import torch
from torch import Tensor

from recur.cells.base import Cell, Params, State
from recur.engine import native
from recur.engine.fused import run_fused as run_python
from recur.engine.native import run_native
from recur.engine.reference import run_reference
from recur.engine.regularisation import Regularisation
from recur.engine.scan import run_scan


def run_fused(
    cell: Cell,
    params: Params,
    xp: Tensor,
    state0: State,
    valid: Tensor | None,
    reg: Regularisation | None = None,
) -> tuple[Tensor, State]:
    """The native engine where it can run this call, else the Python fused engine."""
    reason = native.unsupported(cell, xp)
    if reason is None:
        if native.load():
            return run_native(cell, params, xp, state0, valid, reg)
        native.build.warn_once(
            "build",
            f"recur: the native engine is unavailable ({native.status().reason}); "
            "impl='fused' runs the Python fused engine (recur.engine_info() says more)",
        )
    elif xp.device.type != "cpu":
        native.build.warn_once(
            f"device:{xp.device.type}",
            f"recur: the native engine runs on CPU only; {xp.device.type} tensors use the "
            "Python fused engine",
        )
    return run_python(cell, params, xp, state0, valid, reg)


ENGINES = {
    "fused": run_fused,
    "native": run_native,
    "python": run_python,
    "reference": run_reference,
    "scan": run_scan,
}


def get_engine(impl: str):
    """The engine function for ``impl`` ("fused", "native", "python", "reference" or "scan")."""
    if impl not in ENGINES:
        raise ValueError(f"impl: expected one of {tuple(ENGINES)}, got {impl!r}")
    return ENGINES[impl]


def engine_info() -> dict:
    """Which engine ``impl="fused"`` runs here and why (loads, or builds, the native engine).

    Example::

        >>> recur.engine_info()["fused"]
        'native'
    """
    available = native.load()
    status = native.status()
    return {
        "fused": "native" if available else "python",
        "native_available": available,
        "reason": status.reason,
        "library": status.library,
        "build_seconds": status.build_seconds,
        "compile_flags": list(status.flags),
        "native_cells": sorted(cls.__name__ for cls in native.KERNELS),
        "native_dtypes": [str(d) for d in native.function.DTYPES],
        "native_devices": ["cpu"],
        "threads": torch.get_num_threads(),
    }


__all__ = [
    "ENGINES",
    "Regularisation",
    "engine_info",
    "get_engine",
    "run_fused",
    "run_native",
    "run_python",
    "run_reference",
    "run_scan",
]
