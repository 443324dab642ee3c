"""The real-part test: a phrase's worth of notes, sounding in at least half the bars."""

from __future__ import annotations

import symusic

from tunesmith.evaluate.attributes import attribute_hits
from tunesmith.music.parts import is_real, part_facts, real_part_share

TPQ = 480
BAR = 4 * TPQ


def score_with(parts: dict[int, list[tuple[int, int]]], bars: int) -> symusic.Score:
    """4/4 score; parts maps program -> [(onset tick, duration)]; a marker note fixes length."""
    s = symusic.Score(TPQ)
    s.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    for program, notes in parts.items():
        t = symusic.Track(program=program)
        for on, dur in notes:
            t.notes.append(symusic.Note(on, dur, 60, 80))
        s.tracks.append(t)
    s.tracks[0].notes.append(symusic.Note(bars * BAR - TPQ, TPQ, 72, 80))
    return s


def test_definition_on_counts():
    assert is_real(8, 8, 16) and not is_real(7, 16, 16)  # 8 notes needed in 16 bars
    assert not is_real(40, 7, 16)  # a flurry in under half the bars
    assert is_real(4, 4, 4) and not is_real(3, 4, 4)  # short pieces: one note a bar


def test_one_note_flurry_and_whole_notes():
    melody = [(i * TPQ, TPQ) for i in range(16 * 4)]
    parts = {
        40: melody,
        42: [(0, 16 * BAR)],  # one note held through the piece: not a part
        71: [(i * 120, 120) for i in range(16)],  # 16 notes, all in bar 1
        32: [(b * BAR, BAR) for b in range(16)],  # a bass of whole notes: real
    }
    facts = {f.program: f for f in part_facts(score_with(parts, 16))}
    assert facts[42].bars_sounding == 16 and facts[42].notes == 1 and not facts[42].real
    assert facts[71].notes == 16 and facts[71].bars_sounding == 1 and not facts[71].real
    assert facts[32].real and facts[40].real
    assert real_part_share(score_with(parts, 16), [40, 42, 32]) == (2, 3)


def test_instrument_check_needs_real_parts():
    duet = {40: [(i * TPQ, TPQ) for i in range(32)], 42: [(0, TPQ)]}
    score = score_with(duet, 8)
    hits = attribute_hits(score, {}, {"instruments": [40, 42]})
    assert hits == {"instruments": False, "voices": True}
    duet[42] = [(b * BAR, BAR) for b in range(8)]
    assert attribute_hits(score_with(duet, 8), {}, {"instruments": [40, 42]})["instruments"]
