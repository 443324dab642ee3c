"""Chord progressions named in a prompt are read as chords, not as a key."""

from __future__ import annotations

import pytest

from tunesmith.conditioning.prompt import explain, parse_prompt


@pytest.mark.parametrize(
    "text,chords,key",
    [
        ("a pop song with the chords C, G, Am, F", "C G Am F", None),
        ("a ballad built on D/F#, G and A", "D/F# G A", None),
        ("a blues over a I–IV–V–I", "I IV V I", None),
        ("a I-IV-V-I tune in G major", "I IV V I", "G major"),
        ("chords: Am F C G, 8 bars", "Am F C G", None),
        ("a song in A minor, chord progression i VI III VII", "i VI III VII", "A minor"),
        ("a jig with changes Em D C B7", "Em D C B7", None),
    ],
)
def test_progressions_in_prompts(text, chords, key):
    p = parse_prompt(text)
    assert p.controls.extra.get("chords") == chords
    assert p.controls.key == key
    assert ("chords", chords) in [(a, v) for a, v, _ in explain(p)]


@pytest.mark.parametrize(
    "text",
    [
        "a reel in D major for fiddle",
        "over the D and G strings, a slow air",
        "A reel",
        "I love a slow air in E minor",
        "chords in the background, a melody on top",
    ],
)
def test_no_progression_is_claimed_where_none_is_named(text):
    assert "chords" not in parse_prompt(text).controls.extra


def test_the_api_follows_a_prompt_progression_and_gives_numerals_a_key(tiny_run):
    from tunesmith import Composer

    c = Composer.load(tiny_run)
    controls, prog = c.progression_for(c.controls_for("a blues over a i-iv-V-i"))
    assert controls.key == "A minor" and [b[0].symbol for b in prog] == ["Am", "Dm", "E", "Am"]
    controls, prog = c.progression_for(c.controls_for("chords C G in D major"), "D A")
    assert controls.key == "D major" and [b[0].symbol for b in prog] == ["D", "A"]  # given wins
    piece = c("a hymn with the chords F, Bb, C7, F", bars=4, seed=1)
    assert [b[0].symbol for b in piece.chords] == ["F", "Bb", "C7", "F"]
