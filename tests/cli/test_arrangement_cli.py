"""--arrangement on generate-long, and `explain` showing what the plan made of the
prompt's exclusions and roles."""

from __future__ import annotations

import symusic
from tests.conftest import assert_one_line_error, run_cli, run_ok


def explained(prompt: str) -> str:
    """`tunesmith explain PROMPT` as running text: table borders out, wrapped cells joined."""
    return " ".join(w for w in run_ok("explain", prompt).stdout.split() if w not in "│┃")


def test_explain_says_what_the_prompt_left_out_and_who_plays_what():
    text = explained("a funk groove, no drums, the piano plays the lead")
    assert "left out drums: drum kit (the prompt excludes it)" in text
    assert "melody Acoustic Grand Piano (the model)" in text
    odd = explained("a pop band where the drums play the melody")
    assert "drums drum kit (groove library; asked for the melody, but a drum kit plays no" in odd


def test_generate_long_rejects_an_unknown_style_before_the_model_loads(tmp_path):
    res = run_cli(
        "generate-long", "a tune", "-o", tmp_path / "x.mid", "--arrangement", "bosa-nova",
        "--model", tmp_path / "no-model-here",
    )  # fmt: skip
    assert_one_line_error(res, "bossa-nova")
    assert "(--arrangement)" in res.stderr and not (tmp_path / "x.mid").exists()


def test_generate_long_lays_the_band_under_the_finished_piece(tiny_run, tmp_path):
    out = tmp_path / "long.mid"
    common = ["--model", tiny_run, "--chunks", 2, "--chunk-bars", 2, "--candidates", 1]
    run_ok(
        "generate-long", "a tune, no drums", "-o", out, *common, "--seed", 2,
        "--instruments", "flute", "--arrangement", "waltz",
    )  # fmt: skip
    score = symusic.Score(str(out))
    names = [t.name for t in score.tracks]
    assert {"Bass", "Comping"} <= set(names) and "Drums" not in names  # "no drums"
    assert (score.time_signatures[0].numerator, score.time_signatures[0].denominator) == (3, 4)
    melody = [t for t in score.tracks if t.name not in ("Bass", "Comping")]
    assert melody and all(t.program == 73 for t in melody)  # the model's flute
    plain = tmp_path / "plain.mid"
    run_ok("generate-long", "a tune", "-o", plain, *common, "--seed", 2, "--instruments", "flute")
    assert {"Bass", "Comping", "Drums"}.isdisjoint(t.name for t in symusic.Score(str(plain)).tracks)
