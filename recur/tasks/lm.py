"""``--task lm`` (the default): a character- or word-level language model, truncated BPTT.

Data: a UTF-8 text (default: Python's own documentation, ``pydoc_data.topics``) split by position
into train / valid / test. Metrics: bits per character (or word) and perplexity. ``finish`` prints
a sample; ``predict`` continues each line of a file; ``recur generate`` streams text.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from typing import Literal

from pydantic import Field, model_validator

from recur.data.text import Vocab, batchify, load_corpus, split_by_position, unigram_bits
from recur.models.language_model import LanguageModel
from recur.tasks.config import RecurrentConfig, TaskConfig
from recur.tasks.spec import Option, Prepared, SavedRun, TaskSpec
from recur.train.config import Section
from recur.train.lm_task import LanguageModelTask, stream_loss
from recur.train.metrics import bits, perplexity


class LMData(Section):
    """The text, its tokenisation, its positional split and how it is batched."""

    path: str | None = Field(None, description="UTF-8 text file (default: pydoc_data.topics)")
    level: Literal["char", "word"] = "char"
    valid_fraction: float = Field(0.05, gt=0, lt=0.5)
    test_fraction: float = Field(0.05, ge=0, lt=0.5)
    max_vocab: int | None = Field(None, ge=2, description="word level: keep the most frequent")
    batch_size: int = Field(32, ge=1, description="contiguous rows read side by side")
    bptt: int = Field(64, ge=1, description="tokens per truncated-BPTT window")


class LMModel(RecurrentConfig):
    tie_weights: bool = False


class LMConfig(TaskConfig):
    task: Literal["lm"] = "lm"
    data: LMData = LMData()
    model: LMModel = LMModel()

    @model_validator(mode="after")
    def _consistent(self) -> LMConfig:
        if self.model.bidirectional:
            raise ValueError(
                "model.bidirectional: a language model reads left to right; "
                "bidirectional is for taggers and classifiers"
            )
        if self.model.tie_weights and self.model.embedding_dim not in (
            None,
            self.model.hidden_size,
        ):
            raise ValueError(
                f"model.tie_weights: needs embedding_dim equal to hidden_size "
                f"({self.model.hidden_size}), got {self.model.embedding_dim}"
            )
        return self


class LanguageModelling(TaskSpec):
    name = "lm"
    summary = "character/word language model (default: char LSTM on Python's help, ~2 min)"
    config = LMConfig
    meta_file = "vocab.json"
    options = (
        Option("--data", "data.path", str, "training data (default: the task's built-in demo)"),
        Option("--level", "data.level", str, "char or word tokens (lm: char; classify: word)"),
        Option("--test-fraction", "data.test_fraction", float, "share held out for testing"),
        Option("--max-vocab", "data.max_vocab", int, "word tokens: vocabulary size cap"),
        Option("--bptt", "data.bptt", int, "lm: tokens per truncated-BPTT window (64)"),
        Option("--tie-weights", "model.tie_weights", None, "lm: share embedding and output"),
    )

    def splits(self, config: LMConfig) -> tuple[dict[str, str], str, str]:
        """(train/valid/test texts, the corpus's sha256, the whole corpus)."""
        text = load_corpus(config.data.path)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        data = config.data
        return split_by_position(text, data.valid_fraction, data.test_fraction), digest, text

    def prepare(self, config: LMConfig, dist) -> Prepared:
        data = config.data
        splits, digest, text = self.splits(config)
        vocab = Vocab.build(
            text if data.level == "char" else splits["train"], data.level, data.max_vocab
        )
        ids = {name: vocab.encode(part) for name, part in splits.items()}
        task = LanguageModelTask(ids, data.batch_size, data.bptt, data.level, dist)
        model = self.build_model(config, vocab)
        description = (
            f"{config.model.cell} language model ({len(vocab)} {data.level} symbols) on "
            f"{data.path or 'pydoc_data.topics'}: {ids['train'].numel():,} training tokens, "
            f"unigram entropy {unigram_bits(ids['train']):.2f} {task.loss_unit}"
        )
        return Prepared(task, model, vocab, digest, description)

    def build_model(self, config: LMConfig, vocab: Vocab) -> LanguageModel:
        m = config.model
        return LanguageModel(
            len(vocab),
            embedding_dim=m.embedding_dim,
            tie_weights=m.tie_weights,
            **m.network_options(),
        )

    def dump_meta(self, vocab: Vocab) -> str:
        return vocab.to_json()

    def load_meta(self, text: str) -> Vocab:
        return Vocab.from_json(text)

    def finish(self, saved: SavedRun, summary: dict, args: argparse.Namespace) -> None:
        from recur.cli.common import encode_prompt, stream_text  # the CLI's streaming printer

        valid = summary["valid"]
        unit = "bpc" if saved.meta.level == "char" else "bits/word"
        print(f"validation {bits(valid['loss']):.3f} {unit}, perplexity {valid['perplexity']:.2f}")
        print(f"`recur generate {saved.run.path}` samples from it")
        sample_tokens = getattr(args, "sample_tokens", 0)
        if sample_tokens > 0:
            print(f"--- sample (temperature {args.temperature:g}) ---")
            stream_text(
                saved.model,
                saved.meta,
                encode_prompt(saved.meta, None, "error"),
                sample_tokens,
                temperature=args.temperature,
                top_k=None,
                top_p=None,
                seed=saved.config.train.seed,
            )

    def evaluate(self, saved: SavedRun, args: argparse.Namespace) -> dict:
        config, vocab = saved.config, saved.meta
        if args.data is not None:
            text, source = load_corpus(args.data), args.data
        else:
            splits, digest, _ = self.splits(config)
            if digest != saved.metadata.get("data_sha256"):
                raise ValueError(
                    f"data: {config.data.path} changed since the run was trained; pass --data "
                    "to evaluate on a file"
                )
            text = splits[args.split]
            source = f"the {args.split} split of {config.data.path or 'pydoc_data.topics'}"
        ids = vocab.encode(text, args.unk, name="data")
        if ids.numel() < 2:
            raise ValueError(f"data: {source} has {ids.numel()} token(s); at least 2 are needed")
        bptt = config.data.bptt
        # rows of at least one window each, so that short texts are still read as one stream
        rows = max(1, min(args.batch_size or config.data.batch_size, ids.numel() // (bptt + 1)))
        total, count = stream_loss(saved.model, batchify(ids, rows), bptt)
        loss = total / count
        key = "bpc" if vocab.level == "char" else "bits_per_word"
        unit = "bits per character" if vocab.level == "char" else "bits per word"
        print(
            f"{source}: {bits(loss):.4f} {unit}, perplexity {perplexity(loss):.3f} "
            f"over {count:,} {vocab.level} tokens",
            file=sys.stderr,
        )
        return {key: bits(loss), "perplexity": perplexity(loss), "tokens": count}

    def predict(self, saved: SavedRun, args: argparse.Namespace) -> list[dict]:
        """Each non-empty line of ``args.input`` continued by ``args.max_new_tokens`` tokens."""
        text = load_corpus(args.input)
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            prompt = saved.meta.encode(line, args.unk, name=f"input line {number}")
            if prompt.numel() == 0:
                raise ValueError(f"input: {args.input} line {number}: no token in the vocabulary")
            new = saved.model.generate(
                prompt, args.max_new_tokens, args.temperature, seed=args.seed
            )
            continuation = "".join(
                saved.meta.piece(int(t), int(p))
                for p, t in zip([int(prompt[-1]), *new.tolist()], new.tolist())
            )
            records.append({"line": number, "prompt": line, "continuation": continuation})
        return records


SPEC = LanguageModelling()
