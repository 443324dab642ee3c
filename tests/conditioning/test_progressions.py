"""Chord progressions as users write them: symbols, numerals, bars, repetition."""

from __future__ import annotations

import pytest

from tunesmith.conditioning.chords import (
    chords_for_bars,
    parse_numeral,
    parse_progression,
    progression_text,
)
from tunesmith.errors import BadInputError


@pytest.mark.parametrize(
    "text,key,expected",
    [
        ("Am F C G", None, "Am | F | C | G"),
        ("Am F | C G7", None, "Am F | C G7"),
        ("C, G, Am, F", None, "C | G | Am | F"),
        ("i VI III VII", "A minor", "Am | F | C | G"),
        ("I-IV-V-I", "C major", "C | F | G | C"),
        ("I–IV–V–I", "G major", "G | C | D | G"),
        ("ii7 V7 Imaj7", "C major", "Dm7 | G7 | Cmaj7"),
        ("V/V V I", "C major", "D | G | C"),
        ("bVII IV I", "D major", "C | G | D"),
    ],
)
def test_progressions(text, key, expected):
    assert progression_text(parse_progression(text, key)) == expected


def test_minor_leading_tone_and_qualities():
    assert parse_numeral("vii°", "A minor").pitch_classes == (8, 11, 2)
    assert parse_numeral("V", "A minor").symbol == "E"
    assert parse_numeral("iiø7", "C major").quality == "m7b5"


@pytest.mark.parametrize(
    "text,key,fragment",
    [
        ("", None, "empty"),
        ("H7 C", None, "unknown chord 'H7'"),
        ("IV V I", None, "needs a key"),
        (" | | ", None, "empty"),
    ],
)
def test_bad_progressions_say_what_is_wrong(text, key, fragment):
    with pytest.raises(BadInputError, match=fragment):
        parse_progression(text, key)


def test_repeated_to_the_length():
    prog = parse_progression("C G")
    assert [b[0].symbol for b in chords_for_bars(prog, 5)] == ["C", "G", "C", "G", "C"]
