"""The final-cadence check on hand-made endings."""

from __future__ import annotations

import symusic

from tunesmith.music.cadence import cadence_fit, ends_on_tonic, final_chord


def _ending(*chords, drums=()):
    """One track per voice; chords[i] sounds at quarter i."""
    score = symusic.Score(480)
    for v in range(max(len(c) for c in chords)):
        t = symusic.Track(program=52)
        for i, chord in enumerate(chords):
            if v < len(chord):
                t.notes.append(symusic.Note(i * 480, 480, chord[v], 80))
        score.tracks.append(t)
    if drums:
        kit = symusic.Track(program=0, is_drum=True)
        kit.notes.append(symusic.Note(len(chords) * 480, 240, drums[0], 90))
        score.tracks.append(kit)
    return score


def test_an_authentic_cadence_closes_on_the_tonic():
    score = _ending((55, 62, 67, 71), (48, 64, 67, 72))  # G major chord -> C major, C in the bass
    assert final_chord(score) == [48, 64, 67, 72]
    assert ends_on_tonic(score, "C major") is True
    assert cadence_fit(score, "C major") == 1.0


def test_a_half_close_or_the_wrong_key_scores_low():
    half = _ending((48, 64, 67, 72), (43, 62, 67, 71))  # ends on the dominant, G B D
    assert ends_on_tonic(half, "C major") is False
    assert cadence_fit(half, "C major") == 0.5 * 2 / 4  # its two Gs belong to C E G
    assert cadence_fit(half, "G major") == 1.0
    minor = _ending((45, 60, 64, 69))  # A C E: the tonic triad of A minor, not of A major
    assert cadence_fit(minor, "A minor") == 1.0
    assert cadence_fit(minor, "A major") == 0.5 + 0.5 * 3 / 4


def test_drums_and_silence_are_not_a_close():
    score = _ending((48, 64, 67), drums=(36,))  # a kick after the chord does not count
    assert final_chord(score) == [48, 64, 67]
    assert ends_on_tonic(symusic.Score(480), "C major") is None
    assert cadence_fit(symusic.Score(480), "C major") == 0.0
