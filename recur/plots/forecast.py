"""Forecasts against the truth as a PNG: the held-out part, with a path of H steps from every
H-th origin (the paths tile the part), the naive forecast's paths for comparison."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from recur.train.checkpoint import atomic_write

MAX_PANELS = 4


def plot_forecast(
    path: str | Path,
    axis: list,
    truth: np.ndarray,
    paths: list[tuple[int, np.ndarray, np.ndarray]],
    columns: list[str],
    title: str,
    time_label: str = "step",
    held_out: int = 0,
) -> None:
    """Write the PNG.

    Arguments:
        axis: the x value of each row shown (times or step numbers), length S.
        truth: (S, C) values of those rows.
        paths: (row of the origin, forecast (H, C), naive (H, C)); the forecast of h steps ahead
            is drawn at row origin + h.
        columns: the C names (the first ``MAX_PANELS`` are drawn, one panel each).
        held_out: the row where the held-out part starts (shaded from there on).
    """
    from matplotlib.figure import Figure  # imported here: matplotlib is slow to import

    shown = min(len(columns), MAX_PANELS)
    fig = Figure(figsize=(10, 2.6 * shown + 0.8), dpi=110, layout="constrained")
    axes = fig.subplots(shown, 1, squeeze=False, sharex=True)[:, 0]
    for c, ax in enumerate(axes):
        ax.axvspan(axis[held_out], axis[-1], color="tab:blue", alpha=0.06, linewidth=0)
        ax.plot(axis, truth[:, c], color="black", linewidth=1.2, label="truth")
        for k, (origin, forecast, naive) in enumerate(paths):
            rows = range(origin, origin + len(forecast) + 1)
            x = [axis[r] for r in rows if r < len(axis)]
            start = truth[origin, c]
            model_line = np.concatenate([[start], forecast[:, c]])[: len(x)]
            naive_line = np.concatenate([[start], naive[:, c]])[: len(x)]
            ax.plot(x, naive_line, color="tab:gray", linewidth=0.8, linestyle=":",
                    label="naive" if k == 0 else None)  # fmt: skip
            ax.plot(x, model_line, color="tab:red", linewidth=1.1,
                    label="forecast" if k == 0 else None)  # fmt: skip
        ax.set_ylabel(columns[c][:20])
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper left", fontsize=8)
    axes[-1].set_xlabel(time_label)
    fig.suptitle(title)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    atomic_write(path, buffer.getvalue())
