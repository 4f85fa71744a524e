"""The date-translation generator: seeded, correct targets, field spans, vocabularies, batches."""

import datetime
import re

import pytest
import torch

from recur.data.dates import (
    FORMS,
    MONTHS,
    MONTHS_SHORT,
    SOURCE_VOCAB,
    TARGET_VOCAB,
    WEEKDAYS,
    CharVocab,
    collate,
    generate_dates,
)

MONTH_BY_NAME = {
    name: number
    for table in (MONTHS, MONTHS_SHORT)
    for names in table.values()
    for number, name in enumerate(names, start=1)
}


def parse_fields(pair):
    """The date that the source's day, month and year spans spell."""
    text = {field: pair.source[a:b].lower() for field, (a, b) in pair.spans.items()}
    day = int(re.match(r"\d+", text["day"]).group())
    month = int(text["month"]) if text["month"].isdigit() else MONTH_BY_NAME[text["month"]]
    year = int(text["year"])
    if len(text["year"]) == 2:
        year += 2000 if year < 50 else 1900
    return datetime.date(year, month, day)


def test_seeded_and_deterministic():
    assert generate_dates(50, seed=3) == generate_dates(50, seed=3)
    assert generate_dates(50, seed=3) != generate_dates(50, seed=4)
    assert generate_dates(50, seed=3, long=True) == generate_dates(50, seed=3, long=True)


def test_month_names_are_unambiguous_across_languages():
    seen = {}
    for table in (MONTHS, MONTHS_SHORT):
        for names in table.values():
            for number, name in enumerate(names, start=1):
                assert seen.setdefault(name, number) == number, name


@pytest.mark.parametrize("long", [False, True])
def test_targets_are_iso_dates_that_the_field_spans_spell(long):
    pairs = generate_dates(3000, seed=0, long=long)
    assert {p.form for p in pairs} == set(FORMS)
    for pair in pairs:
        date = datetime.date.fromisoformat(pair.target)
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", pair.target)
        assert datetime.date(1950, 1, 1) <= date <= datetime.date(2049, 12, 31)
        assert parse_fields(pair) == date, pair
        words = re.findall(r"[^\W\d_]+", pair.source.lower())
        weekdays = [w for w in words if any(w in names for names in WEEKDAYS.values())]
        for weekday in weekdays:  # a weekday, when written, is the date's own
            assert any(names[date.weekday()] == weekday for names in WEEKDAYS.values()), pair


def test_surface_forms_cover_the_languages_and_casings():
    sources = [p.source for p in generate_dates(2000, seed=1)]
    for example in ("novembre", "november", "noviembre", "de", "."):
        assert any(example in s.lower() for s in sources)
    assert any(s.isupper() for s in sources) and any(s.islower() for s in sources)
    assert any(re.fullmatch(r"\d{1,2}/\d{1,2}/\d{2}", s) for s in sources)  # two-digit years


def test_long_inputs_hide_the_date_between_filler_words():
    short = generate_dates(500, seed=2)
    long = generate_dates(500, seed=2, long=True)
    assert sum(len(p.source) for p in long) > 2.5 * sum(len(p.source) for p in short)
    for pair in long:
        start = min(a for a, _ in pair.spans.values())
        end = max(b for _, b in pair.spans.values())
        assert start >= 15 and len(pair.source) - end >= 15
        assert not re.search(r"\d", pair.source[:start] + pair.source[end:])


def test_vocabularies_round_trip():
    pairs = generate_dates(500, seed=5, long=True)
    for pair in pairs:
        assert SOURCE_VOCAB.decode(SOURCE_VOCAB.encode(pair.source)) == pair.source
    assert TARGET_VOCAB.decode(TARGET_VOCAB.encode("2026-11-23") + [2, 5, 6]) == "2026-11-23"
    assert len(TARGET_VOCAB) == 14
    assert SOURCE_VOCAB.itos[:3] == ["<pad>", "<bos>", "<eos>"]
    with pytest.raises(ValueError, match=r"text: characters \['x'\] are not in the vocabulary"):
        CharVocab("0123").encode("01x")


def test_collate_pads_at_the_end_and_appends_eos():
    pairs = generate_dates(6, seed=7)
    batch = collate(pairs)
    assert batch.source.shape == (6, max(len(p.source) for p in pairs))
    assert batch.target.shape == (6, 11)
    assert (batch.target[:, -1] == TARGET_VOCAB.EOS).all()
    for row, pair in enumerate(pairs):
        length = int(batch.source_lengths[row])
        assert length == len(pair.source)
        assert SOURCE_VOCAB.decode(batch.source[row, :length]) == pair.source
        assert (batch.source[row, length:] == SOURCE_VOCAB.PAD).all()
        assert TARGET_VOCAB.decode(batch.target[row]) == pair.target
    assert batch.source.dtype == batch.target.dtype == torch.int64


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"count: expected an int >= 0, got -1"):
        generate_dates(-1)
    with pytest.raises(ValueError, match=r"forms: expected names from \[.*\], got 'klingon'"):
        generate_dates(3, forms=["en_dmy", "klingon"])
    with pytest.raises(ValueError, match=r"pairs: expected at least one pair"):
        collate([])
    assert {p.form for p in generate_dates(20, forms=["iso"])} == {"iso"}
