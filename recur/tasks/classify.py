"""``--task classify`` (N→1): a label for each text or each (multivariate) time series.

Data, by suffix:
    .csv / .tsv / .jsonl   a text column and a label column (``--text-column``, ``--label-column``;
                           names, or 0-based indices with ``--no-header``); char or word tokens
    .ts                    labelled series in the UCR/UEA format (sktime, aeon), any length

Built-in demo (no ``--data``): JapaneseVowels (UCI, via aeon's bundled copy): 640 utterances of
"ae" by 9 speakers, 12 LPC cepstrum coefficients per frame, 7-29 frames; which speaker is it?
Train 270 (10 % held out for validation), test 370. Series are standardised per feature with the
training split's mean and std. Metrics: accuracy, macro-F1; a confusion-matrix PNG.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence

from recur.data.bundled import aeon_dataset, file_digest
from recur.data.tables import DataError, read_table, where
from recur.data.text import tokenize
from recur.data.ts_format import read_ts
from recur.data.vocab import LabelSet, TokenVocab
from recur.models.classifier import SequenceClassifier
from recur.plots.confusion import plot_confusion
from recur.tasks.config import RecurrentConfig, SplitConfig, TaskConfig
from recur.tasks.examples import ExampleTask, chunks, held_out_name, split_off
from recur.tasks.scores import accuracy, confusion_matrix, macro_f1
from recur.tasks.spec import NO_HEADER, SPLIT_OPTIONS, Option, Prepared, SavedRun, TaskSpec
from recur.train.config import LoopConfig, OptimConfig

DEMO = "JapaneseVowels"
#: Bagnall et al. 2018, "The UEA multivariate time series classification archive", Table 3
DEMO_BASELINE = "1-NN DTW_D 0.949, 1-NN Euclidean 0.924 (Bagnall et al. 2018)"
CONFUSION_PLOT = "confusion.png"


class ClassifyData(SplitConfig):
    text_column: str = Field("text", description="tables: the text (name or 0-based index)")
    label_column: str = Field("label", description="tables: the class label")
    test_path: str | None = Field(None, description="held-out test data (default: none)")
    level: Literal["char", "word"] = "word"
    max_vocab: int | None = Field(20000, ge=3, description="text: keep the most frequent tokens")
    max_length: int = Field(400, ge=1, description="longer sequences are cut to their start")


class ClassifyModel(RecurrentConfig):
    hidden_size: int = Field(128, ge=1)
    pooling: Literal["last", "mean", "max"] = "last"


class ClassifyConfig(TaskConfig):
    task: Literal["classify"] = "classify"
    data: ClassifyData = ClassifyData()
    model: ClassifyModel = ClassifyModel()
    optim: OptimConfig = OptimConfig(lr=3e-3, warmup_steps=20)
    train: LoopConfig = LoopConfig(max_steps=800, max_time=300.0, eval_every=50)


class Examples:
    """Inputs (token ids (T,) or features (T, F)), label ids (or None) and where each came from."""

    def __init__(self, inputs: list[Tensor], labels: Tensor | None, places: list[str]):
        self.inputs, self.labels, self.places = inputs, labels, places

    def items(self) -> list[tuple[Tensor, int]]:
        labels = self.labels.tolist() if self.labels is not None else [-1] * len(self.inputs)
        return list(zip(self.inputs, labels))


def read_source(path: str | Path, data: ClassifyData, labelled: bool = True):
    """(kind "text"|"series", raw inputs, label strings or None, places) of a data file."""
    path = Path(path)
    if path.suffix.lower() == ".ts":
        series, labels = read_ts(path)
        places = [f"{where(path)} case {k + 1}" for k in range(len(series))]
        return "series", series, labels if labelled else None, places
    table = read_table(path, data.header)
    texts = table.column(data.text_column)
    labels = table.column(data.label_column) if labelled else None
    places = [where(path, line) for line in table.lines]
    for text, place in zip(texts, places):
        if not text.strip():
            raise DataError(f"{place}: column {data.text_column!r} is empty")
    return "text", texts, labels, places


class SequenceClassification:
    """The :class:`recur.tasks.examples.Problem` of N→1 classification."""

    loss_unit, loss_scale = "nats", 1.0

    def __init__(self, labels: list[str], batch_size: int):
        self.labels, self.batch_size = labels, batch_size

    def collate(self, examples: Sequence[tuple[Tensor, int]]):
        inputs = [x for x, _ in examples]
        lengths = torch.tensor([len(x) for x in inputs])
        targets = torch.tensor([y for _, y in examples])
        return pad_sequence(inputs, batch_first=True), lengths, targets

    def loss(self, model: nn.Module, batch) -> tuple[Tensor, int]:
        inputs, lengths, targets = batch
        return F.cross_entropy(model(inputs, lengths), targets), len(targets)

    def outputs(self, model: nn.Module, examples: Sequence[tuple[Tensor, int]]):
        """(probabilities (N, K), targets (N,)) of examples read in batches."""
        probs, targets = [], []
        for part in chunks(examples, self.batch_size):
            inputs, lengths, y = self.collate(part)
            probs.append(model(inputs, lengths).softmax(-1))
            targets.append(y)
        return torch.cat(probs), torch.cat(targets)

    def evaluate(self, model: nn.Module, examples) -> dict[str, float]:
        return self.score(*self.outputs(model, examples))[0]

    def score(self, probs: Tensor, targets: Tensor) -> tuple[dict[str, float], Tensor]:
        """(metrics, confusion matrix) of outputs already computed by :meth:`outputs`."""
        loss = F.nll_loss(probs.clamp_min(1e-12).log(), targets)
        confusion = confusion_matrix(probs.argmax(-1), targets, len(self.labels))
        metrics = {
            "loss": float(loss),
            "accuracy": accuracy(confusion),
            "macro_f1": macro_f1(confusion),
            "count": len(targets),
        }
        return metrics, confusion


class Classify(TaskSpec):
    name = "classify"
    summary = "label texts (CSV/TSV/JSONL) or series (.ts); demo: JapaneseVowels speakers"
    config = ClassifyConfig
    options = (
        *SPLIT_OPTIONS,
        NO_HEADER,
        Option("--text-column", "data.text_column", str, "text column (name or index)"),
        Option("--label-column", "data.label_column", str, "label column (name or index)"),
        Option("--level", "data.level", str, "lm: char (default) or word; classify: word"),
        Option("--max-vocab", "data.max_vocab", int, "word tokens: vocabulary size cap"),
        Option("--max-length", "data.max_length", int, "tokens/steps kept per sequence"),
        Option("--pooling", "model.pooling", str, "classify: last (default), mean or max"),
    )

    # ------------------------------------------------------------------ data
    def sources(self, config: ClassifyConfig) -> dict[str, Path | None]:
        data = config.data
        if data.path is None:
            if data.valid_path or data.test_path:
                raise ValueError("data: --valid/--test need --data (the demo has its own splits)")
            return {
                "train": aeon_dataset(DEMO, "TRAIN"),
                "valid": None,
                "test": aeon_dataset(DEMO, "TEST"),
            }
        return {
            "train": Path(data.path),
            "valid": _path(data.valid_path),
            "test": _path(data.test_path),
        }

    def encode(self, source, meta: dict, data: ClassifyData, labelled: bool = True) -> Examples:
        """Examples of a file, encoded with a run's ``meta``."""
        kind, raw, labels, places = read_source(source, data, labelled)
        if kind != meta["input"]:
            expected = "a .ts file of series" if meta["input"] == "series" else "a table of texts"
            raise DataError(f"{where(source)}: expected {expected}, like the training data")
        if kind == "text":
            vocab = TokenVocab.from_json(meta["vocab"])
            inputs = [vocab.encode(tokenize(t, meta["level"])[: data.max_length]) for t in raw]
            for x, place in zip(inputs, places):
                if len(x) == 0:
                    raise DataError(f"{place}: the text has no {meta['level']} tokens")
        else:
            features = meta["features"]
            for x, place in zip(raw, places):
                if x.shape[1] != features:
                    raise DataError(f"{place}: {x.shape[1]} dimension(s), expected {features}")
            mean, std = torch.tensor(meta["mean"]), torch.tensor(meta["std"])
            inputs = [((x - mean) / std)[: data.max_length] for x in raw]
        label_ids = None
        if labels is not None:
            label_ids = LabelSet.from_json(meta["labels"]).encode(labels, places)
        return Examples(inputs, label_ids, places)

    def fit_meta(self, source, data: ClassifyData) -> dict:
        """What encoding needs, learnt from the training file alone."""
        kind, raw, labels, _ = read_source(source, data)
        meta: dict = {"input": kind, "labels": LabelSet.build(labels).to_json()}
        if kind == "text":
            tokens = [tokenize(t, data.level)[: data.max_length] for t in raw]
            meta.update(
                level=data.level, vocab=TokenVocab.build(tokens, max_size=data.max_vocab).to_json()
            )
        else:
            stacked = torch.cat(raw)
            std = stacked.std(0)
            meta.update(
                features=stacked.shape[1],
                mean=stacked.mean(0).tolist(),
                std=torch.where(std > 1e-8, std, torch.ones_like(std)).tolist(),
            )
        return meta

    def splits(self, config: ClassifyConfig, meta: dict) -> dict[str, list]:
        data, sources = config.data, self.sources(config)
        train = self.encode(sources["train"], meta, data).items()
        if sources["valid"] is not None:
            valid = self.encode(sources["valid"], meta, data).items()
        else:
            train, valid = split_off(train, data.valid_fraction, config.train.seed)
        splits = {"train": train, "valid": valid}
        if sources["test"] is not None:
            splits["test"] = self.encode(sources["test"], meta, data).items()
        return splits

    # ------------------------------------------------------------------ TaskSpec
    def prepare(self, config: ClassifyConfig, dist) -> Prepared:
        sources = self.sources(config)
        meta = self.fit_meta(sources["train"], config.data)
        splits = self.splits(config, meta)
        problem = SequenceClassification(meta["labels"], config.data.batch_size)
        task = ExampleTask(splits, problem, config.data.batch_size, config.train.seed, dist)
        model = self.build_model(config, meta)
        what = (
            f"{len(meta['vocab'])} {meta['level']} tokens"
            if meta["input"] == "text"
            else f"{meta['features']} features per step"
        )
        description = (
            f"{config.model.cell} classifier of {len(meta['labels'])} classes ({what}) on "
            f"{config.data.path or DEMO}: {len(splits['train'])} training, "
            f"{len(splits['valid'])} validation examples"
        )
        return Prepared(task, model, meta, file_digest(*sources.values()), description)

    def build_model(self, config: ClassifyConfig, meta: dict) -> SequenceClassifier:
        m = config.model
        inputs = (
            {"vocab_size": len(meta["vocab"]), "embedding_dim": m.embedding_dim or 64}
            if meta["input"] == "text"
            else {"input_size": meta["features"], "embedding_dim": m.embedding_dim}
        )
        return SequenceClassifier(
            len(meta["labels"]),
            **inputs,
            bidirectional=m.bidirectional,
            pooling=m.pooling,
            **m.network_options(),
        )

    def held_out(self, saved: SavedRun, split: str | None = None) -> tuple[str, list]:
        """(name, examples) of the run's test split, else its validation split."""
        splits = self.splits(saved.config, saved.meta)
        name = held_out_name(splits, split)
        return name, splits[name]

    def finish(self, saved: SavedRun, summary: dict, args: argparse.Namespace) -> None:
        name, examples = self.held_out(saved)
        metrics, confusion = self.score(saved, examples)
        plot_confusion(
            confusion,
            saved.meta["labels"],
            saved.run / CONFUSION_PLOT,
            f"{name}: accuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['macro_f1']:.3f}",
        )
        print(
            f"{name} ({metrics['count']} examples): accuracy {metrics['accuracy']:.4f}, "
            f"macro-F1 {metrics['macro_f1']:.4f}"
            + (f"; published baselines: {DEMO_BASELINE}" if saved.config.data.path is None else "")
        )
        print(f"confusion matrix: {saved.run / CONFUSION_PLOT}")

    def score(self, saved: SavedRun, examples) -> tuple[dict, Tensor]:
        problem = SequenceClassification(saved.meta["labels"], saved.config.data.batch_size)
        with torch.no_grad():
            return problem.score(*problem.outputs(saved.model, examples))

    def evaluate(self, saved: SavedRun, args: argparse.Namespace) -> dict:
        if args.data is not None:
            name, examples = (
                args.data,
                self.encode(args.data, saved.meta, saved.config.data).items(),
            )
        else:
            name, examples = self.held_out(saved, args.split)
        metrics, _ = self.score(saved, examples)
        print(
            f"{name}: accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f} "
            f"over {metrics['count']} examples",
            file=sys.stderr,
        )
        return metrics

    def predict(self, saved: SavedRun, args: argparse.Namespace) -> list[dict]:
        data = saved.config.data
        labelled = Path(args.input).suffix.lower() == ".ts"  # .ts cases always carry a label
        examples = self.encode(args.input, saved.meta, data, labelled=labelled)
        problem = SequenceClassification(saved.meta["labels"], args.batch_size or data.batch_size)
        with torch.no_grad():
            probs, _ = problem.outputs(saved.model, examples.items())
        labels = saved.meta["labels"]
        return [
            {
                "item": k + 1,
                "label": labels[int(p.argmax())],
                "probability": round(float(p.max()), 6),
            }
            for k, p in enumerate(probs)
        ]


def _path(path: str | None) -> Path | None:
    return Path(path) if path is not None else None


SPEC = Classify()
