"""A generated named-entity corpus (persons, locations, organisations) whose tags need context.

Sentences come from about twenty templates ("{PER} met {PER} in {LOC} .") whose slots are filled
from fixed lists and tagged in IOB2 (``B-PER I-PER``, ``B-LOC``, ``B-ORG I-ORG I-ORG``, ``O``).
Three things make the words alone insufficient, so that a tagger has to read the context:

- ambiguous names: Paris, Florence, Austin, Jordan, Sydney, Houston, Lincoln... are first names
  or surnames in one sentence and cities in another ("Austin met Paris in Jordan .");
- cities inside organisations: "Bank of Madrid", "Lima Holdings" are one ORG span, while
  "Madrid" alone is a LOC;
- unseen names: a fifth of the unambiguous first names, surnames and cities (every fifth entry)
  never occur in training (``unseen=False``), so held-out sentences contain words the model has
  only ever seen as ``<unk>`` (see the tagger's word dropout), recognisable only by context.

Example::

    sentences = generate_entities(1000, seed=0, unseen=False)    # training: no held-out names
    tokens, tags = sentences[0]       # ["Austin", "Lee", "met", ...], ["B-PER", "I-PER", "O", ...]
"""

from __future__ import annotations

import random

FIRST = ["Anna", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hugo", "Irene", "Jonas",
         "Karin", "Luis", "Maria", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Samir", "Tomas",
         "Ursula", "Viktor", "Wendy", "Yusuf", "Zoe", "Marta", "Kenji", "Leila", "Pavel",
         "Ines"]  # fmt: skip
LAST = ["Smith", "Garcia", "Novak", "Okafor", "Tanaka", "Muller", "Rossi", "Kowalski", "Silva",
        "Nguyen", "Haddad", "Larsen", "Petrov", "Moreau", "Brennan", "Costa", "Fischer", "Ivanova",
        "Mendes", "Schmidt", "Keller", "Duarte", "Berg", "Walsh", "Romero"]  # fmt: skip
CITIES = ["Madrid", "Berlin", "Lima", "Oslo", "Cairo", "Kyoto", "Toronto", "Vienna", "Lagos",
          "Prague", "Lisbon", "Dublin", "Quito", "Hanoi", "Nairobi", "Porto", "Geneva", "Krakow",
          "Seville", "Tunis", "New York", "San Diego", "Buenos Aires", "Hong Kong", "Cape Town",
          "Rio de Janeiro", "Los Angeles", "Kuala Lumpur"]  # fmt: skip
#: words that are person names in some sentences and cities in others
AMBIGUOUS_FIRST = ["Paris", "Florence", "Austin", "Jordan", "Sydney", "Victoria", "Dallas",
                   "Adelaide", "Orlando", "Georgia"]  # fmt: skip
AMBIGUOUS_LAST = ["Houston", "Lincoln", "Washington", "Jackson", "Hamilton", "Charlotte"]
ORGS = ["Globex", "Initech", "Acme Corp", "Umbrella Group", "Stark Industries", "Hooli",
        "Wayne Enterprises", "Vandelay Imports", "Soylent", "Cyberdyne Systems", "Tyrell Corp",
        "Nakatomi Trading", "Oceanic Airlines", "Gringotts", "Monarch Solutions"]  # fmt: skip
ORG_PATTERNS = ["Bank of {city}", "{city} Holdings", "{last} Motors", "University of {city}",
                "{last} and Partners", "{city} Telecom"]  # fmt: skip
TITLES = ["Mr.", "Ms.", "Dr.", "Professor"]
TEMPLATES = [
    "{PER} met {PER} in {LOC} .",
    "{PER} works for {ORG} in {LOC} .",
    "{ORG} opened an office in {LOC} on Monday .",
    "{PER} flew from {LOC} to {LOC} last week .",
    "the {ORG} chief {PER} said sales rose in {LOC} .",
    "{PER} was born in {LOC} in May .",
    "{LOC} is two hours from {LOC} by train .",
    "{PER} joined {ORG} last year .",
    "analysts at {ORG} expect growth in {LOC} .",
    "{PER} and {PER} visited the {ORG} headquarters .",
    "according to {PER} , {ORG} will hire in {LOC} .",
    "shares of {ORG} fell after {PER} resigned .",
    "{PER} lives in {LOC} with {PER} .",
    "a spokesman for {ORG} declined to comment .",
    "the weather in {LOC} was mild on Friday .",
    "{PER} said {PER} would call from {LOC} .",
    "{ORG} bought {ORG} for two billion dollars .",
    "thank you , {PER} .",
    "we drove to {LOC} to see {PER} .",
    "{PER} , a lawyer from {LOC} , sued {ORG} .",
    "{PER} told reporters in {LOC} that {ORG} is fine .",
    "talks between {ORG} and {ORG} ended in {LOC} .",
]
TYPES = ("PER", "LOC", "ORG")


def _seen(names: list[str]) -> list[str]:
    """The names that training sentences use: all but every fifth."""
    return [name for k, name in enumerate(names) if k % 5 != 4]


class _Lists:
    """The name lists one split draws from."""

    def __init__(self, unseen: bool):
        pick = list if unseen else _seen
        self.first = pick(FIRST) + AMBIGUOUS_FIRST
        self.last = pick(LAST) + AMBIGUOUS_LAST
        self.cities = pick(CITIES) + AMBIGUOUS_FIRST + AMBIGUOUS_LAST


def _person(rng: random.Random, lists: _Lists) -> tuple[list[str], list[str]]:
    """(title or nothing, the name): a first name, a full name, or a title and a surname."""
    form = rng.random()
    if form < 0.2:
        return [rng.choice(TITLES)], [rng.choice(lists.last)]
    name = [rng.choice(lists.first)] + ([rng.choice(lists.last)] if form < 0.65 else [])
    return ([rng.choice(TITLES)] if rng.random() < 0.1 else []), name


def _organisation(rng: random.Random, lists: _Lists) -> list[str]:
    if rng.random() < 0.6:
        return rng.choice(ORGS).split()
    pattern = rng.choice(ORG_PATTERNS)
    return pattern.format(city=rng.choice(lists.cities), last=rng.choice(lists.last)).split()


def _fill(slot: str, rng: random.Random, lists: _Lists) -> tuple[list[str], list[str]]:
    """The tokens and tags of one slot."""
    prefix: list[str] = []  # a title, outside the span
    if slot == "PER":
        prefix, words = _person(rng, lists)
    elif slot == "LOC":
        words = rng.choice(lists.cities).split()
    else:
        words = _organisation(rng, lists)
    tags = [f"B-{slot}"] + [f"I-{slot}"] * (len(words) - 1)
    return prefix + words, ["O"] * len(prefix) + tags


def generate_entities(
    count: int, seed: int = 0, unseen: bool = True
) -> list[tuple[list[str], list[str]]]:
    """``count`` (tokens, IOB2 tags) sentences; ``unseen`` False leaves out the held-out names."""
    rng = random.Random(seed)
    lists = _Lists(unseen)
    sentences = []
    for _ in range(count):
        tokens: list[str] = []
        tags: list[str] = []
        for word in rng.choice(TEMPLATES).split():
            if word.startswith("{"):
                more_tokens, more_tags = _fill(word[1:-1], rng, lists)
            else:
                more_tokens, more_tags = [word], ["O"]
            tokens += more_tokens
            tags += more_tags
        tokens[0] = tokens[0][0].upper() + tokens[0][1:]
        sentences.append((tokens, tags))
    return sentences
