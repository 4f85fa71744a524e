"""Engines run a cell over time. All share one contract:

``engine(cell, params, xp, state0, valid) -> (outputs (T, B, S_0), final_state)``
with ``xp`` the cell's input projection of all steps (T, B, G*H), time-major.
"""

from __future__ import annotations

from recur.engine.fused import run_fused
from recur.engine.reference import run_reference

ENGINES = {"fused": run_fused, "reference": run_reference}


def get_engine(impl: str):
    """The engine function for ``impl`` ("fused" or "reference")."""
    if impl not in ENGINES:
        raise ValueError(f"impl: expected one of {tuple(ENGINES)}, got {impl!r}")
    return ENGINES[impl]


__all__ = ["ENGINES", "get_engine", "run_fused", "run_reference"]
