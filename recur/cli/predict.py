"""``recur predict RUN_DIR --input FILE``: a trained run's outputs for each item of a file.

    recur predict runs/cls --input new_reviews.csv --output labels.csv
    recur predict runs/lm --input prompts.txt --max-new-tokens 100      # JSON Lines on stdout

The input has the training data's format (the target column may be missing). Records are written
as JSON Lines, or CSV/TSV when ``--output`` ends in .csv/.tsv; the file is written atomically, so
a failure leaves no partial output.
"""

from __future__ import annotations

import argparse

from recur.cli.common import limited_threads, write_records
from recur.cli.evaluate import check_common
from recur.tasks import open_run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run written by `recur train`")
    parser.add_argument("--input", required=True, help="file of items, in the task's format")
    parser.add_argument("--output", default="-", help="JSONL, .csv or .tsv file (default: stdout)")
    parser.add_argument("--batch-size", type=int, help="examples per batch (the run's)")
    parser.add_argument("--beam", type=int, help="translate: beam width (default: greedy)")
    parser.add_argument("--max-new-tokens", type=int, default=100, help="lm: tokens per line")
    parser.add_argument("--temperature", type=float, default=0.0, help="lm: 0 is greedy")
    parser.add_argument("--seed", type=int, help="lm: sampling seed")
    parser.add_argument(
        "--unk", choices=("error", "skip"), default="error", help="lm: unknown characters"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads")


def run(args: argparse.Namespace) -> int:
    check_common(args)
    saved = open_run(args.run_dir)
    with limited_threads(args.threads):
        records = saved.spec.predict(saved, args)
    write_records(records, args.output)
    return 0
