"""The adding problem: which cells carry two numbers across T steps, and how fast."""

from __future__ import annotations

from recur.experiments.report import Report
from recur.experiments.sweep import (
    curves_figure,
    solve_table,
    solved_everywhere,
    steps_summary,
    sweep,
)
from recur.experiments.tasks import AddingTask

TITLE = "The adding problem"
VARIANTS = ("elman-tanh", "irnn", "lstm", "gru")
LABELS = {"elman-tanh": "Elman tanh", "irnn": "IRNN", "lstm": "LSTM", "gru": "GRU"}
LEARNING_RATE = 1e-2
THRESHOLD = 0.01  # held-out MSE that counts as solved
BATCH = 64


def run(quick: bool = False) -> Report:
    if quick:
        hidden, every, budget = 8, 2, {6: 4, 10: 4}
    else:
        hidden, every, budget = 64, 50, {50: 1000, 100: 1000, 200: 1000}
    tasks = {f"T={n}": (AddingTask(n), steps) for n, steps in budget.items()}
    histories = sweep(
        VARIANTS,
        tasks,
        hidden=hidden,
        lr=LEARNING_RATE,
        batch=BATCH,
        every=every,
        threshold=lambda task: THRESHOLD,
    )
    columns, rows = solve_table(histories, VARIANTS, LABELS, tasks)
    gated = [v for v in ("lstm", "gru") if solved_everywhere(histories, v, tasks)]
    longest = list(tasks)[-1]
    tanh_long = histories["elman-tanh", longest]
    return Report(
        name="adding",
        title=TITLE,
        claim=(
            "Gated cells (LSTM, GRU) learn dependencies over long spans that a tanh RNN cannot "
            "(seeds 6.10, 6.11; Hochreiter & Schmidhuber 1997)."
        ),
        setup=(
            "Adding problem (inputs: a uniform number and a marker; two markers, one in each "
            "half; target: the sum of the two marked numbers, read at the last step); "
            f"hidden {hidden}, one layer + linear read-out; Adam lr 1e-2, batch "
            f"{BATCH}, clip 1.0, fresh batches from seed 0, torch.manual_seed(0); held-out MSE "
            f"on 256 sequences every {every} steps; training stops once MSE < {THRESHOLD:g}. "
            "Predicting 1 regardless of the input scores 1/6 ≈ 0.167."
        ),
        columns=columns,
        rows=rows,
        contradiction=(
            f"Neither LSTM nor GRU reaching MSE < {THRESHOLD:g} at every T within the step "
            f"budget, or Elman-tanh reaching it at the longest T ({longest})."
        ),
        supported=bool(gated) and tanh_long.solved_at is None,
        verdict=(
            "Solved at every T: "
            + (", ".join(LABELS[v] for v in gated) or "neither LSTM nor GRU")
            + f". Steps to MSE < {THRESHOLD:g} at {'/'.join(tasks)}: "
            + steps_summary(histories, VARIANTS, LABELS, tasks)
            + f". Elman-tanh's best MSE at {longest}: {tanh_long.best_metric(False):.3f} "
            "(chance 0.167)."
        ),
        figure=curves_figure(
            histories,
            VARIANTS,
            LABELS,
            tasks,
            threshold=lambda task: THRESHOLD,
            ylabel="held-out MSE",
        ),
        notes=[
            "One seed per cell and length: the step at which a cell leaves the 0.167 plateau "
            "varies between seeds; the plateau-then-drop shape does not.",
        ],
        quick=quick,
    )
