"""Varied natural-language captions synthesised from a piece's metadata.

The text encoder learns what words mean musically only if the captions it sees during
training are as varied as the prompts people write: full sentences, terse tag lists,
requests, descriptions, with attributes in any order, with synonyms, and with some
attributes left out. Each builder below produces one such shape from a `PieceRecord`;
every word it uses is true of the piece (tempo words follow the bpm, instrument words the
GM programs, and so on). Output is deterministic for a given `random.Random`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..conditioning.instruments import INSTRUMENT_WORDS, program_name
from ..conditioning.limits import REGIONS
from .records import PieceRecord

# -- vocabularies ------------------------------------------------------------------------
_FORM_NOUNS: dict[str, tuple[str, ...]] = {
    "reel": ("reel", "reel tune"), "jig": ("jig", "jig tune"), "slip jig": ("slip jig",),
    "hornpipe": ("hornpipe", "hornpipe tune"), "strathspey": ("strathspey",),
    "polka": ("polka",), "waltz": ("waltz", "waltz tune"), "march": ("march", "marching tune"),
    "air": ("air", "melody", "tune"), "folk song": ("folk song", "folk melody", "traditional song"),
    "dance": ("dance tune", "dance"), "slide": ("slide",), "mazurka": ("mazurka",),
    "schottische": ("schottische", "barndance"), "country dance": ("country dance",),
    "chorale": ("chorale", "chorale harmonization", "hymn-like chorale"),
    "hymn": ("hymn", "hymn tune"), "madrigal": ("madrigal",),
    "mass movement": ("mass movement", "movement of a mass", "mass setting"),
    "motet": ("motet", "sacred motet"), "chanson": ("chanson",), "ballata": ("ballata",),
    "lied": ("lied", "art song"), "aria": ("aria",),
    "quartet movement": ("string quartet movement", "quartet movement",
                         "movement from a string quartet"),
    "sonata": ("sonata movement", "sonata"), "trio sonata": ("trio sonata",),
    "fugue": ("fugue",), "invention": ("invention",), "piano piece": ("piano piece",),
    "rag": ("rag", "ragtime piece"), "exercise": ("exercise",), "song": ("song",),
}  # fmt: skip
_GENERIC_NOUNS = ("piece", "piece of music")
_KEYBOARDS = frozenset({*range(0, 8), *range(16, 24), 46})  # one instrument even on two staves
_DANCE = frozenset({"reel", "jig", "slip jig", "hornpipe", "strathspey", "polka", "waltz",
                    "dance", "slide", "mazurka", "schottische", "country dance",
                    "march"})  # fmt: skip
_VOCAL = frozenset({"chorale", "hymn", "madrigal", "mass movement", "motet", "chanson",
                    "ballata"})  # fmt: skip
# Broad kinds, for short captions ("dance tune from Ireland", "sacred choral music").
_KIND: dict[str, tuple[str, ...]] = {
    "dance": ("dance tune", "dance music", "traditional dance tune"),
    "folk": ("folk tune", "traditional tune", "folk music"),
    "vocal": ("choral piece", "choral music", "vocal polyphony"),
    "art": ("piece", "classical piece", "composition"),
}
# (upper bpm bound, words). Not derived from limits.TEMPO_WORDS, which gives each word one
# bpm for reading prompts: a caption needs the reverse, every word that is true of a range,
# and a word may describe two neighbouring ranges ("lively", "brisk", "quick"). The words the
# prompt parser knows stay within one range of the bpm it reads them as (tests/data pin it);
# a few it does not know ("unhurried", "driving") add variety. Changing this table changes
# the training captions.
_TEMPO_WORDS: tuple[tuple[float, tuple[str, ...]], ...] = (
    (55, ("very slow", "largo", "grave")),
    (72, ("slow", "adagio", "unhurried")),
    (92, ("moderately slow", "andante", "relaxed", "walking-pace")),
    (112, ("moderate", "moderato", "steady")),
    (136, ("lively", "allegretto", "upbeat", "brisk")),
    (170, ("fast", "allegro", "quick", "brisk", "lively")),
    (1e9, ("very fast", "presto", "quick", "rapid", "driving")),
)
_METER_WORDS: dict[str, tuple[str, ...]] = {
    "4/4": ("in common time", "in 4/4", "in 4/4 time", "four beats to the bar"),
    "2/2": ("in cut time", "in 2/2", "alla breve"),
    "3/4": ("in 3/4", "in triple time", "three beats to the bar", "in 3/4 time"),
    "2/4": ("in 2/4", "in duple time", "two beats to the bar", "in 2/4 time"),
    "6/8": ("in 6/8", "in 6/8 time", "in compound duple time"),
    "9/8": ("in 9/8", "in 9/8 time", "in compound triple time"),
    "12/8": ("in 12/8", "in 12/8 time", "in compound quadruple time"),
}
# Place (PieceRecord.region) -> adjective. limits.REGIONS maps a prompt's words to places; its
# reverse gives the adjective of the places both know (the first word listed for a place:
# "Scottish", not "Scots"). Captions also need the places corpus collections are labelled with
# that prompts do not name (Austria, Poland, Hawaii, ...), and leave out the traditions that
# only prompts name (Celtic, Brittany, Shetland, ...): no corpus source labels a record with
# them, and adding them would change the captions of such a record. Captions are training
# data: the table must not change what is said of any record.
_PROMPT_ONLY_PLACES = frozenset(
    {"Celtic", "Brittany", "Cape Breton", "Shetland", "Appalachia", "Latin America"}
)
_REGION_ADJECTIVES: dict[str, str] = {
    **{
        place: word.title()
        for word, place in reversed(REGIONS.items())  # the first word for a place wins
        if place not in _PROMPT_ONLY_PLACES
    },
    "America": "American", "Austria": "Austrian", "Portugal": "Portuguese",
    "Poland": "Polish", "China": "Chinese", "Netherlands": "Dutch", "Switzerland": "Swiss",
    "Hungary": "Hungarian", "Luxembourg": "Luxembourgish", "Russia": "Russian",
    "Ukraine": "Ukrainian", "Sweden": "Swedish", "Norway": "Norwegian", "Denmark": "Danish",
    "Iceland": "Icelandic", "Belgium": "Belgian", "Romania": "Romanian", "Hawaii": "Hawaiian",
    "Canada": "Canadian", "Bohemia": "Bohemian", "Taiwan": "Taiwanese",
    "Czechoslovakia": "Czech",
}  # fmt: skip
_PLACE_NAMES = {"USA": "the USA", "Netherlands": "the Netherlands"}
_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                 "nine", "ten", "eleven", "twelve")  # fmt: skip
_PREFERRED_WORDS: dict[int, tuple[str, ...]] = {
    0: ("piano",), 6: ("harpsichord",), 19: ("organ", "church organ", "pipe organ"),
    21: ("accordion",), 40: ("violin",), 41: ("viola",), 42: ("cello",),
    46: ("harp",), 52: ("choir",), 53: ("voice",), 71: ("clarinet",), 73: ("flute",),
    78: ("tin whistle", "penny whistle", "whistle"), 110: ("fiddle",),
}  # fmt: skip
_QUARTET = (40, 40, 41, 42)
_VOICE_PROGRAMS = frozenset({52, 53, 54, 85, 91})
_REQUEST_VERBS = ("Write", "Compose", "Generate", "Create", "Play me", "Give me", "Make")


@dataclass
class _Facts:
    """The record's attributes, pre-digested into the words the builders pick from."""

    record: PieceRecord
    rng: random.Random

    def pick(self, options: Sequence[str]) -> str:
        return options[self.rng.randrange(len(options))]

    def maybe(self, p: float) -> bool:
        return self.rng.random() < p

    # -- single attributes ------------------------------------------------------------
    def form(self, avoid: str = "") -> str:
        """A noun for the form; `avoid` drops nouns repeating a word said next to it."""
        f = self.record.form
        nouns = _FORM_NOUNS.get(f, (f,)) if f else _GENERIC_NOUNS
        if f == "chorale" and self.record.voices == 4:
            nouns = (*nouns, "four-part chorale")
        if f == "mass movement" and self._mass_part():
            nouns = (*nouns, self._mass_part())
        fresh = tuple(n for n in nouns if not (avoid and avoid.lower() in n.lower()))
        return self.pick(fresh or nouns)

    def _mass_part(self) -> str:
        words = self.record.title.split()
        first = words[0].strip(",.:").capitalize() if words else ""
        return (
            first if first in ("Kyrie", "Gloria", "Credo", "Sanctus", "Agnus", "Benedictus") else ""
        )

    def kind(self) -> str:
        f = self.record.form
        if f in _DANCE:
            return self.pick(_KIND["dance"])
        if f in ("air", "folk song"):
            return self.pick(_KIND["folk"])
        if f in _VOCAL:
            return self.pick(_KIND["vocal"])
        return self.pick(_KIND["art"])

    def tempo(self) -> str:
        bpm = self.record.tempo
        if bpm is None:
            return ""
        words = next(w for upper, w in _TEMPO_WORDS if bpm < upper)
        return self.pick(words)

    def bpm(self) -> str:
        if self.record.tempo is None:
            return ""
        n = round(self.record.tempo)
        return self.pick((f"{n} bpm", f"about {n} bpm", f"{n} beats per minute", f"around {n} bpm"))

    def key(self, short: bool = False) -> str:
        r = self.record
        if r.key is None:
            return ""
        tonic, family = r.key.split()
        spelled = self.pick((tonic, _spell(tonic)))
        if r.mode:
            options: tuple[str, ...] = (f"{spelled} {r.mode}", f"{r.mode} mode on {spelled}")
            options += () if short else (f"the {r.mode} mode", f"{spelled} {r.mode} mode")
            return self.pick(options)
        options = (f"{spelled} {family}",)
        if not short and family == "major":
            options += (f"the key of {spelled} major",)
        if not short and family == "minor":
            options += (f"the key of {spelled} minor", f"{spelled} minor key")
        return self.pick(options)

    def meter(self) -> str:
        m = self.record.meter
        if not m:
            return ""
        return self.pick(_METER_WORDS.get(m, (f"in {m}", f"in {m} time")))

    def instruments(self) -> str:
        """'fiddle', 'string quartet', 'four voices', 'voice and piano'."""
        progs = self.record.programs
        if not progs:
            return ""
        if tuple(sorted(progs)) == _QUARTET:
            return self.pick(("string quartet", "two violins, viola and cello", "strings"))
        unique = list(dict.fromkeys(progs))
        n = len(progs)
        if len(unique) == 1:
            p = unique[0]
            if p in _VOICE_PROGRAMS and n > 1:
                count = _count(n)
                return self.pick(
                    (f"{count} voices", f"{count}-part choir", "choir", "mixed voices")
                )
            name = self.pick(_instrument_words(p))
            if n == 1:
                return self.pick((name, f"solo {name}")) if p not in _VOICE_PROGRAMS else name
            if p in _KEYBOARDS:
                return name
            return self.pick((name, f"{name} in {_count(n)} parts"))
        names = [self.pick(_instrument_words(p)) for p in unique]
        return _join(names)

    def region(self) -> str:
        return _REGION_ADJECTIVES.get(self.record.region, "")

    def composer(self, short: bool = False) -> str:
        c = self.record.composer
        if not c:
            return ""
        return _surname(c) if short else self.pick((c, _surname(c)))

    def era(self) -> str:
        return str(self.record.extra.get("era", ""))

    def length(self) -> str:
        r = self.record
        options = []
        if r.bars:
            options += [f"{r.bars} bars", f"{r.bars} bars long"]
        if r.duration_s:
            options.append(_duration_words(r.duration_s))
        return self.pick(options) if options else ""


