"""Speed of every recur layer against torch.nn, a naive loop and the GEMM-only bound, one process.

For each shape (B, T, I, H) of the grid and each recur layer, one training step (forward and
backward of a loss over all outputs) and one inference forward are timed, interleaved over
repetitions so that every contender sees the same machine state; the median gives tokens/s
(B*T per second). Ratios compare contenders of the same run:

    vs torch.nn     the layer's torch.nn counterpart (LSTM family: torch.nn.LSTM, on oneDNN;
                    GRU: torch.nn.GRU; Elman and Clockwork: torch.nn.RNN)
    vs nn.LSTM      torch.nn.LSTM, the anchor of every target
    vs naive        the Python loop a user would write, autograd per step: over torch.nn's
                    LSTMCell / GRUCell / RNNCell where the equations are torch's, else over the
                    cell's own step equations (recur's reference engine)
    of GEMM bound   tokens/s as a fraction of the same matrix products with no pointwise work
                    (issued by the native engine's library: the practical bound of the design)

Peak memory of a training step is the high-water mark of torch's CPU allocator (profiler memory
events). The step latency is one ``layer.step()`` at batch 1 against torch.nn's call on a
one-step sequence.

    python -m benchmarks.rnn                      # the full grid
    python -m benchmarks.rnn --quick              # two small shapes, 3 repetitions (< 1 min)
    python -m benchmarks.rnn --json out.json      # also write the results

The cost of the regularisers inside the recurrence (recurrent dropout, zoneout, weight drop) is
a table of its own, on the same timing loop: ``python -m benchmarks.regularisers``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

import recur
from recur.engine import engine_info
from recur.engine.native import load as load_native

GRID = [(64, 100, 128, 128), (32, 200, 64, 256), (16, 100, 32, 64), (128, 50, 256, 512),
        (1, 1000, 32, 32)]  # fmt: skip
QUICK_GRID = [(16, 50, 32, 64), (1, 200, 32, 32)]
ANCHOR = "torch.nn.LSTM"
BASELINES = {"torch.nn.LSTM": nn.LSTM, "torch.nn.GRU": nn.GRU, "torch.nn.RNN": nn.RNN}
TORCH_CELLS = {"torch.nn.LSTM": nn.LSTMCell, "torch.nn.GRU": nn.GRUCell, "torch.nn.RNN": nn.RNNCell}


@dataclass(frozen=True)
class Spec:
    """A recur layer to time: its constructor, its torch.nn counterpart, its naive loop."""

    make: Callable[..., nn.Module]
    baseline: str
    torch_equations: bool  # True: the naive loop runs torch.nn's cell, else recur's reference


SPECS = {
    "LSTM": Spec(recur.LSTM, "torch.nn.LSTM", True),
    "PeepholeLSTM": Spec(recur.PeepholeLSTM, "torch.nn.LSTM", False),
    "CIFGLSTM": Spec(recur.CIFGLSTM, "torch.nn.LSTM", False),
    "LayerNormLSTM": Spec(recur.LayerNormLSTM, "torch.nn.LSTM", False),
    "GRU": Spec(recur.GRU, "torch.nn.GRU", True),
    "GRU(reset_after=False)": Spec(partial(recur.GRU, reset_after=False), "torch.nn.GRU", False),
    "ElmanRNN": Spec(recur.ElmanRNN, "torch.nn.RNN", True),
    "ClockworkRNN": Spec(recur.ClockworkRNN, "torch.nn.RNN", False),
}


class CellLoop(nn.Module):
    """The naive loop: ``h = cell(x_t, h)`` over time, autograd through every step."""

    def __init__(self, cell: nn.Module):
        super().__init__()
        self.cell = cell

    def forward(self, x):
        state, outputs = None, []
        for x_t in x:
            state = self.cell(x_t, state)
            outputs.append(state[0] if isinstance(state, tuple) else state)
        return torch.stack(outputs), state


class GemmBound(nn.Module):
    """The GEMMs of a G-gate layer's step with no pointwise work (native library)."""

    def __init__(self, gates: int, input_size: int, hidden_size: int):
        super().__init__()
        self.w_ih = torch.randn(gates * hidden_size, input_size) / input_size**0.5
        self.w_hh = torch.randn(gates * hidden_size, hidden_size) / hidden_size**0.5

    def forward(self, x):
        torch.ops.recur_native.gemm_bound(x, self.w_ih, self.w_hh, torch.is_grad_enabled())


