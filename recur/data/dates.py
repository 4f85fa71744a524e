"""Date translation pairs: dates written many ways, in four languages, to ISO 8601.

Every pair maps a surface form to ``YYYY-MM-DD``::

    "23 November 2026", "Nov 23, 2026", "23/11/2026", "monday, 23 nov 26"   -> "2026-11-23"
    "23. November 2026", "Montag, 23. November 2026"                        (German)
    "23 novembre 2026", "lundi 23 novembre 2026", "le 1er mars 2026"       (French)
    "23 de noviembre de 2026"                                               (Spanish)

Dates are uniform over 1950-01-01 .. 2049-12-31; a two-digit year ``yy`` means 20yy when yy < 50
and 19yy otherwise. Casing varies (lower, Title, UPPER); weekdays always match the date.
``long=True`` hides the date inside a sentence of filler words (no digits, no month names) before
and after it: the encoder must carry it across 15-40 characters, which a fixed-size summary does
badly and attention does easily.

Each pair records the character spans of its day, month and year fields in the source, so a
trained model's attention can be checked against them. Everything is seeded by ``random.Random``.

Example::

    pairs = generate_dates(1000, seed=0)
    batch = collate(pairs)        # source (B, S), source_lengths (B,), target (B, 11) with EOS
    pairs[0].source, pairs[0].target, pairs[0].spans["year"]
"""

from __future__ import annotations

import datetime
import random
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import Tensor


def _words(table: dict[str, str]) -> dict[str, list[str]]:
    return {language: text.split() for language, text in table.items()}


MONTHS = _words(
    {
        "en": "january february march april may june july august september october november "
        "december",
        "de": "januar februar märz april mai juni juli august september oktober november dezember",
        "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre "
        "décembre",
        "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre "
        "diciembre",
    }
)
MONTHS_SHORT = _words(
    {
        "en": "jan feb mar apr may jun jul aug sep oct nov dec",
        "de": "jan. feb. märz apr. mai juni juli aug. sep. okt. nov. dez.",
        "fr": "janv. févr. mars avr. mai juin juil. août sept. oct. nov. déc.",
    }
)
WEEKDAYS = _words(  # Monday first, as datetime.date.weekday()
    {
        "en": "monday tuesday wednesday thursday friday saturday sunday",
        "de": "montag dienstag mittwoch donnerstag freitag samstag sonntag",
        "fr": "lundi mardi mercredi jeudi vendredi samedi dimanche",
        "es": "lunes martes miércoles jueves viernes sábado domingo",
    }
)
FILLER = _words(
    {
        "en": "please note that the team meeting with our new partners has been moved and will "
        "now be held on the following day at the usual place unless somebody objects before then "
        "so kindly let us know whether you can attend or send a colleague instead thank you all"
    }
)["en"]

# Surface forms as templates. Placeholders: {d} day, {dd} day zero-padded at random, {DD} day
# zero-padded, {dth} English ordinal, {d.fr} French day ("1er" for the first), {mm} month number
# zero-padded at random, {MM} zero-padded, {month.xx} / {mon.xx} month name / abbreviation in
# language xx, {weekday.xx}, {yyyy}, {yy} (two-digit year). Other text is copied.
FORMS = {
    "en_dmy": "{dd} {month.en} {yyyy}",
    "en_mdy": "{month.en} {d}, {yyyy}",
    "en_mdy_short": "{mon.en} {d}, {yyyy}",
    "en_dmy_short": "{d} {mon.en} {yyyy}",
    "en_ordinal": "{dth} of {month.en} {yyyy}",
    "en_weekday": "{weekday.en}, {d} {month.en} {yyyy}",
    "en_weekday_short": "{weekday.en}, {d} {mon.en} {yy}",
    "en_weekday_mdy": "{weekday.en}, {month.en} {d}, {yyyy}",
    "slash": "{dd}/{mm}/{yyyy}",
    "dot": "{dd}.{mm}.{yyyy}",
    "dash": "{dd}-{mm}-{yyyy}",
    "slash_short": "{dd}/{mm}/{yy}",
    "dot_short": "{dd}.{mm}.{yy}",
    "year_first": "{yyyy}/{mm}/{dd}",
    "iso": "{yyyy}-{MM}-{DD}",
    "de": "{d}. {month.de} {yyyy}",
    "de_short": "{d}. {mon.de} {yyyy}",
    "de_weekday": "{weekday.de}, {d}. {month.de} {yyyy}",
    "fr": "{d.fr} {month.fr} {yyyy}",
    "fr_weekday": "{weekday.fr} {d.fr} {month.fr} {yyyy}",
    "fr_short": "le {d.fr} {mon.fr} {yyyy}",
    "es": "{d} de {month.es} de {yyyy}",
    "es_weekday": "{weekday.es}, {d} de {month.es} de {yyyy}",
}
CASINGS = (str.lower, str.title, str.upper)
FIRST_DAY, LAST_DAY = datetime.date(1950, 1, 1), datetime.date(2049, 12, 31)


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _maybe_padded(number: int, rng: random.Random) -> str:
    return f"{number:02d}" if rng.random() < 0.5 else str(number)


def _placeholder(name: str, date: datetime.date, rng: random.Random) -> tuple[str, str | None]:
    """The text of one placeholder and the field ("day", "month", "year" or None) it spells."""
    kind, _, language = name.partition(".")
    if kind == "month":
        return MONTHS[language][date.month - 1], "month"
    if kind == "mon":
        return MONTHS_SHORT[language][date.month - 1], "month"
    if kind == "weekday":
        return WEEKDAYS[language][date.weekday()], None
    if kind == "d":
        return ("1er" if language == "fr" and date.day == 1 else str(date.day)), "day"
    return {
        "dd": lambda: (_maybe_padded(date.day, rng), "day"),
        "DD": lambda: (f"{date.day:02d}", "day"),
        "dth": lambda: (_ordinal(date.day), "day"),
        "mm": lambda: (_maybe_padded(date.month, rng), "month"),
        "MM": lambda: (f"{date.month:02d}", "month"),
        "yyyy": lambda: (str(date.year), "year"),
        "yy": lambda: (f"{date.year % 100:02d}", "year"),
    }[kind]()


