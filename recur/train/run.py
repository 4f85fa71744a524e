"""The run directory: one training run's configuration, metrics, weights and resume state.

    RUN_DIR/
      config.json             the resolved configuration (usable again with --config)
      vocab.json / task.json  what the model needs besides weights (vocabulary, labels, scaling)
      metrics.jsonl           one JSON object per log step / evaluation
      model.safetensors       the weights alone (for generate / evaluate)
      checkpoint.safetensors  everything a resume needs: weights, optimiser, RNG, data cursor
      loss.png                train and valid loss curves
      *.png                   the task's plots (confusion.png, forecast.png, attention.png, ...)

Each of the files is replaced atomically (:func:`recur.train.checkpoint.atomic_write`); the
checkpoint is self-contained, so a kill between the two ``.safetensors`` writes leaves both usable.
metrics.jsonl is appended to; a resume cuts it back to its size at the checkpoint.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from recur.train.checkpoint import atomic_write

CONFIG, VOCAB, TASK, METRICS = "config.json", "vocab.json", "task.json", "metrics.jsonl"
MODEL, CHECKPOINT, PLOT = "model.safetensors", "checkpoint.safetensors", "loss.png"
#: the tasks' plots (see recur.tasks)
TASK_PLOTS = ("confusion.png", "forecast.png", "attention.png", "saliency.png", "captions.png")
RUN_FILES = (CONFIG, VOCAB, TASK, METRICS, MODEL, CHECKPOINT, PLOT, *TASK_PLOTS)


class RunDir:
    """Paths and file operations of one run directory (only the writing process creates it)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    @staticmethod
    def default(root: str | Path = "runs") -> RunDir:
        """``runs/<YYYYmmdd-HHMMSS>`` (with a suffix if that exists already)."""
        base = Path(root) / time.strftime("%Y%m%d-%H%M%S")
        path, k = base, 1
        while path.exists():
            path, k = base.with_name(f"{base.name}-{k}"), k + 1
        return RunDir(path)

    # ------------------------------------------------------------------ checks (no writes)
    def check_new(self, overwrite: bool) -> None:
        """Raise ValueError unless a new run may be written here."""
        if not self.path.exists():
            return
        if not self.path.is_dir():
            raise ValueError(f"run-dir: {self.path} exists and is not a directory")
        entries = [p.name for p in self.path.iterdir()]
        if not entries:
            return
        if not overwrite:
            raise ValueError(
                f"run-dir: {self.path} already exists; pass --resume {self.path} to continue "
                "that run or --overwrite to replace it"
            )
        foreign = sorted(n for n in entries if n not in RUN_FILES and not _is_temp(n))
        if foreign:
            raise ValueError(
                f"run-dir: {self.path} holds files that are not a recur run "
                f"({', '.join(foreign[:3])}); refusing to overwrite it"
            )

    def check_resumable(self) -> None:
        """Raise ValueError unless this is a run with a checkpoint to continue from."""
        if not (self / CONFIG).is_file():
            raise ValueError(f"resume: {self.path} is not a recur run (no {CONFIG})")
        if not (self / CHECKPOINT).is_file():
            raise ValueError(
                f"resume: {self.path} has no {CHECKPOINT} (the run stopped before its first "
                "checkpoint); start it again with --overwrite"
            )

    # ------------------------------------------------------------------ writes
    def create(self, overwrite: bool = False) -> None:
        """Make the directory; with ``overwrite``, remove a previous run's files first."""
        self.path.mkdir(parents=True, exist_ok=True)
        if overwrite:
            for entry in self.path.iterdir():
                if entry.name in RUN_FILES or _is_temp(entry.name):
                    entry.unlink()

    def write_json(self, name: str, obj) -> None:
        atomic_write(self / name, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")

    def append_metrics(self, record: dict) -> None:
        with open(self / METRICS, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def metrics_size(self) -> int:
        path = self / METRICS
        return path.stat().st_size if path.exists() else 0

    def truncate_metrics(self, size: int) -> None:
        """Drop records written after the checkpoint (a resume writes them again)."""
        with open(self / METRICS, "a+b") as handle:
            handle.truncate(size)

    # ------------------------------------------------------------------ reads
    def read_json(self, name: str):
        path = self / name
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"run: {path} does not exist; is {self.path} a recur run?") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValueError(f"run: {path} is corrupted (not valid JSON)") from None

    def read_metrics(self) -> list[dict]:
        """The records of metrics.jsonl, skipping a line cut short by a kill."""
        path = self / METRICS
        if not path.exists():
            return []
        records = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records


def _is_temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")


def finite_or_none(value: float) -> float | None:
    """JSON has no inf/nan: store them as null."""
    return value if math.isfinite(value) else None
