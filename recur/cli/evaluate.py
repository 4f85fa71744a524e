"""``recur evaluate RUN_DIR``: bits per character (or word) and perplexity of a trained model.

    recur evaluate runs/20250101-120000                    # the run's held-out test split
    recur evaluate runs/20250101-120000 --data other.txt   # a whole file

People read the summary on stderr; scripts read the one JSON object on stdout,
``{"bpc": ..., "perplexity": ..., "tokens": ...}`` ("bits_per_word" instead of "bpc" for
word-level runs).
"""

from __future__ import annotations

import argparse
import hashlib
import sys

import torch

from recur.cli.common import dump_json, open_run
from recur.data.text import batchify, load_corpus, split_by_position
from recur.train.lm_task import stream_loss
from recur.train.metrics import bits, perplexity


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run written by `recur train`")
    parser.add_argument("--data", help="UTF-8 text file to evaluate (default: the run's split)")
    parser.add_argument(
        "--split", choices=("test", "valid"), default="test", help="the run's split without --data"
    )
    parser.add_argument("--batch-size", type=int, help="rows read side by side (the run's)")
    parser.add_argument(
        "--unk",
        choices=("error", "skip"),
        default="error",
        help="characters outside the vocabulary: fail (default) or drop them",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads")


def run(args: argparse.Namespace) -> int:
    if args.threads < 1:
        raise ValueError(f"threads: expected an int >= 1, got {args.threads}")
    if args.batch_size is not None and args.batch_size < 1:
        raise ValueError(f"batch-size: expected an int >= 1, got {args.batch_size}")
    _, config, vocab, model, metadata = open_run(args.run_dir)
    if args.data is not None:
        text, source = load_corpus(args.data), args.data
    else:
        data = config.data
        corpus = load_corpus(data.path)
        if hashlib.sha256(corpus.encode("utf-8")).hexdigest() != metadata.get("data_sha256"):
            raise ValueError(
                f"data: {data.path} changed since the run was trained; pass --data to evaluate "
                "on a file"
            )
        text = split_by_position(corpus, data.valid_fraction, data.test_fraction)[args.split]
        source = f"the {args.split} split of {data.path or 'pydoc_data.topics'}"
    ids = vocab.encode(text, args.unk, name="data")
    if ids.numel() < 2:
        raise ValueError(f"data: {source} has {ids.numel()} token(s); at least 2 are needed")
    bptt = config.data.bptt
    # rows of at least one window each, so that short texts are still read as one stream
    batch = max(1, min(args.batch_size or config.data.batch_size, ids.numel() // (bptt + 1)))
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        total, count = stream_loss(model, batchify(ids, batch), bptt)
    finally:
        torch.set_num_threads(threads)
    loss = total / count
    key = "bpc" if vocab.level == "char" else "bits_per_word"
    unit = "bits per character" if vocab.level == "char" else "bits per word"
    print(
        f"{source}: {bits(loss):.4f} {unit}, perplexity {perplexity(loss):.3f} "
        f"over {count:,} {vocab.level} tokens",
        file=sys.stderr,
    )
    result = {key: bits(loss), "perplexity": perplexity(loss), "tokens": count}
    print(dump_json(result), flush=True)
    return 0
