"""Clockwork RNN vs Elman vs LSTM generating a long waveform from no input (Koutník et al. 2014)."""

from __future__ import annotations

import torch
from matplotlib.figure import Figure

from recur.experiments.models import build, count_parameters
from recur.experiments.report import Report
from recur.experiments.tasks import WaveTask
from recur.experiments.training import train

TITLE = "Clockwork RNN on long-memory sequence generation"
LABELS = {"clockwork": "Clockwork RNN", "elman-tanh": "Elman tanh", "lstm": "LSTM"}
#: sizes giving about the same number of trainable parameters (about 3k), as in the paper
HIDDEN = {"clockwork": 72, "elman-tanh": 52, "lstm": 26}
HIDDEN_QUICK = {"clockwork": 6, "elman-tanh": 4, "lstm": 2}
TRAIN_STEPS = 1000
LEARNING_RATE = 3e-3


def settings(quick: bool) -> dict:
    if quick:
        return dict(steps=16, train_steps=4, every=2, periods=(1, 2, 4), hidden=HIDDEN_QUICK)
    return dict(
        steps=320,
        train_steps=TRAIN_STEPS,
        every=25,
        periods=tuple(2**k for k in range(9)),
        hidden=HIDDEN,
    )


def run(quick: bool = False) -> Report:
    s = settings(quick)
    task = WaveTask(s["steps"])
    results = {}
    for variant, hidden in s["hidden"].items():
        torch.manual_seed(0)
        kwargs = {"periods": s["periods"]} if variant == "clockwork" else {}
        model = build(variant, task.input_size, hidden, task.output_size, **kwargs)
        history = train(
            model,
            task,
            steps=s["train_steps"],
            lr=LEARNING_RATE,
            batch_size=1,
            clip=1.0,
            eval_every=s["every"],
            eval_size=1,
            threshold=None,
        )
        with torch.no_grad():
            output = model(task.sample(1, torch.Generator())[0])[:, 0, 0]
        results[variant] = (history, count_parameters(model), output)
    rows = [
        [LABELS[v], s["hidden"][v], params, h.final_metric, h.best_metric(False)]
        for v, (h, params, _) in results.items()
    ]
    nmse = {v: r[0].final_metric for v, r in results.items()}
    supported = nmse["clockwork"] < min(nmse["elman-tanh"], nmse["lstm"])
    return Report(
        name="clockwork",
        title=TITLE,
        claim=(
            "Splitting the hidden layer into modules clocked at different periods lets a "
            "Clockwork RNN model long-term structure better than an Elman RNN or an LSTM of the "
            "same size (seeds 6.13.7; Koutník et al. 2014, sequence generation)."
        ),
        setup=(
            f"Generate one fixed waveform of {s['steps']} steps (a sum of 5 sines with periods "
            f"from 4 to {s['steps']} steps, unit variance) from an all-zero input, as in the "
            "paper's audio generation task; loss MSE over every step (= normalised MSE). "
            f"Clockwork periods {s['periods']}; hidden sizes chosen for about equal parameter "
            f"counts; Adam lr {LEARNING_RATE}, clip 1.0, {s['train_steps']} steps on the one "
            "sequence, torch.manual_seed(0). Predicting the mean scores NMSE 1."
        ),
        columns=["cell", "hidden", "parameters", "final NMSE", "best NMSE"],
        rows=rows,
        contradiction=(
            "The Clockwork RNN's final NMSE not below both the Elman RNN's and the LSTM's."
        ),
        supported=supported,
        verdict=(
            "Final NMSE after "
            f"{s['train_steps']} steps: "
            + ", ".join(f"{LABELS[v]} {nmse[v]:.3f}" for v in results)
            + "."
        ),
        figure=_figure(results, task),
        notes=[
            "One seed and one waveform; the paper averages over sequences and tunes each model.",
            "From an all-zero input and state, the Elman RNN and the LSTM must turn their own "
            "dynamics into an oscillator; from torch's initialisation they settle on a fixed "
            "point, and BPTT over 320 steps barely moves them off it (a side run with Adam lr "
            "1e-2 for 2000 steps ended at NMSE 0.995 and 0.74). The Clockwork RNN's schedule is "
            "itself a time signal: that is the design's point, and why the gap is this large.",
        ],
        quick=quick,
    )


def _figure(results: dict, task: WaveTask) -> Figure:
    fig = Figure(figsize=(13, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1, 2])
    for variant, (history, _, _) in results.items():
        left.semilogy(history.eval_steps, history.metrics, label=LABELS[variant])
    left.set_xlabel("training step")
    left.set_ylabel("NMSE")
    left.legend(fontsize=8)
    right.plot(task.target()[:, 0, 0], color="k", lw=2, alpha=0.4, label="target")
    for variant, (_, _, output) in results.items():
        right.plot(output, lw=1, label=LABELS[variant])
    right.set_xlabel("step t")
    right.set_title("generated after training")
    right.legend(fontsize=8, ncol=4)
    return fig