# -- caption builders: each returns one caption or '' -------------------------------------
def _sentence(f: _Facts, full: bool = False) -> str:
    """'A brisk Irish reel in D major for fiddle, in cut time.'"""
    adjectives = [w for w in (f.tempo() if full or f.maybe(0.6) else "",
                              f.region() if full or f.maybe(0.6) else "") if w]  # fmt: skip
    head = " ".join([*adjectives, f.form()])
    tails = []
    if f.record.key and (full or f.maybe(0.7)):
        tails.append(f"in {f.key()}")
    if f.record.programs and (full or f.maybe(0.7)):
        tails.append(f"for {f.instruments()}")
    if f.record.meter and (full or f.maybe(0.5)):
        tails.append(f.meter())
    if f.record.composer and (full or f.maybe(0.6)):
        tails.append(f"by {f.composer()}")
    f.rng.shuffle(tails)
    text = _article(head) + " " + head
    for i, tail in enumerate(tails):
        bare = not tail.startswith(("in ", "for ", "by "))  # 'two beats to the bar'
        text += (", " if i and (bare or f.maybe(0.5)) else " ") + tail
    return _capital(text) + f.pick((".", "", ""))


def _tags(f: _Facts) -> str:
    """'fiddle tune, reel, D major, fast' — a terse, shuffled tag list."""
    instrument = f.instruments()
    if instrument and len(f.record.programs) == 1 and f.maybe(0.4):
        instrument += " tune"
    tags = [f.form(avoid=f.era()), f.key(short=True), f.tempo(), instrument, f.region(), f.era()]
    tags += [f.meter().removeprefix("in ") if f.maybe(0.5) else "", f.composer(short=True)]
    tags = [t for t in tags if t and f.maybe(0.75)]
    if len(tags) < 2:
        tags = [t for t in (f.form(), f.key(short=True), f.instruments()) if t]
    f.rng.shuffle(tags)
    return ", ".join(dict.fromkeys(tags))


