"""Piece clean-up after decoding."""

import symusic

from tunesmith.render.piece import _trim_overlaps


def test_a_repeated_pitch_ends_the_earlier_note_and_doubles_go():
    s = symusic.Score(480)
    t = symusic.Track(program=0)
    for time, dur, pitch in [(0, 960, 60), (480, 480, 60), (480, 960, 64), (480, 240, 64)]:
        t.notes.append(symusic.Note(time, dur, pitch, 80))
    s.tracks.append(t)
    _trim_overlaps(s)
    assert [(n.time, n.duration, n.pitch) for n in s.tracks[0].notes] == [
        (0, 480, 60), (480, 480, 60), (480, 960, 64),
    ]  # fmt: skip
