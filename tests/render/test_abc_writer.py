"""ABC out: the writer's text reads back (music21's ABC parser) to the same notes."""

from __future__ import annotations

import symusic

from tunesmith.conditioning.controls import Controls
from tunesmith.music.abc import read_abc
from tunesmith.music.chords import Chord, ChordSpan
from tunesmith.render.abc import abc_text
from tunesmith.render.piece import Piece


def _duo() -> symusic.Score:
    """Violin melody (a triplet, a note tied over a barline, accidentals) over a cello."""
    s = symusic.Score(480)
    s.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    s.key_signatures.append(symusic.KeySignature(0, 2, 0))  # D major
    s.tempos.append(symusic.Tempo(0, 100))
    violin = symusic.Track(program=40, name="Violin")
    melody = [
        (0, 480, 62), (480, 160, 64), (640, 160, 66), (800, 160, 67), (960, 960, 69),
        (1920, 2400, 70), (4320, 480, 61), (4800, 240, 72), (5040, 240, 84), (5280, 480, 50),
    ]  # fmt: skip
    for time, duration, pitch in melody:
        violin.notes.append(symusic.Note(time, duration, pitch, 80))
    cello = symusic.Track(program=42, name="Cello")
    for bar in range(3):
        cello.notes.append(symusic.Note(bar * 1920, 1920, 38, 80))
    s.tracks.append(violin)
    s.tracks.append(cello)
    return s


def _notes(score: symusic.Score) -> list[list[tuple[int, int, int]]]:
    return [[(n.time, n.duration, n.pitch) for n in t.notes] for t in score.tracks]


def test_header_voices_and_round_trip():
    score = _duo()
    text = abc_text(score, "a duo", "D major")
    lines = text.splitlines()
    assert lines[:6] == ["X:1", "T:a duo", "M:4/4", "L:1/8", "Q:1/4=100", "K:D"]
    assert 'V:1 name="Violin" clef=treble' in lines and 'V:2 name="Cello" clef=bass' in lines
    assert "%%MIDI program 40" in lines and "%%MIDI program 42" in lines
    assert "(3" in text  # the triplet
    assert "^A8-" in text  # Bb written as A# in D major, tied over the barline
    assert text.rstrip().endswith("|]")
    back = read_abc(text).score
    assert _notes(back) == _notes(score)
    assert [(t.name, t.program) for t in back.tracks] == [("Violin", 40), ("Cello", 42)]
    assert back.key_signatures[0].key == 2 and float(back.tempos[0].qpm) == 100


def test_chord_symbols_make_a_lead_sheet(tmp_path):
    score = _duo()
    chords = [
        ChordSpan(0, None, 0, 1920, Chord(2, "maj")),
        ChordSpan(1, None, 1920, 3840, Chord(9, "7")),
        ChordSpan(2, None, 3840, 5760, Chord(9, "7")),  # the same again: not repeated
    ]
    piece = Piece(score=score, controls=Controls(key="D major"), prompt="duo", chords=None)
    text = abc_text(score, "duo", "D major", chords)
    body = text.split("%%MIDI program 40", 1)[1].split("V:2", 1)[0]
    assert body.count('"D"') == 1 and body.count('"A7"') == 1
    assert '"A7"' not in text.split("V:2", 1)[1]  # over the first voice only
    # a lead sheet: the melody alone under the chords, and its notes unchanged
    path = piece.save(tmp_path / "lead.abc", lead_sheet=True)
    lead = path.read_text()
    assert "V:" not in lead and "%%MIDI program 42" not in lead
    assert _notes(read_abc(lead).score) == _notes(score)[:1]


def test_meter_change_starts_a_field_line():
    s = symusic.Score(480)
    s.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    s.time_signatures.append(symusic.TimeSignature(1920, 3, 4))
    t = symusic.Track(program=0)
    for i, pitch in enumerate((60, 62, 64, 65, 67, 69, 71)):
        t.notes.append(symusic.Note(i * 480, 480, pitch, 80))
    s.tracks.append(t)
    lines = abc_text(s).splitlines()
    assert "M:3/4" in lines[lines.index("K:C") + 1 :]
    assert [n.pitch for n in read_abc("\n".join(lines)).score.tracks[0].notes] == [
        60, 62, 64, 65, 67, 69, 71,
    ]  # fmt: skip


def test_drums_are_a_percussion_voice_on_channel_10():
    s = symusic.Score(480)
    s.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    kit = symusic.Track(program=0, is_drum=True, name="Drums")
    for beat in range(4):
        kit.notes.append(symusic.Note(beat * 480, 240, 36 if beat % 2 == 0 else 38, 90))
    melody = symusic.Track(program=0, name="Piano")
    melody.notes.append(symusic.Note(0, 1920, 72, 80))
    s.tracks.append(melody)
    s.tracks.append(kit)
    text = abc_text(s)
    assert 'V:2 name="Drums" clef=perc' in text and "%%MIDI channel 10" in text
    back = read_abc(text).score
    assert [t.is_drum for t in back.tracks] == [False, True]
    assert [n.pitch for n in back.tracks[1].notes] == [36, 38, 36, 38]


def test_32nds_and_sixteenth_triplets_come_back_exactly():
    """A tune read from ABC keeps its finer rhythms when written again (beats whose notes
    all lie on 32nds or sixteenth triplets); MusicXML keeps its 16th / eighth-triplet grid."""
    from tunesmith.render.notation import build_music21_score

    tune = "X:1\nT:fine\nM:2/4\nL:1/16\nK:G\nG3/2A/ B2 (3cde f2|g4 z4|]\n"
    score = read_abc(tune).score
    got = [(n.time, n.duration) for n in score.tracks[0].notes]
    assert got[:7] == [(0, 180), (180, 60), (240, 240), (480, 80), (560, 80), (640, 80), (720, 240)]
    text = abc_text(score)
    assert "(3" in text
    assert _notes(read_abc(text).score) == _notes(score)
    coarse = build_music21_score(score).flatten().notes
    assert float(coarse[0].quarterLength) != 0.375  # the dotted 16th is snapped there
