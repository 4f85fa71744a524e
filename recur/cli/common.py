"""What the subcommands share: building the model of a configuration, opening a saved run, and
streaming generated text."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NamedTuple

from recur.cli.config import ModelConfig, RunConfig, validate
from recur.data.text import Vocab
from recur.models.language_model import LanguageModel
from recur.train.checkpoint import load_tensors
from recur.train.run import CONFIG, MODEL, VOCAB, RunDir


def build_model(config: ModelConfig, vocab_size: int) -> LanguageModel:
    """The language model a configuration describes."""
    return LanguageModel(
        vocab_size,
        cell=config.cell,
        hidden_size=config.hidden_size,
        num_layers=config.num_layers,
        embedding_dim=config.embedding_dim,
        dropout=config.dropout,
        tie_weights=config.tie_weights,
    )


def read_vocab(run: RunDir) -> Vocab:
    try:
        return Vocab.from_json((run / VOCAB).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"run: {run / VOCAB} does not exist; is {run.path} a recur run?") from None
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"run: {run / VOCAB} is corrupted") from None


class SavedRun(NamedTuple):
    run: RunDir
    config: RunConfig
    vocab: Vocab
    model: LanguageModel  # in eval mode
    metadata: dict[str, str]  # of model.safetensors: step, data_sha256, ...


def open_run(path: str | Path) -> SavedRun:
    """A finished (or checkpointed) run's configuration, vocabulary and trained model.

    Raises ValueError when the directory is not a run or a file is missing or corrupted.
    """
    run = RunDir(path)
    if not run.path.is_dir():
        raise ValueError(f"run: {run.path} does not exist or is not a directory")
    config = validate(run.read_json(CONFIG))
    vocab = read_vocab(run)
    if not (run / MODEL).exists():
        raise ValueError(f"run: {run / MODEL} does not exist (no checkpoint was written yet)")
    weights, metadata = load_tensors(run / MODEL)
    model = build_model(config.model, len(vocab))
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise ValueError(f"run: {run / MODEL} does not fit {run / CONFIG}: {first}") from None
    return SavedRun(run, config, vocab, model.eval(), metadata)


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
