"""Chords in what tunesmith writes: MusicXML chord symbols, the notes JSON, the Piece."""

from __future__ import annotations

import json

import symusic

from tunesmith.conditioning.chords import parse_progression
from tunesmith.conditioning.controls import Controls
from tunesmith.render.notation import export_json_notes, musicxml_bytes
from tunesmith.render.piece import Piece


def cadence() -> symusic.Score:
    """C | Am | F G7 | C in four voices, 4/4, one tick per 480 a quarter."""
    s = symusic.Score(480)
    s.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    s.tempos.append(symusic.Tempo(0, 120.0))
    bars = [
        [(0, 1920, [48, 64, 67, 72])],
        [(1920, 1920, [45, 64, 69, 72])],
        [(3840, 960, [41, 65, 69, 72]), (4800, 960, [43, 65, 71, 74])],
        [(5760, 1920, [48, 64, 67, 72])],
    ]
    tracks = [symusic.Track(program=52, name=f"v{i}") for i in range(4)]
    for bar in bars:
        for start, dur, pitches in bar:
            for t, p in zip(tracks, sorted(pitches, reverse=True), strict=True):
                t.notes.append(symusic.Note(start, dur, p, 80))
    for t in tracks:
        s.tracks.append(t)
    return s


def test_json_notes_carry_the_analysed_chords_with_times():
    data = export_json_notes(cadence())
    assert [c["symbol"] for c in data["chords"]] == ["C", "Am", "F", "C"]
    assert data["chords"][1]["start_s"] == 2.0 and data["chords"][1]["end_s"] == 4.0


def test_a_requested_progression_is_laid_on_the_bars():
    piece = Piece(cadence(), Controls(key="C major"), chords=parse_progression("C | Am | F | G7 C"))
    spans = piece.chord_spans()
    assert [(s.bar, s.beat, s.chord.symbol) for s in spans] == [
        (0, None, "C"), (1, None, "Am"), (2, None, "F"), (3, 0, "G7"), (3, 1, "C")
    ]  # fmt: skip


def test_musicxml_has_chord_symbols_once_per_change(tmp_path):
    piece = Piece(cadence(), Controls(key="C major"), chords=parse_progression("C G7 Am F"))
    xml = musicxml_bytes(piece.score, key="C major", chords=piece.chord_spans()).decode()
    assert xml.count("<harmony") == 4
    assert "<kind>minor</kind>" in xml and "<kind>dominant</kind>" in xml
    repeated = Piece(cadence(), Controls(key="C major"), chords=parse_progression("C C Am F"))
    path = repeated.save(tmp_path / "lead.musicxml")
    assert path.read_text().count("<harmony") == 3  # the second C is not written again
    notes = json.loads(repeated.save(tmp_path / "n.json").read_text())
    assert [c["symbol"] for c in notes["chords"]] == ["C", "C", "Am", "F"]


def test_a_chord_track_holds_the_chords_as_block_chords(tmp_path):
    piece = Piece(cadence(), Controls(key="C major"), chords=parse_progression("C | Am | F | G7/B"))
    path = piece.save(tmp_path / "c.mid", chord_track=True)
    s = symusic.Score(str(path))
    assert [t.name for t in s.tracks][-1] == "Chords" and len(s.tracks) == 5
    by_start: dict[int, list[int]] = {}
    for n in s.tracks[-1].notes:
        by_start.setdefault(int(n.time), []).append(int(n.pitch))
    assert [sorted(v) for _, v in sorted(by_start.items())] == [
        [48, 60, 64, 67], [57, 60, 64, 69], [53, 60, 65, 69], [59, 62, 65, 67, 71]
    ]  # fmt: skip
    plain = symusic.Score(str(piece.save(tmp_path / "p.mid")))
    assert len(plain.tracks) == 4
