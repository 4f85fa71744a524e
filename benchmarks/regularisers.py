"""Speed cost of the regularisers inside the recurrence: each against the same layer without.

One training step (forward and backward of a loss over all outputs) of recur.LSTM and recur.GRU
on the default engine, plain and with each regulariser (recurrent dropout, zoneout, weight drop,
then all three), timed in one process, every variant once per repetition. The cost is the median
over repetitions of the variant's time over the plain layer's in the same repetition, minus one:
paired, so that the machine's speed drifting between repetitions (on a shared machine by more
than the costs measured here) cancels. Every variant has the same weights.

    python -m benchmarks.regularisers                       # (64, 100, 128, 128), LSTM and GRU
    python -m benchmarks.regularisers --shape 32 50 64 64 --repeats 31 --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics

import torch

from benchmarks.rnn import SPECS, environment, interleaved_times, training_step

SHAPE = (64, 100, 128, 128)
SETTINGS = {
    "none": {},
    "recurrent_dropout=0.25": {"recurrent_dropout": 0.25},
    "zoneout=0.1": {"zoneout": 0.1},
    "weight_drop=0.5": {"weight_drop": 0.5},
    "all three": {"recurrent_dropout": 0.25, "zoneout": 0.1, "weight_drop": 0.5},
}


def measure(shape=SHAPE, repeats: int = 15, layers=("LSTM", "GRU")) -> list[dict]:
    """One row per layer and setting: seconds per training step and the cost over "none"."""
    batch, steps, input_size, hidden_size = shape
    torch.manual_seed(0)
    x = torch.randn(steps, batch, input_size)
    rows = []
    for name in layers:
        plain = SPECS[name].make(input_size, hidden_size)
        runs = {}
        for label, options in SETTINGS.items():
            layer = SPECS[name].make(input_size, hidden_size, **options)
            layer.load_state_dict(plain.state_dict())
            runs[label] = training_step(layer, x)
        times = interleaved_times(runs, repeats, sample_seconds=0.0, rotate=True)
        for label, seconds in times.items():
            median = statistics.median(seconds)
            cost = statistics.median(t / base - 1 for t, base in zip(seconds, times["none"]))
            rows.append(dict(
                shape=list(shape), layer=name, regulariser=label, seconds=median,
                tokens_per_s=batch * steps / median, cost=cost,
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
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    env = environment()
    rows = measure(tuple(args.shape), args.repeats, tuple(args.layers))
    env["load_average_after"] = environment()["load_average"]
    print(
        f"torch {env['torch']}, {env['threads']} threads, {env['cpu']}, float32, medians of "
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
