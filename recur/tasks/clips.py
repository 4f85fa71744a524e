"""``--task clips`` (video → 1): a label for each clip of frames, by a CNN-LSTM.

Data: a .npz file with
    clips     (N, T, C, H, W) or (N, T, H, W) (then C = 1), uint8 (divided by 255) or float
              (kept as it is; must be finite)
    labels    (N,) ints or strings
    lengths   optional (N,) ints in 1..T: clip k holds frames [0, lengths[k]), the rest is padding
``--valid`` and ``--test`` name files of the same kind (default validation: a seeded split). Frames
must have the training clips' channels, height and width; clips may have other lengths T.
``recur predict --input`` takes the same file (``labels`` optional) and writes one record
{item, label, probability} per clip.

Model: :class:`recur.models.cnn_lstm.CNNLSTM`: a small CNN encodes each frame, a recurrent
classifier reads the frame features (``--pooling`` last, mean or max over the valid frames).
Batches, loss and metrics are :class:`recur.tasks.classify.SequenceClassification`'s (padding
with :func:`torch.nn.utils.rnn.pad_sequence` works on frames as on feature vectors).

Built-in demo (no ``--data``): clips of an 8x8 scikit-learn digit sliding over a 16x16 canvas for
6 frames (:func:`recur.data.generated.moving_digit_clips`), labelled with the direction of motion
(up, down, left, right: chance 0.25), which only the change between frames shows. 2,400 training
clips (seed 0; 10 % held out for validation) and 600 test clips (seed 1).
Metrics: accuracy, macro-F1; a confusion-matrix PNG.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import torch
from pydantic import Field
from torch import Tensor

from recur.data.bundled import data_digest
from recur.data.generated import DIRECTIONS, moving_digit_clips
from recur.data.images import load_npz, strings, unit_range
from recur.data.tables import DataError, where
from recur.data.vocab import LabelSet
from recur.models.cnn_lstm import CNNLSTM
from recur.plots.confusion import plot_confusion
from recur.tasks.classify import SequenceClassification
from recur.tasks.config import RecurrentConfig, SplitConfig, TaskConfig
from recur.tasks.examples import ExampleTask, held_out_name, split_off
from recur.tasks.spec import SPLIT_OPTIONS, Option, Prepared, SavedRun, TaskSpec
from recur.train.config import LoopConfig, OptimConfig

DEMO = "moving digits (recur.data.generated)"
DEMO_SIZES = {"train": (2400, 0), "test": (600, 1)}  # (count, seed)
CONFUSION_PLOT = "confusion.png"


class ClipsData(SplitConfig):
    test_path: str | None = Field(None, description="held-out test data (default: none)")


class ClipsModel(RecurrentConfig):
    hidden_size: int = Field(64, ge=1)
    pooling: Literal["last", "mean", "max"] = "last"
    cnn_channels: tuple[int, ...] = Field((16, 32), min_length=1, description="per conv stage")
    feature_size: int = Field(64, ge=1, description="features per frame")


class ClipsConfig(TaskConfig):
    task: Literal["clips"] = "clips"
    data: ClipsData = ClipsData()
    model: ClipsModel = ClipsModel()
    optim: OptimConfig = OptimConfig(lr=3e-3, warmup_steps=20)
    train: LoopConfig = LoopConfig(max_steps=250, max_time=300.0, eval_every=50)


class Clips(NamedTuple):
    """Clips of one source: frames (N, T, C, H, W) in [0, 1], lengths (N,), label strings (or
    None) and the place of each clip."""

    clips: Tensor
    lengths: Tensor
    labels: list[str] | None
    places: list[str]


def read_clips(path: str | Path, labelled: bool = True) -> Clips:
    """The clips of a .npz file (see the module docstring); DataError naming file and problem."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise DataError(f"{where(path)}: expected a .npz file with arrays 'clips' and 'labels'")
    required = ["clips", "labels"] if labelled else ["clips"]
    arrays = load_npz(path, required, ["labels", "lengths"])
    clips = arrays["clips"]
    if clips.ndim == 4:
        clips = clips[:, :, None]
    if clips.ndim != 5 or 0 in clips.shape:
        raise DataError(
            f"{where(path)}: array 'clips' has shape {arrays['clips'].shape}; expected "
            "(N, T, C, H, W) or (N, T, H, W) with no empty axis"
        )
    clips = unit_range(clips, f"{where(path)}: array 'clips'")
    count, steps = clips.shape[:2]
    lengths = np.full(count, steps, dtype=np.int64)
    if "lengths" in arrays:
        lengths = _lengths(arrays["lengths"], path, count, steps)
    labels = strings(arrays["labels"], path, "labels", count) if labelled else None
    places = [f"{where(path)} clip {k + 1}" for k in range(count)]
    return Clips(torch.from_numpy(clips), torch.from_numpy(lengths), labels, places)


