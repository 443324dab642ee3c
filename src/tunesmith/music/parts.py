"""Does a part really play? The "real part" test for requested instruments.

A part is *real* when it carries at least a phrase's worth of music:

- at least `min(REAL_PART_NOTES, bars)` notes (8: two bars of crotchets in 4/4, the
  shortest phrase of the corpus's folk tunes and chorales; a piece of fewer than 8 bars
  needs one note per bar), and
- it sounds (a note starts in, or is held over, the bar) in at least
  `REAL_PART_BAR_SHARE` (half) of the piece's bars.

The note count rules out a part that holds one long note through the piece; the bar share
rules out a part that plays a flurry in one bar and then rests. A chorale bass of whole
notes, a drone that is restruck every bar, and an accompaniment that rests in every other
bar all count; one note, or an entry in the last bar only, does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import symusic

from .metrics import bar_grid

DRUMS = -1  # the program number of a drum track (conditioning.instruments.DRUMS)

REAL_PART_NOTES = 8
REAL_PART_BAR_SHARE = 0.5


@dataclass(frozen=True)
class PartFacts:
    program: int  # GM program, DRUMS (-1) for a drum track
    notes: int
    bars_sounding: int
    bars: int  # bars of the piece

    @property
    def real(self) -> bool:
        return is_real(self.notes, self.bars_sounding, self.bars)


def is_real(notes: int, bars_sounding: int, bars: int) -> bool:
    """The definition above, on counts."""
    bars = max(int(bars), 1)
    return notes >= min(REAL_PART_NOTES, bars) and bars_sounding >= REAL_PART_BAR_SHARE * bars


def part_facts(score: symusic.Score) -> list[PartFacts]:
    """Notes and bars sounding of every track with notes (a tick-time score)."""
    ends = [int(n.time + n.duration) for t in score.tracks for n in t.notes]
    if not ends:
        return []
    starts, lengths = bar_grid(score, max(ends))
    bar_ends = starts + lengths
    facts = []
    for track in score.tracks:
        if not track.note_num():
            continue
        notes = track.notes.numpy()
        on = notes["time"].astype(np.int64)
        off = np.maximum(on + notes["duration"].astype(np.int64), on + 1)
        sounding = np.zeros(len(starts), dtype=bool)
        for a, b in zip(on, off, strict=True):  # bars the note overlaps
            first = int(np.searchsorted(bar_ends, a, side="right"))
            last = int(np.searchsorted(starts, b, side="left"))
            sounding[first:last] = True
        program = DRUMS if track.is_drum else int(track.program)
        facts.append(PartFacts(program, int(track.note_num()), int(sounding.sum()), len(starts)))
    return facts


def real_programs(score: symusic.Score) -> set[int]:
    """The programs that play at least one real part."""
    return {f.program for f in part_facts(score) if f.real}


def real_part_share(score: symusic.Score, requested: list[int]) -> tuple[int, int]:
    """(requested instruments that play a real part, requested instruments)."""
    real = real_programs(score)
    want = list(dict.fromkeys(int(p) for p in requested))
    return sum(p in real for p in want), len(want)
