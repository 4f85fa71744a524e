"""How much of the loss reaches each step back in time: the total derivative dL/dh_k.

For a vanilla RNN the seeds (6.9) write the gradient that flows from step t back to step k as

    dL/dh_k = (prod_{j=k+1}^{t} dh_j/dh_{j-1})^T dL/dh_t,   dh_j/dh_{j-1} = diag(f'(z_j)) W_hh

so its norm shrinks or grows geometrically with t - k. :func:`gradient_flow` measures it on any
model built from recur layers, for every layer, direction and state tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from recur.diagnostics.probe import EngineRun, probing
from recur.engine.lengths import reverse_sequences


@dataclass
class GradientFlow:
    """Result of :func:`gradient_flow`.

    Attributes:
        loss: the loss value.
        grads: ``{key: {state_name: (T, B, S) tensor}}``, the total derivative dL/d(state_k) of
            every step k, for every layer-direction ``key`` ("rnn.l0", "rnn.l0_reverse", ...).
            Steps are in input order: for a reverse direction, k is the input position its state
            belongs to (each sequence reversed within its own length). Padded steps are zero.
            For h (the output) this is the full derivative: through the output at step k and
            through every later step. For the other state tensors (the LSTM's c) it is the
            derivative BPTT carries back from step k+1: the h_k computed from c_k inside step k
            is not included, so dL/dc_{T-1} is zero unless the final state enters the loss.
    """

    loss: float
    grads: dict[str, dict[str, Tensor]]

    def norms(self, state: str = "h") -> dict[str, Tensor]:
        """``{key: (T,) tensor}``: the norm of dL/d(state_k) over batch and units, per step k."""
        return {key: g[state].flatten(1).norm(dim=1) for key, g in self.grads.items() if state in g}


def gradient_flow(
    model: nn.Module, batch, loss_fn: Callable[[nn.Module, object], Tensor]
) -> GradientFlow:
    """The total derivative of the loss with respect to every state of every step.

    Arguments:
        model: a module containing recur layers (or a recur layer itself).
        batch: anything; handed to ``loss_fn`` unchanged.
        loss_fn: ``loss_fn(model, batch) -> scalar`` runs the model and returns the loss.
    Returns:
        a :class:`GradientFlow`; ``.norms()["key"][k]`` is ``||dL/dh_k||``.

    Every recur layer runs on the autograd reference engine with a zero probe added to its state
    after each step (see :mod:`recur.diagnostics.probe`), so the result is exact whatever ``impl``
    the layers use, and parameters' ``.grad`` are left untouched. Steps taken with a layer's
    ``step`` method (a decoder's generation loop) bypass the engine and are not measured. The
    model's train/eval mode is kept, so dropout stays on in training mode.

    Example::

        flow = gradient_flow(model, (x, y), lambda m, b: F.mse_loss(m(b[0])[-1], b[1]))
        flow.norms()["rnn.l0"]     # (T,) norms of dL/dh_k
    """
    with probing(model) as runs:
        loss = loss_fn(model, batch)
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        raise ValueError("loss_fn: expected to return a scalar tensor")
    probes = [p for run in runs for p in run.probes]
    grads = torch.autograd.grad(loss, probes, allow_unused=True) if loss.requires_grad else ()
    if len(grads) != len(probes):
        grads = [None] * len(probes)
    result: dict[str, dict[str, Tensor]] = {}
    position = 0
    for run in runs:
        named = {}
        for name, probe in zip(run.cell.state_names, run.probes):
            g = grads[position]
            position += 1
            g = torch.zeros_like(probe) if g is None else g.detach()
            named[name] = _input_order(g, run) if run.direction else g
        result[run.key] = named
    return GradientFlow(float(loss.detach()), result)


def _input_order(g: Tensor, run: EngineRun) -> Tensor:
    """Reverse a reverse direction's steps back to input positions (padding stays at the end)."""
    lengths = None if run.valid is None else run.valid[:, :, 0].sum(0).cpu()
    return reverse_sequences(g, lengths)


__all__ = ["GradientFlow", "gradient_flow"]
