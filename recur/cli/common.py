"""What the subcommands share: opening a saved run, streaming generated text, writing outputs."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

from recur.data.text import Vocab
from recur.models.language_model import LanguageModel
from recur.tasks import SavedRun, open_run
from recur.train.checkpoint import atomic_write

__all__ = [
    "dump_json",
    "encode_prompt",
    "limited_threads",
    "open_lm_run",
    "open_run",
    "stream_text",
    "write_records",
]


@contextmanager
def limited_threads(threads: int) -> Iterator[None]:
    """Run with ``threads`` torch threads and as many BLAS threads (NumPy/SciPy, e.g. the Echo
    State Network's solves), then restore both: on a shared machine, more threads than cores
    make small models many times slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(previous)


def open_lm_run(path: str | Path) -> SavedRun:
    """A saved language-model run (ValueError for other tasks' runs)."""
    saved = open_run(path)
    if saved.config.task != "lm":
        raise ValueError(
            f"run: {saved.run.path} is a {saved.config.task!r} run; only language models "
            "generate text (use `recur predict`)"
        )
    return saved


def encode_prompt(vocab: Vocab, prompt: str | None, unknown: str):
    """Ids of ``prompt`` (default: a newline); ValueError when none of it is in the vocabulary."""
    if prompt is None:
        if "\n" not in vocab.index:
            raise ValueError("prompt: the vocabulary has no newline to start from; pass --prompt")
        prompt = "\n"
    ids = vocab.encode(prompt, unknown, name="prompt")
    if ids.numel() == 0:
        raise ValueError(f"prompt: no token of {prompt!r} is in the vocabulary")
    return ids


def stream_text(
    model: LanguageModel,
    vocab: Vocab,
    prompt_ids,
    max_new_tokens: int,
    *,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    seed: int | None,
    out=None,
) -> str:
    """Write the prompt and then each generated token to ``out`` (stdout) as soon as it is
    sampled; returns the generated text."""
    out = out or sys.stdout
    out.write(vocab.decode(prompt_ids))
    out.flush()
    pieces, previous = [], int(prompt_ids[-1])
    tokens = model.stream(prompt_ids, max_new_tokens, temperature, top_k, top_p, seed)
    for token in tokens:
        piece = vocab.piece(int(token), previous)
        pieces.append(piece)
        previous = int(token)
        out.write(piece)
        out.flush()
    out.write("\n")
    out.flush()
    return "".join(pieces)


def dump_json(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


def write_records(records: list[dict], path: str) -> None:
    """``records`` as JSON Lines, or CSV when ``path`` ends in .csv/.tsv; "-" is stdout.

    A file is written atomically: it holds all records or keeps its previous content.
    """
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".tsv"):
        buffer = io.StringIO()
        columns = list(dict.fromkeys(key for record in records for key in record))
        writer = csv.DictWriter(
            buffer, columns, delimiter="\t" if suffix == ".tsv" else ",", lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(
            {k: dump_json(v) if isinstance(v, (list, dict)) else v for k, v in r.items()}
            for r in records
        )
        text = buffer.getvalue()
    else:
        text = "".join(dump_json(record) + "\n" for record in records)
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        atomic_write(Path(path), text)
