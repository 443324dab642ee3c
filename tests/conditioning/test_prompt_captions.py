"""Prompts written by others: captions, tag lists and chatty requests (issue 18, point 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunesmith.conditioning.instruments import (
    BRASS_SECTION,
    CELLO,
    DRUMS,
    NYLON_GUITAR,
    PIANO,
    STRING_ENSEMBLE,
)
from tunesmith.conditioning.limits import LENGTH_WORDS, TEMPO_MARKS, TEMPO_WORDS
from tunesmith.conditioning.prompt import IMPLIED_METERS, explain, parse_prompt

REPO = Path(__file__).resolve().parents[2]
BASS = 32


def rows(text: str) -> dict[str, tuple[str, str]]:
    return {a: (v, w) for a, v, w in explain(parse_prompt(text))}


# -- tempo: the most specific word wins, a number wins over every word -------------------
@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("fast, allegretto", "allegretto"),  # a mark beats a vague word, wherever it stands
        ("a slow movement, adagio", "adagio"),
        ("lively but slow", "slow"),  # a plain word beats a character word
        ("a fast piece marked presto", "presto"),
        ("something meditative", "meditative"),
    ],
)
def test_the_most_specific_tempo_word_wins(text: str, word: str) -> None:
    parsed = parse_prompt(text)
    assert parsed.controls.tempo == TEMPO_WORDS[word]
    assert parsed.found["tempo"].startswith(word)


def test_marks_lie_inside_their_ranges() -> None:
    for word, (low, high) in TEMPO_MARKS.items():
        assert low <= TEMPO_WORDS[word] <= high, word


def test_a_number_beats_words_and_explain_names_the_word_it_overrules() -> None:
    parsed = parse_prompt("presto, at 120 bpm")
    assert parsed.controls.tempo == 120.0
    assert parsed.found["tempo"] == "120 bpm (over 'presto')"
    assert rows("a slow presto")["tempo"] == ("184 bpm", "presto (over 'slow')")
    assert parse_prompt("upbeat, 128 bpm").found["tempo"] == "128 bpm"  # no disagreement


def test_a_bpm_range_is_its_middle() -> None:
    assert parse_prompt("house, 120-126 bpm").controls.tempo == 123.0


def test_negated_tempo_words_are_ignored() -> None:
    assert parse_prompt("andante, but not too slow").controls.tempo == TEMPO_WORDS["andante"]


# -- players, sections, negations, repeated mentions ---------------------------------------
@pytest.mark.parametrize(
    ("text", "programs"),
    [
        ("a bassist, a pianist and a drummer", [BASS, PIANO, DRUMS]),
        ("two guitarists", [NYLON_GUITAR, NYLON_GUITAR]),
        ("a string section", [STRING_ENSEMBLE] * 4),  # one ensemble: several voices
        ("a horn section and a string section", [BRASS_SECTION, STRING_ENSEMBLE]),
        ("tenor sax with a jazz rhythm section", [66, PIANO, BASS, DRUMS]),
        ("a rock band: vocals and a rhythm section", [53, NYLON_GUITAR, BASS, DRUMS]),
        ("a fiddler and a banjo player", [110, 105]),
        ("Hammond organ, slap bass, bandoneon", [16, 36, 23]),
        ("keys, bass and drums", [PIANO, BASS, DRUMS]),
    ],
)
def test_players_and_sections_are_instruments(text: str, programs: list[int]) -> None:
    assert parse_prompt(text).controls.instruments == programs


def test_keys_in_other_senses_are_no_instrument() -> None:
    assert parse_prompt("a study through all keys for flute").controls.instruments == [73]


def test_negations_remove_instruments_and_are_recorded() -> None:
    parsed = parse_prompt("jazz trio, no drums")
    assert parsed.controls.instruments == [PIANO, BASS]
    assert parsed.controls.extra["exclude"] == [DRUMS]
    assert rows("jazz trio, no drums")["exclude"] == ("no Drums", "no drums")
    parsed = parse_prompt("strings, without piano or bass")
    assert parsed.controls.instruments == [STRING_ENSEMBLE] * 4
    assert parsed.controls.extra["exclude"] == [PIANO, BASS]


def test_a_mention_of_an_instrument_already_named_adds_no_voice() -> None:
    text = "cello and piano, with the cello playing the melody"
    assert parse_prompt(text).controls.instruments == [CELLO, PIANO]
    text = "acoustic guitar and voice, the guitar fingerpicking the chords"
    assert parse_prompt(text).controls.instruments == [25, 53]
    text = "piano, electric guitar, bass and drums, with a guitar solo"
    assert parse_prompt(text).controls.instruments == [PIANO, 27, BASS, DRUMS]


def test_genres_named_by_instruments_add_none() -> None:
    parsed = parse_prompt("drum and bass, 174 bpm, synth bass")
    assert parsed.controls.style == "electronic"
    assert parsed.controls.instruments == [38]


# -- roles ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "roles"),
    [
        ("the piano plays the lead while the strings hold chords in the background",
         {PIANO: "melody", STRING_ENSEMBLE: "pad"}),
        ("cello and piano, the cello plays the melody and the piano plays chords",
         {CELLO: "melody", PIANO: "comping"}),
        ("a walking bass, piano comping and a muted trumpet taking the lead",
         {BASS: "bass", PIANO: "comping", 59: "melody"}),
        ("lead guitar and rhythm guitar", {NYLON_GUITAR: "melody"}),
        ("electric piano chords and a synth lead", {4: "comping", 81: "melody"}),
        ("with the melody on the oboe, over strings", {68: "melody"}),
        ("a flute counter-melody", {73: "counter-melody"}),
        # found by the held-out prompts: a mood word inside the clause, plural "leads"
        ("a saxophone plays a sad melody over soft piano chords", {65: "melody", PIANO: "comping"}),
        ("synth leads, a synth bass and drums", {81: "melody"}),
        ("a tune played by the fiddle", {110: "melody"}),
    ],
)  # fmt: skip
def test_roles(text: str, roles: dict[int, str]) -> None:
    assert parse_prompt(text).controls.extra["roles"] == roles


@pytest.mark.parametrize(
    "text",
    [
        "piano, electric bass and drums. The chord progression is Am, F, C and G",
        "a minimalist piano piece built on the chords Am, F, C and G",
        "a fiddle tune in D dorian",
        "chords in the background, a melody on top",
        "a short, happy tune on the ukulele",
    ],
)
def test_no_role_is_claimed_where_none_is_named(text: str) -> None:
    assert "roles" not in parse_prompt(text).controls.extra


# -- moods: mode, tempo, dynamics, density -------------------------------------------------
@pytest.mark.parametrize(
    ("text", "extra"),
    [
        ("something sad for cello", {"mode": "minor"}),
        ("an uplifting track", {"mode": "major"}),
        ("a dark, quiet piano piece", {"mode": "minor", "dynamics": "soft"}),
        ("aggressive drums", {"dynamics": "loud"}),
        ("a sparse, minimal texture", {"density": "sparse"}),
        ("busy and intricate", {"density": "dense"}),
    ],
)
def test_mood_words(text: str, extra: dict[str, str]) -> None:
    got = parse_prompt(text).controls.extra
    assert {k: got.get(k) for k in ("mode", "dynamics", "density") if k in got} == extra


def test_mood_mode_shows_in_explain_and_gives_way_to_a_key() -> None:
    assert rows("could you write something sad and slow")["mode"] == ("minor", "sad")
    parsed = parse_prompt("a sad waltz in D major")
    assert parsed.controls.key == "D major" and "mode" not in parsed.controls.extra


@pytest.mark.parametrize(
    "text", ["dark but uplifting", "not sad", "building from quiet to loud", "nothing too busy"]
)
def test_disagreeing_or_negated_moods_claim_nothing(text: str) -> None:
    extra = parse_prompt(text).controls.extra
    assert not {"mode", "dynamics", "density"} & set(extra)


# -- lengths ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "bars"),
    [
        ("a short jig", LENGTH_WORDS["short"]),
        ("a short, looping chiptune", LENGTH_WORDS["short"]),
        ("something short and sweet", LENGTH_WORDS["short"]),
        ("ambient, long, pad", LENGTH_WORDS["long"]),
        ("a long ambient piece", LENGTH_WORDS["long"]),
        ("with long sustained notes", None),
        ("holding long chords", None),
        ("after a long day", None),
        ("nothing too long", None),
        ("short étude, 45 seconds", None),  # a number wins
        ("a short reel, 24 bars", 24),
    ],
)
def test_short_and_long(text: str, bars: int | None) -> None:
    assert parse_prompt(text).controls.bars == bars


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("about a minute and a half", 90.0),
        ("two and a half minutes", 150.0),
        ("90 seconds long", 90.0),
        ("three minutes", 180.0),
    ],
)
def test_minutes(text: str, seconds: float) -> None:
    parsed = parse_prompt(text)
    assert parsed.controls.extra["seconds"] == seconds and parsed.controls.bars is None


# -- keys, chords, styles --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("folk, G, fiddle, guitar", "G major"),
        ("reel, D, fiddle, 4/4", "D major"),
        ("waltz, Ab, piano", "Ab major"),
        ("C#min, 6/8, piano", "C# minor"),
        ("Bbm", "Bb minor"),
        ("in G maj", "G major"),
        ("The piece is in F sharp minor", "F# minor"),
        ("A, B and C sections, fiddle", None),
        ("A, B, A form for fiddle", None),
        ("Dbmaj7 vamp, electric piano", None),
    ],
)
def test_keys_written_many_ways(text: str, key: str | None) -> None:
    assert parse_prompt(text).controls.key == key


@pytest.mark.parametrize(
    ("text", "chords"),
    [
        ("the chord sequence is C, G, Am and F", "C G Am F"),
        ("The chord progression revolves around Am, F, C and G.", "Am F C G"),
        ("a montuno built on Am, D7 and E7", "Am D7 E7"),
    ],
)
def test_chord_lists_are_not_keys(text: str, chords: str) -> None:
    parsed = parse_prompt(text)
    assert parsed.controls.extra["chords"] == chords and parsed.controls.key is None


@pytest.mark.parametrize(
    ("text", "style"),
    [
        ("The song is in C major", None),
        ("This song is a gospel number", None),
        ("a song for a children's choir", "song"),
        ("lofi, chill", "hip hop"),
        ("a heavy metal track", "rock"),
        ("a bluegrass breakdown", "country"),
    ],
)
def test_styles(text: str, style: str | None) -> None:
    assert parse_prompt(text).controls.style == style


# -- the public sets --------------------------------------------------------------------------
def test_the_public_prompt_set_still_parses_to_its_attributes() -> None:
    """prompts/eval.jsonl: every prompt gives exactly its listed attributes (a form word's
    meter aside), so the new words changed nothing the set states."""
    for line in (REPO / "prompts" / "eval.jsonl").read_text().splitlines():
        row = json.loads(line)
        parsed = parse_prompt(row["prompt"])
        c = parsed.controls
        got = {"key": c.key, "meter": c.meter, "tempo": c.tempo, "instruments": c.instruments,
               "bars": c.bars, "seconds": c.extra.get("seconds"), "style": c.style}  # fmt: skip
        meter_words = parsed.found.get("meter", "").lower().replace("-", " ")
        if any(meter_words in (w, w + "s", w + "es") for w in IMPLIED_METERS):
            got["meter"] = None
        assert {k: v for k, v in got.items() if v is not None} == row["attributes"], row["id"]


def test_the_caption_set_is_well_formed() -> None:
    rows = [
        json.loads(x) for x in (REPO / "prompts" / "parser_captions.jsonl").read_text().splitlines()
    ]
    assert len(rows) >= 150 and len({r["id"] for r in rows}) == len(rows)
    assert {r["voice"] for r in rows} == {"caption", "tags", "chatty"}
    allowed = {"style", "key", "mode", "chords", "meter", "tempo", "bars", "seconds",
               "instruments", "exclude", "roles", "dynamics", "density"}  # fmt: skip
    assert all(set(r["expected"]) <= allowed and r["expected"] for r in rows)
