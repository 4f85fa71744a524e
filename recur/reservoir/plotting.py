"""A PNG of predictions against the truth, drawn with matplotlib's Agg backend (no display)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from recur.train.checkpoint import atomic_write


def _as_2d(name: str, values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim not in (1, 2):
        raise ValueError(f"{name}: expected shape (T,) or (T, O), got {array.shape}")
    return array.reshape(len(array), -1)


def plot_prediction(
    truth,
    prediction,
    path,
    *,
    title: str | None = None,
    start: int = 0,
    labels: tuple[str, str] = ("truth", "prediction"),
) -> Path:
    """Write a PNG of ``prediction`` over ``truth`` (one panel per output) to ``path``.

    Arguments:
        truth, prediction: (T,) or (T, O) arrays or tensors of the same shape.
        path: the PNG file; written atomically, parent folder created.
        title: figure title.
        start: time index of the first step (x axis).

    Returns:
        the path written.

    Example::

        >>> plot_prediction(series[2001:2101], esn.generate(100, warmup=series[:2001]), "mg.png")
    """
    truth, prediction = _as_2d("truth", truth), _as_2d("prediction", prediction)
    if truth.shape != prediction.shape:
        raise ValueError(
            f"prediction: expected the shape of truth {truth.shape}, got {prediction.shape}"
        )
    outputs = truth.shape[1]
    figure = Figure(figsize=(9, 2.4 * outputs + 0.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(outputs, 1, squeeze=False, sharex=True)[:, 0]
    steps = np.arange(start, start + len(truth))
    for k, axis in enumerate(axes):
        axis.plot(steps, truth[:, k], color="black", linewidth=1.2, label=labels[0])
        axis.plot(steps, prediction[:, k], color="tab:red", linewidth=1.0, linestyle="--",
                  label=labels[1])  # fmt: skip
        axis.set_ylabel(f"output {k}" if outputs > 1 else "value")
        axis.grid(alpha=0.3)
    axes[0].legend(loc="upper right")
    axes[-1].set_xlabel("time step")
    if title:
        figure.suptitle(title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, buffer.getvalue())
    return path
