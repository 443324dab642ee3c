"""MusicXML and JSON-notes export: parse the output back and compare with the input."""

from __future__ import annotations

import json
from collections import Counter
from fractions import Fraction
from xml.etree import ElementTree as ET

import pytest
import symusic
from music21 import converter, stream

from tunesmith.errors import BadInputError
from tunesmith.render.notation import export_json_notes, export_musicxml, musicxml_bytes

TPQ = 480


def score_of(*tracks: tuple[int, list[tuple[int, int, int]]], meter=(4, 4), qpm=96.0, drum=()):
    """Tracks as (program, [(start_tick, duration_ticks, pitch), ...]); `drum` marks indices."""
    score = symusic.Score(TPQ)
    score.tempos.append(symusic.Tempo(0, qpm))
    score.time_signatures.append(symusic.TimeSignature(0, *meter))
    for i, (program, notes) in enumerate(tracks):
        track = symusic.Track(program=program, is_drum=i in drum)
        for start, duration, pitch in notes:
            track.notes.append(symusic.Note(start, duration, pitch, 90))
        score.tracks.append(track)
    return score


def sounding_notes(part: stream.Part) -> list[tuple[Fraction, int, Fraction]]:
    """(onset, midi, duration) in quarters with tied notes joined (chords may be tied per note)."""
    items = []
    for n in part.flatten().notes:
        for x in n.notes if n.isChord else [n]:
            kind = x.tie.type if x.tie else ""
            items.append((Fraction(n.offset), x.pitch.midi, Fraction(n.quarterLength), kind))
    items.sort(key=lambda i: (i[0], i[1]))
    done, open_ = [], {}
    for onset, midi, dur, kind in items:
        if kind in ("", "start"):
            open_[midi] = [onset, dur]
        else:
            open_[midi][1] += dur
        if kind in ("", "stop"):
            done.append((open_[midi][0], midi, open_.pop(midi)[1]))
    assert not open_, f"unterminated ties: {open_}"
    return sorted(done)


def parse(path):
    return converter.parse(str(path)).toSoundingPitch()


def test_parts_measures_and_pitches_round_trip(tmp_path):
    melody = [
        (i * TPQ, TPQ, p) for i, p in enumerate([62, 64, 66, 67, 69, 71, 73, 74, 76, 78, 79, 81])
    ]
    bass = [(i * 3 * TPQ, 3 * TPQ, p) for i, p in enumerate([38, 43, 45, 50])]
    score = score_of((40, melody), (42, bass), meter=(3, 4))

    path = export_musicxml(score, tmp_path / "out.musicxml", title="Round trip", key="D major")

    parsed = parse(path)
    assert parsed.metadata.bestTitle == "Round trip"
    assert len(parsed.parts) == 2
    for part in parsed.parts:
        measures = part.getElementsByClass(stream.Measure)
        assert len(measures) == 4
        assert measures[0].timeSignature.ratioString == "3/4"
        assert measures[0].keySignature.sharps == 2
    assert [m for _, m, _ in sounding_notes(parsed.parts[0])] == [p for *_, p in melody]
    assert [m for _, m, _ in sounding_notes(parsed.parts[1])] == [p for *_, p in bass]
    assert sounding_notes(parsed.parts[1])[1] == (Fraction(3), 43, Fraction(3))
    mark = parsed.recurse().getElementsByClass("MetronomeMark").first()
    assert mark is not None and mark.number == 96


def test_messy_generated_music_is_quantised_into_voices(tmp_path):
    notes = [
        (0, 1920, 48),  # whole note under everything
        (0, 480, 60),
        (0, 480, 64),  # chord with the note above
        (240, 960, 67),  # overlaps the chord: a second voice
        (480, 7, 62),  # a few ticks long: one grid step
        (960, 3000, 72),  # crosses two barlines: tied
        (1440, 160, 74),  # eighth-note triplet
        (1600, 160, 76),
        (1760, 160, 77),
    ]
    score = score_of((0, notes))
    path = export_musicxml(score, tmp_path / "messy.musicxml")

    part = parse(path).parts[0]
    got = sounding_notes(part)
    assert sorted(m for _, m, _ in got) == sorted(p for *_, p in notes)
    onsets = {m: on for on, m, _ in got}
    assert onsets[74] == 3 and onsets[76] == Fraction(10, 3) and onsets[77] == Fraction(11, 3)
    assert dict((m, d) for _, m, d in got)[62] == Fraction(1, 4)  # short note -> a 16th
    assert dict((m, d) for _, m, d in got)[72] == Fraction(25, 4)
    measures = part.getElementsByClass(stream.Measure)
    assert len(measures) == 3 and measures[0].voices  # overlap made voices
    for m in measures:  # every voice fills its bar exactly, so tuplets are complete
        for v in m.voices or [m]:
            assert sum(Fraction(e.quarterLength) for e in v.notesAndRests) == 4