def _short(f: _Facts) -> str:
    """'dance tune from Ireland', 'German folk song', 'baroque chorale for organ'."""
    r = f.record
    options: list[str] = []
    if r.region:
        place = _PLACE_NAMES.get(r.region, r.region)
        options += [f"{f.kind()} from {place}", f"{f.region() or r.region} {f.form()}".strip()]
    if f.era():
        options.append(f"{f.era()} {f.form(avoid=f.era())}")
    if r.programs:
        options += [f"{f.form()} for {f.instruments()}", f"{f.instruments()} {f.kind()}"]
    if r.key:
        options.append(f"{f.form()} in {f.key(short=True)}")
    if r.tempo is not None:
        options.append(f"{f.tempo()} {f.form()}")
    return f.pick(options) if options else f.form()


def _request(f: _Facts) -> str:
    """'Compose a slow Irish air in G minor for harp' — what a user might type."""
    words = [f.tempo() if f.maybe(0.5) else "", f.region() if f.maybe(0.5) else "", f.form()]
    head = " ".join(w for w in words if w)
    text = f"{f.pick(_REQUEST_VERBS)} {_article(head)} {head}"
    if f.record.key and f.maybe(0.6):
        text += f" in {f.key()}"
    if f.record.programs and f.maybe(0.6):
        text += f" for {f.instruments()}"
    if f.record.meter and f.maybe(0.3):
        text += f" {f.meter()}"
    if f.record.bars and f.maybe(0.25):
        text += f", {f.record.bars} bars"
    return text


