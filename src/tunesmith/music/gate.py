"""The gate every MIDI file or score passes before tunesmith works on it.

A MIDI header can claim anything: a division of 0 ticks per quarter, one note lasting
2^28 ticks, a tempo of a million beats per minute, two thousand tracks. Each such file is
refused here with one line that says what is wrong and what the bound is, before any
code divides by the division, walks its barlines, renders it or feeds it to the model.
The bounds are far beyond real music (docs/HARDENING.md lists them); everything that
reads a MIDI file (`music.metrics.load_midi`) or an upload (the server) goes through
`check_score`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import symusic

from ..errors import BadInputError


@dataclass(frozen=True)
class Bounds:
    """What a score may be. Quarters count from the start of the file."""

    min_tpq: int = 1
    max_tpq: int = 32767  # a MIDI division is 15 bits
    max_tracks: int = 256  # tracks in the file, empty ones included
    max_note_tracks: int = 64  # tracks that hold notes
    max_notes: int = 200_000
    max_quarters: float = 16_384.0  # 4,096 bars of 4/4: over two hours at 120 bpm
    min_qpm: float = 1.0
    max_qpm: float = 1_000.0
    max_numerator: int = 64
    max_denominator: int = 64


BOUNDS = Bounds()


def check_score(score: symusic.Score, source: str = "the MIDI file", bounds: Bounds = BOUNDS):
    """`score` itself when it is inside `bounds`; else BadInputError naming `source`."""
    b = bounds
    tpq = int(score.tpq)
    if not b.min_tpq <= tpq <= b.max_tpq:
        raise BadInputError(
            f"{source} has a division of {tpq} ticks per quarter note; "
            f"it must be between {b.min_tpq} and {b.max_tpq}"
        )
    if len(score.tracks) > b.max_tracks:
        raise BadInputError(
            f"{source} has {len(score.tracks)} tracks; at most {b.max_tracks} are accepted"
        )
    note_tracks = [t for t in score.tracks if t.note_num()]
    if len(note_tracks) > b.max_note_tracks:
        raise BadInputError(
            f"{source} has {len(note_tracks)} tracks with notes; "
            f"at most {b.max_note_tracks} are accepted"
        )
    notes = sum(t.note_num() for t in note_tracks)
    if notes > b.max_notes:
        raise BadInputError(f"{source} has {notes:,} notes; at most {b.max_notes:,} are accepted")
    limit = int(b.max_quarters * tpq)
    for t in note_tracks:
        n = t.notes.numpy()
        ends = n["time"].astype(np.int64) + n["duration"].astype(np.int64)
        if len(ends) and (int(ends.max()) > limit or int(n["time"].min()) < 0):
            raise BadInputError(
                f"{source} has a note ending {_quarters(int(ends.max()), tpq)} quarter notes "
                f"from its start; at most {b.max_quarters:,.0f} are accepted (a note time or "
                "length is corrupt)"
            )
    for tempo in score.tempos:
        qpm = float(tempo.qpm)
        if not b.min_qpm <= qpm <= b.max_qpm:
            raise BadInputError(
                f"{source} sets a tempo of {qpm:,.6g} beats per minute; "
                f"it must be between {b.min_qpm:g} and {b.max_qpm:g}"
            )
    for ts in score.time_signatures:
        num, den = int(ts.numerator), int(ts.denominator)
        if not (1 <= num <= b.max_numerator and 1 <= den <= b.max_denominator):
            raise BadInputError(f"{source} has a time signature of {num}/{den}, which is invalid")
        if den & (den - 1):
            raise BadInputError(
                f"{source} has a time signature of {num}/{den}; the lower number must be "
                "a power of two"
            )
    return score


def _quarters(ticks: int, tpq: int) -> str:
    return f"{ticks / tpq:,.0f}"
