"""`tunesmith stream` and `tunesmith ports` as a user runs them, and the key bindings."""

from __future__ import annotations

import json

import mido
import pytest
from tests.conftest import assert_one_line_error, run_cli

from tunesmith.api import Composer
from tunesmith.errors import BadInputError
from tunesmith.stream import MemoryOutput, StreamSession
from tunesmith.stream.outputs import list_output_ports, open_output_port
from tunesmith.stream.terminal import key_action, next_key, status_line


def test_stream_records_a_file_and_reports(tiny_run, tmp_path):
    rec, rep = tmp_path / "rec.mid", tmp_path / "report.json"
    res = run_cli("stream", "a waltz for violin", "--model", tiny_run, "-o", rec,
              "--duration", 4, "--seed", 1, "--report", rep)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    for words in ("time to first note", "tokens/s produced vs needed", "underruns", "notes played"):
        assert words in res.stdout
    report = json.loads(rep.read_text())
    assert report["notes"] > 0 and report["first_note_s"] is not None
    ons = [m for m in mido.MidiFile(str(rec)) if m.type == "note_on"]
    assert len(ons) == report["notes"]


def test_stream_errors_are_one_line(tiny_run, tmp_path):
    # --out is the old spelling of -o/--output: it still works
    assert_one_line_error(run_cli("stream", "  ", "--out", tmp_path / "x.mid"), "prompt is empty")
    assert_one_line_error(run_cli("stream", "a reel"), "nowhere to play")
    assert_one_line_error(
        run_cli("stream", "a reel", "--model", tiny_run, "--out", tmp_path / "x.wav"), ".mid"
    )
    assert_one_line_error(
        run_cli("stream", "a reel", "--model", tiny_run, "--out", tmp_path / "x.mid", "--key", "Q"),
        "unknown key",
    )
    res = run_cli("stream", "a reel", "--model", tiny_run, "--midi-port", "no such port")
    assert_one_line_error(res, "MIDI")  # no MIDI system here, or no such port where there is one
    assert_one_line_error(
        run_cli("stream", "a reel", "--midi-port", "a", "--virtual-port", "b"), "either"
    )


def test_ports_lists_or_says_why_not():
    res = run_cli("ports")  # a list, possibly empty: with no MIDI system, none and why
    assert res.returncode == 0 and "Traceback" not in res.stderr
    try:
        names = list_output_ports()
    except BadInputError as e:
        assert res.stdout.strip() == f"no MIDI output ports: {e}"
    else:
        assert all(name in res.stdout for name in names)


def test_hardware_port_roundtrip():
    try:
        names = list_output_ports()
    except BadInputError as e:
        pytest.skip(f"no MIDI system on this machine: {e}")
    if not names:
        pytest.skip("the MIDI system offers no output port")
    port = open_output_port(names[0])
    port.send(mido.Message("note_off", note=60), 0.0)
    port.close()


def test_key_bindings(tiny_run):
    composer = Composer.load(tiny_run)
    s = StreamSession(
        composer,
        "a hymn in D major",
        [MemoryOutput()],
        controls=composer.controls_for("a hymn in D major"),
    )
    t = s.stream.sampling.temperature  # the default sampling's; the keys step it by 0.1
    assert key_action(s, "+") == {"temperature": round(t + 0.1, 2)}
    assert key_action(s, "-") == {"temperature": round(t - 0.1, 2)}
    assert key_action(s, "]") == {"tempo": 125.0}
    assert key_action(s, "k") == {"key": "A major"}
    assert key_action(s, "K") == {"key": "G major"}
    assert key_action(s, "m") == {"key": "D minor"}
    assert key_action(s, "s") == {"style": "reel"}  # the prompt's "hymn" is followed by reel
    assert key_action(s, "p") == {"panic": True}
    assert key_action(s, "x") is None
    assert next_key(None) == "G major"
    assert "D major" in status_line(s) and "underruns 0" in status_line(s)