def _descriptive(f: _Facts) -> str:
    """'This hornpipe is in A major and moves at about 160 bpm. It lasts about a minute.'"""
    r = f.record
    clauses = []
    if r.key:
        clauses.append(f"is in {f.key()}")
    if r.tempo is not None:
        clauses.append(f.pick((f"moves at {f.bpm()}", f"has a {f.tempo()} tempo")))
    if r.meter:
        clauses.append(_meter_clause(f.meter(), f))
    f.rng.shuffle(clauses)
    first = f"This {f.form()} " + " and ".join(clauses[:2]) if clauses else f"This is a {f.form()}"
    second = []
    if r.programs:
        second.append(f"It is scored for {f.instruments()}")
    length = f.length()
    if length:
        second.append(f"It is {length}" if "long" in length else f"It lasts {length}")
    if r.composer and f.maybe(0.5):
        second.append(f"It was written by {f.composer()}")
    f.rng.shuffle(second)
    return ". ".join([first, *second[:2]]) + "."


def _attribution(f: _Facts) -> str:
    """'Chorale by Bach for four voices' or '"The Blackbird", a traditional Irish air'."""
    r = f.record
    if r.composer:
        text = f"{_capital(f.form())} by {f.composer()}"
        if r.programs and f.maybe(0.6):
            text += f" for {f.instruments()}"
        if r.key and f.maybe(0.5):
            text += f" in {f.key(short=True)}"
        return text
    if r.title:
        adjective = " ".join(w for w in (f.era(), f.region()) if w)
        head = f"{adjective} {f.form(avoid=f.era())}".strip()
        return f"\u201c{r.title}\u201d, {_article(head)} {head}"
    return ""


