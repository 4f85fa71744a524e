"""How training shows itself: a rich progress bar on a terminal, plain log lines otherwise.

All output goes to stderr, leaving stdout to the command's results. Only the main process reports.
"""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn


class Reporter:
    """Silent reporter (other processes); the interface of the others."""

    def start(self, fraction: float) -> None:
        """Training starts (or resumes) with ``fraction`` of the budget already spent."""

    def update(self, fraction: float, status: str) -> None:
        """Progress after a log step; ``status`` e.g. "step 120 | loss 2.1 bpc | 9k tok/s"."""

    def message(self, text: str) -> None:
        """A line worth keeping in the log (evaluations, checkpoints)."""

    def close(self) -> None: ...


class LineReporter(Reporter):
    """One line per message on stderr: suits ``--quiet``, log files and pipes."""

    def __init__(self, stream=None):
        self.stream = stream

    def message(self, text: str) -> None:
        print(text, file=self.stream or sys.stderr, flush=True)


class BarReporter(Reporter):
    """A rich progress bar with the latest loss, tokens/s and ETA; messages print above it."""

    def __init__(self):
        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[status]}"),
            console=self.console,
            transient=False,
        )
        self.task = None

    def start(self, fraction: float) -> None:
        self.progress.start()
        self.task = self.progress.add_task("train", total=1.0, completed=fraction, status="")

    def update(self, fraction: float, status: str) -> None:
        self.progress.update(self.task, completed=min(fraction, 1.0), status=status)

    def message(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False)

    def close(self) -> None:
        self.progress.stop()


def make_reporter(quiet: bool, main: bool) -> Reporter:
    """The bar on an interactive terminal, log lines when quiet or piped, silence off rank 0."""
    if not main:
        return Reporter()
    if quiet or not sys.stderr.isatty():
        return LineReporter()
    return BarReporter()


def format_eta(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_rate(tokens_per_s: float) -> str:
    if tokens_per_s >= 1e6:
        return f"{tokens_per_s / 1e6:.1f}M"
    if tokens_per_s >= 1e3:
        return f"{tokens_per_s / 1e3:.1f}k"
    return f"{tokens_per_s:.0f}"
