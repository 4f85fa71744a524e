"""``recur train``: train a model for a task, writing a run directory; ``--resume`` continues one.

recur train                                    # char LSTM on pydoc_data.topics, ~2 minutes
recur train --data my.txt --level word --cell gru --max-steps 5000 --run-dir runs/words
recur train --task classify                    # speaker of Japanese vowels (aeon's data)
recur train --task classify --data reviews.csv --text-column review --label-column stars
recur train --resume runs/words --max-steps 8000
torchrun --nproc-per-node 2 -m recur train --batch-size 64     # data parallel, 2 processes
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from recur.cli.common import limited_threads
from recur.cli.config import RESUMABLE, differences, merge, read_config_file, validate
from recur.layers.registry import LAYERS
from recur.tasks import TASKS, Prepared, SavedRun
from recur.tasks.config import TaskConfig
from recur.train.checkpoint import atomic_write
from recur.train.distributed import Dist, init_from_env, shutdown
from recur.train.progress import make_reporter
from recur.train.run import CHECKPOINT, CONFIG, RunDir
from recur.train.trainer import Trainer


def optional(kind):
    """An argparse type that also accepts "none" (e.g. ``--clip-norm none``)."""

    def parse(text: str):
        return None if text.lower() == "none" else kind(text)

    parse.__name__ = kind.__name__
    return parse


# (flag, config key, type, help) shared by every task; each task adds its own (recur.tasks)
COMMON = [
    ("--task", "task", str, f"what to train: {', '.join(TASKS)} (lm)"),
    ("--valid-fraction", "data.valid_fraction", float, "share of the data for validation"),
    ("--batch-size", "data.batch_size", int, "examples (lm: contiguous rows) per batch"),
    ("--cell", "model.cell", str, f"recurrent cell: {', '.join(LAYERS)} (lstm)"),
    ("--hidden-size", "model.hidden_size", int, "hidden units per layer"),
    ("--num-layers", "model.num_layers", int, "stacked recurrent layers (1)"),
    ("--embedding-dim", "model.embedding_dim", optional(int), "token embedding / input projection"),
    ("--dropout", "model.dropout", float, "dropout on embeddings, between layers, on outputs"),
    ("--recurrent-dropout", "model.recurrent_dropout", float, "variational dropout on h_{t-1}"),
    ("--zoneout", "model.zoneout", float, "zoneout probability of h (and c)"),
    ("--weight-drop", "model.weight_drop", float, "DropConnect probability on W_hh"),
    ("--init", "model.init", optional(str), "orthogonal, identity, xavier, chrono (torch's)"),
    ("--forget-bias", "model.forget_bias", optional(float), "forget-gate bias of gated cells"),
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
    ("--epochs", "train.epochs", optional(int), "passes over the training data (none)"),
    ("--eval-every", "train.eval_every", int, "steps between evaluations + checkpoints (250)"),
    ("--log-every", "train.log_every", int, "steps between metrics records (10)"),
    ("--early-stopping", "train.early_stopping", optional(int), "patience in evaluations"),
    ("--seed", "train.seed", int, "seed of initialisation and dropout (0)"),
    ("--threads", "train.threads", int, "torch threads per process (1)"),
]
FLAGS = [
    ("--bidirectional", "model.bidirectional", "bidirectional layers (not for lm)", True),
    ("--keep-last", "train.keep_best", "save the last weights, not the best evaluation's", False),
]


def all_options() -> tuple[list, list]:
    """(valued options, boolean flags) of every task, each flag once (tasks may share flags)."""
    valued, flags, seen = list(COMMON), list(FLAGS), {o[0]: o[1] for o in COMMON + FLAGS}
    for spec in TASKS.values():
        for option in spec.options:
            if option.flag in seen:
                if seen[option.flag] != option.key:
                    raise RuntimeError(
                        f"{option.flag} means two keys: {seen[option.flag]}, {option.key}"
                    )
                continue
            seen[option.flag] = option.key
            if option.kind is None:
                flags.append((option.flag, option.key, option.help, option.value))
            else:
                valued.append((option.flag, option.key, optional(option.kind), option.help))
    return valued, flags


OPTIONS, SWITCHES = all_options()
KEY_FLAGS = {key: flag for flag, key, *_ in OPTIONS + SWITCHES}
PATH_KEYS = {
    "data.path", "data.valid_path", "data.test_path",
    "data.target_path", "data.valid_target_path", "data.test_target_path",
}  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    run = parser.add_argument_group("run")
    run.add_argument("--config", help="TOML (or a run's config.json) with [data], [model], ...")
    run.add_argument("--run-dir", help="where to write the run (default: runs/<timestamp>)")
    run.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its checkpoint")
    run.add_argument("--overwrite", action="store_true", help="replace an existing run-dir")
    run.add_argument("--quiet", action="store_true", help="log lines instead of a progress bar")
    run.add_argument("--sample-tokens", type=int, default=300, help="lm: sample length at the end")
    run.add_argument("--temperature", type=float, default=0.8, help="lm: of the sample at the end")
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
    for flag, key, text, value in SWITCHES:
        groups[key.split(".")[0]].add_argument(
            flag, dest=key, action="store_const", const=value, default=argparse.SUPPRESS, help=text
        )


def overrides(args: argparse.Namespace) -> dict:
    """The nested config values given on the command line (and only those)."""
    nested: dict = {}
    for key in [k for _, k, *_ in OPTIONS] + [k for _, k, *_ in SWITCHES]:
        if hasattr(args, key):
            *sections, leaf = key.split(".")
            target = nested
            for section in sections:
                target = target.setdefault(section, {})
            value = getattr(args, key)
            if key in PATH_KEYS and value is not None:  # runs find their data from anywhere
                value = str(Path(value).resolve())
            target[leaf] = value
    return nested


def run(args: argparse.Namespace) -> int:
    dist = init_from_env()
    try:
        config, run, resuming = resolve(args)  # every check on bad input comes before any write
        with limited_threads(config.train.threads):
            return train(args, dist, config, run, resuming)
    finally:
        shutdown(dist)


def train(
    args: argparse.Namespace, dist: Dist, config: TaskConfig, run: RunDir, resuming: bool
) -> int:
    spec = TASKS[config.task]
    torch.manual_seed(config.train.seed)
    prepared = spec.prepare(config, dist)
    meta_text = spec.dump_meta(prepared.meta)
    if resuming:
        saved_meta = run / spec.meta_file
        if not saved_meta.is_file():
            raise ValueError(f"resume: {saved_meta} is missing; is {run.path} a {spec.name} run?")
        if saved_meta.read_text(encoding="utf-8") != meta_text:
            raise ValueError(f"resume: {saved_meta} differs from the data (did it change?)")
    torch.manual_seed(config.train.seed + dist.rank)  # each process its own dropout masks
    reporter = make_reporter(args.quiet, dist.main)
    trainer = Trainer(
        prepared.task,
        prepared.model,
        config.optim,
        config.train,
        run=run,
        reporter=reporter,
        dist=dist,
        metadata={"data_sha256": prepared.digest, "model": config.model.model_dump_json()},
    )
    if resuming:
        trainer.load_checkpoint(run / CHECKPOINT, expect={"data_sha256": prepared.digest})
    else:
        dist.barrier()  # every process has passed the checks before the run is created
    if dist.main:
        if not resuming:
            run.create(args.overwrite)
            atomic_write(run / spec.meta_file, meta_text)
        run.write_json(CONFIG, config.model_dump(mode="json"))
        parameters = sum(p.numel() for p in prepared.model.parameters())
        reporter.message(
            f"{'resuming' if resuming else 'training'} {prepared.description} "
            f"({parameters:,} parameters); run: {run.path}"
            + (f", {dist.world} processes" if dist.world > 1 else "")
        )

    summary = closed_form(trainer, prepared) if prepared.fitted else trainer.fit()

    if not dist.main:
        return 0
    if summary["stopped"] == "interrupted":
        print(
            f"interrupted at step {summary['steps']:,}; checkpoint saved, continue with "
            f"`recur train --resume {run.path}`",
            file=sys.stderr,
        )
        return 130
    if prepared.fitted:
        print(f"fitted in closed form (no gradient steps); run saved in {run.path}")
    else:
        print(
            f"trained {summary['steps']:,} steps in {summary['elapsed']:.0f} s "
            f"({summary['tokens_per_s']:,.0f} items/s, stopped by {summary['stopped']}); "
            f"run saved in {run.path}"
        )
    metadata = {"data_sha256": prepared.digest, "step": str(summary["steps"])}
    saved = SavedRun(run, config, spec, prepared.meta, prepared.model.eval(), metadata)
    spec.finish(saved, summary, args)
    return 0


def closed_form(trainer: Trainer, prepared: Prepared) -> dict:
    """The summary of a model that prepare fitted in closed form: evaluated once, then saved."""
    valid = prepared.task.evaluate(prepared.model, "valid")
    trainer.save_checkpoint()
    return {"steps": 0, "valid": valid, "best_valid_loss": valid["loss"], "stopped": "fitted"}


def resolve(args: argparse.Namespace) -> tuple[TaskConfig, RunDir, bool]:
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
    config = validate(merge(base, overrides(args)), KEY_FLAGS)
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