_BUILDERS: tuple[Callable[[_Facts], str], ...] = (
    _sentence, _tags, _short, _request, _descriptive, _attribution,
)  # fmt: skip


def make_captions(record: PieceRecord, rng: random.Random, n: int = 6) -> list[str]:
    """`n` distinct captions of varied shape for one piece (fewer only if it has no facts).

    Whenever n >= 4, one caption names every main attribute (form, key, tempo, region,
    instruments, meter, composer); the others use random shapes and subsets of them.
    """
    facts = _Facts(record, rng)
    captions = [" ".join(_sentence(facts, full=True).split())]
    order = list(_BUILDERS)
    rng.shuffle(order)
    target = max(n, 4)  # a pool to draw from, so even n=1 gets a random shape
    attempts = 0
    while len(captions) < target and attempts < target * 10:
        builder = order[attempts] if attempts < len(order) else rng.choice(_BUILDERS)
        attempts += 1
        text = " ".join(builder(facts).split())
        if text and text not in captions:
            captions.append(text)
    rng.shuffle(captions)
    return captions[:n]


# -- small word helpers --------------------------------------------------------------------
def _meter_clause(phrase: str, f: _Facts) -> str:
    """A verb phrase for a meter phrase: 'is in 6/8', 'is written alla breve', 'has ...'."""
    if phrase.startswith("in "):
        return f.pick((f"is {phrase}", f"is written {phrase}"))
    if phrase.endswith("to the bar"):
        return f"has {phrase}"
    return f"is written {phrase}"


def _instrument_words(program: int) -> tuple[str, ...]:
    if program in _PREFERRED_WORDS:
        return _PREFERRED_WORDS[program]
    words = tuple(w for w, progs in INSTRUMENT_WORDS.items() if progs == (program,))
    return words[:2] or (program_name(program).lower(),)


def _spell(tonic: str) -> str:
    """'Bb' -> 'B-flat', 'F#' -> 'F-sharp'."""
    if len(tonic) == 2:
        return tonic[0] + ("-flat" if tonic[1] == "b" else "-sharp")
    return tonic


def _count(n: int) -> str:
    return _NUMBER_WORDS[n] if n < len(_NUMBER_WORDS) else str(n)


def _join(names: Sequence[str]) -> str:
    names = list(dict.fromkeys(names))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _surname(name: str) -> str:
    special = {"Josquin des Prez": "Josquin"}
    if name in special:
        return special[name]
    parts = name.split()
    return parts[-1] if parts else name


def _duration_words(seconds: float) -> str:
    if seconds < 50:
        return f"about {max(5, round(seconds / 5) * 5)} seconds"
    minutes = seconds / 60
    if minutes < 1.25:
        return "about a minute"
    return f"about {round(minutes * 2) / 2:g} minutes"


def _article(phrase: str) -> str:
    first = phrase.lstrip().lower()
    if first[:1] in "aeiou" or first[:1] == "8" or first[:2] in ("11", "18"):
        return "an"
    return "a"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
