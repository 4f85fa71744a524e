"""Attention vs a fixed-size context on date translation as inputs grow (Bahdanau et al. 2015)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from recur.data.dates import SOURCE_VOCAB, TARGET_VOCAB, DateBatch, collate, generate_dates
from recur.experiments.report import Report
from recur.experiments.training import train
from recur.models.seq2seq import Seq2Seq

TITLE = "Attention vs a fixed-size context: date translation"
#: source lengths (characters) of the accuracy buckets: [a, b)
BUCKETS = ((0, 20), (20, 40), (40, 70), (70, 200))
LABELS = {None: "no attention", "luong": "attention (Luong, general)"}
#: accuracy the model without attention must reach on the shortest inputs for the test to count
LEARNED = 0.5
#: initialisation seeds of each model: whether the context-only model learns at all within the
#: budget depends on the seed (one run reached 0.8, another 0.05), so the table shows their mean
SEEDS = (0, 1, 2)


@dataclass(frozen=True)
class DateTask:
    """Half plain dates ("23 nov 2026", 8-30 characters), half hidden in filler (40-110).

    ``sample`` draws a seed from the generator and builds the pairs with
    :func:`recur.data.dates.generate_dates`; the metric is the teacher-forced share of target
    sequences predicted exactly (the final table decodes greedily instead).
    """

    higher_is_better = True

    def sample(self, batch: int, generator: torch.Generator) -> tuple[DateBatch, Tensor]:
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        half = batch // 2
        pairs = generate_dates(half, seed) + generate_dates(batch - half, seed + 1, long=True)
        data = collate(pairs)
        return data, data.target

    def loss(self, logits: Tensor, target: Tensor) -> Tensor:
        return nn.functional.cross_entropy(logits.transpose(1, 2), target, ignore_index=0)

    def metric(self, logits: Tensor, target: Tensor) -> Tensor:
        right = (logits.argmax(-1) == target) | (target == 0)
        return right.all(dim=1).float().mean()


class _TeacherForced(nn.Module):
    """Seq2Seq called on a DateBatch: teacher-forced logits (B, T, V)."""

    def __init__(self, model: Seq2Seq):
        super().__init__()
        self.model = model

    def forward(self, batch: DateBatch) -> Tensor:
        return self.model(batch.source, batch.target, batch.source_lengths).logits


def run(quick: bool = False) -> Report:
    hidden, steps, evaluated = (8, 3, 40) if quick else (64, 3000, 800)
    task = DateTask()
    held_out = generate_dates(evaluated // 2, 777) + generate_dates(
        evaluated - evaluated // 2, 778, long=True
    )
    seeds = SEEDS[:1] if quick else SEEDS
    results = {attention: [] for attention in LABELS}  # per seed: (history, buckets)
    for attention in LABELS:
        for seed in seeds:
            torch.manual_seed(seed)
            model = Seq2Seq(
                len(SOURCE_VOCAB), len(TARGET_VOCAB), cell="gru", hidden_size=hidden,
                embedding_dim=32, attention=attention,
            )  # fmt: skip
            history = train(
                _TeacherForced(model), task, steps=steps, lr=3e-3, batch_size=64, clip=1.0,
                eval_every=max(steps // 10, 1), eval_size=128, threshold=None, seed=seed,
            )  # fmt: skip
            results[attention].append((history, _bucket_accuracy(model, held_out)))
    rows = []
    for attention, runs in results.items():
        cells = []
        for k, (_, n) in enumerate(runs[0][1]):
            accs = [buckets[k][0] for _, buckets in runs]
            spread = f" [{min(accs):.2f}–{max(accs):.2f}]" if len(accs) > 1 else ""
            cells.append(f"{sum(accs) / len(accs):.2f}{spread} ({n})")
        rows.append([LABELS[attention], *cells])
    plain, attended = _mean_buckets(results[None]), _mean_buckets(results["luong"])
    gap_short = attended[0][0] - plain[0][0]
    gap_long = attended[-1][0] - plain[-1][0]
    learned = plain[0][0] >= LEARNED
    supported = learned and gap_long > 0.1 and gap_long > gap_short
    return Report(
        name="attention",
        title=TITLE,
        claim=(
            "A fixed-size context vector becomes a bottleneck as the input grows; attention "
            "over the encoder's outputs relieves it (seeds 6.2.7: “当要翻译的句子较长时，"
            "一个c可能存不下那么多信息”; Bahdanau et al. 2015)."
        ),
        setup=(
            "recur.data.dates pairs (many surface forms and four languages → YYYY-MM-DD); half "
            "of every batch plain dates, half hidden in 15-40 characters of filler on each side. "
            f"recur.models.Seq2Seq with a GRU encoder and decoder, hidden {hidden}, embeddings "
            "32, the summary as the decoder's initial state; with and without Luong (general) "
            f"attention. Adam lr 3e-3, batch 64, clip 1.0, {steps} steps, seeds "
            f"{', '.join(map(str, seeds))} (initialisation and batches). Exact-match accuracy of "
            f"greedy decoding on {evaluated} held-out pairs, bucketed by source length: the mean "
            "over seeds [min–max] (pairs per bucket in brackets)."
        ),
        columns=["model", *(f"source {a}-{b - 1} chars" for a, b in BUCKETS)],
        rows=rows,
        contradiction=(
            "Attention's accuracy advantage on the longest inputs at most 0.1, or no larger "
            "than on the shortest inputs (no bottleneck that grows with length). The test only "
            f"counts if the model without attention learns the short inputs (accuracy ≥ "
            f"{LEARNED:g} there); otherwise it is reported as not supported."
        ),
        supported=supported,
        verdict=(
            f"Mean exact-match accuracy over {len(seeds)} seed(s) from the shortest to the "
            "longest bucket: no attention "
            + " / ".join(f"{acc:.2f}" for acc, _ in plain)
            + ", attention "
            + " / ".join(f"{acc:.2f}" for acc, _ in attended)
            + "; attention's advantage "
            + " / ".join(f"{a[0] - p[0]:.2f}" for a, p in zip(attended, plain))
            + "."
            + (
                " The advantage grows by less than 0.1 from the shortest to the longest inputs: "
                "within the spread between seeds, so the length effect itself is weak evidence."
                if supported and gap_long - gap_short < 0.1
                else ""
            )
        ),
        figure=_figure(results),
        notes=[
            "The encoder is unidirectional, as in the classic encoder-decoder.",
            "Longer sources here add filler, not information: the date itself stays 8-30 "
            "characters. The test therefore probes carrying a fixed amount of information over "
            "a growing distance, not fitting more information into the context vector.",
        ],
        quick=quick,
    )


def _mean_buckets(runs) -> list[tuple[float, int]]:
    """Per bucket: the mean accuracy over seeds and the bucket's count."""
    return [
        (sum(buckets[k][0] for _, buckets in runs) / len(runs), n)
        for k, (_, n) in enumerate(runs[0][1])
    ]


