"""Reopening a run directory: its configuration, the task's meta and the trained model."""

from __future__ import annotations

from pathlib import Path

from recur.tasks.spec import SavedRun
from recur.train.checkpoint import load_tensors
from recur.train.run import CONFIG, MODEL, RunDir


def open_run(path: str | Path) -> SavedRun:
    """A finished (or checkpointed) run, its model in eval mode.

    Raises ValueError when the directory is not a run or a file is missing or corrupted.
    """
    from recur.cli.config import validate  # the task registry validates the configuration
    from recur.tasks import TASKS

    run = RunDir(path)
    if not run.path.is_dir():
        raise ValueError(f"run: {run.path} does not exist or is not a directory")
    config = validate(run.read_json(CONFIG))
    spec = TASKS[config.task]
    meta_path = run / spec.meta_file
    try:
        meta = spec.load_meta(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"run: {meta_path} does not exist; is {run.path} a recur run?") from None
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"run: {meta_path} is corrupted") from None
    if not (run / MODEL).exists():
        raise ValueError(f"run: {run / MODEL} does not exist (no checkpoint was written yet)")
    weights, metadata = load_tensors(run / MODEL)
    model = spec.build_model(config, meta)
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise ValueError(f"run: {run / MODEL} does not fit {run / CONFIG}: {first}") from None
    return SavedRun(run, config, spec, meta, model.eval(), metadata)
