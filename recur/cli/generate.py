"""``recur generate RUN_DIR``: stream text from a trained language model, one step per token.

recur generate runs/20250101-120000 --prompt "The " --max-new-tokens 500 --temperature 0.8
recur generate runs/words --prompt "for each" --top-p 0.9 --seed 1
"""

from __future__ import annotations

import argparse

import torch

from recur.cli.common import encode_prompt, open_lm_run, stream_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run written by `recur train`")
    parser.add_argument("--prompt", help="text to continue (default: a newline)")
    parser.add_argument("--max-new-tokens", type=int, default=500, help="tokens to generate")
    parser.add_argument("--temperature", type=float, default=0.8, help="0: greedy; 1: as learnt")
    parser.add_argument("--top-k", type=int, help="sample among the k most likely tokens")
    parser.add_argument("--top-p", type=float, help="sample within this probability mass")
    parser.add_argument("--seed", type=int, help="the same seed gives the same text")
    parser.add_argument(
        "--unk",
        choices=("error", "skip"),
        default="error",
        help="prompt characters outside the vocabulary: fail (default) or drop them",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads")


def run(args: argparse.Namespace) -> int:
    if args.threads < 1:
        raise ValueError(f"threads: expected an int >= 1, got {args.threads}")
    saved = open_lm_run(args.run_dir)
    vocab, model = saved.meta, saved.model
    prompt = encode_prompt(vocab, args.prompt, args.unk)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        stream_text(
            model,
            vocab,
            prompt,
            args.max_new_tokens,
            temperature=args.temperature,
            top_k=args.top_k,
            top_p=args.top_p,
            seed=args.seed,
        )
    finally:
        torch.set_num_threads(threads)
    return 0
