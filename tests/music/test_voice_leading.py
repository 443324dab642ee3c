"""Voice-leading checks on hand-made examples."""

from __future__ import annotations

import symusic

from tunesmith.music.voice_leading import (
    SATB_RANGES,
    satb_range_faults,
    spacing_faults,
    voice_leading,
)


def _two_voices(upper, lower, program=52):
    score = symusic.Score(480)
    for line in (upper, lower):
        t = symusic.Track(program=program)
        for i, p in enumerate(line):
            t.notes.append(symusic.Note(i * 480, 480, p, 80))
        score.tracks.append(t)
    return score


def test_parallel_fifths_are_caught():
    r = voice_leading(_two_voices([67, 69, 71], [60, 62, 64]))  # G/C -> A/D -> B/E
    assert r["parallels"] == 2
    assert r["score"] < 0.5


def test_a_clean_cadence_scores_well():
    # Soprano D-C over bass G-C: contrary-free, no parallels (a fifth then an octave).
    r = voice_leading(_two_voices([74, 72, 72], [55, 48, 48]))
    assert r["parallels"] == 0 and r["crossings"] == 0 and r["range_faults"] == 0
    assert r["score"] == 1.0


def test_crossings_and_ranges():
    crossing = voice_leading(_two_voices([72, 72, 60, 72], [60, 60, 67, 60]))
    assert crossing["crossings"] == 1
    low_choir = voice_leading(_two_voices([72, 71, 72], [30, 31, 30]))
    assert low_choir["range_faults"] == 3


def _voices(*lines):
    score = symusic.Score(480)
    for line in lines:
        t = symusic.Track(program=52)
        for i, p in enumerate(line):
            t.notes.append(symusic.Note(i * 480, 480, p, 80))
        score.tracks.append(t)
    return score


def test_spacing_counts_wide_upper_pairs_only():
    # S-A: 12 (fine), 14 (wide); A-T: 7, 19 (wide); T-B wide twice but not judged.
    score = _voices([72, 76], [60, 62], [53, 43], [30, 30])
    assert spacing_faults(score) == 2
    assert spacing_faults(score, upper=4) == 4
    assert spacing_faults(_voices([72, 76])) == 0


def test_satb_ranges_per_voice():
    lows = [lo for lo, _ in SATB_RANGES]
    assert satb_range_faults(_voices(*[[p] for p in lows])) == [0, 0, 0, 0]
    # soprano one step too high, alto too low twice, tenor fine, bass too high
    score = _voices([80, 72], [54, 50], [60, 60], [61, 48])
    assert satb_range_faults(score) == [1, 2, 0, 1]


def test_voice_leading_faults_add_the_three_counts():
    from tests.conftest import make_score

    from tunesmith.music.voice_leading import spacing_faults, voice_leading, voice_leading_faults

    s = make_score(0, (4, 4), 4, 4, [52] * 4, seed=1)
    counts = voice_leading(s)
    assert voice_leading_faults(s) == counts["parallels"] + counts["crossings"] + spacing_faults(s)
    assert voice_leading_faults(make_score(0, (4, 4), 1, 4, [0], seed=1)) == 0
