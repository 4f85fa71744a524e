"""Experiments that rerun the seeds' claims about BPTT, each with fixed seeds, a table and a PNG.

``python -m recur.experiments NAME [--out docs/experiments] [--quick]`` or ``all``; from Python,
:func:`run_experiment`. Each experiment module has ``TITLE`` and ``run(quick) -> Report``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import torch

from recur.experiments import (
    adding,
    attention,
    bidirectional,
    clockwork,
    copy_memory,
    exploding,
    lstm_variants,
    vanishing,
)
from recur.experiments.report import Report, write_index, write_report

#: name -> ``run(quick) -> Report``, in the order of the README
EXPERIMENTS: dict[str, Callable[[bool], Report]] = {
    "vanishing": vanishing.run,
    "exploding": exploding.run,
    "adding": adding.run,
    "copy-memory": copy_memory.run,
    "lstm-variants": lstm_variants.run,
    "bidirectional": bidirectional.run,
    "clockwork": clockwork.run,
    "attention": attention.run,
}

DEFAULT_OUT = Path("docs/experiments")


def run_experiment(name: str, out_dir=DEFAULT_OUT, quick: bool = False) -> Report:
    """Run the experiment ``name``, write NAME.md/.png/.json to ``out_dir``, refresh README.md.

    ``quick`` runs tiny sizes in seconds (a smoke test; its numbers mean nothing). Runs use one
    CPU thread (small recurrent matrices gain nothing from more, and lose a lot on a busy
    machine); the previous thread count is restored afterwards.
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"name: expected one of {sorted(EXPERIMENTS)}, got {name!r}")
    with _one_thread():
        report = EXPERIMENTS[name](quick)
    write_report(report, out_dir)
    write_index(out_dir, list(EXPERIMENTS))
    return report


@contextmanager
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


__all__ = ["EXPERIMENTS", "Report", "run_experiment"]
