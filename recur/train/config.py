"""Typed, validated configuration of the training loop and of the optimiser.

Unknown keys are errors and every message names its key (``optim.lr: ...``); the CLI composes
these sections with the data and model ones into one run configuration (:mod:`recur.cli.config`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Section(BaseModel):
    """A configuration section: strict about unknown keys, immutable once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class OptimConfig(Section):
    """Optimiser, gradient clipping and learning-rate schedule."""

    optimizer: Literal["adamw", "sgd"] = "adamw"
    lr: float = Field(3e-3, gt=0, description="peak learning rate")
    weight_decay: float = Field(0.01, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD only")
    clip_norm: float | None = Field(1.0, gt=0, description="max global gradient norm")
    clip_value: float | None = Field(None, gt=0, description="max absolute gradient entry")
    schedule: Literal["cosine", "plateau", "constant"] = "cosine"
    warmup_steps: int = Field(50, ge=0, description="linear warm-up from lr / (warmup + 1)")
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="cosine: final lr / peak lr")
    plateau_factor: float = Field(0.5, gt=0, lt=1, description="plateau: lr multiplier")
    plateau_patience: int = Field(2, ge=0, description="plateau: evaluations without gain")


class LoopConfig(Section):
    """Budget, evaluation cadence, early stopping and reproducibility of the training loop."""

    max_steps: int | None = Field(None, ge=1, description="stop after this many steps")
    max_time: float | None = Field(120.0, gt=0, description="stop after this many seconds")
    epochs: int | None = Field(None, ge=1, description="stop after this many passes over the data")
    eval_every: int = Field(250, ge=1, description="steps between evaluations and checkpoints")
    log_every: int = Field(10, ge=1, description="steps between metrics.jsonl records")
    early_stopping: int | None = Field(
        None, ge=1, description="stop after this many evaluations without a better valid loss"
    )
    keep_best: bool = Field(
        True, description="end with (and save as model.safetensors) the best evaluation's weights"
    )
    seed: int = Field(0, ge=0)
    threads: int = Field(1, ge=1, description="torch threads per process")

    @model_validator(mode="after")
    def _bounded(self) -> LoopConfig:
        if self.max_steps is None and self.max_time is None and self.epochs is None:
            raise ValueError("expected max_steps, max_time or epochs: training must end")
        return self
