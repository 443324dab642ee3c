"""Chord symbols and the chord analysis, on scores written note by note."""

from __future__ import annotations

import numpy as np
import pytest
import symusic

from tunesmith.music.chords import Chord, analyse_chords, best_chord, chord_chart, parse_symbol


def score_of(bars: list[list[list[int]]], tpq: int = 480, num: int = 4) -> symusic.Score:
    """bars -> beats -> pitches held for that beat (one track per voice position)."""
    s = symusic.Score(tpq)
    s.time_signatures.append(symusic.TimeSignature(0, num, 4))
    voices = max(len(p) for bar in bars for p in bar)
    tracks = [symusic.Track(program=0, name=f"v{v}") for v in range(voices)]
    for b, bar in enumerate(bars):
        for k, pitches in enumerate(bar):
            for v, p in enumerate(sorted(pitches, reverse=True)):
                tracks[v].notes.append(symusic.Note((b * num + k) * tpq, tpq, p, 80))
    for t in tracks:
        s.tracks.append(t)
    return s


@pytest.mark.parametrize(
    "text,symbol,pcs",
    [
        ("Am", "Am", (9, 0, 4)),
        ("G7", "G7", (7, 11, 2, 5)),
        ("Bbmaj7", "Bbmaj7", (10, 2, 5, 9)),
        ("F#m7b5", "F#m7b5", (6, 9, 0, 4)),
        ("D/F#", "D/F#", (2, 6, 9)),
        ("C", "C", (0, 4, 7)),
        ("Ebm", "Ebm", (3, 6, 10)),
        ("Bdim", "Bdim", (11, 2, 5)),
    ],
)
def test_symbols_parse_to_their_pitch_classes(text, symbol, pcs):
    c = parse_symbol(text)
    assert c.symbol == symbol and c.pitch_classes == pcs


@pytest.mark.parametrize("bad", ["H", "Cmaj9x", "", "7", "Am/Q"])
def test_bad_symbols_are_refused(bad):
    with pytest.raises(ValueError):
        parse_symbol(bad)


def test_best_chord_reads_triads_sevenths_and_inversions():
    w = np.zeros(12)
    w[[9, 0, 4]] = 1.0
    assert best_chord(w) == Chord(9, "min")
    w = np.zeros(12)
    w[[7, 11, 2, 5]] = 1.0
    assert best_chord(w, bass=7) == Chord(7, "7")
    w = np.zeros(12)
    w[[0, 4, 7]] = 1.0
    assert best_chord(w, bass=4) == Chord(0, "maj", bass=4)
    assert best_chord(np.zeros(12)) is None
    # a short passing seventh does not make a seventh chord
    w = np.zeros(12)
    w[[0, 4, 7]] = 1.0
    w[10] = 0.1
    assert best_chord(w, bass=0) == Chord(0, "maj")


def test_analysis_of_a_four_part_cadence():
    # I vi IV V7 I in C, four voices, one chord per bar (held for four beats)
    bars = [
        [[48, 64, 67, 72]] * 4,
        [[45, 64, 69, 72]] * 4,
        [[41, 65, 69, 72]] * 4,
        [[43, 65, 71, 74]] * 4,
        [[48, 64, 67, 72]] * 4,
    ]
    spans = analyse_chords(score_of(bars), "bar")
    assert [s.chord.symbol for s in spans] == ["C", "Am", "F", "G7", "C"]
    beats = analyse_chords(score_of(bars), "beat")
    assert len(beats) == 20 and all(s.chord == spans[s.bar].chord for s in beats)
    halves = analyse_chords(score_of(bars), "bar", parts=2)
    assert [s.beat for s in halves[:2]] == [0, 1]
    assert "G7" in chord_chart(spans) and chord_chart(beats).splitlines()[0].endswith("C . . .")


def test_silence_is_no_chord_and_drums_are_ignored():
    s = score_of([[[60, 64, 67]] * 4, [[60, 64, 67]] * 4])
    drums = symusic.Track(program=0, is_drum=True, name="drums")
    drums.notes.append(symusic.Note(0, 480, 37, 100))
    s.tracks.append(drums)
    gap = symusic.Score(480)
    assert analyse_chords(gap) == []
    spans = analyse_chords(s)
    assert [x.chord.symbol for x in spans] == ["C", "C"]
    assert spans[0].to_dict()["symbol"] == "C" and spans[0].to_dict()["bar"] == 1
