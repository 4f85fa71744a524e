"""``recur diagnose RUN_DIR``: how the gradient of a trained model flows back through time.

    recur diagnose runs/20250101-120000                 # a batch of the validation split
    recur diagnose runs/20250101-120000 --length 200 --out plots/

On one batch (--batch-size sequences of --length steps; by default the run's batch size and
bptt) of the model as trained (eval mode: no dropout) it measures

- the gradient flow ||dL/dh_k|| at every step k of every recurrent layer and direction, L the
  training loss (the mean cross-entropy of the next token);
- the step Jacobians J_t = ds_t/ds_{t-1} along the batch's first sequence: the largest singular
  value of each J_t and of the products J_t ... J_0, and the spectral radius and the largest
  singular value of each gate block of W_hh;
- from metrics.jsonl, the logged gradient norms (before clipping) against the clip threshold.

It writes gradient_flow.png, jacobian_spectrum.png and grad_norm_history.png to
RUN_DIR/diagnostics/ (or --out), a summary on stderr and one JSON object on stdout:

    {"loss": ..., "batch": "...", "gradient_flow": {"rnn.l0": {"first": ||dL/dh_0||,
     "last": ||dL/dh_T-1||, "ratio": first/last}}, "jacobian": {"rnn.l0": {"step_sigma_max":
     mean of σ_max(J_t), "product_sigma_max": σ_max(J_T-1...J_0), "spectral_radius": [per gate],
     "sigma_max": [per gate]}}, "grad_norm": {...} or null, "plots": [...]}

Values that are not finite are null. metrics.jsonl holds, per log interval, the mean gradient
norm before clipping and the share of the steps whose norm was clipped; "grad_norm"."clip_rate"
is that share over the whole run.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur.cli.common import dump_json, open_run
from recur.data.text import batchify, load_corpus
from recur.diagnostics import GradientFlow, JacobianSpectrum, gradient_flow, jacobian_spectrum
from recur.diagnostics.plots import draw_flow, draw_norm_history, draw_spectrum, new_figure
from recur.diagnostics.probe import recurrent_layers
from recur.tasks import SavedRun
from recur.train.checkpoint import atomic_write
from recur.train.run import finite_or_none

LossFn = Callable[[nn.Module, object], Tensor]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run written by `recur train`")
    parser.add_argument("--out", metavar="DIR", help="folder of the PNGs (RUN_DIR/diagnostics)")
    parser.add_argument("--data", help="UTF-8 text file to take the batch from (the valid split)")
    parser.add_argument("--batch-size", type=int, help="sequences in the batch (the run's)")
    parser.add_argument("--length", type=int, help="steps of each sequence (the run's bptt)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")


def run(args: argparse.Namespace) -> int:
    for option in ("batch_size", "length", "threads"):
        value = getattr(args, option)
        if value is not None and value < 1:
            raise ValueError(f"{option.replace('_', '-')}: expected an int >= 1, got {value}")
    saved = open_run(args.run_dir)
    out = Path(args.out) if args.out is not None else saved.run / "diagnostics"
    if out.exists() and not out.is_dir():
        raise ValueError(f"out: {out} exists and is not a directory")
    if saved.config.task not in BATCHES:
        raise ValueError(
            f"run: {saved.run.path} is a {saved.config.task!r} run; diagnose reads "
            f"{', '.join(map(repr, BATCHES))} runs"
        )
    make_batch = BATCHES[saved.config.task]
    batch, loss_fn, described = make_batch(saved, args.data, args.batch_size, args.length)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        flow, spectra = measure(saved.model, batch, loss_fn)
    finally:
        torch.set_num_threads(threads)
    history = grad_norm_history(saved.run.read_metrics(), saved.config.optim.clip_norm)
    out.mkdir(parents=True, exist_ok=True)
    plots = write_plots(out, flow, spectra, history)
    result = {
        "loss": finite_or_none(flow.loss),
        "batch": described,
        "gradient_flow": {key: flow_summary(norms) for key, norms in flow.norms().items()},
        "jacobian": {key: spectrum_summary(s) for key, s in spectra.items()},
        "grad_norm": None if history is None else history["summary"],
        "plots": plots,
    }
    print_summary(result, out)
    print(dump_json(result), flush=True)
    return 0


# ---------------------------------------------------------------- the task: a batch and its loss
def language_model_batch(
    saved: SavedRun, data: str | None, batch_size: int | None, length: int | None
) -> tuple[tuple[Tensor, Tensor], LossFn, str]:
    """(inputs, targets) ids (B, T): the first T + 1 tokens of B evenly spaced rows of the run's
    validation split (or of the file ``data``); the training loss; a description of the batch."""
    config, vocab = saved.config, saved.meta
    batch_size = batch_size or config.data.batch_size
    length = length or config.data.bptt
    if data is not None:
        text, source = load_corpus(data), data
    else:
        splits, digest, _ = saved.spec.splits(config)
        if digest != saved.metadata.get("data_sha256"):
            raise ValueError(
                f"data: {config.data.path} changed since the run was trained; pass --data to "
                "take the batch from a file"
            )
        text, source = (
            splits["valid"],
            f"the valid split of {config.data.path or 'pydoc_data.topics'}",
        )
    ids = vocab.encode(text, "skip")
    rows = batchify(ids, batch_size)
    if rows.shape[1] < length + 1:
        raise ValueError(
            f"length: {source} has {ids.numel()} tokens, fewer than batch-size {batch_size} x "
            f"(length {length} + 1); pass a smaller --length or --batch-size"
        )
    window = rows[:, : length + 1]

    def loss_fn(model: nn.Module, batch: tuple[Tensor, Tensor]) -> Tensor:
        inputs, targets = batch
        logits, _ = model(inputs)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten())

    return (window[:, :-1], window[:, 1:]), loss_fn, f"{batch_size} x {length} of {source}"


#: task name -> (saved run, --data, --batch-size, --length) -> (batch, loss_fn, description)
BATCHES = {"lm": language_model_batch}


# ---------------------------------------------------------------- measurements, any model
def measure(
    model: nn.Module, batch, loss_fn: LossFn
) -> tuple[GradientFlow, dict[str, JacobianSpectrum]]:
    """The gradient flow of ``loss_fn(model, batch)``, and the Jacobian spectrum of every recur
    layer-direction along the first sequence of the input that layer saw first."""
    layers = recurrent_layers(model)
    seen = {}

    def keep_first(layer, args, kwargs):
        seen.setdefault(layer, (args, kwargs))

    hooks = [layer.register_forward_pre_hook(keep_first, with_kwargs=True) for _, layer in layers]
    try:
        flow = gradient_flow(model, batch, loss_fn)
    finally:
        for hook in hooks:
            hook.remove()
    spectra = {}
    for name, layer in layers:
        if layer not in seen:
            continue  # a layer the loss does not use
        x, state = first_sequence(layer, *seen[layer])
        for index in range(layer.num_layers):
            for direction in range(layer.num_directions):
                key = f"l{index}{'_reverse' if direction else ''}"  # as gradient_flow's keys
                key = f"{name}.{key}" if name else key
                spectra[key] = jacobian_spectrum(layer, x, index, direction, state)
    return flow, spectra


def first_sequence(layer, args: tuple, kwargs: dict) -> tuple[Tensor, object]:
    """A layer call's input and initial state cut to the batch's first sequence: the spectrum
    keeps T x S x S floats per sequence and costs an S x S SVD per step."""
    x = args[0] if args else kwargs["input"]
    state = args[1] if len(args) > 1 else kwargs.get("state", kwargs.get("hx"))
    if x.dim() == 2:  # unbatched: already one sequence
        return x, state
    x = x[:1] if layer.batch_first else x[:, :1]
    if isinstance(state, Tensor):
        state = state[:, :1]
    elif state is not None:
        state = tuple(s[:, :1] for s in state)
    return x, state


def grad_norm_history(records: list[dict], clip: float | None) -> dict | None:
    """The gradient norms metrics.jsonl logged (None when there are none) and their summary."""
    logged = [(r["step"], r.get("grad_norm")) for r in records if "grad_norm" in r]
    if not logged:
        return None
    rates = [r["clip_rate"] for r in records if r.get("clip_rate") is not None]
    steps = [step for step, _ in logged]
    norms = [math.nan if norm is None else norm for _, norm in logged]
    finite = [n for n in norms if math.isfinite(n)]
    summary = {
        "logged": len(norms),
        "last": finite_or_none(norms[-1]),
        "max": max(finite) if finite else None,
        "clip_norm": clip,
        "clip_rate": sum(rates) / len(rates) if clip is not None and rates else None,
    }
    return {"steps": steps, "norms": norms, "clip": clip, "summary": summary}


def flow_summary(norms: Tensor) -> dict:
    first, last = float(norms[0]), float(norms[-1])
    ratio = first / last if last > 0 else math.nan
    return {
        "first": finite_or_none(first),
        "last": finite_or_none(last),
        "ratio": finite_or_none(ratio),
    }


def spectrum_summary(spectrum: JacobianSpectrum) -> dict:
    return {
        "step_sigma_max": finite_or_none(float(spectrum.step_singular_values[:, 0, 0].mean())),
        "product_sigma_max": finite_or_none(float(spectrum.product_singular_values[-1, 0, 0])),
        "spectral_radius": [finite_or_none(r) for r in spectrum.weight_spectral_radius],
        "sigma_max": [finite_or_none(s) for s in spectrum.weight_max_singular_value],
    }


# ---------------------------------------------------------------- output
def write_plots(
    out: Path, flow: GradientFlow, spectra: dict[str, JacobianSpectrum], history: dict | None
) -> list[str]:
    fig, axes = new_figure()
    draw_flow(axes[0, 0], flow.norms(), "gradient of the loss on one batch")
    paths = [write_png(fig, out / "gradient_flow.png")]
    fig, axes = new_figure(1, 2)
    for key, spectrum in spectra.items():
        draw_spectrum(axes[0, 0], axes[0, 1], spectrum, key)
    fig.suptitle("step Jacobians along the first sequence")
    paths.append(write_png(fig, out / "jacobian_spectrum.png"))
    if history is not None:
        fig, axes = new_figure()
        rate = history["summary"]["clip_rate"]
        title = "metrics.jsonl: mean per log interval, before clipping"
        if rate is not None:
            title += f"\n{rate:.0%} of the steps clipped"
        draw_norm_history(axes[0, 0], history["steps"], history["norms"], history["clip"], title)
        paths.append(write_png(fig, out / "grad_norm_history.png"))
    return paths


def write_png(fig, path: Path) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    atomic_write(path, buffer.getvalue())
    return str(path)


def print_summary(result: dict, out: Path) -> None:
    def g(value) -> str:
        return "n/a" if value is None else f"{value:.3g}"

    def gates(values) -> str:
        return "/".join(g(v) for v in values)

    lines = [f"loss {g(result['loss'])} (nats) on {result['batch']}", "gradient flow ||dL/dh_k||:"]
    for key, f in result["gradient_flow"].items():
        lines.append(
            f"  {key:<16} k=0 {g(f['first'])}  k=T-1 {g(f['last'])}  ratio {g(f['ratio'])}"
        )
    lines.append("step Jacobians J_t = ds_t/ds_{t-1} along the first sequence:")
    for key, j in result["jacobian"].items():
        lines.append(
            f"  {key:<16} mean σ_max(J_t) {g(j['step_sigma_max'])}  σ_max(J_T-1...J_0) "
            f"{g(j['product_sigma_max'])}  W_hh per gate: radius {gates(j['spectral_radius'])}"
            f", σ_max {gates(j['sigma_max'])}"
        )
    norms = result["grad_norm"]
    if norms is None:
        lines.append("metrics.jsonl: no gradient norms logged")
    else:
        line = f"logged gradient norm: last {g(norms['last'])}, max {g(norms['max'])}"
        if norms["clip_rate"] is not None:
            line += f"; clipped at {norms['clip_norm']:g} in {norms['clip_rate']:.0%} of the steps"
        lines.append(line)
    lines.append(f"plots in {out}: " + ", ".join(Path(p).name for p in result["plots"]))
    print("\n".join(lines), file=sys.stderr)
