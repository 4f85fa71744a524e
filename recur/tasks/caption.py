"""``--task caption`` (1→N): a sentence generated for each image.

Data, by what ``--data`` names:
    .csv / .tsv / .jsonl   an image-file column and a caption column (``--image-column``,
                           default "image"; ``--text-column``, default "caption"; names, or
                           0-based indices with ``--no-header``); image paths are relative to the
                           table's folder. Files are read by :mod:`recur.data.images` (PNG; JPEG
                           and others through Pillow), as grey or RGB (``data.channels`` 1 or 3).
    .npz                   ``images`` (N, H, W) or (N, C, H, W), uint8 or float, and ``captions``
                           (N,) strings.
Every image must have the size of the training images (they are not resized). Captions are
split into word (default) or char tokens (``--level``), cut to ``--max-length`` tokens; the
vocabulary is fitted on the training split alone, unseen tokens become ``<unk>``.

``recur predict --input`` takes a folder of images, a table (the caption column may be missing)
or a .npz (``captions`` optional) and writes one record {item, caption} per image.

Model and metrics: :mod:`recur.tasks.captioning` (CNN → conditional LSTM generator, greedy or
beam decoding; BLEU and exact match).

Built-in demo (no ``--data``): scikit-learn's 1,797 8x8 handwritten digits
(:func:`recur.data.generated.digit_captions`, seeded split: 1,348 training of which 10 % are held
out for validation, 449 test), each captioned with its name and article: "a seven", "an eight".
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Literal, NamedTuple

import torch
from pydantic import Field, field_validator
from torch import Tensor

from recur.data.generated import DIGIT_NAMES, digit_captions
from recur.data.images import load_npz, npz_images, read_image_column, read_image_folder, strings
from recur.data.tables import DataError, read_table, where
from recur.data.text import tokenize
from recur.data.vocab import TokenVocab
from recur.plots.captions import plot_captions
from recur.tasks.captioning import Captioned, Captioning, ImageCaptioner, join
from recur.tasks.config import RecurrentConfig, SplitConfig, TaskConfig
from recur.tasks.examples import ExampleTask, held_out_name, split_off
from recur.tasks.spec import NO_HEADER, SPLIT_OPTIONS, Option, Prepared, SavedRun, TaskSpec
from recur.train.config import LoopConfig, OptimConfig

DEMO = "scikit-learn digits"
CAPTIONS_PLOT = "captions.png"
TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".jsonl", ".ndjson")


class CaptionData(SplitConfig):
    image_column: str = Field("image", description="tables: the image file (name or index)")
    text_column: str = Field("caption", description="tables: the caption")
    test_path: str | None = Field(None, description="held-out test data (default: none)")
    channels: Literal[1, 3] = Field(1, description="images read as grey (1) or RGB (3)")
    level: Literal["char", "word"] = "word"
    max_vocab: int | None = Field(10000, ge=5, description="tokens kept, specials included")
    max_length: int = Field(40, ge=1, description="tokens kept per caption (longer are cut)")
    batch_size: int = Field(64, ge=1)


class CaptionModel(RecurrentConfig):
    hidden_size: int = Field(128, ge=1)
    embedding_dim: int | None = Field(32, ge=1)
    condition: Literal["first", "every"] = "first"
    cnn_channels: tuple[int, ...] = Field((16, 32), min_length=1, description="per conv stage")
    feature_size: int = Field(64, ge=1, description="image feature vector")

    @field_validator("bidirectional")
    @classmethod
    def _left_to_right(cls, value: bool) -> bool:
        if value:
            raise ValueError("the caption decoder generates left to right; expected false")
        return value


class CaptionConfig(TaskConfig):
    task: Literal["caption"] = "caption"
    data: CaptionData = CaptionData()
    model: CaptionModel = CaptionModel()
    optim: OptimConfig = OptimConfig(lr=3e-3, warmup_steps=20)
    train: LoopConfig = LoopConfig(max_steps=600, max_time=300.0, eval_every=100)


class Images(NamedTuple):
    """Images of one source, their captions (None: unlabelled), places and item names."""

    images: Tensor  # (N, C, H, W) float32 in [0, 1]
    captions: list[str] | None
    places: list[str]
    items: list[str]


def read_images(path, data: CaptionData, size=None, captioned: bool = True) -> Images:
    """The images (and captions when ``captioned``) of a table, a .npz or (unlabelled) a folder;
    ``size`` (H, W) the one every image must have."""
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        if captioned:
            raise DataError(f"{where(path)} is a folder; expected a table of image files and "
                            "captions (.csv/.tsv/.jsonl) or a .npz")  # fmt: skip
        images, places, names = read_image_folder(path, data.channels, size)
        return Images(images, None, places, names)
    if suffix == ".npz":
        arrays = load_npz(path, ["images", "captions"] if captioned else ["images"], ["captions"])
        images, _ = npz_images(arrays["images"], path, "images", data.channels, size)
        captions = None
        if captioned:
            captions = strings(arrays["captions"], path, "captions", len(images))
        places = [f"{where(path)} item {k + 1}" for k in range(len(images))]
        return Images(images, captions, places, [str(k + 1) for k in range(len(images))])
    if suffix not in TABLE_SUFFIXES:
        raise DataError(
            f"{where(path)}: expected a .csv/.tsv/.jsonl table of image files and captions, "
            "a .npz of images and captions, or (predict) a folder"
        )
    table = read_table(path, data.header)
    captions = table.column(data.text_column) if captioned else None
    images, places, _ = read_image_column(table, data.image_column, data.channels, size)
    names = table.column(data.image_column)
    return Images(images, captions, places, [name.strip() for name in names])


def demo_images(channels: int) -> dict[str, Images]:
    """The digits' train and test splits captioned "a seven", "an eight" ..."""
    parts = {}
    for split, part in zip(("train", "test"), digit_captions(test_fraction=0.25, seed=0)):
        images = part.features.view(-1, 1, 8, 8).expand(-1, channels, -1, -1).contiguous()
        captions = [demo_caption(int(d)) for d in part.digits]
        places = [f"data: {DEMO} {split} item {k + 1}" for k in range(len(captions))]
        parts[split] = Images(images, captions, places, [str(k + 1) for k in range(len(images))])
    return parts


