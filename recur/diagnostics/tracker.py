"""Gradient norms during training: global and per group, the clipping rate, and NaN/inf alarms.

The seeds (6.7) explain the wildly oscillating loss of RNN training by gradients that are "now
large, now small" and prescribe clipping at a threshold; a tracker shows how large, and how often
the threshold bites.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn


class NonFiniteGradientError(FloatingPointError):
    """A loss or gradient became NaN or infinite; the message names where and at which step."""


@dataclass
class StepRecord:
    """What :meth:`GradientTracker.observe` saw at one training step.

    ``global_norm`` is the 2-norm over every gradient (as ``clip_grad_norm_`` computes it),
    ``group_norms`` the 2-norm of each group, ``clipped`` whether ``global_norm`` exceeded the
    tracker's clip threshold, ``nonfinite`` the name of the first non-finite parameter gradient
    ("loss" when the loss itself was), else None.
    """

    step: int
    loss: float | None
    global_norm: float
    group_norms: dict[str, float] = field(default_factory=dict)
    clipped: bool = False
    nonfinite: str | None = None


class GradientTracker:
    """Record gradient norms after every ``backward``; call :meth:`observe` before clipping.

    Arguments:
        model: the module whose parameters' ``.grad`` are read.
        clip: the max-norm threshold the training loop clips at (None: no clipping); used only to
            count how often it bites (:attr:`clip_rate`), the tracker never changes a gradient.
        group_by: maps a parameter name to its group name (default: each parameter its own
            group; e.g. ``lambda name: name.split(".")[0]`` groups by top-level module).
        on_nonfinite: "raise" a :class:`NonFiniteGradientError` naming the first bad parameter
            and the step, or "report" it in the record and :attr:`first_nonfinite` and go on.

    Example::

        tracker = GradientTracker(model, clip=1.0)
        for step in range(steps):
            loss = ...; optimizer.zero_grad(); loss.backward()
            tracker.observe(step, loss)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); optimizer.step()
        tracker.clip_rate
    """

    def __init__(
        self,
        model: nn.Module,
        clip: float | None = None,
        group_by: Callable[[str], str] | None = None,
        on_nonfinite: str = "raise",
    ):
        if on_nonfinite not in ("raise", "report"):
            raise ValueError(f"on_nonfinite: expected 'raise' or 'report', got {on_nonfinite!r}")
        if clip is not None and not clip > 0:
            raise ValueError(f"clip: expected a positive threshold or None, got {clip!r}")
        self.named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.clip = clip
        self.group_by = group_by or (lambda name: name)
        self.on_nonfinite = on_nonfinite
        self.records: list[StepRecord] = []
        self.first_nonfinite: tuple[int, str] | None = None

    def observe(self, step: int, loss=None) -> StepRecord:
        """Read the current gradients (after ``backward``, before clipping) and record them."""
        if isinstance(loss, torch.Tensor):
            loss = loss.detach()
        loss_value = None if loss is None else float(loss)
        squares: dict[str, float] = {}
        nonfinite = None if loss_value is None or math.isfinite(loss_value) else "loss"
        for name, p in self.named:
            if p.grad is None:
                continue
            grad = p.grad.detach()
            if nonfinite is None and not bool(torch.isfinite(grad).all()):
                nonfinite = name
            group = self.group_by(name)
            squares[group] = squares.get(group, 0.0) + float(grad.double().square().sum())
        global_norm = math.sqrt(sum(squares.values()))
        record = StepRecord(
            step,
            loss_value,
            global_norm,
            {g: math.sqrt(s) for g, s in squares.items()},
            self.clip is not None and not global_norm <= self.clip,
            nonfinite,
        )
        self.records.append(record)
        if nonfinite is not None:
            if self.first_nonfinite is None:
                self.first_nonfinite = (step, nonfinite)
            if self.on_nonfinite == "raise":
                what = "loss" if nonfinite == "loss" else f"gradient of {nonfinite}"
                raise NonFiniteGradientError(f"step {step}: non-finite {what} (NaN or inf)")
        return record

    @property
    def clip_rate(self) -> float:
        """Fraction of observed steps whose global norm exceeded ``clip`` (0 without records)."""
        return sum(r.clipped for r in self.records) / len(self.records) if self.records else 0.0

    @property
    def steps(self) -> list[int]:
        return [r.step for r in self.records]

    @property
    def global_norms(self) -> list[float]:
        return [r.global_norm for r in self.records]

    def group_norms(self, group: str) -> list[float]:
        """The norm of one group at every observed step (NaN where it had no gradient)."""
        return [r.group_norms.get(group, float("nan")) for r in self.records]


__all__ = ["GradientTracker", "NonFiniteGradientError", "StepRecord"]
