"""The one training loop every experiment uses: fixed seeds, periodic evaluation, optional
clipping and gradient tracking, early stop once a task is solved or the loss is not finite."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from recur.diagnostics.tracker import GradientTracker


@dataclass
class History:
    """What :func:`train` saw. ``solved_at``: first evaluated step whose metric passed the
    threshold; ``diverged_at``: first step whose loss was not finite (training stops there)."""

    losses: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    metrics: list[float] = field(default_factory=list)
    solved_at: int | None = None
    diverged_at: int | None = None
    seconds: float = 0.0

    @property
    def final_metric(self) -> float:
        return self.metrics[-1] if self.metrics else float("nan")

    def best_metric(self, higher_is_better: bool) -> float:
        finite = [m for m in self.metrics if math.isfinite(m)]
        if not finite:
            return float("nan")
        return max(finite) if higher_is_better else min(finite)


def train(
    model: nn.Module,
    task,
    *,
    steps: int,
    lr: float,
    batch_size: int = 32,
    seed: int = 0,
    optimizer: str = "adam",
    clip: float | None = None,
    eval_every: int = 25,
    eval_size: int = 256,
    threshold: float | None = None,
    stop_when_solved: bool = True,
    tracker: GradientTracker | None = None,
    callback: Callable[[int, nn.Module], None] | None = None,
) -> History:
    """Train ``model`` on fresh batches of ``task`` for up to ``steps`` steps.

    Batches come from a generator seeded with ``seed``; the evaluation batch (``eval_size``
    sequences) from one seeded with ``seed + 1``. ``threshold`` on ``task.metric`` defines
    solved (``stop_when_solved`` ends training there). ``optimizer`` is "adam" or "sgd".
    ``tracker.observe`` runs after each backward, before clipping at ``clip``. ``callback(step,
    model)`` runs before each step (and once after the last) for measurements during training.
    """
    data = torch.Generator().manual_seed(seed)
    eval_x, eval_y = task.sample(eval_size, torch.Generator().manual_seed(seed + 1))
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr)
    else:
        raise ValueError(f"optimizer: expected 'adam' or 'sgd', got {optimizer!r}")
    history = History()
    start = time.perf_counter()
    for step in range(steps + 1):
        if callback is not None:
            callback(step, model)
        evaluate = step % eval_every == 0 or step == steps
        solved = evaluate and _evaluate(model, task, eval_x, eval_y, step, threshold, history)
        if step == steps or (solved and stop_when_solved):
            break
        x, y = task.sample(batch_size, data)
        loss = task.loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        history.losses.append(float(loss.detach()))
        if tracker is not None:
            tracker.observe(step, loss)
        if not math.isfinite(history.losses[-1]):
            history.diverged_at = step
            break
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
    history.seconds = time.perf_counter() - start
    return history


def _evaluate(model, task, x, y, step, threshold, history: History) -> bool:
    """Append the evaluation metric; True when the task counts as solved."""
    with torch.no_grad():
        metric = float(task.metric(model(x), y))
    history.eval_steps.append(step)
    history.metrics.append(metric)
    solved = threshold is not None and (
        metric >= threshold if task.higher_is_better else metric < threshold
    )
    if solved and history.solved_at is None:
        history.solved_at = step
    return solved
