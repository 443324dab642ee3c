"""Voice-leading checks for part music: parallel fifths/octaves, crossings, ranges.

Each non-drum track is a voice. At every onset where two voices both sound, and both move
to the next such moment, consecutive perfect fifths or octaves (unisons included) by
similar motion count as parallels. A crossing is a moment where two voices sound in the
opposite order to their usual one (by median pitch). A range fault is a note outside the
voice's instrument family range (MIDI 28-100 for anything unknown).

For four-part writing, `spacing_faults` and `satb_range_faults` take the voices in track
order (soprano first): more than an octave between adjacent upper voices, and notes
outside each voice's textbook range (`SATB_RANGES`).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import symusic

from .metrics import as_tick_score

PERFECT = {0, 7}  # unison/octave and fifth, as intervals mod 12
# GM program ranges (lowest, highest MIDI pitch) for families where it matters.
RANGES = {
    range(52, 55): (40, 84),  # choir and voices
    range(40, 41): (55, 103),  # violin
    range(41, 42): (48, 91),  # viola
    range(42, 43): (36, 84),  # cello
    range(43, 44): (28, 67),  # contrabass
}


# Textbook SATB ranges (lowest, highest MIDI pitch): soprano C4-G5, alto G3-D5,
# tenor C3-G4, bass E2-C4 (Kostka & Payne).
SATB_RANGES: tuple[tuple[int, int], ...] = ((60, 79), (55, 74), (48, 67), (40, 60))


def _range_for(program: int) -> tuple[int, int]:
    for programs, lo_hi in RANGES.items():
        if program in programs:
            return lo_hi
    return (28, 100)


def _sounding(notes: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Highest pitch of the voice sounding at each time (-1 where silent)."""
    out = np.full(len(times), -1, dtype=np.int64)
    start, end, pitch = notes["time"], notes["time"] + notes["duration"], notes["pitch"]
    for i, t in enumerate(times):
        on = (start <= t) & (end > t)
        if on.any():
            out[i] = int(pitch[on].max())
    return out


def voice_leading(score: symusic.Score) -> dict[str, float]:
    """Counts, rates and a score in [0, 1] (1 = no faults)."""
    score = as_tick_score(score)
    voices = [t for t in score.tracks if not t.is_drum and t.note_num()]
    notes = [t.notes.numpy() for t in voices]
    total_notes = sum(len(n["time"]) for n in notes)
    range_faults = 0
    for t, n in zip(voices, notes, strict=True):
        lo, hi = _range_for(int(t.program))
        range_faults += int(((n["pitch"] < lo) | (n["pitch"] > hi)).sum())
    parallels = crossings = pair_moves = pair_moments = 0
    if len(voices) >= 2:
        times = np.unique(np.concatenate([n["time"] for n in notes]))
        grid = np.stack([_sounding(n, times) for n in notes])  # [voices, times]
        medians = [np.median(n["pitch"]) for n in notes]
        for i, j in combinations(range(len(voices)), 2):
            a, b = grid[i], grid[j]
            both = (a >= 0) & (b >= 0)
            idx = np.flatnonzero(both)
            pair_moments += len(idx)
            order = np.sign(medians[i] - medians[j])
            if order:
                crossings += int((np.sign(a[idx] - b[idx]) == -order).sum())
            for k0, k1 in zip(idx, idx[1:], strict=False):
                da, db = a[k1] - a[k0], b[k1] - b[k0]
                if da == 0 and db == 0:
                    continue
                pair_moves += 1
                same_dir = np.sign(da) == np.sign(db) and da != 0
                if (
                    same_dir
                    and (a[k0] - b[k0]) % 12 in PERFECT
                    and (a[k1] - b[k1]) % 12 == (a[k0] - b[k0]) % 12
                ):
                    parallels += 1
    parallel_rate = parallels / pair_moves if pair_moves else 0.0
    crossing_rate = crossings / pair_moments if pair_moments else 0.0
    range_rate = range_faults / total_notes if total_notes else 0.0
    penalty = 5 * parallel_rate + 2 * crossing_rate + range_rate
    return {
        "parallels": parallels,
        "crossings": crossings,
        "range_faults": range_faults,
        "parallel_rate": parallel_rate,
        "crossing_rate": crossing_rate,
        "range_rate": range_rate,
        "score": float(max(0.0, 1.0 - penalty)),
    }


def _voices(score: symusic.Score) -> list[np.ndarray]:
    """The notes of each pitched track with notes, in track order."""
    score = as_tick_score(score)
    return [t.notes.numpy() for t in score.tracks if not t.is_drum and t.note_num()]


def spacing_faults(score: symusic.Score, max_gap: int = 12, upper: int = 3) -> int:
    """Moments where two adjacent voices among the first `upper` (in track order: S-A and
    A-T by default) are more than `max_gap` semitones apart. A moment is any onset in
    any voice; each pair that is too wide there counts once."""
    notes = _voices(score)[:upper]
    if len(notes) < 2:
        return 0
    times = np.unique(np.concatenate([n["time"] for n in notes]))
    grid = np.stack([_sounding(n, times) for n in notes])
    faults = 0
    for i in range(len(notes) - 1):
        a, b = grid[i], grid[i + 1]
        faults += int((((a >= 0) & (b >= 0)) & (a - b > max_gap)).sum())
    return faults


def satb_range_faults(
    score: symusic.Score, ranges: tuple[tuple[int, int], ...] = SATB_RANGES
) -> list[int]:
    """Notes outside its voice's range, per voice in track order (`ranges[i]` for voice
    i; voices past the last range are not judged)."""
    out = []
    for n, (lo, hi) in zip(_voices(score), ranges, strict=False):
        out.append(int(((n["pitch"] < lo) | (n["pitch"] > hi)).sum()))
    return out


def voice_leading_faults(score: symusic.Score) -> int:
    """Parallel fifths and octaves, crossings and spacing faults of a score, counted as
    `voice_leading` and `spacing_faults` count them (what a harmonization is judged by)."""
    counts = voice_leading(score)
    return int(counts["parallels"] + counts["crossings"] + spacing_faults(score))
