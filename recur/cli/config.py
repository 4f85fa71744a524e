"""The run configuration: data, model, optimiser and loop sections, validated as one.

Sources, later ones winning: the defaults below, a ``--config`` file (TOML, or the JSON that
every run saves as config.json), then command-line options. A file looks like::

    [data]
    path = "corpus.txt"
    level = "word"
    [model]
    cell = "gru"
    hidden_size = 512
    [optim]
    lr = 1e-3
    [train]
    max_steps = 5000

Unknown keys and bad values are errors whose message names the key (``model.hidden_size: ...``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from recur.layers.registry import LAYERS
from recur.train.config import LoopConfig, OptimConfig, Section

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


class DataConfig(Section):
    """The text, its tokenisation, its positional split and how it is batched."""

    path: str | None = Field(None, description="UTF-8 text file (default: pydoc_data.topics)")
    level: Literal["char", "word"] = "char"
    valid_fraction: float = Field(0.05, gt=0, lt=0.5)
    test_fraction: float = Field(0.05, ge=0, lt=0.5)
    max_vocab: int | None = Field(None, ge=2, description="word level: keep the most frequent")
    batch_size: int = Field(32, ge=1, description="contiguous rows read side by side")
    bptt: int = Field(64, ge=1, description="tokens per truncated-BPTT window")


class ModelConfig(Section):
    """The recurrent network, its cell selected by name."""

    cell: str = "lstm"
    hidden_size: int = Field(256, ge=1)
    num_layers: int = Field(1, ge=1)
    embedding_dim: int | None = Field(None, ge=1, description="default: the output size")
    dropout: float = Field(0.0, ge=0, lt=1)
    tie_weights: bool = False
    bidirectional: bool = False

    @field_validator("cell")
    @classmethod
    def _known_cell(cls, cell: str) -> str:
        if cell not in LAYERS:
            raise ValueError(f"expected one of {', '.join(sorted(LAYERS))}, got {cell!r}")
        return cell


class RunConfig(Section):
    """Everything that determines a run's result (not where it is written or how it reports)."""

    task: Literal["lm"] = "lm"
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    optim: OptimConfig = OptimConfig()
    train: LoopConfig = LoopConfig()

    @model_validator(mode="after")
    def _consistent(self) -> RunConfig:
        if self.task == "lm" and self.model.bidirectional:
            raise ValueError(
                "model.bidirectional: a language model reads left to right; "
                "bidirectional is for taggers and classifiers"
            )
        if self.model.tie_weights and self.model.embedding_dim not in (
            None,
            self.model.hidden_size,
        ):
            raise ValueError(
                f"model.tie_weights: needs embedding_dim equal to hidden_size "
                f"({self.model.hidden_size}), got {self.model.embedding_dim}"
            )
        return self


#: keys that may change when a run is resumed (budget and bookkeeping, not the result's recipe)
RESUMABLE = {"train.max_steps", "train.max_time", "train.threads"}


def read_config_file(path: str | Path) -> dict:
    """The nested dict of a .toml or .json configuration file (ValueError naming the file)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config: {path} does not exist or is not a file")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"config: {path} cannot be parsed: {error}") from None
    if not isinstance(data, dict):
        raise ValueError(f"config: {path} must hold a table of sections")
    return data


def merge(base: dict, overrides: dict) -> dict:
    """``base`` updated section by section with ``overrides`` (neither is modified)."""
    merged = {key: dict(value) if isinstance(value, dict) else value for key, value in base.items()}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def validate(data: dict) -> RunConfig:
    """A RunConfig from nested ``data``; ValueError with one ``key: problem`` per error."""
    try:
        return RunConfig.model_validate(data)
    except ValidationError as error:
        raise ValueError(describe(error)) from None


def describe(error: ValidationError) -> str:
    """One line for all of a ValidationError's problems, each led by its dotted key."""
    parts = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif (
            "input" in item
            and item["type"] not in ("missing",)
            and not isinstance(item["input"], dict)
        ):
            message += f" (got {item['input']!r})"
        parts.append(f"{key}: {message}" if key else message)
    return "config: " + "; ".join(parts)


def differences(old: RunConfig, new: RunConfig) -> list[str]:
    """Dotted keys whose values differ between two configurations, as "key: old -> new"."""
    a, b = flat(old.model_dump()), flat(new.model_dump())
    return [f"{key}: {a.get(key)!r} -> {b.get(key)!r}" for key in sorted(a) if a[key] != b.get(key)]


def flat(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