def contenders(input_size: int, hidden_size: int, layers=tuple(SPECS)) -> dict[str, dict]:
    """name -> {"module", "kind", "layer" (the recur layer it serves), "path"} for one shape."""
    fused_path = engine_info()["fused"]
    table: dict[str, dict] = {}
    for name in layers:
        spec = SPECS[name]
        for base in (ANCHOR, spec.baseline):
            if base not in table:
                path = "oneDNN" if base == ANCHOR else "ATen, unfused"
                module = BASELINES[base](input_size, hidden_size)
                table[base] = dict(module=module, kind="torch.nn", layer=base, path=path)
        layer = spec.make(input_size, hidden_size)
        table[f"recur.{name}"] = dict(module=layer, kind="recur", layer=name, path=fused_path)
        if spec.torch_equations:
            naive = CellLoop(TORCH_CELLS[spec.baseline](input_size, hidden_size))
        else:
            naive = spec.make(input_size, hidden_size, impl="reference")
        table[f"naive {name}"] = dict(module=naive, kind="naive", layer=name, path="Python loop")
        bound = f"GEMM bound G={layer.cells[0].num_gates}"
        if bound not in table:
            module = GemmBound(layer.cells[0].num_gates, input_size, hidden_size)
            table[bound] = dict(module=module, kind="bound", layer=None, path="native GEMMs")
    if "LSTM" in layers:
        # recur.LSTM hands inference that needs nothing else to torch's oneDNN LSTM; these rows
        # keep the native and python engines' own numbers
        for impl in ("native", "python"):
            table[f"recur.LSTM [{impl} engine]"] = dict(
                module=recur.LSTM(input_size, hidden_size, impl=impl),
                kind="engine",
                layer="LSTM",
                path=impl,
            )
    return table


