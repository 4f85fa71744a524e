"""Bidirectional vs unidirectional LSTM on fill-in-the-blank (…我打算____一部新手机)."""

from __future__ import annotations

import torch
from matplotlib.figure import Figure

from recur.experiments.models import build, count_parameters
from recur.experiments.report import Report
from recur.experiments.tasks import FillBlankTask
from recur.experiments.training import train

TITLE = "Bidirectional vs unidirectional: fill in the blank"
SOLVED = 0.9  # blank accuracy a model must reach where its inputs determine the answer
DONE = 0.99  # training stops at this held-out accuracy


def run(quick: bool = False) -> Report:
    if quick:
        length, hidden, steps, every = 8, 6, 4, 2
    else:
        length, hidden, steps, every = 16, 32, 1500, 50
    tasks = {c: FillBlankTask(length, context=c) for c in ("both", "past")}
    models = {"unidirectional": (2 * hidden, False), "bidirectional": (hidden, True)}
    results = {}
    for context, task in tasks.items():
        for kind, (size, bidirectional) in models.items():
            torch.manual_seed(0)
            model = build(
                "lstm",
                task.input_size,
                size,
                task.output_size,
                num_layers=2,
                bidirectional=bidirectional,
            )
            history = train(
                model,
                task,
                steps=steps,
                lr=1e-2,
                batch_size=64,
                eval_every=every,
                threshold=DONE,
            )
            results[context, kind] = (history, count_parameters(model))
    rows = [
        [
            kind,
            f"{models[kind][0]}{' x 2' if models[kind][1] else ''}",
            results["both", kind][1],
            results["both", kind][0].final_metric,
            results["both", kind][0].solved_at,
            results["past", kind][0].final_metric,
            results["past", kind][0].solved_at,
        ]
        for kind in models
    ]
    chance = tasks["both"].chance
    uni_both = results["both", "unidirectional"][0].final_metric
    bi_both = results["both", "bidirectional"][0].final_metric
    uni_past = results["past", "unidirectional"][0].final_metric
    supported = bi_both >= SOLVED and uni_both <= chance + 0.1 and uni_past >= SOLVED
    return Report(
        name="bidirectional",
        title=TITLE,
        claim=(
            "A bidirectional RNN fills a blank from the words on both sides, which a "
            "unidirectional one, reading only the past, cannot (seeds: “RNN基础” §2, "
            "“我的手机坏了，我打算____一部新手机” needs the words after the blank; 6.13.2)."
        ),
        setup=(
            f"Sequences of {length} tokens from 10; one position p (2 ≤ p ≤ {length - 2}) is "
            "replaced by a blank token and the model, tagging every position, must output at p "
            "the answer (x[p-1] + x[p+1]) mod 10 (“both sides”), or, as a control that needs "
            "no future, (x[p-2] + x[p-1]) mod 10 (“past only”). Two-layer LSTM + linear read-out "
            "per step (the second layer combines what both directions of the first carry); "
            f"the bidirectional layer has half the hidden size per direction; Adam lr 1e-2, "
            f"batch 64, up to {steps} steps (stopping at accuracy {DONE:g}), seeds 0; accuracy "
            f"at the blank on 256 held-out sequences. Chance: {chance:.1f}."
        ),
        columns=[
            "layer",
            "hidden",
            "parameters",
            "accuracy, both sides",
            f"steps to {DONE:g}, both sides",
            "accuracy, past only",
            f"steps to {DONE:g}, past only",
        ],
        rows=rows,
        contradiction=(
            f"The bidirectional LSTM below {SOLVED:g} on “both sides”, or the unidirectional one "
            f"above {chance + 0.1:.1f} there (it cannot know x[p+1]), or the unidirectional one "
            f"below {SOLVED:g} on the “past only” control (then the gap would be capacity, not "
            "direction)."
        ),
        supported=supported,
        verdict=(
            f"Blank accuracy with both-side context: bidirectional {bi_both:.2f}, unidirectional "
            f"{uni_both:.2f} (chance {chance:.1f}); on the past-only control the unidirectional "
            f"LSTM reaches {uni_past:.2f} and the bidirectional "
            f"{results['past', 'bidirectional'][0].final_metric:.2f}."
        ),
        figure=_figure(results, chance),
        quick=quick,
    )


def _figure(results: dict, chance: float) -> Figure:
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, context in zip(axes, ("both", "past")):
        for kind in ("unidirectional", "bidirectional"):
            history = results[context, kind][0]
            ax.plot(history.eval_steps, history.metrics, label=kind)
        ax.axhline(chance, color="gray", ls=":", label="chance")
        ax.set_title("answer from both sides" if context == "both" else "answer from the past")
        ax.set_xlabel("training step")
        ax.set_ylabel("accuracy at the blank")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=8)
    return fig
