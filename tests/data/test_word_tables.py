"""The corpus word tables: captions and attributes pinned, and their agreement with limits.py.

Captions and region/tempo attributes are training data: the tables in data/ build on the
shared word lists of conditioning/limits.py, and a change there must not silently change
what the corpus says of a piece. The pinned outputs below fail when it does.
"""

from __future__ import annotations

import random

import pytest

from tunesmith.conditioning.limits import REGIONS, TEMPO, TEMPO_WORDS
from tunesmith.data.captions import _REGION_ADJECTIVES, _TEMPO_WORDS, make_captions
from tunesmith.data.forms import clamp_tempo, region_from_origin, tempo_from_words
from tunesmith.data.records import PieceRecord

REEL = PieceRecord(
    id="a", tune_id="a", source="t", title="The Blackbird", form="reel", region="Ireland",
    key="D major", meter="2/2", tempo=200.0, programs=[110], voices=1, bars=32,
)  # fmt: skip
CHORALE = PieceRecord(
    id="b", tune_id="b", source="t", composer="Johann Sebastian Bach", form="chorale",
    region="Germany", key="B minor", meter="4/4", tempo=72.0, programs=[52, 52, 52, 52],
    voices=4, bars=16, extra={"era": "baroque"},
)  # fmt: skip
AIR = PieceRecord(
    id="c", tune_id="c", source="t", title="Ho-ro", form="air", region="Scotland",
    key="A minor", mode="dorian", meter="6/8", tempo=60.0, programs=[73], voices=1,
    duration_s=70.0,
)  # fmt: skip

PINNED = {
    "reel": (REEL, [
        "\u201cThe Blackbird\u201d, an Irish reel",
        "A rapid Irish reel tune in the key of D major in 2/2 for solo fiddle",
        "reel tune in D major",
        "This reel tune is in the key of D major and is in 2/2. It is scored for solo fiddle. "
        "It is 32 bars long.",
        "Give me a driving reel",
        "A reel tune for fiddle in D major",
    ]),
    "chorale": (CHORALE, [
        "Chorale by Bach for four voices in B minor",
        "A walking-pace German four-part chorale four beats to the bar in the key of B minor, "
        "for mixed voices by Bach",
        "Compose a German chorale harmonization for mixed voices in 4/4 time",
        "A German hymn-like chorale in B minor, in common time",
        "mixed voices, B minor, Bach, German, baroque",
        "This chorale harmonization moves at about 72 bpm and is written in 4/4 time. "
        "It is scored for four-part choir. It lasts 16 bars.",
    ]),
    "air": (AIR, [
        "flute folk music",
        "An adagio Scottish melody in the dorian mode in 6/8 time for solo flute",
        "An unhurried Scottish air in dorian mode on A, in compound duple time",
        "This melody is written in compound duple time and is in the dorian mode. "
        "It is scored for solo flute. It lasts about a minute.",
        "\u201cHo-ro\u201d, a Scottish tune",
        "Write an unhurried Scottish tune in A dorian",
    ]),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(PINNED))
def test_captions_are_pinned(name):
    record, expected = PINNED[name]
    assert make_captions(record, random.Random(0)) == expected


@pytest.mark.parametrize(
    "origin, region",
    [
        ("Europa, Mitteleuropa, Deutschland", "Germany"),
        ("Irish.", "Ireland"),
        ("A Welch Tune", "Wales"),
        ("Scots", "Scotland"),
        ("Shetland", "Scotland"),  # the corpus labels by country; prompts keep Shetland apart
        ("Northumbrian", "England"),
        ("Celtic", ""),  # a tradition, not a region of the corpus
        ("Breton", ""),
        ("UdSSR, Ukraine", "Ukraine"),
        ("American", "USA"),
    ],
)
def test_region_from_origin_is_pinned(origin, region):
    assert region_from_origin(origin) == region


@pytest.mark.parametrize(
    "words, bpm",
    [("Very slow", 50), ("Slowly", 63), ("Andante", 88), ("With spirit", 116),
     ("Allegro", 138), ("Presto", 176), ("", None)],
)  # fmt: skip
def test_tempo_from_words_is_pinned(words, bpm):
    assert tempo_from_words(words) == bpm


def test_region_adjectives_agree_with_the_prompt_words():
    """A caption's region adjective, read back by the prompt parser, names the same place."""
    for place, adjective in _REGION_ADJECTIVES.items():
        if adjective.lower() in REGIONS and place != "America":  # America: the USA
            assert REGIONS[adjective.lower()] == place, adjective
    for place in set(REGIONS.values()) & set(_REGION_ADJECTIVES):
        assert REGIONS[_REGION_ADJECTIVES[place].lower()] == place


def test_caption_tempo_words_stay_near_the_bpm_prompts_read():
    """A tempo word the prompt parser knows captions a range next to (or at) its bpm."""
    uppers = [upper for upper, _ in _TEMPO_WORDS]

    def band(bpm: float) -> int:
        return next(i for i, upper in enumerate(uppers) if bpm < upper)

    for i, (_, words) in enumerate(_TEMPO_WORDS):
        for word in words:
            if word in TEMPO_WORDS:
                assert abs(band(TEMPO_WORDS[word]) - i) <= 1, word


def test_clamp_tempo_uses_the_shared_bound():
    assert clamp_tempo(1) == TEMPO.low
    assert clamp_tempo(10_000) == TEMPO.high