def _bucket_accuracy(model: Seq2Seq, pairs) -> list[tuple[float, int]]:
    """Greedy exact-match accuracy and count per source-length bucket."""
    model.eval()
    batch = collate(pairs)
    hyp = model.greedy(batch.source, batch.source_lengths, max_length=batch.target.shape[1] + 1)
    right = [TARGET_VOCAB.decode(tokens) == p.target for tokens, p in zip(hyp.tokens, pairs)]
    out = []
    for low, high in BUCKETS:
        inside = [r for r, p in zip(right, pairs) if low <= len(p.source) < high]
        out.append((sum(inside) / len(inside) if inside else float("nan"), len(inside)))
    return out


def _figure(results: dict) -> Figure:
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    centres = [f"{a}-{b - 1}" for a, b in BUCKETS]
    for (attention, runs), color in zip(results.items(), ("tab:blue", "tab:orange")):
        for k, (history, buckets) in enumerate(runs):
            label = LABELS[attention] if k == 0 else None
            left.plot(history.eval_steps, history.metrics, color=color, label=label, alpha=0.8)
            right.plot(centres, [a for a, _ in buckets], "o-", color=color, alpha=0.35)
        right.plot(centres, [a for a, _ in _mean_buckets(runs)], "o-", color=color, linewidth=2,
                   label=f"{LABELS[attention]} (mean)")  # fmt: skip
    left.set_xlabel("training step")
    left.set_ylabel("teacher-forced exact match")
    left.legend(fontsize=8)
    right.set_xlabel("source length (characters)")
    right.set_ylabel("greedy exact-match accuracy")
    right.set_ylim(0, 1.02)
    right.legend(fontsize=8)
    return fig
