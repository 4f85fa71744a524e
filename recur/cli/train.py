"""``recur train``: train a language model, writing a run directory; ``--resume`` continues one.

recur train                                    # char LSTM on pydoc_data.topics, ~2 minutes
recur train --data my.txt --level word --cell gru --max-steps 5000 --run-dir runs/words
recur train --resume runs/words --max-steps 8000
torchrun --nproc-per-node 2 -m recur train --batch-size 64     # data parallel, 2 processes
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import torch

from recur.cli.common import build_model, encode_prompt, read_vocab, stream_text
from recur.cli.config import (
    RESUMABLE,
    RunConfig,
    differences,
    merge,
    read_config_file,
    validate,
)
from recur.data.text import Vocab, load_corpus, split_by_position, unigram_bits
from recur.layers.registry import LAYERS
from recur.train.checkpoint import atomic_write
from recur.train.distributed import Dist, init_from_env, shutdown
from recur.train.lm_task import LanguageModelTask
from recur.train.metrics import bits
from recur.train.progress import make_reporter
from recur.train.run import CHECKPOINT, CONFIG, VOCAB, RunDir
from recur.train.trainer import Trainer


def optional(kind):
    """An argparse type that also accepts "none" (e.g. ``--clip-norm none``)."""

    def parse(text: str):
        return None if text.lower() == "none" else kind(text)

    parse.__name__ = kind.__name__
    return parse


# (flag, config key, type, help); options left out keep the config file's or the default value
OPTIONS = [
    ("--task", "task", str, "what to train: lm (language model; more tasks to come)"),
    ("--data", "data.path", str, "UTF-8 text file (default: Python's pydoc_data.topics)"),
    ("--level", "data.level", str, "char (default) or word"),
    ("--valid-fraction", "data.valid_fraction", float, "share of the text for validation (0.05)"),
    ("--test-fraction", "data.test_fraction", float, "share of the text for testing (0.05)"),
    ("--max-vocab", "data.max_vocab", optional(int), "word level: vocabulary size cap"),
    ("--batch-size", "data.batch_size", int, "contiguous rows per batch (32)"),
    ("--bptt", "data.bptt", int, "tokens per truncated-BPTT window (64)"),
    ("--cell", "model.cell", str, f"recurrent cell: {', '.join(LAYERS)} (lstm)"),
    ("--hidden-size", "model.hidden_size", int, "hidden units per layer (256)"),
    ("--num-layers", "model.num_layers", int, "stacked recurrent layers (1)"),
    ("--embedding-dim", "model.embedding_dim", optional(int), "default: the hidden size"),
    ("--dropout", "model.dropout", float, "dropout on embeddings, between layers, on outputs"),
    ("--optimizer", "optim.optimizer", str, "adamw (default) or sgd"),
    ("--lr", "optim.lr", float, "peak learning rate (3e-3)"),
    ("--weight-decay", "optim.weight_decay", float, "decoupled weight decay of matrices (0.01)"),
    ("--momentum", "optim.momentum", float, "SGD momentum (0.9)"),
    ("--clip-norm", "optim.clip_norm", optional(float), "max global gradient norm (1.0; none)"),
    ("--clip-value", "optim.clip_value", optional(float), "max |gradient entry| (none)"),
    ("--schedule", "optim.schedule", str, "cosine (default), plateau or constant"),
    ("--warmup-steps", "optim.warmup_steps", int, "linear warm-up steps (50)"),
    ("--min-lr-ratio", "optim.min_lr_ratio", float, "cosine: final / peak lr (0.1)"),
    ("--plateau-factor", "optim.plateau_factor", float, "plateau: lr multiplier (0.5)"),
    ("--plateau-patience", "optim.plateau_patience", int, "plateau: evaluations to wait (2)"),
    ("--max-steps", "train.max_steps", optional(int), "step budget (none)"),
    ("--max-time", "train.max_time", optional(float), "time budget in seconds (120; none)"),
    ("--eval-every", "train.eval_every", int, "steps between evaluations + checkpoints (250)"),
    ("--log-every", "train.log_every", int, "steps between metrics records (10)"),
    ("--early-stopping", "train.early_stopping", optional(int), "patience in evaluations"),
    ("--seed", "train.seed", int, "seed of initialisation and dropout (0)"),
    ("--threads", "train.threads", int, "torch threads per process (1)"),
]
FLAGS = [
    ("--tie-weights", "model.tie_weights", "share embedding and output projection weights"),
    ("--bidirectional", "model.bidirectional", "bidirectional layers (taggers, classifiers)"),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    run = parser.add_argument_group("run")
    run.add_argument("--config", help="TOML (or a run's config.json) with [data], [model], ...")
    run.add_argument("--run-dir", help="where to write the run (default: runs/<timestamp>)")
    run.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its checkpoint")
    run.add_argument("--overwrite", action="store_true", help="replace an existing run-dir")
    run.add_argument("--quiet", action="store_true", help="log lines instead of a progress bar")
    run.add_argument("--sample-tokens", type=int, default=300, help="sample length at the end")
    run.add_argument("--temperature", type=float, default=0.8, help="of the sample at the end")
    groups = {}
    for flag, key, kind, text in OPTIONS:
        name, _, leaf = key.rpartition(".")
        if (name or "task") not in groups:
            groups[name or "task"] = parser.add_argument_group(
                f"[{name}] options" if name else "task"
            )
        groups[name or "task"].add_argument(
            flag, dest=key, type=kind, default=argparse.SUPPRESS, help=text, metavar=leaf.upper()
        )
    for flag, key, text in FLAGS:
        groups["model"].add_argument(
            flag, dest=key, action="store_true", default=argparse.SUPPRESS, help=text
        )


def overrides(args: argparse.Namespace) -> dict:
    """The nested config values given on the command line (and only those)."""
    nested: dict = {}
    for key in [k for _, k, *_ in OPTIONS] + [k for _, k, _ in FLAGS]:
        if hasattr(args, key):
            *sections, leaf = key.split(".")
            target = nested
            for section in sections:
                target = target.setdefault(section, {})
            target[leaf] = getattr(args, key)
    if "path" in nested.get("data", {}):  # runs remember where their data is, from anywhere
        nested["data"]["path"] = str(Path(nested["data"]["path"]).resolve())
    return nested


def run(args: argparse.Namespace) -> int:
    dist = init_from_env()
    threads = torch.get_num_threads()
    try:
        return train(args, dist)
    finally:
        torch.set_num_threads(threads)  # main() may run inside a longer-lived process
        shutdown(dist)


def train(args: argparse.Namespace, dist: Dist) -> int:
    config, run, resuming = resolve(args)  # every check on bad input comes before any write
    torch.set_num_threads(config.train.threads)
    data = config.data
    text = load_corpus(data.path)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    splits = split_by_position(text, data.valid_fraction, data.test_fraction)
    source = text if data.level == "char" else splits["train"]
    vocab = Vocab.build(source, data.level, data.max_vocab)
    if resuming and read_vocab(run) != vocab:
        raise ValueError(f"resume: the vocabulary of the data differs from {run / VOCAB}")
    ids = {name: vocab.encode(part) for name, part in splits.items()}
    task = LanguageModelTask(ids, data.batch_size, data.bptt, data.level, dist)
    torch.manual_seed(config.train.seed)
    model = build_model(config.model, len(vocab))
    torch.manual_seed(config.train.seed + dist.rank)  # each process its own dropout masks
    reporter = make_reporter(args.quiet, dist.main)
    trainer = Trainer(
        task,
        model,
        config.optim,
        config.train,
        run=run,
        reporter=reporter,
        dist=dist,
        metadata={"data_sha256": digest, "model": config.model.model_dump_json()},
    )
    if resuming:
        trainer.load_checkpoint(run / CHECKPOINT, expect={"data_sha256": digest})
    else:
        dist.barrier()  # every process has passed the checks before the run is created
    if dist.main:
        if not resuming:
            run.create(args.overwrite)
            atomic_write(run / VOCAB, vocab.to_json())
        run.write_json(CONFIG, config.model_dump(mode="json"))
        reporter.message(
            f"{'resuming' if resuming else 'training'} {config.model.cell} language model "
            f"({sum(p.numel() for p in model.parameters()):,} parameters, {len(vocab)} "
            f"{data.level} symbols) on {data.path or 'pydoc_data.topics'}: "
            f"{ids['train'].numel():,} training tokens, unigram entropy "
            f"{unigram_bits(ids['train']):.2f} {task.loss_unit}; run: {run.path}"
            + (f", {dist.world} processes" if dist.world > 1 else "")
        )

    summary = trainer.fit()

    if not dist.main:
        return 0
    if summary["stopped"] == "interrupted":
        print(
            f"interrupted at step {summary['steps']:,}; checkpoint saved, continue with "
            f"`recur train --resume {run.path}`",
            file=sys.stderr,
        )
        return 130
    print(
        f"trained {summary['steps']:,} steps in {summary['elapsed']:.0f} s "
        f"({summary['tokens_per_s']:,.0f} tokens/s, stopped by {summary['stopped']}); "
        f"validation {bits(summary['valid']['loss']):.3f} {task.loss_unit}, "
        f"perplexity {summary['valid']['perplexity']:.2f}"
    )
    print(f"run saved in {run.path}; `recur generate {run.path}` samples from it")
    if args.sample_tokens > 0:
        print(f"--- sample (temperature {args.temperature:g}) ---")
        stream_text(
            model,
            vocab,
            encode_prompt(vocab, None, "error"),
            args.sample_tokens,
            temperature=args.temperature,
            top_k=None,
            top_p=None,
            seed=config.train.seed,
        )
    return 0


def resolve(args: argparse.Namespace) -> tuple[RunConfig, RunDir, bool]:
    """The run's configuration and directory, and whether it resumes; nothing is written.

    A resumed run starts from its saved config.json; only the keys in RESUMABLE may change.
    """
    base, saved = {}, None
    if args.resume:
        if args.run_dir or args.overwrite:
            raise ValueError("resume: --run-dir and --overwrite do not go with --resume")
        run = RunDir(args.resume)
        run.check_resumable()
        saved = validate(run.read_json(CONFIG))
        base = saved.model_dump()
    if args.config:
        base = merge(base, read_config_file(args.config))
    config = validate(merge(base, overrides(args)))
    if saved is not None:
        changed = [d for d in differences(saved, config) if d.split(":")[0] not in RESUMABLE]
        if changed:
            raise ValueError(
                f"resume: the configuration differs from the run's: {'; '.join(changed)}"
            )
        return config, run, True
    run = RunDir(args.run_dir) if args.run_dir else RunDir.default()
    run.check_new(args.overwrite)
    return config, run, False
