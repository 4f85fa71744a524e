"""Configuration sections every task shares: the recurrent stack, and the run's base class.

Each task declares its own run configuration, a subclass of :class:`TaskConfig` with
``task: Literal["<name>"]``, its ``data`` section and its ``model`` section (usually a subclass of
:class:`RecurrentConfig`); :func:`recur.cli.config.validate` picks the class by the ``task`` key.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from recur.layers.registry import LAYERS
from recur.train.config import LoopConfig, OptimConfig, Section


class RecurrentConfig(Section):
    """The recurrent network of a model, its cell selected by name."""

    cell: str = "lstm"
    hidden_size: int = Field(256, ge=1)
    num_layers: int = Field(1, ge=1)
    embedding_dim: int | None = Field(None, ge=1, description="token embedding / input projection")
    dropout: float = Field(0.0, ge=0, lt=1)
    bidirectional: bool = False
    # inside the recurrence (recur.layers.base.RecurrentLayer) and initialisation (recur.init)
    recurrent_dropout: float = Field(0.0, ge=0, lt=1, description="variational, on h_{t-1}")
    zoneout: float = Field(0.0, ge=0, lt=1, description="keep each unit's h (and c) with p")
    weight_drop: float = Field(0.0, ge=0, lt=1, description="DropConnect on W_hh")
    init: Literal["default", "orthogonal", "identity", "xavier", "chrono"] | None = None
    forget_bias: float | None = Field(None, description="forget-gate bias of gated cells")

    def network_options(self) -> dict:
        """The keyword arguments every model takes for its recurrent network: the cell, its size,
        depth and dropout between layers, and :meth:`layer_options` (``bidirectional`` is passed by
        the models that have it)."""
        return {
            "cell": self.cell,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            **self.layer_options(),
        }

    def layer_options(self) -> dict:
        """The recurrent layer's keyword options this configuration sets (not the defaults)."""
        options = {
            "recurrent_dropout": self.recurrent_dropout,
            "zoneout": self.zoneout,
            "weight_drop": self.weight_drop,
            "init": self.init,
            "forget_bias": self.forget_bias,
        }
        return {k: v for k, v in options.items() if v not in (0.0, None)}

    def check_no_layer_options(self, model: str) -> None:
        """ValueError when layer options are set for a model that cannot take them yet."""
        if self.layer_options():
            keys = ", ".join(f"model.{k}" for k in self.layer_options())
            raise ValueError(f"{keys}: not supported by the {model} yet")

    @field_validator("cell")
    @classmethod
    def _known_cell(cls, cell: str) -> str:
        if cell not in LAYERS:
            raise ValueError(f"expected one of {', '.join(sorted(LAYERS))}, got {cell!r}")
        return cell


class TaskConfig(Section):
    """Everything that determines a run's result (not where it is written or how it reports)."""

    task: str
    optim: OptimConfig = OptimConfig()
    train: LoopConfig = LoopConfig()


class SplitConfig(Section):
    """Where a supervised task's data comes from and how it is split and batched."""

    path: str | None = Field(None, description="training data (default: the built-in demo)")
    valid_path: str | None = Field(None, description="validation data (default: a split)")
    header: bool = Field(True, description="CSV/TSV files start with a header row")
    valid_fraction: float = Field(0.1, gt=0, lt=0.5, description="without valid_path")
    batch_size: int = Field(32, ge=1)
