"""Attention maps as PNG heatmaps (matplotlib's Agg canvas; no display, no global pyplot state).

Example::

    hyp = model.greedy(source, lengths, max_length=12)
    save_attention_heatmap(hyp.attention[0, :n, :s], list("23 Nov 2026"), list("2026-11-23") +
                           ["<eos>"], "attention.png")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def save_attention_heatmap(
    weights,
    source_labels: Sequence[str],
    target_labels: Sequence[str],
    path,
    title: str | None = None,
) -> Path:
    """Write ``weights`` (T, S) — row i the attention while emitting target i — as a PNG.

    Arguments:
        weights: (T, S) array or tensor of attention weights in [0, 1].
        source_labels: S labels for the columns (e.g. the source characters).
        target_labels: T labels for the rows (the emitted tokens).
        path: where to write the PNG.
        title: optional figure title.
    Returns:
        The path written.
    """
    weights = np.asarray(weights.detach().cpu() if hasattr(weights, "detach") else weights)
    if weights.ndim != 2:
        raise ValueError(f"weights: expected a 2-D (T, S) array, got shape {weights.shape}")
    rows, cols = weights.shape
    if len(source_labels) != cols or len(target_labels) != rows:
        raise ValueError(
            f"source_labels/target_labels: expected {cols} and {rows} labels for weights of shape "
            f"{weights.shape}, got {len(source_labels)} and {len(target_labels)}"
        )
    figure = Figure(figsize=(max(4.0, 0.28 * cols + 1.5), max(3.0, 0.28 * rows + 1.2)))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(cols), [repr(c)[1:-1] or " " for c in source_labels], fontsize=8)
    axes.set_yticks(range(rows), list(target_labels), fontsize=8)
    axes.set_xlabel("source")
    axes.set_ylabel("output")
    if title:
        axes.set_title(title)
    figure.colorbar(image, ax=axes, fraction=0.03)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, format="png", dpi=100)
    return path
