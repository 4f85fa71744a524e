"""Swap a diagnostic engine into every recur layer of a model for the length of a ``with`` block.

The engine contract (:mod:`recur.engine`) lets a diagnostic see each layer-direction's run
without touching the layers: :func:`swapped_engine` registers a wrapper engine under a private
name, points every :class:`~recur.layers.base.RecurrentLayer` of the model at it and restores
each layer's ``impl`` on exit. Wrappers run the cell through the autograd reference engine, so
the diagnostics are exact and independent of the fused or native backward.

:func:`probing` adds a zero "probe" tensor to every state tensor after every step. Since
``h_k + p_k`` is what both the output and the next step see, ``dL/dp_k`` is the *total*
derivative ``dL/dh_k`` through the recurrence, not only the direct part that reaches the layer's
output tensor at step k.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from torch import Tensor, nn

from recur.cells.base import Cell, Params, State
from recur.engine import ENGINES
from recur.engine.reference import run_reference
from recur.layers.base import RecurrentLayer

_names = itertools.count()


@dataclass
class EngineRun:
    """One call of the engine: layer ``layer`` of the module ``module``, in one direction.

    ``call`` counts how often that layer-direction ran inside the ``with`` block (a model may
    apply a layer more than once). ``xp`` is the projected input (T, B, G*H), ``state0`` the
    initial state, ``valid`` the (T, B, 1) mask of valid steps or None, ``probes`` one (T, B, S_j)
    zero tensor per state tensor when probing.
    """

    module: str
    layer: int
    direction: int
    call: int
    cell: Cell
    params: Params
    xp: Tensor
    state0: State
    valid: Tensor | None
    probes: tuple[Tensor, ...] = ()

    @property
    def key(self) -> str:
        """``module.l{layer}[_reverse]`` as in torch's names; ``#call`` after the first."""
        base = f"l{self.layer}{'_reverse' if self.direction else ''}"
        key = f"{self.module}.{base}" if self.module else base
        return key if self.call == 0 else f"{key}#{self.call}"


def recurrent_layers(model: nn.Module) -> list[tuple[str, RecurrentLayer]]:
    """Every recur layer in ``model`` (the model itself included) with its module name."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, RecurrentLayer)]


@contextmanager
def swapped_engine(model: nn.Module, probe: bool = False) -> Iterator[list[EngineRun]]:
    """Run every recur layer of ``model`` through a recording reference engine inside the block.

    Yields the list that fills with one :class:`EngineRun` per engine call, in call order. With
    ``probe=True`` each run adds zero probes (requiring grad) to its states; see the module
    docstring.
    """
    layers = recurrent_layers(model)
    if not layers:
        raise ValueError("model: contains no recur layer (recur.layers.RecurrentLayer)")
    owner = {}
    for module_name, layer in layers:
        for index, cell in enumerate(layer.cells):
            owner[id(cell)] = (module_name, index, layer.num_directions)
    runs: list[EngineRun] = []
    calls: dict[int, int] = {}

    def engine(cell, params, xp, state0, valid, reg=None):
        module_name, index, directions = owner[id(cell)]
        count = calls.get(id(cell), 0)
        calls[id(cell)] = count + 1
        direction, call = count % directions, count // directions
        run = EngineRun(module_name, index, direction, call, cell, params, xp, state0, valid)
        if probe:
            run.probes = tuple(
                xp.new_zeros(xp.shape[0], *s.shape, requires_grad=True) for s in state0
            )
            cell = _ProbedCell(cell, run.probes)
        runs.append(run)
        return run_reference(cell, params, xp, state0, valid, reg)

    name = f"_diagnostics_{next(_names)}"
    ENGINES[name] = engine
    saved = [layer.impl for _, layer in layers]
    try:
        for _, layer in layers:
            layer.impl = name
        yield runs
    finally:
        for (_, layer), impl in zip(layers, saved):
            layer.impl = impl
        del ENGINES[name]


class _ProbedCell:
    """A cell whose step returns ``state_t + probe_t``; only ``step`` is used by the engine."""

    def __init__(self, cell: Cell, probes: tuple[Tensor, ...]):
        self.cell, self.probes = cell, probes

    def step(self, xp_t: Tensor, state: State, params: Params, t: int) -> tuple[State, tuple]:
        new, saved = self.cell.step(xp_t, state, params, t)
        return tuple(s + p[t] for s, p in zip(new, self.probes)), saved


def probing(model: nn.Module):
    """``swapped_engine(model, probe=True)``: runs carry zero probes on every state tensor."""
    return swapped_engine(model, probe=True)


__all__ = ["EngineRun", "probing", "recurrent_layers", "swapped_engine"]
