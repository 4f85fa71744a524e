"""Generated DNA with a planted motif: does this sequence contain (a variant of) the motif?

Every sequence is 40-80 random bases whose GC content g is drawn per sequence from U(0.3, 0.7)
(P(G) = P(C) = g/2, P(A) = P(T) = (1-g)/2), the same for both classes, with a sprinkle of ``N``
(0.5 % of positions, unknown bases). The random bases are redrawn until no window of them lies
within 2 mismatches (``EXCLUDED``) of the motif. A positive ("motif") sequence then gets the
8-mer ``TGACGTCA`` (the cAMP response element: a palindrome, the same on both strands, and 50 %
GC like the mean background) at a uniformly random position with 0 or 1 point mutation
(``MUTATIONS``); a negative ("background") sequence is left as drawn. So the label is exactly
"some window matches the motif at 7 or more of its 8 positions", with a margin (no negative
window matches 6), a perfect classifier exists, and composition alone (GC content, length) says
nothing; a positive has one such window, the planted one.

Example::

    demo = planted_motifs(1000, seed=0)
    demo.sequences[0], demo.labels[0], demo.starts[0]   # "ACGN...", "motif", 37 (None if negative)
"""

from __future__ import annotations

import random
from dataclasses import dataclass

MOTIF = "TGACGTCA"
LABELS = ("background", "motif")
MUTATIONS = 1  # at most, in a planted copy
EXCLUDED = 2  # background windows this close to the motif (mismatches) are redrawn
N_RATE = 0.005


@dataclass(frozen=True)
class PlantedMotifs:
    sequences: list[str]
    labels: list[str]
    starts: list[int | None]  # the motif's first position in positives, None in negatives
    motif: str


def _background(rng: random.Random, length: int) -> list[str]:
    gc = rng.uniform(0.3, 0.7)
    weights = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
    bases = rng.choices("ACGT", weights, k=length)
    return ["N" if rng.random() < N_RATE else b for b in bases]


def variants(motif: str = MOTIF, mismatches: int = EXCLUDED) -> frozenset[str]:
    """Every string over A, C, G, T, N that differs from ``motif`` at most at ``mismatches``
    positions (N always counts as a mismatch)."""
    found = {motif}
    for _ in range(mismatches):
        found |= {
            v[:k] + letter + v[k + 1 :] for v in found for k in range(len(v)) for letter in "ACGTN"
        }
    return frozenset(v for v in found if sum(a != b for a, b in zip(v, motif)) <= mismatches)


def near_motif(sequence: str, near: frozenset[str], size: int) -> bool:
    """Whether some ``size``-window of ``sequence`` is in ``near`` (see :func:`variants`)."""
    return any(sequence[k : k + size] in near for k in range(len(sequence) - size + 1))


def _mutate(rng: random.Random, motif: str) -> str:
    letters = list(motif)
    for position in rng.sample(range(len(motif)), rng.randint(0, MUTATIONS)):
        letters[position] = rng.choice([b for b in "ACGT" if b != letters[position]])
    return "".join(letters)


def planted_motifs(
    count: int, seed: int = 0, length: tuple[int, int] = (40, 80), motif: str = MOTIF
) -> PlantedMotifs:
    """``count`` sequences, half of each class in random order (see the module docstring)."""
    rng = random.Random(seed)
    near = variants(motif)
    sequences, labels, starts = [], [], []
    for _ in range(count):
        positive = rng.random() < 0.5
        size = rng.randint(*length)
        while True:
            bases = _background(rng, size)
            if not near_motif("".join(bases), near, len(motif)):
                break
        start = None
        if positive:
            start = rng.randrange(size - len(motif) + 1)
            bases[start : start + len(motif)] = _mutate(rng, motif)
        sequences.append("".join(bases))
        labels.append(LABELS[positive])
        starts.append(start)
    return PlantedMotifs(sequences, labels, starts, motif)