def _lengths(array: np.ndarray, path: Path, count: int, steps: int) -> np.ndarray:
    if array.shape != (count,) or not np.issubdtype(array.dtype, np.integer):
        raise DataError(
            f"{where(path)}: array 'lengths' has shape {array.shape} and dtype {array.dtype}; "
            f"expected ({count},) integers (one per clip)"
        )
    bad = np.flatnonzero((array < 1) | (array > steps))
    if len(bad):
        k = int(bad[0])
        raise DataError(
            f"{where(path)} clip {k + 1}: length {int(array[k])} is out of range 1..{steps} "
            "(the clips' frames T)"
        )
    return array.astype(np.int64)


def demo_clips(split: str) -> Clips:
    count, seed = DEMO_SIZES[split]
    data = moving_digit_clips(count, seed=seed)
    labels = [DIRECTIONS[int(d)] for d in data.directions]
    places = [f"data: {DEMO} seed {seed} clip {k + 1}" for k in range(count)]
    lengths = torch.full((count,), data.clips.shape[1], dtype=torch.long)
    return Clips(data.clips, lengths, labels, places)


class ClipsTask(TaskSpec):
    name = "clips"
    summary = "classify clips of frames (.npz) with a CNN-LSTM; demo: direction of moving digits"
    config = ClipsConfig
    options = (
        *SPLIT_OPTIONS,
        Option("--pooling", "model.pooling", str, "classify: last (default), mean or max"),
    )

    # ------------------------------------------------------------------ data
    def sources(self, config: ClipsConfig) -> dict[str, Clips]:
        """Train, valid (split off train when not given) and, when given, test clips."""
        data = config.data
        if data.path is None:
            if data.valid_path or data.test_path:
                raise ValueError("data: --valid/--test need --data (the demo has its own splits)")
            sources = {split: demo_clips(split) for split in DEMO_SIZES}
        else:
            sources = {"train": read_clips(data.path)}
            for split, path in (("valid", data.valid_path), ("test", data.test_path)):
                if path is not None:
                    sources[split] = read_clips(path)
        if "valid" not in sources:
            keep, held = split_off(
                range(len(sources["train"].clips)), data.valid_fraction, config.train.seed
            )
            sources["valid"] = _subset(sources["train"], held)
            sources["train"] = _subset(sources["train"], keep)
        return sources

    def fit_meta(self, train: Clips, model: ClipsModel) -> dict:
        _, _, channels, height, width = train.clips.shape
        smallest = 2 ** len(model.cnn_channels)
        if min(height, width) < smallest:
            raise DataError(
                f"{train.places[0]}: frames of {height}x{width} pixels are too small for "
                f"{len(model.cnn_channels)} conv stages (model.cnn_channels) that halve them; "
                f"expected at least {smallest}x{smallest}"
            )
        labels = LabelSet.build(train.labels).to_json()
        return {"labels": labels, "channels": channels, "height": height, "width": width}

    def encode(self, source: Clips, meta: dict) -> list[tuple[Tensor, int]]:
        """(clip (length, C, H, W), label id or -1) of each clip, checked against ``meta``."""
        expected = (meta["channels"], meta["height"], meta["width"])
        if tuple(source.clips.shape[2:]) != expected:
            raise DataError(
                f"{source.places[0].rsplit(' clip ', 1)[0]}: frames are "
                f"{tuple(source.clips.shape[2:])} (C, H, W), expected {expected} like the "
                "training clips"
            )
        ids = [-1] * len(source.clips)
        if source.labels is not None:
            ids = LabelSet.from_json(meta["labels"]).encode(source.labels, source.places).tolist()
        return [
            (clip[: int(n)], y) for clip, n, y in zip(source.clips, source.lengths.tolist(), ids)
        ]

    def splits(self, config: ClipsConfig, meta: dict) -> dict[str, list]:
        return {name: self.encode(s, meta) for name, s in self.sources(config).items()}

    # ------------------------------------------------------------------ TaskSpec
    def prepare(self, config: ClipsConfig, dist) -> Prepared:
        sources = self.sources(config)
        meta = self.fit_meta(sources["train"], config.model)
        splits = {name: self.encode(s, meta) for name, s in sources.items()}
        problem = SequenceClassification(meta["labels"], config.data.batch_size)
        task = ExampleTask(splits, problem, config.data.batch_size, config.train.seed, dist)
        data = config.data
        digest = data_digest((data.path, data.valid_path, data.test_path), DEMO_SIZES)
        description = (
            f"CNN-{config.model.cell} of {len(meta['labels'])} classes "
            f"({meta['channels']}x{meta['height']}x{meta['width']} frames) on "
            f"{data.path or DEMO}: {len(splits['train'])} training, {len(splits['valid'])} "
            "validation clips"
        )
        return Prepared(task, self.build_model(config, meta), meta, digest, description)

    def build_model(self, config: ClipsConfig, meta: dict) -> CNNLSTM:
        m = config.model
        return CNNLSTM(
            meta["channels"],
            len(meta["labels"]),
            channels=m.cnn_channels,
            feature_size=m.feature_size,
            pooling=m.pooling,
            bidirectional=m.bidirectional,
            **m.network_options(),
        )

    def held_out(self, saved: SavedRun, split: str | None = None) -> tuple[str, list]:
        """(name, examples) of the run's test split, else its validation split."""
        splits = self.splits(saved.config, saved.meta)
        name = held_out_name(splits, split)
        return name, splits[name]

    def score(self, saved: SavedRun, examples, batch_size=None) -> tuple[dict, Tensor]:
        labels = saved.meta["labels"]
        problem = SequenceClassification(labels, batch_size or saved.config.data.batch_size)
        with torch.no_grad():
            return problem.score(*problem.outputs(saved.model, examples))

    def finish(self, saved: SavedRun, summary: dict, args: argparse.Namespace) -> None:
        name, examples = self.held_out(saved)
        metrics, confusion = self.score(saved, examples)
        plot_confusion(
            confusion,
            saved.meta["labels"],
            saved.run / CONFUSION_PLOT,
            f"{name}: accuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['macro_f1']:.3f}",
        )
        chance = 1 / len(saved.meta["labels"])
        print(
            f"{name} ({metrics['count']} clips): accuracy {metrics['accuracy']:.4f}, "
            f"macro-F1 {metrics['macro_f1']:.4f} (uniform chance {chance:.3f})"
        )
        print(f"confusion matrix: {saved.run / CONFUSION_PLOT}")

    def evaluate(self, saved: SavedRun, args: argparse.Namespace) -> dict:
        if args.data is not None:
            name, examples = args.data, self.encode(read_clips(args.data), saved.meta)
        else:
            name, examples = self.held_out(saved, args.split)
        metrics, _ = self.score(saved, examples, args.batch_size)
        print(
            f"{name}: accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f} "
            f"over {metrics['count']} clips",
            file=sys.stderr,
        )
        return metrics

    def predict(self, saved: SavedRun, args: argparse.Namespace) -> list[dict]:
        examples = self.encode(read_clips(args.input, labelled=False), saved.meta)
        labels = saved.meta["labels"]
        batch = args.batch_size or saved.config.data.batch_size
        with torch.no_grad():
            probs, _ = SequenceClassification(labels, batch).outputs(saved.model, examples)
        return [
            {
                "item": k + 1,
                "label": labels[int(p.argmax())],
                "probability": round(float(p.max()), 6),
            }
            for k, p in enumerate(probs)
        ]


def _subset(source: Clips, rows) -> Clips:
    rows = list(rows)
    labels = None if source.labels is None else [source.labels[k] for k in rows]
    return Clips(source.clips[rows], source.lengths[rows], labels, [source.places[k] for k in rows])


SPEC = ClipsTask()
