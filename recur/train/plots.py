"""The loss curves of a run as a PNG, drawn by matplotlib's Agg renderer (no display needed).

A bare ``Figure`` renders PNGs with Agg without touching pyplot or the session's backend.
"""

from __future__ import annotations

import io
from pathlib import Path

from recur.train.checkpoint import atomic_write


def plot_losses(records: list[dict], path: str | Path, unit: str, scale: float) -> None:
    """Train loss of every log record and valid loss of every evaluation against the step.

    ``records`` are metrics.jsonl's; losses (nats) are shown times ``scale`` in ``unit``.
    """
    from matplotlib.figure import Figure  # imported here: matplotlib is slow to import

    train = [(r["step"], r["loss"] * scale) for r in records if r.get("loss") is not None]
    valid = [(r["step"], r["valid_loss"] * scale) for r in records if "valid_loss" in r]
    fig = Figure(figsize=(7, 4), dpi=120)
    ax = fig.add_subplot()
    if train:
        ax.plot(*zip(*train), label="train", color="tab:blue", linewidth=1)
    if valid:
        ax.plot(*zip(*valid), "o-", label="valid", color="tab:orange", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel(f"loss ({unit})")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    atomic_write(path, buffer.getvalue())
