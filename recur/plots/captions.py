"""A grid of images, each titled with its generated caption (green: equal to the reference)."""

from __future__ import annotations

import io
import math
from pathlib import Path

from torch import Tensor

from recur.train.checkpoint import atomic_write


def plot_captions(
    images: Tensor,
    captions: list[str],
    references: list[str] | None,
    path: str | Path,
    title: str,
) -> None:
    """Write ``images`` (N, C, H, W) in [0, 1] (C 1 or 3), one per cell, captioned."""
    from matplotlib.figure import Figure  # imported here: matplotlib is slow to import

    n = len(images)
    columns = min(4, n)
    rows = math.ceil(n / columns)
    fig = Figure(figsize=(2.4 * columns, 2.5 * rows + 0.4), dpi=110)
    for k in range(n):
        ax = fig.add_subplot(rows, columns, k + 1)
        pixels = images[k].clamp(0, 1).permute(1, 2, 0).numpy()
        if pixels.shape[2] == 1:
            ax.imshow(pixels[:, :, 0], cmap="gray", vmin=0, vmax=1)
        else:
            ax.imshow(pixels)
        right = references is None or captions[k] == references[k]
        text = captions[k] or "(empty)"
        if references is not None and not right:
            text += f"\n(ref: {references[k]})"
        ax.set_title(text[:60], fontsize=9, color="black" if references is None else
                     ("darkgreen" if right else "firebrick"))  # fmt: skip
        ax.set_axis_off()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    atomic_write(path, buffer.getvalue())
