"""Training-step speed of recur's layers against torch.nn, measured side by side in one process.

Each measurement is one training step (forward + backward of a loss over all outputs) or one
inference forward, timed over interleaved repetitions so that every contender sees the same
machine state; the median is reported as tokens/s (B*T per second) and as a ratio to the
torch.nn baseline of the same run.

    python -m benchmarks.rnn                  # default shape (64, 100, 128, 128)
    python -m benchmarks.rnn --quick          # fewer repetitions, smaller shape
    python -m benchmarks.rnn --json out.json  # also write the results
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable

import torch

import recur


def contenders(input_size: int, hidden_size: int) -> dict[str, torch.nn.Module]:
    """The layers to time; ``torch.nn.LSTM`` is the baseline every ratio refers to."""
    return {
        "torch.nn.LSTM": torch.nn.LSTM(input_size, hidden_size),
        "recur.LSTM fused": recur.LSTM(input_size, hidden_size),
        "recur.LSTM reference": recur.LSTM(input_size, hidden_size, impl="reference"),
    }


def training_step(layer: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        layer.zero_grad(set_to_none=True)
        output, _ = layer(x)
        output.sum().backward()

    return run


def inference_step(layer: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        with torch.no_grad():
            layer(x)

    return run


def interleaved_medians(runs: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Median seconds of each run, alternating contenders within every repetition."""
    for run in runs.values():  # warm-up: allocator, oneDNN primitive cache
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def measure(batch: int, steps: int, input_size: int, hidden_size: int, repeats: int) -> list[dict]:
    torch.manual_seed(0)
    layers = contenders(input_size, hidden_size)
    x = torch.randn(steps, batch, input_size)
    tokens = batch * steps
    rows = []
    for mode, make in (("train", training_step), ("infer", inference_step)):
        medians = interleaved_medians({n: make(layer, x) for n, layer in layers.items()}, repeats)
        baseline = medians["torch.nn.LSTM"]
        for name, seconds in medians.items():
            rows.append(
                {
                    "layer": name,
                    "mode": mode,
                    "shape": [batch, steps, input_size, hidden_size],
                    "seconds": seconds,
                    "tokens_per_s": tokens / seconds,
                    "ratio_to_torch": baseline / seconds,
                }
            )
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| layer | mode | (B, T, I, H) | ms | tokens/s | x torch.nn.LSTM |",
        "|---|---|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['layer']} | {row['mode']} | {tuple(row['shape'])} | "
            f"{1000 * row['seconds']:.1f} | {row['tokens_per_s']:,.0f} | "
            f"{row['ratio_to_torch']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shape, 3 repetitions")
    parser.add_argument("--shape", type=int, nargs=4, metavar=("B", "T", "I", "H"))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    shape = args.shape or ((16, 50, 32, 64) if args.quick else (64, 100, 128, 128))
    repeats = 3 if args.quick else args.repeats
    rows = measure(*shape, repeats=repeats)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{platform.processor() or platform.machine()}, float32, median of {repeats}"
    )
    print(markdown(rows))
    if args.json:
        meta = {"torch": torch.__version__, "threads": torch.get_num_threads()}
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"meta": meta, "rows": rows}, handle, indent=2)
    return rows


if __name__ == "__main__":
    main()
