"""ABC in: tunes become Scores (one track per voice), through the same gate as MIDI."""

from __future__ import annotations

import pytest

from tunesmith.errors import BadInputError
from tunesmith.music.abc import looks_like_abc, read_abc, split_voices
from tunesmith.music.metrics import load_midi, read_music

TWO_TUNES = """%abc-2.1
X:3
T:The First
M:6/8
L:1/8
Q:3/8=100
K:G
D|GAB cBA|G3 G2|]

X:7
T:The Second
M:4/4
L:1/8
K:Am
A2 c2 e2 c2|(3efg a4 z2|^g8-|^g2 z6|]
"""


def notes(score, track=0):
    return [(n.time, n.duration, n.pitch) for n in score.tracks[track].notes]


def test_first_tune_is_read_and_the_notice_says_so():
    tune = read_abc(TWO_TUNES, "book.abc")
    assert tune.number == 3 and tune.title == "The First"
    assert tune.notice is not None and "2 tunes" in tune.notice and "X:3" in tune.notice
    s = tune.score
    assert (s.time_signatures[0].numerator, s.time_signatures[0].denominator) == (6, 8)
    assert s.key_signatures[0].key == 1  # G major: one sharp
    assert float(s.tempos[0].qpm) == pytest.approx(150.0)  # 3/8 = 100 is 150 quarters
    # the pickup D is preceded by rests so the first full bar starts on a barline (3 quarters)
    assert notes(s)[:2] == [(1200, 240, 62), (1440, 240, 67)]


def test_tune_by_number_ties_triplets_and_accidentals():
    tune = read_abc(TWO_TUNES, "book.abc", tune=7)
    assert tune.notice is None and tune.title == "The Second"
    got = notes(tune.score)
    assert got[:3] == [(0, 480, 69), (480, 480, 72), (960, 480, 76)]
    assert got[4:7] == [(1920, 160, 76), (2080, 160, 77), (2240, 160, 79)]  # (3efg
    assert (3840, 2400, 80) in got  # ^g8- tied into the next bar: one note of 5 quarters
    assert tune.score.key_signatures[0].tonality == 1  # minor


def test_unknown_tune_number_lists_the_tunes():
    with pytest.raises(BadInputError, match=r"no tune X:9; its tunes are X: 3, 7") as e:
        read_abc(TWO_TUNES, "book.abc", tune=9)
    assert e.value.field == "tune"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("hello world\n", "not ABC"),
        ("X:1\nT:empty\nK:C\n", "has no notes"),
        ("", "not ABC"),
    ],
)
def test_malformed_abc_is_one_bad_input_error(text, fragment):
    with pytest.raises(BadInputError, match=fragment) as e:
        read_abc(text, "x.abc")
    assert "\n" not in str(e.value)


def test_voices_become_tracks_with_their_instruments():
    text = (
        "X:1\nT:duo\nM:4/4\nL:1/4\nK:C\n"
        'V:1 name="Flute"\n%%MIDI program 73\nc d e f|\n'
        'V:2 name="Cello" clef=bass\n%%MIDI program 42\nC, D, E, F,|\n'
        "V:1\ng4|]\nV:2\nG,4|]\n"  # voices continued in a second block
    )
    voices = split_voices(text)
    assert [v.name for v in voices] == ["Flute", "Cello"]
    s = read_abc(text).score
    assert [(t.name, t.program) for t in s.tracks] == [("Flute", 73), ("Cello", 42)]
    assert [n.pitch for n in s.tracks[0].notes] == [72, 74, 76, 77, 79]
    assert [n.pitch for n in s.tracks[1].notes] == [48, 50, 52, 53, 55]


def test_files_pass_the_gate_by_name_or_by_content(tmp_path):
    path = tmp_path / "book.abc"
    path.write_text(TWO_TUNES)
    score, notice = read_music(path, tune=7)
    assert notice is None and notes(score)[0] == (0, 480, 69)
    same = tmp_path / "book.txt"  # ABC text under another name is still ABC
    same.write_text(TWO_TUNES)
    assert notes(load_midi(same)) == notes(read_music(path)[0])
    assert looks_like_abc(TWO_TUNES.encode()) and not looks_like_abc(b"MThd\x00\x00\x00\x06")
    with pytest.raises(BadInputError, match="not an ABC file"):
        read_music(_midi(tmp_path), tune=1)


def _midi(tmp_path):
    import symusic

    s = symusic.Score(480)
    t = symusic.Track(program=0)
    t.notes.append(symusic.Note(0, 480, 60, 80))
    s.tracks.append(t)
    path = tmp_path / "x.mid"
    s.dump_midi(str(path))
    return path


def test_overlong_voices_are_refused_before_parsing():
    """music21's ABC parser slows down faster than a voice grows: a voice past
    MAX_VOICE_CHARS is one error line, at once."""
    from tunesmith.music.abc import MAX_VOICE_CHARS

    body = "|".join(["ABcd efga"] * (MAX_VOICE_CHARS // 10 + 10))
    with pytest.raises(BadInputError, match=r"has a voice of [\d,]+ characters; at most 6,000"):
        read_abc("X:1\nT:long\nM:4/4\nL:1/8\nK:D\n" + body + "|]\n", "long.abc")