def _render(
    template: str, date: datetime.date, rng: random.Random, casing: Callable[[str], str]
) -> tuple[str, dict[str, tuple[int, int]]]:
    """Fill ``template``; return the text and each field's (start, end) in it."""
    text, spans = "", {}
    # re.split with a group alternates literal text (even indices) and placeholder names.
    for index, piece in enumerate(re.split(r"\{([\w.]+)\}", template)):
        field = None
        if index % 2:
            piece, field = _placeholder(piece, date, rng)
        piece = casing(piece)
        if field is not None:
            spans[field] = (len(text), len(text) + len(piece))
        text += piece
    return text, spans


class DatePair(NamedTuple):
    """One example: ``source`` text, ISO ``target``, and each field's (start, end) in source."""

    source: str
    target: str
    spans: dict[str, tuple[int, int]]
    form: str


class CharVocab:
    """Characters to ids with PAD = 0, BOS = 1, EOS = 2 first.

    Example::

        vocab = CharVocab("0123456789-")
        vocab.encode("2026-11-23")      # [4, 5, 4, 9, 3, ...]
        vocab.decode([4, 5, 2, 7])      # "20" (stops at EOS)
    """

    PAD, BOS, EOS = 0, 1, 2
    SPECIALS = ("<pad>", "<bos>", "<eos>")

    def __init__(self, chars: str):
        self.itos = list(self.SPECIALS) + sorted(set(chars))
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        unknown = sorted(set(text) - set(self.itos[len(self.SPECIALS) :]))
        if unknown:
            raise ValueError(f"text: characters {unknown} are not in the vocabulary")
        return [self.stoi[c] for c in text]

    def decode(self, ids) -> str:
        """Text of ``ids`` up to the first EOS, skipping PAD and BOS."""
        out = []
        for i in (int(i) for i in ids):
            if i == self.EOS:
                break
            if i >= len(self.SPECIALS):
                out.append(self.itos[i])
        return "".join(out)


def _alphabet() -> str:
    literals = [text for form in FORMS.values() for text in re.split(r"\{[\w.]+\}", form)]
    words = [w for table in (MONTHS, MONTHS_SHORT, WEEKDAYS) for ws in table.values() for w in ws]
    text = "".join(literals + words + FILLER) + " 0123456789 st nd rd th er"  # ordinals, "1er"
    return "".join(sorted({c for casing in CASINGS for c in casing(text)}))


SOURCE_VOCAB = CharVocab(_alphabet())
TARGET_VOCAB = CharVocab("0123456789-")


def _filler(rng: random.Random, low: int, high: int) -> str:
    """Random filler words totalling between ``low`` and about ``high`` characters."""
    target, words = rng.randint(low, high), []
    while sum(len(w) + 1 for w in words) < target:
        words.append(rng.choice(FILLER))
    return " ".join(words)


def generate_dates(
    count: int, seed: int = 0, *, long: bool = False, forms: Sequence[str] | None = None
) -> list[DatePair]:
    """``count`` random date pairs; ``forms`` restricts the surface forms (names of ``FORMS``).

    ``long=True`` wraps each date as "<filler> <date> <filler>" with 15-40 filler characters on
    each side.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count: expected an int >= 0, got {count!r}")
    names = list(FORMS) if forms is None else list(forms)
    for form in names:
        if form not in FORMS:
            raise ValueError(f"forms: expected names from {sorted(FORMS)}, got {form!r}")
    rng = random.Random(seed)
    span = (LAST_DAY - FIRST_DAY).days
    pairs = []
    for _ in range(count):
        date = FIRST_DAY + datetime.timedelta(days=rng.randint(0, span))
        form = rng.choice(names)
        text, spans = _render(FORMS[form], date, rng, rng.choice(CASINGS))
        if long:
            prefix = _filler(rng, 15, 40) + " "
            text = prefix + text + " " + _filler(rng, 15, 40)
            spans = {k: (a + len(prefix), b + len(prefix)) for k, (a, b) in spans.items()}
        pairs.append(DatePair(text, date.isoformat(), spans, form))
    return pairs


class DateBatch(NamedTuple):
    """source (B, S) ids padded with PAD; source_lengths (B,); target (B, T) ids ending in EOS."""

    source: Tensor
    source_lengths: Tensor
    target: Tensor


def collate(
    pairs: Sequence[DatePair],
    source_vocab: CharVocab = SOURCE_VOCAB,
    target_vocab: CharVocab = TARGET_VOCAB,
) -> DateBatch:
    """Encode and pad a list of pairs into a :class:`DateBatch` (padding at the end)."""
    if not pairs:
        raise ValueError("pairs: expected at least one pair, got an empty sequence")
    sources = [source_vocab.encode(p.source) for p in pairs]
    targets = [target_vocab.encode(p.target) + [target_vocab.EOS] for p in pairs]
    return DateBatch(
        _pad(sources, source_vocab.PAD),
        torch.tensor([len(s) for s in sources]),
        _pad(targets, target_vocab.PAD),
    )


def _pad(rows: list[list[int]], pad: int) -> Tensor:
    out = torch.full((len(rows), max(len(r) for r in rows)), pad, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row)
    return out
