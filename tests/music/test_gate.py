"""The MIDI gate: absurd headers and notes are refused with one line, real music passes."""

from __future__ import annotations

import struct

import pytest
import symusic
from tests.conftest import assert_one_line_error, make_score, run_cli

from tunesmith.errors import BadInputError
from tunesmith.music.gate import check_score
from tunesmith.music.metrics import load_midi


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def midi(division: int, events: list[bytes], tracks: int = 1) -> bytes:
    """A hand-built SMF, so headers can say what no library would write."""
    data = b"".join(events) + b"\x00\xff\x2f\x00"
    body = (b"MTrk" + struct.pack(">I", len(data)) + data) * tracks
    return b"MThd" + struct.pack(">IHHH", 6, 0 if tracks == 1 else 1, tracks, division) + body


def on(dt: int, pitch: int) -> bytes:
    return _vlq(dt) + bytes([0x90, pitch, 80])


def off(dt: int, pitch: int) -> bytes:
    return _vlq(dt) + bytes([0x80, pitch, 0])


def tempo(dt: int, mspq: int) -> bytes:
    return _vlq(dt) + b"\xff\x51\x03" + mspq.to_bytes(3, "big")


EVIL = {
    "division 0": (midi(0, [on(0, 60), off(480, 60)]), "division of 0"),
    "a note 2^28 ticks long": (midi(1, [on(0, 60), off(2**28 - 1, 60)]), "a note ending"),
    "notes 2^28 ticks apart": (
        midi(480, [on(0, 60), off(480, 60), on(2**28 - 1, 62), off(480, 62)]),
        "a note ending",
    ),
    "2000 tracks": (midi(480, [on(0, 60), off(480, 60)], tracks=2000), "2000 tracks"),
    "a tempo of 60 million bpm": (midi(480, [tempo(0, 1), on(0, 60), off(480, 60)]), "tempo"),
}


@pytest.mark.parametrize("name", list(EVIL))
def test_absurd_files_are_refused_with_one_line(tmp_path, name):
    data, fragment = EVIL[name]
    path = tmp_path / "evil.mid"
    path.write_bytes(data)
    with pytest.raises(BadInputError, match=fragment) as e:
        load_midi(path)
    assert "\n" not in str(e.value) and "evil.mid" in str(e.value)


def test_real_music_passes_unchanged():
    s = make_score(0, (6, 8), 4, 16, [40, 40, 41, 42], seed=1)
    assert check_score(s) is s


def test_time_signatures_must_be_real():
    s = make_score(0, (4, 4), 1, 2, [0], seed=1)
    s.time_signatures.append(symusic.TimeSignature(0, 4, 3))
    with pytest.raises(BadInputError, match="power of two"):
        check_score(s)


@pytest.mark.parametrize("command", [["metrics"], ["chords"]])
def test_the_cli_says_one_line(tmp_path, command):
    path = tmp_path / "d0.mid"
    path.write_bytes(EVIL["division 0"][0])
    assert_one_line_error(run_cli(*command, path), "division of 0")