def training_step(module: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        module.zero_grad(set_to_none=True)
        result = module(x)
        if result is not None:  # the GEMM bound runs its own backward products
            result[0].sum().backward()

    return run


def inference_step(module: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        with torch.no_grad():
            module(x)

    return run


def interleaved_times(
    runs: dict[str, Callable[[], None]],
    repeats: int,
    sample_seconds: float = 0.02,
    rotate: bool = False,
) -> dict[str, list[float]]:
    """Seconds per call of each run, ``repeats`` samples, every run once per repetition.

    Each sample repeats a run enough times to last about ``sample_seconds`` (calibrated by the
    warm-up call), so that sub-millisecond runs are not at the mercy of the timer and scheduler.
    With ``rotate`` the order turns from repetition to repetition, so that no run always follows
    the same one.
    """
    calls = {}
    for name, run in runs.items():  # warm-up (allocator, oneDNN primitive cache) and calibration
        run()
        start = time.perf_counter()
        run()
        calls[name] = max(1, min(100, round(sample_seconds / (time.perf_counter() - start))))
    names = list(runs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for repetition in range(repeats):
        shift = repetition % len(names) if rotate else 0
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            for _ in range(calls[name]):
                runs[name]()
            times[name].append((time.perf_counter() - start) / calls[name])
    return times


def interleaved_medians(
    runs: dict[str, Callable[[], None]], repeats: int, sample_seconds: float = 0.02
) -> dict[str, float]:
    """Median seconds per call of each run (:func:`interleaved_times`)."""
    times = interleaved_times(runs, repeats, sample_seconds)
    return {name: statistics.median(values) for name, values in times.items()}


def peak_memory(run: Callable[[], None]) -> float:
    """High-water mark (MiB) of torch's CPU allocator during ``run``, from its memory events."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run()
    events = sorted(
        (e.start_ns(), e.nbytes())
        for e in prof.profiler.kineto_results.events()
        if e.name() == "[memory]"
    )
    current = peak = 0
    for _, nbytes in events:
        current += nbytes
        peak = max(peak, current)
    return peak / 2**20


def _runs_torch_lstm(layer: recur.LSTM, x: torch.Tensor) -> bool:
    """Whether recur.LSTM hands this inference call to torch's LSTM (uses_torch_lstm)."""
    state = tuple(x.new_zeros(1, x.shape[1], layer.hidden_size) for _ in range(2))
    with torch.no_grad():
        return layer.uses_torch_lstm(x, state, None)


def measure(shape, repeats: int, layers=tuple(SPECS), memory: bool = True) -> list[dict]:
    """Rows for one shape: every contender, train and infer, with ratios in the same run."""
    batch, steps, input_size, hidden_size = shape
    torch.manual_seed(0)
    table = contenders(input_size, hidden_size, layers)
    x = torch.randn(steps, batch, input_size)
    rows = []
    for mode, make in (("train", training_step), ("infer", inference_step)):
        runs = {name: make(c["module"], x) for name, c in table.items()}
        medians = interleaved_medians(runs, repeats)
        peaks = {n: peak_memory(r) for n, r in runs.items()} if memory and mode == "train" else {}
        for name, c in table.items():
            path = c["path"]
            if name == "recur.LSTM" and mode == "infer" and _runs_torch_lstm(c["module"], x):
                path = "oneDNN via torch.lstm"
            row = dict(
                shape=list(shape), mode=mode, contender=name, kind=c["kind"], path=path,
                seconds=medians[name], tokens_per_s=batch * steps / medians[name],
                peak_mib=peaks.get(name),
            )  # fmt: skip
            if c["kind"] in ("recur", "engine", "torch.nn"):
                spec = SPECS.get(c["layer"])
                base = spec.baseline if spec else c["layer"]
                row["vs_torch"] = medians[base] / medians[name]
                row["vs_lstm"] = medians[ANCHOR] / medians[name]
                if spec is not None:
                    row["vs_naive"] = medians[f"naive {c['layer']}"] / medians[name]
                    gates = c["module"].cells[0].num_gates
                    row["of_bound"] = medians[f"GEMM bound G={gates}"] / medians[name]
                if row["peak_mib"] is not None and peaks.get(ANCHOR):
                    row["memory_vs_lstm"] = row["peak_mib"] / peaks[ANCHOR]
            rows.append(row)
    return rows


def step_latency(hidden_size: int, repeats: int, calls: int = 50) -> list[dict]:
    """Microseconds per ``layer.step()`` at batch 1 against torch.nn on a one-step sequence."""
    torch.manual_seed(0)
    x = torch.randn(1, hidden_size)
    rows = []
    for name, spec in SPECS.items():
        ours = spec.make(hidden_size, hidden_size)
        theirs = BASELINES[spec.baseline](hidden_size, hidden_size)
        state_ours = ours.step(x)[1]
        state_theirs = theirs(x.unsqueeze(0))[1]

        def run_ours(layer=ours, state=state_ours):
            for _ in range(calls):
                layer.step(x, state)

        def run_theirs(layer=theirs, state=state_theirs):
            for _ in range(calls):
                layer(x.unsqueeze(0), state)

        with torch.no_grad():
            medians = interleaved_medians({"ours": run_ours, "theirs": run_theirs}, repeats, 0)
        rows.append(dict(
            layer=name, baseline=spec.baseline, hidden_size=hidden_size,
            step_us=1e6 * medians["ours"] / calls, baseline_us=1e6 * medians["theirs"] / calls,
            ratio=medians["ours"] / medians["theirs"],
        ))  # fmt: skip
    return rows


def _ratio(row: dict, key: str) -> str:
    return f"{row[key]:.2f}" if row.get(key) is not None else ""


def markdown(rows: list[dict], latency: list[dict]) -> str:
    lines = [
        "| (B, T, I, H) | mode | contender | path | tokens/s | vs torch.nn | vs nn.LSTM "
        "| vs naive | of GEMM bound | peak MiB | mem vs nn.LSTM |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        peak = f"{row['peak_mib']:.1f}" if row.get("peak_mib") is not None else ""
        lines.append(
            f"| {tuple(row['shape'])} | {row['mode']} | {row['contender']} | {row['path']} | "
            f"{row['tokens_per_s']:,.0f} | {_ratio(row, 'vs_torch')} | {_ratio(row, 'vs_lstm')} | "
            f"{_ratio(row, 'vs_naive')} | {_ratio(row, 'of_bound')} | {peak} | "
            f"{_ratio(row, 'memory_vs_lstm')} |"
        )
    lines += [
        "",
        "| step() at batch 1 | H | µs per step | torch.nn µs | ratio (lower is better) |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in latency:
        lines.append(
            f"| recur.{row['layer']} vs {row['baseline']} | {row['hidden_size']} | "
            f"{row['step_us']:.1f} | {row['baseline_us']:.1f} | {row['ratio']:.2f} |"
        )
    return "\n".join(lines)


def environment() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(ln.split(":", 1)[1].strip() for ln in handle if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "recur_engine": engine_info(),
        "threads": torch.get_num_threads(),
        "cpu": cpu,
        "mkldnn": torch.backends.mkldnn.is_available(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "dtype": "float32",
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two small shapes, 3 repetitions")
    parser.add_argument("--shape", type=int, nargs=4, metavar=("B", "T", "I", "H"))
    parser.add_argument("--layers", nargs="+", choices=tuple(SPECS), default=tuple(SPECS))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--step-size", type=int, default=512, help="H of the step latency")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory pass")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if not load_native():
        print(f"note: native engine unavailable ({engine_info()['reason']})", file=sys.stderr)
    grid = [tuple(args.shape)] if args.shape else QUICK_GRID if args.quick else GRID
    repeats = 3 if args.quick else args.repeats
    env = environment()
    rows = []
    for shape in grid:
        rows += measure(shape, repeats, tuple(args.layers), memory=not args.no_memory)
    latency = step_latency(args.step_size, repeats)
    env["load_average_after"] = environment()["load_average"]
    print(
        f"torch {env['torch']}, {env['threads']} threads, {env['cpu']}, float32, "
        f"median of {repeats}, fused engine: {env['recur_engine']['fused']}, "
        f"load average {env['load_average']} before, {env['load_average_after']} after"
    )
    print(markdown(rows, latency))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"meta": env, "rows": rows, "step_latency": latency}, handle, indent=2)
    return rows


if __name__ == "__main__":
    main()
