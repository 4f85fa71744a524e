"""A confusion matrix as a PNG: rows true classes, columns predicted, cells row-normalised."""

from __future__ import annotations

import io
from pathlib import Path

from torch import Tensor

from recur.train.checkpoint import atomic_write


def plot_confusion(confusion: Tensor, labels: list[str], path: str | Path, title: str) -> None:
    """Write ``confusion`` (K, K counts) with each cell's count, shaded by its share of the row."""
    from matplotlib.figure import Figure  # imported here: matplotlib is slow to import

    k = len(labels)
    rates = confusion.double() / confusion.sum(1, keepdim=True).clamp(min=1)
    size = min(12, 2.5 + 0.45 * k)
    fig = Figure(figsize=(size, size * 0.9), dpi=120)
    ax = fig.add_subplot()
    image = ax.imshow(rates.numpy(), cmap="Blues", vmin=0, vmax=1)
    if k <= 30:
        shown = [str(label)[:12] for label in labels]
        ax.set_xticks(range(k), shown, rotation=90 if k > 8 else 0)
        ax.set_yticks(range(k), shown)
        for i in range(k):
            for j in range(k):
                if confusion[i, j]:
                    color = "white" if rates[i, j] > 0.5 else "black"
                    ax.text(
                        j,
                        i,
                        int(confusion[i, j]),
                        ha="center",
                        va="center",
                        color=color,
                        fontsize=8,
                    )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of the true class")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    atomic_write(path, buffer.getvalue())
