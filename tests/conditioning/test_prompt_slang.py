"""Instrument slang in prompts (issue 18): 808s, reese bass, keys, rhodes, wurli, b3, upright,
kit, horns, shred guitar, strings pad, and "beat" where it means the drums; and the same
words where they name no instrument."""

from __future__ import annotations

import pytest

from tunesmith.conditioning.instruments import (
    ACOUSTIC_BASS,
    BRASS_SECTION,
    DRUMS,
    FLUTE,
    FRENCH_HORN,
    PIANO,
    STRING_ENSEMBLE,
)
from tunesmith.conditioning.prompt import parse_prompt

SYNTH_BASS, ELECTRIC_PIANO, HAMMOND, DISTORTION_GUITAR, SYNTH_PAD = 38, 4, 16, 30, 89


def instruments(text: str) -> list[int] | None:
    return parse_prompt(text).controls.instruments


@pytest.mark.parametrize(
    ("text", "programs"),
    [
        # 808s: the drum machine; in hip hop (trap, drill...) its kick is the bass too
        ("a trap beat with 808s", [DRUMS, SYNTH_BASS]),
        ("trap, dark, 150 bpm, 808s", [DRUMS, SYNTH_BASS]),
        ("a synthwave track with 808s", [DRUMS]),
        ("808 drums and a synth lead", [DRUMS, 81]),
        ("808 bass, hi-hats", [SYNTH_BASS, DRUMS]),
        ("reese bass and an atmospheric pad", [SYNTH_BASS, SYNTH_PAD]),
        ("a shred guitar solo over drums", [DISTORTION_GUITAR, DRUMS]),
        ("keys, bass and drums", [PIANO, ACOUSTIC_BASS, DRUMS]),
        ("Rhodes piano and a flute", [ELECTRIC_PIANO, FLUTE]),
        ("wurli and upright bass", [ELECTRIC_PIANO, ACOUSTIC_BASS]),
        ("a Wurlitzer, a Fender Rhodes", [ELECTRIC_PIANO, ELECTRIC_PIANO]),
        ("b3 organ", [HAMMOND]),
        ("a Hammond B3 and drums", [HAMMOND, DRUMS]),
        ("piano, upright and kit", [PIANO, ACOUSTIC_BASS, DRUMS]),
        ("rhodes and upright", [ELECTRIC_PIANO, ACOUSTIC_BASS]),
        ("an upright piano", [PIANO]),  # the piano, not a bass
        ("a funk tune with horns", [BRASS_SECTION]),  # a horn section
        ("a ska tune with horns", [BRASS_SECTION]),
        ("brass stabs over a funk groove", [BRASS_SECTION]),
        ("strings and horns", [STRING_ENSEMBLE, FRENCH_HORN, FRENCH_HORN]),  # orchestral horns
        ("a sax solo", [65]),
        # "beat": the drums after a cue, or in a list of instruments
        ("lo-fi keys and a soft beat", [PIANO, DRUMS]),
        ("rap over a beat", [DRUMS]),
        ("piano over the beat", [PIANO, DRUMS]),
        ("a song with a beat", [DRUMS]),
        ("a beat and a bass line", [DRUMS, ACOUSTIC_BASS]),
        ("piano, bass and a beat", [PIANO, ACOUSTIC_BASS, DRUMS]),
        ("lo-fi with chill beats", [DRUMS]),  # one kit, not two
    ],
)
def test_slang_names_the_instrument(text: str, programs: list[int]) -> None:
    assert instruments(text) == programs


@pytest.mark.parametrize(
    "text",
    [
        "in the key of D",
        "the keys of C and G",
        "modulating through keys",
        "switching keys often",
        "a tune with new keys",
        "a study through all keys",
        "a waltz with a strong first beat",
        "three beats to the bar",
        "120 beats per minute",
        "a shanty with a steady beat",
        "accent on the second beat",
        "a beat of silence",
        "hip hop, beat, 90 bpm",  # a beat: the piece, whose style asks for a band anyway
        "a chill beat",
        "an upright, stately march",
        "an upright and dignified hymn",
    ],
)
def test_the_words_in_other_senses_name_no_instrument(text: str) -> None:
    assert instruments(text) is None


def test_a_chill_beat_with_players_is_those_players_only() -> None:
    text = "can you make a chill beat, 85 bpm, with a bass player and a keyboard player"
    assert instruments(text) == [ACOUSTIC_BASS, PIANO]


def test_a_pad_after_an_instrument_is_its_role() -> None:
    parsed = parse_prompt("a strings pad under a flute")
    assert parsed.controls.instruments == [STRING_ENSEMBLE, FLUTE]
    assert parsed.controls.extra["roles"] == {STRING_ENSEMBLE: "pad"}
    parsed = parse_prompt("string pad and piano")
    assert parsed.controls.instruments == [STRING_ENSEMBLE, PIANO]
    assert parsed.controls.extra["roles"] == {STRING_ENSEMBLE: "pad"}
    assert instruments("a warm pad and a piano") == [SYNTH_PAD, PIANO]  # a synth pad
    assert instruments("piano and pad") == [PIANO, SYNTH_PAD]


def test_no_beat_leaves_the_drums_out() -> None:
    for text in ("ambient, no beat", "ambient pads without a beat"):
        assert parse_prompt(text).controls.extra["exclude"] == [DRUMS], text


def test_explain_names_the_slang_it_read() -> None:
    found = parse_prompt("a trap beat with 808s and a reese bass").found["instruments"]
    assert "808s" in found and "reese bass" in found
