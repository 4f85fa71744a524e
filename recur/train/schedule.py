"""Optimisers and the learning-rate schedule: linear warm-up, then cosine or plateau decay.

lr(step) = lr_peak * warmup(step) * decay
warmup(step) = min(1, (step + 1) / (warmup_steps + 1))
cosine:   decay = r + (1 - r) * (1 + cos(pi * p)) / 2,  p = fraction of the budget spent
plateau:  decay = factor ** k,  k = times the valid loss failed to improve for ``patience``
          evaluations in a row
"""

from __future__ import annotations

import math

import torch
from torch import nn

from recur.train.config import OptimConfig


def make_optimizer(model: nn.Module, config: OptimConfig) -> torch.optim.Optimizer:
    """AdamW or SGD (with momentum) over ``model``'s parameters.

    Weight decay applies to matrices only, not to biases or gains (one-dimensional parameters).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)


class LRSchedule:
    """The learning rate of each step; ``state_dict`` holds the plateau bookkeeping."""

    def __init__(self, config: OptimConfig):
        self.config = config
        self.best = math.inf
        self.bad_evals = 0
        self.reductions = 0

    def lr(self, step: int, progress: float) -> float:
        """Learning rate at 0-based ``step``, ``progress`` in [0, 1] of the budget spent."""
        c = self.config
        warmup = min(1.0, (step + 1) / (c.warmup_steps + 1))
        if c.schedule == "cosine":
            p = min(max(progress, 0.0), 1.0)
            decay = c.min_lr_ratio + (1 - c.min_lr_ratio) * (1 + math.cos(math.pi * p)) / 2
        elif c.schedule == "plateau":
            decay = c.plateau_factor**self.reductions
        else:
            decay = 1.0
        return c.lr * warmup * decay

    def observe(self, valid_loss: float) -> None:
        """Record an evaluation; the plateau schedule decays after ``plateau_patience`` bad ones."""
        if valid_loss < self.best:
            self.best, self.bad_evals = valid_loss, 0
            return
        self.bad_evals += 1
        if self.config.schedule == "plateau" and self.bad_evals > self.config.plateau_patience:
            self.reductions += 1
            self.bad_evals = 0

    def state_dict(self) -> dict:
        return {"best": self.best, "bad_evals": self.bad_evals, "reductions": self.reductions}

    def load_state_dict(self, state: dict) -> None:
        self.best = state["best"]
        self.bad_evals = state["bad_evals"]
        self.reductions = state["reductions"]


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
