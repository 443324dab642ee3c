"""Issue 18's bad input, as a user meets it on the command line: a style the library lacks
is one line naming the nearest styles; an instrument with no sensible role gets one and
`explain` says which; contradictory attributes ("slow presto") go to the explicit number
or flag, and `explain` says what lost."""

from __future__ import annotations

import json

import symusic
from tests.conftest import assert_one_line_error, run_cli, run_ok


def explain_json(*args) -> dict:
    return json.loads(run_ok("explain", *args, "--json").stdout.strip().splitlines()[-1])


def test_a_style_the_library_lacks_is_one_line_naming_the_nearest(tmp_path):
    res = run_cli("explain", "a tango for accordion", "--arrangement", "tango", cwd=tmp_path)
    assert_one_line_error(res, "no arrangement style 'tango' in the groove library; nearest: ")
    assert "tunesmith styles" in res.stderr
    res = run_cli("explain", "a tune", "--arrangement", "bosa", cwd=tmp_path)
    assert_one_line_error(res, "nearest: bossa-nova")


def test_a_band_in_a_style_the_library_lacks_says_so_and_names_the_nearest():
    plan = explain_json("a tango with a band")["arrangement"]
    assert plan["arrangement"].startswith("pop (the words 'band'; the library has no latin")
    assert "nearest: salsa" in plan["arrangement"]
    plan = explain_json("a bossa nova band")["arrangement"]  # a style it has: no note
    assert plan["arrangement"] == "bossa-nova (the words 'bossa nova')"


def test_an_instrument_with_no_sensible_role_gets_one_and_explain_says_which():
    plan = explain_json("a pop band where the drums play the melody")["arrangement"]
    assert plan["drums"] == (
        "drum kit (groove library; asked for the melody, but a drum kit plays no melody)"
    )
    assert plan["melody"].endswith("(the model)")  # someone else plays the tune
    plan = explain_json("a funk band with a tuba and a contrabass")["arrangement"]
    assert plan["bass"] == "Contrabass (groove library; the bass is the tuba's: it doubles it)"


def test_contradictory_attributes_go_to_the_explicit_number_and_explain_says_so():
    rows = {
        r["attribute"]: (r["value"], r["from_text"])
        for r in explain_json("a slow presto at 120 bpm")["attributes"]
    }
    assert rows["tempo"] == ("120 bpm", "120 bpm (over 'slow', 'presto')")
    rows = {
        r["attribute"]: (r["value"], r["from_text"])
        for r in explain_json("a slow presto")["attributes"]
    }
    assert rows["tempo"] == ("184 bpm", "presto (over 'slow')")  # the more specific word


def test_the_tempo_flag_wins_over_the_prompts_words(tiny_run, tmp_path):
    out = tmp_path / "t.mid"
    run_ok(
        "generate", "a slow presto", "--tempo", 90, "-o", out, "--model", tiny_run,
        "--bars", 2, "--seed", 1, "--arrangement", "none", "--performance", "none",
    )  # fmt: skip
    assert round(symusic.Score(str(out)).tempos[0].qpm, 2) == 90  # not presto's 184


def test_explain_takes_the_flags_and_says_which_words_they_overrode():
    rows = {
        r["attribute"]: (r["value"], r["from_text"])
        for r in explain_json("a slow presto waltz in G", "--tempo", "90", "--key", "D minor")[
            "attributes"
        ]
    }
    assert rows["tempo"] == ("90 bpm", "--tempo (over \"presto (over 'slow')\")")
    assert rows["key"] == ("D minor", "--key (over 'in G')")
    assert rows["meter"] == ("3/4", "waltz")  # not given: the prompt's
    rows = {r["attribute"]: r for r in explain_json("a jig", "--bars", "12")["attributes"]}
    assert rows["bars"]["from_text"] == "--bars"  # given where the prompt said nothing
