"""``--task translate`` (N→M): an encoder-decoder with attention from source to target sentences.

Data (:mod:`recur.tasks.parallel`): two line-aligned UTF-8 files (``--data SRC --target-data
TGT``; unequal line counts are an error, line pairs blank on both sides are skipped) or one
.csv/.tsv/.jsonl table (``--source-column``, ``--target-column``; default "source" and "target");
``--valid``/``--valid-target-data`` and ``--test``/``--test-target-data`` the same way (default
validation: a seeded split of the training data). Char (default) or word tokens; sides longer than
``--max-length`` tokens are cut, with a warning. Vocabularies are fitted on the training split
alone; unseen tokens become ``<unk>``.

Model: :class:`recur.models.seq2seq.Seq2Seq`, by default a bidirectional GRU encoder
(``--unidirectional`` for one direction) with Bahdanau attention (``--attention luong|none``), the
encoder summary as the decoder's initial state (``--context init``) or fed at every step
(``every``), teacher forcing with ratio ``--teacher-forcing`` (scheduled sampling below 1). The
recurrent layer options (``--recurrent-dropout``, ``--zoneout``, ``--weight-drop``, ``--init``,
``--forget-bias``) apply to the encoder and the decoder alike.
Decoding is greedy, or beam search with ``--beam K`` in evaluate and predict.

Metrics (:mod:`recur.tasks.translation`): corpus BLEU and chrF (sacrebleu) and exact match;
``finish`` also writes the attention heat-map of the first held-out pair (attention.png).

Built-in demo (no ``--data``): dates written in 23 forms in four languages to ISO 8601
(:mod:`recur.data.dates`): 10,000 training, 1,000 validation and 1,000 test pairs, fixed seeds;
the defaults reach exact match 0.999 on the test pairs in 300 steps (about 70 s of CPU time).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Literal

import torch
from pydantic import Field, field_validator

from recur.data.bundled import data_digest
from recur.data.dates import generate_dates
from recur.data.vocab import TokenVocab
from recur.models.seq2seq import Seq2Seq
from recur.plots.attention import save_attention_heatmap
from recur.tasks import parallel
from recur.tasks.config import RecurrentConfig, SplitConfig, TaskConfig
from recur.tasks.examples import ExampleTask, held_out_name, split_off
from recur.tasks.spec import NO_HEADER, SPLIT_OPTIONS, Option, Prepared, SavedRun, TaskSpec
from recur.tasks.translation import Decoded, Pair, Translation, join
from recur.train.config import LoopConfig, OptimConfig

DEMO = "generated dates (recur.data.dates)"
DEMO_SIZES = {"train": (10_000, 0), "valid": (1_000, 1), "test": (1_000, 2)}  # (count, seed)
ATTENTION_PLOT = "attention.png"
SPLIT_FILES = {  # the data keys naming each split's source and target files
    "train": ("path", "target_path"),
    "valid": ("valid_path", "valid_target_path"),
    "test": ("test_path", "test_target_path"),
}
FLAGS = {"path": "--data", "target_path": "--target-data", "valid_path": "--valid",
         "valid_target_path": "--valid-target-data", "test_path": "--test",
         "test_target_path": "--test-target-data"}  # fmt: skip


class TranslateData(SplitConfig):
    target_path: str | None = Field(None, description="two files: the target of each line of path")
    valid_target_path: str | None = Field(None, description="two files: targets of valid_path")
    test_path: str | None = Field(None, description="held-out test data (default: none)")
    test_target_path: str | None = Field(None, description="two files: targets of test_path")
    source_column: str = Field("source", description="tables: the source sentence")
    target_column: str = Field("target", description="tables: the target sentence")
    level: Literal["char", "word"] = "char"
    max_vocab: int | None = Field(20000, ge=5, description="tokens kept per side, specials incl.")
    max_length: int = Field(100, ge=1, description="tokens kept per sentence (longer are cut)")
    batch_size: int = Field(64, ge=1)


class TranslateModel(RecurrentConfig):
    cell: str = "gru"
    hidden_size: int = Field(128, ge=1, description="per encoder direction")
    bidirectional: bool = True
    attention: Literal["bahdanau", "luong"] | None = "bahdanau"
    score: Literal["dot", "general"] = "general"
    context: Literal["init", "every"] = "init"
    teacher_forcing: float = Field(1.0, ge=0, le=1, description="share of gold previous tokens")

    @field_validator("attention", mode="before")
    @classmethod
    def _none(cls, value):
        return None if isinstance(value, str) and value.lower() == "none" else value


class TranslateConfig(TaskConfig):
    task: Literal["translate"] = "translate"
    data: TranslateData = TranslateData()
    model: TranslateModel = TranslateModel()
    optim: OptimConfig = OptimConfig(lr=5e-3, warmup_steps=20)
    train: LoopConfig = LoopConfig(max_steps=300, max_time=300.0, eval_every=100)


class Translate(TaskSpec):
    name = "translate"
    summary = "translate sentences (two text files or a table); demo: dates to ISO 8601"
    config = TranslateConfig
    options = (
        *SPLIT_OPTIONS,
        Option("--target-data", "data.target_path", str, "translate: target file of --data"),
        Option("--valid-target-data", "data.valid_target_path", str, "translate: of --valid"),
        Option("--test-target-data", "data.test_target_path", str, "translate: of --test"),
        NO_HEADER,
        Option("--source-column", "data.source_column", str, "source column (name or index)"),
        Option("--target-column", "data.target_column", str, "target column (name or index)"),
        Option("--level", "data.level", str, "lm, translate: char (default) or word"),
        Option("--max-vocab", "data.max_vocab", int, "word tokens: vocabulary size cap"),
        Option("--max-length", "data.max_length", int, "tokens/steps kept per sequence"),
        Option("--attention", "model.attention", str, "translate: bahdanau, luong or none"),
        Option("--score", "model.score", str, "translate: luong score, general or dot"),
        Option("--context", "model.context", str, "translate: summary to decoder: init|every"),
        Option("--teacher-forcing", "model.teacher_forcing", float, "translate: ratio (1.0)"),
        Option(
            "--unidirectional", "model.bidirectional", None, "translate: one-way encoder", False
        ),
    )

    # ------------------------------------------------------------------ data
    def sentences(self, config: TranslateConfig) -> dict[str, parallel.Sentences]:
        """The raw splits: train, valid (None: split off train) and test (None: none)."""
        data = config.data
        if data.path is None:
            given = [key for key in FLAGS if getattr(data, key) is not None]
            if given:
                raise ValueError(
                    f"data: {FLAGS[given[0]]} needs --data (the demo has its own splits)"
                )
            return {split: _dates(*DEMO_SIZES[split]) for split in DEMO_SIZES}
        return {
            split: self.read(getattr(data, source), getattr(data, target), data, split)
            for split, (source, target) in SPLIT_FILES.items()
        }

    def read(self, path, target_path, data: TranslateData, split: str) -> parallel.Sentences | None:
        """The sentences of one split's files (None when it has none); ValueError naming the
        flags when they do not fit together."""
        flag, target_flag = (FLAGS[key] for key in SPLIT_FILES[split])
        if path is None:
            if target_path is not None:
                raise ValueError(f"data: {target_flag} needs {flag} (the source sentences)")
            return None
        if target_path is not None:
            return parallel.read_parallel(path, target_path)
        if not parallel.is_table(path):
            raise ValueError(
                f"data: {path}: expected {target_flag} (the target sentences, line by line) or a "
                ".csv/.tsv/.jsonl table with source and target columns"
            )
        return parallel.read_table_pairs(path, data.source_column, data.target_column, data.header)

    def tokens(self, sentences: parallel.Sentences, data: TranslateData, level: str):
        """(source tokens, target tokens or None) of the sentences, cut to max_length."""
        source = parallel.cut(sentences.sources, sentences.places, level, data.max_length, "source")
        if sentences.targets is None:
            return source, None
        target = parallel.cut(sentences.targets, sentences.places, level, data.max_length, "target")
        return source, target

    def encode(self, sentences: parallel.Sentences, meta: dict, data: TranslateData) -> list[Pair]:
        source_vocab = TokenVocab.from_json(meta["source_vocab"])
        target_vocab = TokenVocab.from_json(meta["target_vocab"])
        sources, targets = self.tokens(sentences, data, meta["level"])
        if targets is None:
            return [Pair(source_vocab.encode(s), None, None) for s in sources]
        eos = torch.tensor([target_vocab.eos])
        return [
            Pair(source_vocab.encode(s), torch.cat([target_vocab.encode(t), eos]), t)
            for s, t in zip(sources, targets)
        ]

    def raw_splits(self, config: TranslateConfig) -> dict[str, parallel.Sentences]:
        """Train, valid (split off train when not given) and, when given, test sentences."""
        splits = self.sentences(config)
        if splits["valid"] is None:
            keep, held = split_off(
                range(len(splits["train"].sources)), config.data.valid_fraction, config.train.seed
            )
            splits["train"], splits["valid"] = (
                _subset(splits["train"], keep),
                _subset(splits["train"], held),
            )
        return {name: s for name, s in splits.items() if s is not None}

    def fit_meta(self, train: parallel.Sentences, data: TranslateData) -> dict:
        sources, targets = self.tokens(train, data, data.level)
        return {
            "level": data.level,
            "source_vocab": TokenVocab.build(sources, max_size=data.max_vocab).to_json(),
            "target_vocab": TokenVocab.build(
                targets, max_size=data.max_vocab, decoder=True
            ).to_json(),
            "max_target": max(len(t) for t in targets),
        }

    def splits(self, config: TranslateConfig, meta: dict) -> dict[str, list[Pair]]:
        return {
            name: self.encode(s, meta, config.data) for name, s in self.raw_splits(config).items()
        }

    # ------------------------------------------------------------------ TaskSpec
    def prepare(self, config: TranslateConfig, dist) -> Prepared:
        raw = self.raw_splits(config)
        meta = self.fit_meta(raw["train"], config.data)
        splits = {name: self.encode(s, meta, config.data) for name, s in raw.items()}
        problem = Translation(meta, config.data.batch_size, config.model.teacher_forcing)
        task = ExampleTask(splits, problem, config.data.batch_size, config.train.seed, dist)
        data, m = config.data, config.model
        paths = (data.path, data.target_path, data.valid_path, data.valid_target_path,
                 data.test_path, data.test_target_path)  # fmt: skip
        digest = data_digest(paths, DEMO_SIZES)
        description = (
            f"{m.cell} seq2seq ({m.attention or 'no'} attention, "
            f"{len(meta['source_vocab'])}→{len(meta['target_vocab'])} {meta['level']} tokens) on "
            f"{data.path or DEMO}: {len(splits['train'])} training, {len(splits['valid'])} "
            "validation pairs"
        )
        return Prepared(task, self.build_model(config, meta), meta, digest, description)

    def build_model(self, config: TranslateConfig, meta: dict) -> Seq2Seq:
        m, target = config.model, TokenVocab.from_json(meta["target_vocab"])
        return Seq2Seq(
            len(meta["source_vocab"]),
            len(target),
            embedding_dim=m.embedding_dim or 64,
            bidirectional=m.bidirectional,
            context=m.context,
            attention=m.attention,
            score=m.score,
            pad_id=target.pad,
            bos_id=target.bos,
            eos_id=target.eos,
            **m.network_options(),
        )

    def held_out(self, saved: SavedRun, split: str | None = None) -> tuple[str, list[Pair]]:
        """(name, pairs) of the run's test split, else its validation split."""
        splits = self.splits(saved.config, saved.meta)
        name = held_out_name(splits, split)
        return name, splits[name]

    def problem(self, saved: SavedRun, args=None) -> Translation:
        batch = getattr(args, "batch_size", None) or saved.config.data.batch_size
        return Translation(saved.meta, batch, beam=getattr(args, "beam", None))

    def finish(self, saved: SavedRun, summary: dict, args: argparse.Namespace) -> None:
        name, pairs = self.held_out(saved)
        problem = self.problem(saved)
        with torch.no_grad():
            metrics = problem.evaluate(saved.model, pairs)
            first = problem.translate(saved.model, [pairs[0].source])[0]
        print(
            f"{name} ({metrics['count']} pairs, greedy): exact match {metrics['exact_match']:.4f}, "
            f"BLEU {metrics['bleu']:.2f}, chrF {metrics['chrf']:.2f}"
        )
        level, vocab = saved.meta["level"], saved.meta["source_vocab"]
        source = [vocab[int(i)] for i in pairs[0].source]
        print(
            f"e.g. {join(source, level)!r} → {join(problem.words(first), level)!r} "
            f"(reference {join(pairs[0].reference, level)!r})"
        )
        if first.attention is None:
            print("no attention plot: the model has no attention (model.attention none)")
            return
        path = self.plot(saved, pairs[0], first, name)
        print(f"attention of the first {name} pair: {path}")

    def plot(self, saved: SavedRun, pair: Pair, decoded: Decoded, split: str) -> Path:
        """The attention heat-map of one pair: rows the emitted tokens (and <eos>), columns the
        source tokens (unseen ones shown as <unk>)."""
        rows = [saved.meta["target_vocab"][i] for i in decoded.ids]
        rows += ["<eos>"] * (decoded.attention.shape[0] - len(rows))
        columns = [saved.meta["source_vocab"][int(i)] for i in pair.source]
        model = saved.config.model
        return save_attention_heatmap(
            decoded.attention,
            columns,
            rows,
            saved.run / ATTENTION_PLOT,
            f"{model.attention} attention, first {split} pair",
        )

    def evaluate(self, saved: SavedRun, args: argparse.Namespace) -> dict:
        data = saved.config.data
        if args.data is not None:
            name, target = args.data, args.target_data
            if target is None and not parallel.is_table(args.data):
                raise ValueError(
                    f"data: {args.data}: expected a .csv/.tsv/.jsonl table with the columns "
                    f"{data.source_column!r} and {data.target_column!r}"
                )
            sentences = self.read(args.data, target, data, "train")
            pairs = self.encode(sentences, saved.meta, data)
        else:
            name, pairs = self.held_out(saved, args.split)
        problem = self.problem(saved, args)
        with torch.no_grad():
            metrics = problem.evaluate(saved.model, pairs)
        decoding = f"beam {problem.beam}" if problem.beam else "greedy"
        print(
            f"{name}: exact match {metrics['exact_match']:.4f}, BLEU {metrics['bleu']:.2f}, "
            f"chrF {metrics['chrf']:.2f} over {metrics['count']} pairs ({decoding})",
            file=sys.stderr,
        )
        return {**metrics, "beam": problem.beam or 1}

    def predict(self, saved: SavedRun, args: argparse.Namespace) -> list[dict]:
        data = saved.config.data
        if parallel.is_table(args.input):
            sentences = parallel.read_table_pairs(
                args.input, data.source_column, data.target_column, data.header, targets=False
            )
        else:
            sentences = parallel.read_source_lines(args.input)
        pairs = self.encode(sentences, saved.meta, data)
        problem = self.problem(saved, args)
        with torch.no_grad():
            outputs = problem.translate(saved.model, [p.source for p in pairs])
        level = saved.meta["level"]
        records = []
        for line, source, decoded in zip(sentences.lines, sentences.sources, outputs):
            record = {
                "line": line,
                "source": source,
                "translation": join(problem.words(decoded), level),
            }
            if problem.beam:
                record["score"] = round(decoded.score, 6)
            records.append(record)
        return records


def _dates(count: int, seed: int) -> parallel.Sentences:
    pairs = generate_dates(count, seed=seed)
    return parallel.Sentences(
        [p.source for p in pairs],
        [p.target for p in pairs],
        [f"data: dates seed {seed} pair {k + 1}" for k in range(count)],
        list(range(1, count + 1)),
    )


def _subset(sentences: parallel.Sentences, rows: list[int]) -> parallel.Sentences:
    return parallel.Sentences(*([field[k] for k in rows] for field in sentences))


SPEC = Translate()
