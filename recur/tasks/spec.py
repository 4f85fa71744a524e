"""What a task is to the command line: a configuration, data, a model, metrics and outputs.

``recur train --task NAME`` validates the task's configuration, calls :meth:`TaskSpec.prepare`
(read and check the data, build the model; nothing is written yet), hands the returned
:class:`Prepared` to the one :class:`recur.train.Trainer`, and at the end calls
:meth:`TaskSpec.finish`. ``recur evaluate`` and ``recur predict`` reopen the run with
:func:`recur.tasks.saved.open_run` and call :meth:`TaskSpec.evaluate` / :meth:`TaskSpec.predict`.

What a model needs besides its weights (vocabularies, labels, scaling) is the task's ``meta``:
JSON stored in the run directory (``task.json``; the language model keeps ``vocab.json``), from
which :meth:`TaskSpec.build_model` rebuilds the model for evaluation and prediction.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any, NamedTuple

from torch import nn

from recur.tasks.config import TaskConfig
from recur.train.run import RunDir
from recur.train.task import Task


class Option(NamedTuple):
    """A ``recur train`` flag that sets a configuration key (``kind`` None: a boolean flag that
    stores ``value``)."""

    flag: str
    key: str
    kind: Any
    help: str
    value: Any = True


#: the flags of a task whose data are training, validation and test files (SplitConfig)
SPLIT_OPTIONS = (
    Option("--data", "data.path", str, "training data (default: the task's built-in demo)"),
    Option("--valid", "data.valid_path", str, "validation data (default: a split of --data)"),
    Option("--test", "data.test_path", str, "test data for the final report"),
)
NO_HEADER = Option("--no-header", "data.header", None, "CSV/TSV files have no header row", False)


@dataclass
class Prepared:
    """A task ready to train: the Trainer's task, the model, its meta and the data's identity."""

    task: Task
    model: nn.Module
    meta: Any
    digest: str  # sha256 of the training data: a resume must see the same data
    description: str  # one line for the user: what is trained on what
    #: the model was fitted in closed form by prepare (e.g. an Echo State Network's ridge
    #: readout): ``recur train`` evaluates and saves it without gradient steps
    fitted: bool = False


@dataclass
class SavedRun:
    """A run reopened for evaluation or prediction (the model in eval mode)."""

    run: RunDir
    config: TaskConfig
    spec: TaskSpec
    meta: Any
    model: nn.Module
    metadata: dict[str, str]  # of model.safetensors: step, data_sha256, ...


class TaskSpec:
    """Base of the tasks; subclasses set the class attributes and implement the methods."""

    name: str
    summary: str  # one line for --help
    config: type[TaskConfig]
    options: tuple[Option, ...] = ()
    meta_file = "task.json"

    def prepare(self, config: TaskConfig, dist) -> Prepared:
        raise NotImplementedError

    def build_model(self, config: TaskConfig, meta: Any) -> nn.Module:
        raise NotImplementedError

    def finish(self, saved: SavedRun, summary: dict, args: argparse.Namespace) -> None:
        """After training (main process): print the result's lines on stdout, write plots."""
        raise NotImplementedError

    def evaluate(self, saved: SavedRun, args: argparse.Namespace) -> dict:
        """The metrics of the run on ``args.data`` (default: its held-out split)."""
        raise NotImplementedError

    def predict(self, saved: SavedRun, args: argparse.Namespace) -> list[dict]:
        """One record of outputs per item of ``args.input``."""
        raise NotImplementedError

    # meta <-> the text of meta_file
    def dump_meta(self, meta: Any) -> str:
        return json.dumps(meta, ensure_ascii=False, indent=1) + "\n"

    def load_meta(self, text: str) -> Any:
        return json.loads(text)