def demo_caption(digit: int) -> str:
    name = DIGIT_NAMES[digit]
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def caption_tokens(source: Images, level: str, max_length: int) -> list[list[str]]:
    """Tokens of each caption, cut to ``max_length`` (one warning on stderr per source)."""
    out, cut = [], []
    for caption, place in zip(source.captions, source.places):
        tokens = tokenize(caption.strip(), level)
        if not tokens:
            raise DataError(f"{place}: the caption is empty")
        if len(tokens) > max_length:
            cut.append(place)
        out.append(tokens[:max_length])
    if cut:
        print(
            f"warning: {len(cut)} caption(s) longer than {max_length} {level} tokens were cut "
            f"(first: {cut[0]}); raise --max-length to keep them whole",
            file=sys.stderr,
        )
    return out


class Caption(TaskSpec):
    name = "caption"
    summary = "caption images (table of image files, or .npz); demo: digits named"
    config = CaptionConfig
    options = (
        *SPLIT_OPTIONS,
        NO_HEADER,
        Option("--image-column", "data.image_column", str, "caption: image file column"),
        Option("--text-column", "data.text_column", str, "text column (name or index)"),
        Option("--channels", "data.channels", int, "caption: images as grey (1) or RGB (3)"),
        Option("--level", "data.level", str, "lm: char (default) or word; classify: word"),
        Option("--max-vocab", "data.max_vocab", int, "word tokens: vocabulary size cap"),
        Option("--max-length", "data.max_length", int, "tokens/steps kept per sequence"),
        Option("--condition", "model.condition", str, "caption: image to decoder: first|every"),
    )

    # ------------------------------------------------------------------ data
    def sources(self, config: CaptionConfig, meta: dict | None = None) -> dict[str, Images]:
        """Train, valid (split off train when not given) and, when given, test images; their
        size is the training images' (``meta``'s once fitted)."""
        data = config.data
        if data.path is None:
            if data.valid_path or data.test_path:
                raise ValueError("data: --valid/--test need --data (the demo has its own splits)")
            sources = demo_images(data.channels)
        else:
            size = None if meta is None else (meta["height"], meta["width"])
            sources = {"train": read_images(data.path, data, size)}
            size = tuple(sources["train"].images.shape[2:])
            for split, path in (("valid", data.valid_path), ("test", data.test_path)):
                if path is not None:
                    sources[split] = read_images(path, data, size)
        if "valid" not in sources:
            keep, held = split_off(
                range(len(sources["train"].images)), data.valid_fraction, config.train.seed
            )
            sources["valid"] = _subset(sources["train"], held)
            sources["train"] = _subset(sources["train"], keep)
        return sources

    def fit_meta(self, train: Images, data: CaptionData) -> dict:
        tokens = caption_tokens(train, data.level, data.max_length)
        vocab = TokenVocab.build(tokens, max_size=data.max_vocab, decoder=True)
        _, channels, height, width = train.images.shape
        return {"level": data.level, "vocab": vocab.to_json(), "max_caption": max(map(len, tokens)),
                "channels": channels, "height": height, "width": width}  # fmt: skip

    def encode(self, source: Images, meta: dict, data: CaptionData) -> list[Captioned]:
        expected = (meta["channels"], meta["height"], meta["width"])
        if tuple(source.images.shape[1:]) != expected:
            raise DataError(f"{source.places[0]}: images are {tuple(source.images.shape[1:])} "
                            f"(C, H, W), expected {expected} like the training images")  # fmt: skip
        if source.captions is None:
            return [Captioned(image, None, None) for image in source.images]
        vocab = TokenVocab.from_json(meta["vocab"])
        eos = torch.tensor([vocab.eos])
        return [
            Captioned(image, torch.cat([vocab.encode(tokens), eos]), tokens)
            for image, tokens in zip(
                source.images, caption_tokens(source, meta["level"], data.max_length)
            )
        ]

    def splits(self, config: CaptionConfig, meta: dict) -> dict[str, list[Captioned]]:
        return {
            name: self.encode(s, meta, config.data)
            for name, s in self.sources(config, meta).items()
        }

    # ------------------------------------------------------------------ TaskSpec
    def prepare(self, config: CaptionConfig, dist) -> Prepared:
        sources = self.sources(config)
        meta = self.fit_meta(sources["train"], config.data)
        splits = {name: self.encode(s, meta, config.data) for name, s in sources.items()}
        problem = Captioning(meta, config.data.batch_size)
        task = ExampleTask(splits, problem, config.data.batch_size, config.train.seed, dist)
        digest = hashlib.sha256()
        for name in sorted(sources):
            digest.update(sources[name].images.numpy().tobytes())
            digest.update("\n".join(sources[name].captions).encode())
        description = (
            f"{config.model.cell} captioner ({meta['channels']}x{meta['height']}x{meta['width']} "
            f"images → {len(meta['vocab'])} {meta['level']} tokens, condition "
            f"{config.model.condition}) on {config.data.path or DEMO}: {len(splits['train'])} "
            f"training, {len(splits['valid'])} validation images"
        )
        return Prepared(task, self.build_model(config, meta), meta, digest.hexdigest(), description)

    def build_model(self, config: CaptionConfig, meta: dict) -> ImageCaptioner:
        m = config.model
        return ImageCaptioner(
            meta["channels"],
            len(meta["vocab"]),
            channels=m.cnn_channels,
            feature_size=m.feature_size,
            condition=m.condition,
            embedding_dim=m.embedding_dim or 32,
            **m.network_options(),
        )

    def held_out(self, saved: SavedRun, split: str | None = None) -> tuple[str, list[Captioned]]:
        """(name, examples) of the run's test split, else its validation split."""
        splits = self.splits(saved.config, saved.meta)
        name = held_out_name(splits, split)
        return name, splits[name]

    def problem(self, saved: SavedRun, args=None) -> Captioning:
        batch = getattr(args, "batch_size", None) or saved.config.data.batch_size
        return Captioning(saved.meta, batch, beam=getattr(args, "beam", None))

    def finish(self, saved: SavedRun, summary: dict, args: argparse.Namespace) -> None:
        name, examples = self.held_out(saved)
        problem = self.problem(saved)
        with torch.no_grad():
            metrics = problem.evaluate(saved.model, examples)
            shown = examples[:12]
            images = torch.stack([e.image for e in shown])
            outputs = problem.caption(saved.model, images)
        print(
            f"{name} ({metrics['count']} images, greedy): exact match "
            f"{metrics['exact_match']:.4f}, BLEU {metrics['bleu']:.2f}"
        )
        level = saved.meta["level"]
        plot_captions(
            images,
            [join(o, level) for o in outputs],
            [join(e.reference, level) for e in shown],
            saved.run / CAPTIONS_PLOT,
            f"{name}: exact match {metrics['exact_match']:.3f}, BLEU {metrics['bleu']:.1f}",
        )
        print(f"captions of the first {len(shown)} {name} images: {saved.run / CAPTIONS_PLOT}")

    def evaluate(self, saved: SavedRun, args: argparse.Namespace) -> dict:
        data, meta = saved.config.data, saved.meta
        if args.data is not None:
            source = read_images(args.data, data, (meta["height"], meta["width"]))
            name, examples = args.data, self.encode(source, meta, data)
        else:
            name, examples = self.held_out(saved, args.split)
        problem = self.problem(saved, args)
        with torch.no_grad():
            metrics = problem.evaluate(saved.model, examples)
        decoding = f"beam {problem.beam}" if problem.beam else "greedy"
        print(
            f"{name}: exact match {metrics['exact_match']:.4f}, BLEU {metrics['bleu']:.2f} over "
            f"{metrics['count']} images ({decoding})",
            file=sys.stderr,
        )
        return {**metrics, "beam": problem.beam or 1}

    def predict(self, saved: SavedRun, args: argparse.Namespace) -> list[dict]:
        data, meta = saved.config.data, saved.meta
        source = read_images(args.input, data, (meta["height"], meta["width"]), captioned=False)
        self.encode(source, meta, data)  # checks channels and size
        problem = self.problem(saved, args)
        with torch.no_grad():
            outputs = problem.caption(saved.model, source.images)
        return [
            {"item": item, "caption": join(tokens, meta["level"])}
            for item, tokens in zip(source.items, outputs)
        ]


def _subset(source: Images, rows) -> Images:
    rows = list(rows)
    captions = None if source.captions is None else [source.captions[k] for k in rows]
    return Images(
        source.images[rows], captions, [source.places[k] for k in rows],
        [source.items[k] for k in rows],
    )  # fmt: skip


SPEC = Caption()