def test_transposing_instrument_keeps_sounding_pitch(tmp_path):
    clarinet = [(i * TPQ, TPQ, p) for i, p in enumerate([60, 62, 64, 65])]
    path = export_musicxml(score_of((71, clarinet)), tmp_path / "cl.musicxml")
    assert [m for _, m, _ in sounding_notes(parse(path).parts[0])] == [60, 62, 64, 65]


def test_flat_key_spells_black_keys_as_flats():
    xml = musicxml_bytes(score_of((0, [(0, TPQ, 70), (TPQ, TPQ, 63)])), key="Bb major")
    steps = [n.findtext("pitch/step") for n in ET.fromstring(xml).iter("note")]
    assert steps[:2] == ["B", "E"]


def test_drums_are_unpitched_notes_that_name_their_sound(tmp_path):
    kit = [(0, 240, 36), (0, 240, 42), (240, 240, 42), (480, 240, 38), (480, 240, 42)]
    score = score_of((0, kit), (33, [(0, 4 * TPQ, 40)]), drum=(0,))
    path = export_musicxml(score, tmp_path / "drums.musicxml")

    root = ET.parse(path).getroot()
    drum_part = root.find("part-list/score-part")
    sounds = {
        mi.get("id"): int(mi.findtext("midi-unpitched")) - 1
        for mi in drum_part.iter("midi-instrument")
    }
    assert {mi.findtext("midi-channel") for mi in drum_part.iter("midi-instrument")} == {"10"}
    notes = root.find(f"part[@id='{drum_part.get('id')}']").iter("note")
    played = Counter(
        sounds[n.find("instrument").get("id")] for n in notes if n.find("unpitched") is not None
    )
    assert played == Counter(p for *_, p in kit)
    assert len(parse(path).parts) == 2


def test_empty_tracks_are_skipped_and_empty_scores_refused(tmp_path):
    score = score_of((0, []), (24, [(0, TPQ, 60)]), (5, []))
    assert len(parse(export_musicxml(score, tmp_path / "one.musicxml")).parts) == 1
    with pytest.raises(BadInputError):
        export_musicxml(score_of((0, [])), tmp_path / "none.musicxml")
    assert not (tmp_path / "none.musicxml").exists()


def test_unknown_key_is_bad_input(tmp_path):
    with pytest.raises(BadInputError):
        export_musicxml(score_of((0, [(0, TPQ, 60)])), tmp_path / "k.musicxml", key="H major")


def test_json_notes_round_trip_counts():
    score = score_of(
        (0, [(0, TPQ, 60), (TPQ, TPQ, 62), (2 * TPQ, 2 * TPQ, 64)]),
        (0, [(0, 120, 36), (TPQ, 120, 38)]),
        drum=(1,),
        qpm=120.0,
        meter=(6, 8),
    )
    data = json.loads(json.dumps(export_json_notes(score)))

    assert data["tempo"] == 120.0 and data["time_signature"] == "6/8"
    assert [len(t["notes"]) for t in data["tracks"]] == [3, 2]
    piano, drums = data["tracks"]
    assert (piano["program"], piano["is_drum"], piano["name"]) == (0, False, "Acoustic Grand Piano")
    assert drums["is_drum"] is True and drums["name"] == "Drums"
    assert piano["notes"][2] == {"pitch": 64, "start_s": 1.0, "end_s": 2.0, "velocity": 90}
    assert data["duration_s"] == 2.0
