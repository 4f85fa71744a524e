"""The run configuration: data, model, optimiser and loop sections, validated as one.

Each task (``task = "classify"``...) has its own sections (:mod:`recur.tasks`); the default
task is the language model. Sources, later ones winning: the task's defaults, a ``--config``
file (TOML, or the JSON that every run saves as config.json), then command-line options. A file
looks like::

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
from typing import Annotated, Union

from pydantic import Field, TypeAdapter, ValidationError

from recur.tasks.config import TaskConfig

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


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


def validate(data: dict, flags: dict[str, str] | None = None) -> TaskConfig:
    """The task's configuration from nested ``data`` (task "lm" when none is named).

    ValueError with one ``key: problem`` per error; ``flags`` maps keys to the command-line
    options that set them, so that a message can name the option too.
    """
    from recur.tasks import TASKS

    data = {"task": "lm", **data}
    if data["task"] not in TASKS:
        raise ValueError(f"config: task: expected one of {', '.join(TASKS)}, got {data['task']!r}")
    configs = tuple(spec.config for spec in TASKS.values())
    adapter = TypeAdapter(Annotated[Union[configs], Field(discriminator="task")])  # noqa: UP007
    try:
        return adapter.validate_python(data)
    except ValidationError as error:
        raise ValueError(describe(error, data["task"], flags or {})) from None


def describe(error: ValidationError, task: str = "", flags: dict[str, str] | None = None) -> str:
    """One line for all of a ValidationError's problems, each led by its dotted key."""
    parts = []
    for item in error.errors():
        loc = item["loc"][1:] if item["loc"][:1] == (task,) else item["loc"]
        key = ".".join(str(part) for part in loc)
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif (
            "input" in item
            and item["type"] not in ("missing",)
            and not isinstance(item["input"], dict)
        ):
            message += f" (got {item['input']!r})"
        if key in (flags or {}):
            message += f" (set by {flags[key]}"
            message += ", not an option of this task)" if message.startswith("unknown") else ")"
        parts.append(f"{key}: {message}" if key else message)
    return "config: " + "; ".join(parts)


def differences(old: TaskConfig, new: TaskConfig) -> list[str]:
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
