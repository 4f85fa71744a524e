"""Labelled spans of BIO tag sequences and their precision / recall / F1, as conlleval counts them.

Tags are ``O`` or ``B-TYPE`` / ``I-TYPE`` (IOB2; IOB1, where ``B-`` only separates two adjacent
spans of one type, reads the same way). A span is (start, end, type) over tokens [start, end).
Boundaries follow conlleval (CoNLL-2000's ``startOfChunk`` / ``endOfChunk``), which also accepts
ill-formed sequences:

    a span starts at  B-x;  I-x after O;  I-x after a tag of another type (B-y or I-y)
    a span ends before  O;  B-x;  any tag of another type;  the end of the sentence

so ``O I-PER I-PER`` is one PER span over tokens 1-2 and ``B-PER I-LOC`` two spans of one token.
A predicted span is correct only when a gold span has the same type, start and end; then

    precision = correct / predicted spans,  recall = correct / gold spans,
    F1 = 2 P R / (P + R)   (0 when P + R = 0).

Example::

    spans(["B-PER", "I-PER", "O", "B-LOC"])   # [(0, 2, "PER"), (3, 4, "LOC")]
    span_scores([["B-PER", "O"]], [["B-PER", "I-PER"]])["f1"]   # 0.0: the end differs
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

Span = tuple[int, int, str]


def is_bio(tags: Iterable[str]) -> bool:
    """True when every tag is ``O`` or ``B-TYPE`` / ``I-TYPE`` with a non-empty type."""
    return all(tag == "O" or (tag[:2] in ("B-", "I-") and len(tag) > 2) for tag in tags)


def spans(tags: Sequence[str]) -> list[Span]:
    """The (start, end, type) spans of one sentence's BIO tags, in order (conlleval's rules)."""
    found: list[Span] = []
    start, kind = None, None  # the open span
    for k, tag in enumerate(tags):
        prefix, _, this = tag.partition("-")
        if tag == "O":
            prefix, this = "O", None
        opens = prefix == "B" or (prefix == "I" and this != kind)
        if start is not None and (prefix in ("O", "B") or this != kind):
            found.append((start, k, kind))
            start, kind = None, None
        if opens:
            start, kind = k, this
    if start is not None:
        found.append((start, len(tags), kind))
    return found


def span_counts(predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> Counter:
    """Per-type counts {("correct"|"predicted"|"gold", type): n} over paired sentences."""
    counts: Counter = Counter()
    for k, (p, g) in enumerate(zip(predicted, gold, strict=True)):
        if len(p) != len(g):
            raise ValueError(f"sentence {k}: {len(p)} predicted tags for {len(g)} gold tags")
        p_spans, g_spans = set(spans(p)), set(spans(g))
        for name, group in (
            ("predicted", p_spans),
            ("gold", g_spans),
            ("correct", p_spans & g_spans),
        ):
            counts.update((name, kind) for _, _, kind in group)
    return counts


def prf(correct: int, predicted: int, gold: int) -> dict[str, float]:
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    total = precision + recall
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / total if total else 0.0,
    }


def span_scores(predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> dict:
    """Overall span precision, recall, F1 and the counts of gold, predicted and correct spans."""
    counts = span_counts(predicted, gold)
    total = {name: sum(n for (what, _), n in counts.items() if what == name)
             for name in ("correct", "predicted", "gold")}  # fmt: skip
    return {**prf(total["correct"], total["predicted"], total["gold"]), **total}


def scores_by_type(
    predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]
) -> dict[str, dict[str, float]]:
    """{type: {"precision", "recall", "f1", "gold"}} for every type in either side."""
    counts = span_counts(predicted, gold)
    kinds = sorted({kind for _, kind in counts})
    return {
        kind: {
            **prf(counts["correct", kind], counts["predicted", kind], counts["gold", kind]),
            "gold": counts["gold", kind],
        }
        for kind in kinds
    }
