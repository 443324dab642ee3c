"""Prompt understanding: attributes pulled out of free text, explain, CLI overrides."""

from __future__ import annotations

import logging

import pytest

from tunesmith.conditioning.controls import Controls
from tunesmith.conditioning.instruments import (
    BAGPIPE,
    BRASS_SECTION,
    CELLO,
    CHOIR_AAHS,
    CHURCH_ORGAN,
    CLARINET,
    DRUMS,
    FIDDLE,
    FLUTE,
    PIANO,
    STRING_ENSEMBLE,
    TIN_WHISTLE,
    TRUMPET,
    VIOLA,
    VIOLIN,
)
from tunesmith.conditioning.prompt import (
    MAX_PROMPT_CHARS,
    TEMPO_WORDS,
    ParsedPrompt,
    apply_overrides,
    explain,
    parse_prompt,
)
from tunesmith.errors import BadInputError

QUARTET = [VIOLIN, VIOLIN, VIOLA, CELLO]
SLOW, FAST = TEMPO_WORDS["slow"], TEMPO_WORDS["fast"]

# prompt -> every attribute it should set; anything not listed must stay unset.
CASES: list[tuple[str, dict]] = [
    # phrasings found by writing prompts/eval.jsonl
    ("a tune in waltz time", {"meter": "3/4"}),
    ("a jig in six-eight for flute", {"meter": "6/8", "style": "jig", "instruments": [73]}),
    ("three four-part chorales", {"style": "chorale", "voices": 4}),
    ("a mid-tempo ballad", {"tempo": 108.0, "style": "song"}),
    ("crotchet = 80, for oboe", {"tempo": 80.0, "instruments": [68]}),
    ("not too fast, a reel", {"style": "reel", "meter": "4/4"}),
    ("a duet for mandolin and bouzouki", {"instruments": [25, 25]}),
    # keys
    ("in D minor", {"key": "D minor"}),
    ("F#m", {"key": "F# minor"}),
    ("B-flat major", {"key": "Bb major"}),
    ("in the key of E flat", {"key": "Eb major"}),
    ("Bb", {"key": "Bb major"}),
    ("c sharp minor", {"key": "C# minor"}),
    ("A dorian", {"key": "A minor", "mode": "dorian"}),
    ("a tune in G mixolydian", {"key": "G major", "mode": "mixolydian"}),
    ("in a minor", {"key": "A minor"}),
    ("in A", {"key": "A major"}),
    ("key: Dm", {"key": "D minor"}),
    ("E♭ major", {"key": "Eb major"}),
    ("C# harmonic minor", {"key": "C# minor"}),
    # key negatives: articles, letters without a cue, transposing instruments
    ("A reel for fiddle", {"style": "reel", "meter": "4/4", "instruments": [FIDDLE]}),
    ("a slow air", {"tempo": SLOW, "style": "air"}),
    ("A flat, calm melody", {}),
    ("in a slow tempo", {"tempo": SLOW}),
    ("I am writing a tune", {}),
    ("for Bb clarinet", {"instruments": [CLARINET]}),
    ("the B section of a Bach chorale", {"style": "chorale"}),
    ("in a minor key", {"mode": "minor"}),
    ("finished at 10 AM", {}),
    # meters
    ("a piece in 6/8", {"meter": "6/8"}),
    ("in 3/4", {"meter": "3/4"}),
    ("a waltz", {"style": "waltz", "meter": "3/4"}),
    ("cut time", {"meter": "2/2"}),
    ("common time", {"meter": "4/4"}),
    ("a jig", {"style": "jig", "meter": "6/8"}),
    ("slip jig", {"style": "slip jig", "meter": "9/8"}),
    ("a reel in 2/2", {"style": "reel", "meter": "2/2"}),
    ("a march", {"style": "march", "meter": "2/4"}),
    ("hornpipe", {"style": "hornpipe", "meter": "4/4"}),
    ("a polka", {"style": "polka", "meter": "2/4"}),
    ("strathspey", {"style": "strathspey", "meter": "4/4"}),
    ("six-eight time", {"meter": "6/8"}),
    ("a jazz waltz", {"style": "jazz", "meter": "3/4"}),
    ("half of 1/2 the usual", {}),
    # tempo
    ("120 bpm", {"tempo": 120.0}),
    ("at 90 BPM", {"tempo": 90.0}),
    ("tempo 100", {"tempo": 100.0}),
    ("adagio", {"tempo": TEMPO_WORDS["adagio"]}),
    ("allegretto", {"tempo": TEMPO_WORDS["allegretto"]}),
    ("prestissimo", {"tempo": TEMPO_WORDS["prestissimo"]}),
    ("very slow", {"tempo": TEMPO_WORDS["very slow"]}),
    ("fast", {"tempo": FAST}),
    ("something up-tempo and energetic", {"tempo": TEMPO_WORDS["up tempo"]}),
    ("brisk, at 132 bpm, nothing slow", {"tempo": 132.0}),
    ("breakfast music", {}),
    # instruments
    ("for fiddle", {"instruments": [FIDDLE]}),
    ("tin whistle", {"instruments": [TIN_WHISTLE]}),
    ("choir", {"instruments": [CHOIR_AAHS] * 4}),  # a choir sings parts: SATB
    (
        "a chorale for organ in three voices",
        {"style": "chorale", "voices": 3, "instruments": [CHURCH_ORGAN] * 3},
    ),
    ("string quartet", {"instruments": QUARTET}),
    ("brass and organ", {"instruments": [BRASS_SECTION, CHURCH_ORGAN]}),
    ("piano solo", {"instruments": [PIANO]}),
    ("for flute and piano", {"instruments": [FLUTE, PIANO]}),
    ("violin and cello", {"instruments": [VIOLIN, CELLO]}),
    ("solo violin", {"instruments": [VIOLIN]}),
    ("two violins", {"instruments": [VIOLIN, VIOLIN]}),
    ("3 trumpets", {"instruments": [TRUMPET] * 3}),
    ("violins, viola and cello", {"instruments": QUARTET}),
    ("strings", {"instruments": [STRING_ENSEMBLE] * 4}),
    ("electric guitar", {"instruments": [27]}),
    ("piano, no drums", {"instruments": [PIANO]}),
    ("uilleann pipes", {"instruments": [BAGPIPE]}),
    ("fiddle and bodhrán", {"instruments": [FIDDLE, DRUMS]}),
    ("good voice leading", {}),
    ("waves on a calm seashore", {}),
    ("a four-voice fugue", {"style": "fugue", "voices": 4}),
    ("a fugue in three voices", {"style": "fugue", "voices": 3}),
    # length
    ("16 bars", {"bars": 16}),
    ("32 measures", {"bars": 32}),
    ("a 12-bar blues", {"bars": 12, "style": "blues"}),
    ("eight bars", {"bars": 8}),
    ("45 seconds", {"seconds": 45.0}),
    ("a 2-minute piece", {"seconds": 120.0}),
    ("1:30", {"seconds": 90.0}),
    ("2 minutes and 30 seconds", {"seconds": 150.0}),
    ("a minute long", {"seconds": 60.0}),
    ("16 bars, about 30 seconds", {"bars": 16, "seconds": 30.0}),
    # style words and regions
    ("fugal", {"style": "fugue"}),
    ("a hymn tune", {"style": "hymn"}),
    ("a lullaby", {"style": "song"}),
    ("an Irish tune", {"region": "Ireland"}),
    ("celtic", {"region": "Celtic"}),
    ("English horn", {"instruments": [69]}),
    ("a slide guitar blues", {"style": "blues", "instruments": [24]}),
    ("folk song", {"style": "folk song"}),
    ("a piano piece", {"style": "piano piece", "instruments": [PIANO]}),
    ("a minuet", {"style": "dance", "meter": "3/4"}),
    ("a world of sound", {}),
    # everything at once
    (
        "A lively Irish jig in D for fiddle and tin whistle, 32 bars",
        {
            "style": "jig",
            "meter": "6/8",
            "key": "D major",
            "tempo": TEMPO_WORDS["lively"],
            "instruments": [FIDDLE, TIN_WHISTLE],
            "bars": 32,
            "region": "Ireland",
        },
    ),
    (
        "A slow string quartet movement in C sharp minor, 3/4, about 2 minutes",
        {
            "style": "quartet movement",
            "key": "C# minor",
            "meter": "3/4",
            "tempo": SLOW,
            "instruments": QUARTET,
            "seconds": 120.0,
        },
    ),
    (
        "jazz trio at 160 bpm in Bb, 64 bars",
        {
            "style": "jazz",
            "key": "Bb major",
            "tempo": 160.0,
            "instruments": [PIANO, 32, DRUMS],
            "bars": 64,
        },
    ),
]


