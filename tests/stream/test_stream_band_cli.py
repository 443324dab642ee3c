"""`tunesmith stream --arrangement` as a user runs it: the band in the recording, none with
`none`, and an unknown style as one line naming the nearest ones."""

from __future__ import annotations

import mido
from tests.conftest import assert_one_line_error, run_cli, run_ok

DRUM_CHANNEL = 9  # channel 10


def recorded_ons(path) -> list[mido.Message]:
    return [m for m in mido.MidiFile(str(path)) if m.type == "note_on" and m.velocity > 0]


def test_stream_plays_and_records_the_band_by_default_when_the_prompt_asks(tiny_run, tmp_path):
    rec = tmp_path / "band.mid"
    res = run_ok("stream", "a bossa nova for flute", "--model", tiny_run, "-o", rec,
                 "--duration", 4, "--seed", 1, "--tempo", 120)  # fmt: skip
    assert "band: bossa-nova" in res.stderr and "channel 10" in res.stderr
    assert "band" in res.stdout  # the report's row
    ons = recorded_ons(rec)
    assert len({m.note for m in ons if m.channel == DRUM_CHANNEL}) >= 2
    assert {m.channel for m in ons} >= {0, 1, 2, DRUM_CHANNEL}  # melody, bass, comping, kit

    plain = tmp_path / "plain.mid"
    res = run_ok("stream", "a bossa nova for flute", "--model", tiny_run, "-o", plain,
                 "--duration", 4, "--seed", 1, "--arrangement", "none")  # fmt: skip
    assert "band:" not in res.stderr
    assert {m.channel for m in recorded_ons(plain)} == {0}  # the model's flute only


def test_stream_names_the_nearest_styles_for_an_unknown_one(tmp_path):
    rec = tmp_path / "x.mid"
    res = run_cli("stream", "a tune", "-o", rec, "--arrangement", "bosa-nova",
                  "--model", tmp_path / "no-model-here")  # fmt: skip
    assert_one_line_error(res, "bossa-nova")  # before the model loads: no model is needed
    assert "(--arrangement)" in res.stderr and not rec.exists()
