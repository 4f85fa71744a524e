"""Speed cost of the regularisers inside the recurrence: each against the same layer without.

One training step (forward and backward of a loss over all outputs) of recur.LSTM and recur.GRU
on the default engine, plain and with each regulariser (recurrent dropout, zoneout, weight drop,
then all three), timed interleaved in one process as in :mod:`benchmarks.rnn`; the cost is the
median time over the plain layer's, minus one. Every variant has the same weights.

    python -m benchmarks.regularisers                       # (64, 100, 128, 128), LSTM and GRU
    python -m benchmarks.regularisers --shape 32 50 64 64 --repeats 15 --json out.json
"""

from __future__ import annotations

import argparse
import json

import torch

from benchmarks.rnn import SPECS, environment, interleaved_medians, training_step

SHAPE = (64, 100, 128, 128)
SETTINGS = {
    "none": {},
    "recurrent_dropout=0.25": {"recurrent_dropout": 0.25},
    "zoneout=0.1": {"zoneout": 0.1},
    "weight_drop=0.5": {"weight_drop": 0.5},
    "all three": {"recurrent_dropout": 0.25, "zoneout": 0.1, "weight_drop": 0.5},
}


def measure(shape=SHAPE, repeats: int = 9, layers=("LSTM", "GRU")) -> list[dict]:
    """One row per layer and setting: seconds per training step and the cost over "none"."""
    batch, steps, input_size, hidden_size = shape
    torch.manual_seed(0)
    x = torch.randn(steps, batch, input_size)
    runs = {}
    for name in layers:
        plain = SPECS[name].make(input_size, hidden_size)
        for label, options in SETTINGS.items():
            layer = SPECS[name].make(input_size, hidden_size, **options)
            layer.load_state_dict(plain.state_dict())
            runs[f"{name} {label}"] = training_step(layer, x)
    medians = interleaved_medians(runs, repeats)
    rows = []
    for name in layers:
        base = medians[f"{name} none"]
        for label in SETTINGS:
            seconds = medians[f"{name} {label}"]
            rows.append(dict(
                shape=list(shape), layer=name, regulariser=label, seconds=seconds,
                tokens_per_s=batch * steps / seconds, cost=seconds / base - 1,
            ))  # fmt: skip
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| (B, T, I, H) | layer | regulariser | ms per training step | tokens/s | cost |",
        "|---|---|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {tuple(row['shape'])} | recur.{row['layer']} | {row['regulariser']} | "
            f"{1e3 * row['seconds']:.2f} | {row['tokens_per_s']:,.0f} | {row['cost']:+.1%} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=4, default=SHAPE, metavar=("B", "T", "I", "H"))
    parser.add_argument("--layers", nargs="+", choices=tuple(SPECS), default=("LSTM", "GRU"))
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    env = environment()
    rows = measure(tuple(args.shape), args.repeats, tuple(args.layers))
    env["load_average_after"] = environment()["load_average"]
    print(
        f"torch {env['torch']}, {env['threads']} threads, {env['cpu']}, float32, median of "
        f"{args.repeats}, fused engine: {env['recur_engine']['fused']}, load average "
        f"{env['load_average']} before, {env['load_average_after']} after"
    )
    print(markdown(rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"meta": env, "rows": rows}, handle, indent=2)
    return rows


if __name__ == "__main__":
    main()
