"""Train every (variant, task) pair of a comparison the same way; tabulate and plot the runs."""

from __future__ import annotations

from collections.abc import Callable

import torch
from matplotlib.figure import Figure

from recur.experiments.models import build
from recur.experiments.training import History, train


def sweep(
    variants,
    tasks: dict,
    *,
    hidden: int,
    lr: float,
    batch: int,
    every: int,
    threshold: Callable[[object], float],
    clip: float = 1.0,
    seed: int = 0,
) -> dict[tuple[str, str], History]:
    """``tasks``: ``{label: (task, max_steps)}``.

    Each pair trains a fresh model (torch.manual_seed(seed)) with Adam, clipping at ``clip``,
    until the held-out metric passes ``threshold(task)`` or the step budget ends.
    """
    histories = {}
    for label, (task, steps) in tasks.items():
        for variant in variants:
            torch.manual_seed(seed)
            model = build(variant, task.input_size, hidden, task.output_size)
            histories[variant, label] = train(
                model,
                task,
                steps=steps,
                lr=lr,
                batch_size=batch,
                seed=seed,
                clip=clip,
                eval_every=every,
                threshold=threshold(task),
            )
    return histories


def solve_table(histories, variants, labels: dict, tasks: dict):
    """Columns and rows: per task, the steps to solve ("—" = not within budget) and the best
    held-out metric (accuracy or MSE); one row per variant."""
    columns = ["cell"]
    for label, (task, steps) in tasks.items():
        metric = "accuracy" if task.higher_is_better else "MSE"
        columns += [f"{label}: steps to solve (of {steps})", f"{label}: best {metric}"]
    rows = []
    for variant in variants:
        row = [labels[variant]]
        for label, (task, _) in tasks.items():
            h = histories[variant, label]
            row += [h.solved_at, h.best_metric(task.higher_is_better)]
        rows.append(row)
    return columns, rows


def solved_everywhere(histories, variant: str, tasks: dict) -> bool:
    return all(histories[variant, label].solved_at is not None for label in tasks)


def steps_summary(histories, variants, labels: dict, tasks: dict) -> str:
    """ "LSTM 250/600/—; GRU ..." : steps to solve per task, in the tasks' order."""
    return "; ".join(
        f"{labels[v]} " + "/".join(str(histories[v, t].solved_at or "—") for t in tasks)
        for v in variants
    )


def curves_figure(histories, variants, labels: dict, tasks: dict, *, threshold, ylabel) -> Figure:
    """One panel per task: every variant's held-out metric over training, with the task's
    chance level and ``threshold(task)``; log scale for errors (lower is better)."""
    fig = Figure(figsize=(5 * len(tasks), 3.8), layout="constrained")
    axes = fig.subplots(1, len(tasks), squeeze=False)[0]
    for ax, (label, (task, _)) in zip(axes, tasks.items()):
        for variant in variants:
            h = histories[variant, label]
            ax.plot(h.eval_steps, h.metrics, label=labels[variant])
        if not task.higher_is_better:
            ax.set_yscale("log")
        ax.axhline(task.chance, color="gray", ls=":", label="chance")
        ax.axhline(threshold(task), color="k", ls="--", lw=0.8, label="solved")
        ax.set_title(label)
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
    return fig
