"""``recur evaluate RUN_DIR``: the metrics of a trained run, as one JSON object on stdout.

    recur evaluate runs/20250101-120000                    # the run's held-out split
    recur evaluate runs/20250101-120000 --data other.txt   # a file in the task's format

People read the summary on stderr; scripts read the JSON line on stdout. The keys are the task's:
``{"bpc": ..., "perplexity": ..., "tokens": ...}`` for a character language model,
``{"accuracy": ..., "macro_f1": ..., "count": ...}`` for a classifier, and so on.
"""

from __future__ import annotations

import argparse

from recur.cli.common import dump_json, limited_threads
from recur.tasks import open_run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run written by `recur train`")
    parser.add_argument("--data", help="file to evaluate, in the task's format (default: held out)")
    parser.add_argument("--target-data", help="translate: target lines aligned with --data")
    parser.add_argument(
        "--split", choices=("test", "valid"), default="test", help="the run's split without --data"
    )
    parser.add_argument("--batch-size", type=int, help="examples (lm: rows) per batch (the run's)")
    parser.add_argument(
        "--unk",
        choices=("error", "skip"),
        default="error",
        help="lm: characters outside the vocabulary: fail (default) or drop them",
    )
    parser.add_argument("--beam", type=int, help="translate: beam width (default: greedy)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")


def run(args: argparse.Namespace) -> int:
    check_common(args)
    saved = open_run(args.run_dir)
    with limited_threads(args.threads):
        result = saved.spec.evaluate(saved, args)
    print(dump_json(result), flush=True)
    return 0


def check_common(args: argparse.Namespace) -> None:
    """ValueError naming the option when a shared numeric option is out of range."""
    for name in ("threads", "batch_size", "beam"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise ValueError(f"{name.replace('_', '-')}: expected an int >= 1, got {value}")