def _attributes(c: Controls) -> dict:
    """The attributes a prompt can set, unset ones as None."""
    return {
        "style": c.style,
        "key": c.key,
        "meter": c.meter,
        "tempo": c.tempo,
        "bars": c.bars,
        "instruments": c.instruments,
        "seconds": c.extra.get("seconds"),
        "region": c.extra.get("region"),
        "mode": c.extra.get("mode"),
        "voices": c.extra.get("voices"),
    }


def test_case_table_is_large_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize(("prompt", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_prompt_table(prompt: str, expected: dict) -> None:
    got = _attributes(parse_prompt(prompt).controls)
    want = {name: expected.get(name) for name in got}
    assert got == want


def test_empty_prompt_is_unconditional() -> None:
    for text in ("", "   \n"):
        parsed = parse_prompt(text)
        assert parsed.controls == Controls()
        assert parsed.found == {}
        assert explain(parsed) == []


def test_found_spans_come_from_the_text() -> None:
    text = "A lively jig in D for fiddle, 32 bars"
    parsed = parse_prompt(text)
    assert parsed.text == text
    assert parsed.found["key"] == "in D"
    assert parsed.found["meter"] == "jig"
    assert parsed.found["bars"] == "32 bars"
    assert all(span in text for span in parsed.found.values())


def test_explain_rows() -> None:
    rows = explain(parse_prompt("two violins in F#m at 96 bpm, 45 seconds"))
    assert rows == [
        ("key", "F# minor", "in F#m"),
        ("tempo", "96 bpm", "96 bpm"),
        ("seconds", "45 s", "45 seconds"),
        ("instruments", "Violin, Violin", "two violins"),
    ]


def test_long_prompt_is_truncated_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    text = "a waltz " + "la " * 600 + "in 6/8"
    with caplog.at_level(logging.WARNING, logger="tunesmith.conditioning.prompt"):
        parsed = parse_prompt(text)
    assert len(parsed.text) == MAX_PROMPT_CHARS
    assert "truncated" in caplog.text
    assert parsed.controls.meter == "3/4"  # the explicit meter was cut off


@pytest.mark.parametrize("prompt", ["1000 bpm", "500 bars", "0 bars", "90 minutes"])
def test_absurd_explicit_numbers_raise(prompt: str) -> None:
    with pytest.raises(BadInputError):
        parse_prompt(prompt)


def test_too_many_voices_are_capped() -> None:
    parsed = parse_prompt("five string quartets")
    assert parsed.controls.instruments == QUARTET * 4


def test_parsed_prompt_is_a_dataclass() -> None:
    parsed = parse_prompt("in G")
    assert isinstance(parsed, ParsedPrompt)
    assert isinstance(parsed.controls, Controls)


# -- overrides ----------------------------------------------------------------------------
def test_overrides_replace_parsed_values() -> None:
    parsed = parse_prompt("a jig in D for fiddle at 120 bpm, 45 seconds").controls
    c = apply_overrides(
        parsed,
        key="F#m",
        meter="9/8",
        tempo="allegro",
        instruments="2 violins, viola and cello",
        bars=24,
        style="fugal",
    )
    assert c.key == "F# minor"
    assert c.meter == "9/8"
    assert c.tempo == TEMPO_WORDS["allegro"]
    assert c.instruments == QUARTET
    assert c.bars == 24
    assert "seconds" not in c.extra  # --bars replaces the prompt's duration
    assert c.style == "fugue"
    # the parsed controls are left untouched
    assert parsed.key == "D major" and parsed.extra["seconds"] == 45.0
    assert parsed.instruments == [FIDDLE]


def test_no_overrides_is_a_copy() -> None:
    parsed = parse_prompt("a reel in G for fiddle").controls
    c = apply_overrides(parsed)
    assert c == parsed and c is not parsed
    assert c.instruments is not parsed.instruments


def test_seconds_override_drops_prompt_bars() -> None:
    c = apply_overrides(parse_prompt("32 bars").controls, seconds="40")
    assert c.bars is None
    assert c.extra["seconds"] == 40.0


@pytest.mark.parametrize(
    ("flag", "value", "result"),
    [
        ("tempo", 96, 96.0),
        ("tempo", "96 bpm", 96.0),
        ("meter", "C", "4/4"),
        ("key", "b-flat minor", "Bb minor"),
        ("instruments", [40, "cello"], [VIOLIN, CELLO]),
        ("instruments", "string quartet", QUARTET),
        ("instruments", "violins", [VIOLIN, VIOLIN]),
        ("instruments", "3x flute", [FLUTE] * 3),
        ("instruments", "Acoustic Grand Piano", [PIANO]),
        ("instruments", "seashore", [122]),
        ("style", "Slip-Jig", "slip jig"),
        ("bars", "16", 16),
    ],
)
def test_override_values(flag: str, value: object, result: object) -> None:
    c = apply_overrides(Controls(), **{flag: value})
    assert getattr(c, flag) == result


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"key": "H major"}, "valid keys"),
        ({"instruments": "kazoo"}, "unknown instrument"),
        ({"instruments": "violin, kazoo"}, "unknown instrument"),
        ({"meter": "11/8"}, "valid meters"),
        ({"style": "zydeco"}, "valid styles"),
        ({"tempo": "sort of quick"}, "unknown tempo"),
        ({"tempo": 1000}, "outside"),
        ({"bars": 0}, "outside"),
        ({"bars": "many"}, "needs a number"),
        ({"bars": 16, "seconds": 30}, "not both"),
        ({"seconds": -5}, "not allowed"),
        ({"instruments": "17 violins"}, "instruments are supported"),
    ],
)
def test_bad_overrides_raise_one_line_errors(flags: dict, message: str) -> None:
    with pytest.raises(BadInputError, match=message) as info:
        apply_overrides(Controls(), **flags)
    assert "\n" not in str(info.value)
