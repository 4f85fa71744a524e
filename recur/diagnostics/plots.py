"""PNG plots of the diagnostics, drawn with matplotlib's object API (Agg, no pyplot state).

``draw_*`` functions draw on a given Axes so experiments can compose figures; ``plot_*`` make a
one-figure PNG and return its path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from recur.diagnostics.spectrum import JacobianSpectrum
from recur.diagnostics.tracker import GradientTracker

TINY = 1e-300  # floor for log scales: an exactly zero gradient is drawn at the bottom


def new_figure(rows: int = 1, cols: int = 1, size=(5.0, 3.6)) -> tuple[Figure, np.ndarray]:
    """A Figure with a rows x cols grid of Axes (always a 2-D array)."""
    fig = Figure(figsize=(size[0] * cols, size[1] * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, axes


def save(fig: Figure, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def draw_flow(ax: Axes, curves: dict, title: str = "") -> None:
    """Log-scale ``||dL/dh_k||`` against k, one line per label: ``{label: (T,) norms}``.

    Exact zeros (no path to the loss, or float underflow) cannot be drawn on a log scale and are
    left out of the line.
    """
    for label, norms in curves.items():
        norms = np.asarray(norms, dtype=float)
        ax.semilogy(np.arange(len(norms)), np.where(norms > 0, norms, np.nan), label=label)
    ax.set_xlabel("step k")
    ax.set_ylabel("||dL/dh_k||")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    if curves:
        ax.legend(fontsize=8)


def draw_flow_heatmap(ax: Axes, norms, train_steps, title: str = "") -> None:
    """``norms`` (n, T): ``||dL/dh_k||`` at each of n training steps; log colour scale."""
    norms = np.maximum(np.asarray(norms, dtype=float), TINY)
    finite = norms[np.isfinite(norms)]
    high = float(finite.max()) if finite.size else 1.0
    low = max(float(finite.min()) if finite.size else TINY, high * 1e-12)
    steps = np.asarray(train_steps)
    mesh = ax.pcolormesh(
        np.arange(norms.shape[1] + 1) - 0.5,
        _edges(steps),
        norms,
        norm=LogNorm(vmin=low, vmax=max(high, low * 10)),
        shading="flat",
        cmap="viridis",
    )
    ax.figure.colorbar(mesh, ax=ax, label="||dL/dh_k||")
    ax.set_xlabel("step k")
    ax.set_ylabel("training step")
    ax.set_title(title)


def draw_spectrum(ax_step: Axes, ax_product: Axes, spectrum: JacobianSpectrum, label="") -> None:
    """Largest and smallest singular value of J_t (left) and largest of the products (right)."""
    step = spectrum.step_singular_values.mean(dim=1).numpy()
    product = spectrum.product_singular_values[..., 0].clamp_min(TINY).log10().mean(1).numpy()
    t = np.arange(step.shape[0])
    (line,) = ax_step.plot(t, step[:, 0], label=f"{label} σ_max".strip())
    ax_step.plot(t, step[:, -1], "--", color=line.get_color(), label=f"{label} σ_min".strip())
    ax_step.set_xlabel("step t")
    ax_step.set_ylabel("singular value of ds_t/ds_{t-1}")
    ax_step.legend(fontsize=8)
    ax_product.plot(t, product, color=line.get_color(), label=label or None)
    ax_product.set_xlabel("step t")
    ax_product.set_ylabel("log10 σ_max(ds_t/ds_{-1})")
    if label:
        ax_product.legend(fontsize=8)


def draw_norms(ax: Axes, tracker: GradientTracker, title: str = "") -> None:
    """Global gradient norm per training step (log scale) and the clip threshold."""
    draw_norm_history(ax, tracker.steps, tracker.global_norms, tracker.clip, title)


def draw_norm_history(ax: Axes, steps, norms, clip: float | None = None, title: str = "") -> None:
    """Gradient norms against the training step (log scale; non-finite ones left out) and the
    clip threshold ``clip`` as a dashed line."""
    norms = np.asarray(norms, dtype=float)
    ax.semilogy(steps, np.where(np.isfinite(norms), norms, np.nan), lw=0.8)
    if clip is not None:
        ax.axhline(clip, color="k", ls="--", lw=0.8, label=f"clip {clip:g}")
        ax.legend(fontsize=8)
    ax.set_xlabel("training step")
    ax.set_ylabel("global gradient norm")
    ax.set_title(title)


def plot_flow(curves: dict, path, title: str = "") -> Path:
    fig, axes = new_figure()
    draw_flow(axes[0, 0], curves, title)
    return save(fig, path)


def plot_flow_heatmap(norms, train_steps, path, title: str = "") -> Path:
    fig, axes = new_figure()
    draw_flow_heatmap(axes[0, 0], norms, train_steps, title)
    return save(fig, path)


def plot_spectrum(spectrum: JacobianSpectrum, path, title: str = "") -> Path:
    fig, axes = new_figure(1, 2)
    draw_spectrum(axes[0, 0], axes[0, 1], spectrum)
    fig.suptitle(title)
    return save(fig, path)


def plot_tracker(tracker: GradientTracker, path, title: str = "") -> Path:
    fig, axes = new_figure()
    draw_norms(axes[0, 0], tracker, title)
    return save(fig, path)


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around sorted centres (for pcolormesh)."""
    if centres.size == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    mids = (centres[1:] + centres[:-1]) / 2
    first = centres[0] - (mids[0] - centres[0])
    last = centres[-1] + (centres[-1] - mids[-1])
    return np.concatenate([[first], mids, [last]])


__all__ = [
    "draw_flow",
    "draw_flow_heatmap",
    "draw_norm_history",
    "draw_norms",
    "draw_spectrum",
    "new_figure",
    "plot_flow",
    "plot_flow_heatmap",
    "plot_spectrum",
    "plot_tracker",
    "save",
]
