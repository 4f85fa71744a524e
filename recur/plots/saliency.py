"""Per-position saliency of a few sequences as a PNG: one bar track per sequence, marks shaded."""

from __future__ import annotations

import io
from pathlib import Path

from torch import Tensor

from recur.train.checkpoint import atomic_write


def plot_saliency(
    rows: list[Tensor],
    names: list[str],
    path: str | Path,
    title: str,
    marks: list[tuple[int, int] | None] | None = None,
) -> None:
    """Write one track per row of ``rows`` (1-D saliency over positions), titled by ``names``;
    ``marks[i]`` = (start, end) shades positions [start, end) of row i (e.g. a planted motif)
    and the row's peak is marked with a triangle."""
    from matplotlib.figure import Figure  # imported here: matplotlib is slow to import

    marks = marks or [None] * len(rows)
    fig = Figure(figsize=(10, 1.2 + 1.3 * len(rows)), dpi=110)
    axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
    for ax, values, name, mark in zip(axes, rows, names, marks):
        values = values.detach().double()
        colors = ["tab:red" if v > 0 else "tab:blue" for v in values.tolist()]
        ax.bar(range(len(values)), values.numpy(), width=1.0, color=colors, zorder=2)
        if mark is not None:
            ax.axvspan(
                mark[0] - 0.5,
                mark[1] - 0.5,
                color="gold",
                alpha=0.35,
                zorder=0,
                label="planted motif",
            )
        peak = int(values.argmax())
        ax.plot([peak], [float(values[peak])], "v", color="black", markersize=6)
        ax.set_xlim(-0.5, len(values) - 0.5)
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[-1].set_xlabel("position")
    marked = [ax for ax, mark in zip(axes, marks) if mark is not None]
    if marked:
        marked[0].legend(loc="upper right", fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    atomic_write(path, buffer.getvalue())
