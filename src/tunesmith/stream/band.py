"""A live band under a stream: the arrangement plan's drums, bass, comping and pad from the
groove library, laid bar by bar under the model's bars as they are decoded.

The model writes the melody (the plan's model parts); each bar's chord is read from the
model's notes once the bar is complete (its notes weighed by how long they sound, as
`analyse_chords` does for a finished piece; a bar with nothing sounding keeps the chord
before it, and the stream's first bars start from the key's tonic chord). A bar's band is
written one bar later still, when the next bar's chord is known, so the bass's approach
notes lead into the chord that really follows (`arrange/live.py` writes the notes, with
the same patterns `arrange` uses for a finished piece). The session therefore keeps one
bar more decoded ahead of the playhead when a band plays, and starts the playhead once the
first bar's band is written.

The band's parts get voice slots of their own after the model's (so MIDI channels of their
own), the drums the drum slot (channel 10). The scheduler plays them like the model's notes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ..arrange.live import BarArranger
from ..arrange.plan import ArrangementPlan
from ..conditioning.instruments import DRUMS, program_name
from ..music.chords import Chord, best_chord
from ..music.keys import key_pitch_class
from .decoder import Note, channel_for

log = logging.getLogger(__name__)

LAST_CHANNEL = 15  # MIDI channels 0-15 (9 is the drums')
KEEP_BARS = 8  # bars remembered: more than a rewind reaches back (the look-ahead)


def tonic_chord(key: str | None) -> Chord | None:
    """The tonic triad of a key ("D minor" -> Dm); None without a key."""
    if not key:
        return None
    pc, mode = key_pitch_class(key)
    return Chord(pc, "min" if mode == "minor" else "maj")


@dataclass
class _BarRecord:
    start: float  # quarter notes
    length: float
    chord: Chord | None
    arranged: bool = False
    voicings: dict[int, tuple[int, ...]] = field(default_factory=dict)  # after this bar


class LiveBand:
    """The plan's library parts, bar by bar (see the module's docstring)."""

    def __init__(self, plan: ArrangementPlan, first_slot: int, key: str | None = None) -> None:
        self.plan = plan
        self.arranger = BarArranger(plan.style, plan.library_roles())
        self.slots: list[int | None] = []  # per arranger part: its voice slot (None: no room)
        self.programs: list[int] = []  # programs of the slots first_slot, first_slot + 1, ...
        slot = first_slot
        for part in self.arranger.parts:
            if part.program == DRUMS:
                self.slots.append(DRUMS)
                continue
            if channel_for(slot) > LAST_CHANNEL:
                log.warning("no MIDI channel left for the band's %s; it is left out", part.name)
                self.slots.append(None)
                continue
            self.slots.append(slot)
            self.programs.append(part.program)
            slot += 1
        self.key_chord = tonic_chord(key)
        self._heard: list[tuple[float, float, int]] = []  # the model's notes: start, end, pitch
        self._bars: dict[int, _BarRecord] = {}
        self.notes = 0  # band notes written
        self.written_until = 0.0  # quarter notes: the end of the last bar whose band is written

    @property
    def style(self) -> str:
        return self.plan.style

    def parts(self) -> list[tuple[str, str, int]]:
        """(role, instrument, MIDI channel 1-16) of each part that plays."""
        out = []
        for part, slot in zip(self.arranger.parts, self.slots, strict=True):
            if slot is not None:
                name = "drum kit" if part.program == DRUMS else program_name(part.program)
                out.append((part.role, name, channel_for(slot) + 1))
        return out

    # -- input ---------------------------------------------------------------------------------
    def heard(self, note: Note) -> None:
        """A note the model wrote (its pitch counts toward its bars' chords)."""
        if note.slot != DRUMS:
            self._heard.append((note.start, note.start + note.duration, note.pitch))

    def bar_complete(
        self, number: int, start: float, length: float
    ) -> tuple[float, list[Note]] | None:
        """Bar `number` (0-based from the stream's start) is decoded whole: its chord is
        read, and the band of the bar before it is written now that it knows what follows:
        (that bar's start, its notes); None when no bar was written. A bar completed again
        after a rewind keeps what it had."""
        if number not in self._bars:
            chord = self._chord(start, start + length)
            if chord is None:
                before = self._bars.get(number - 1)
                chord = before.chord if before is not None else self.key_chord
            self._bars[number] = _BarRecord(start, length, chord)
            for old in [n for n in self._bars if n < number - KEEP_BARS]:
                del self._bars[old]
            # a rewind reads the chords of the bars it decodes again from these notes
            oldest = min(r.start for r in self._bars.values())
            self._heard = [h for h in self._heard if h[1] > oldest]
        return self._arrange(number - 1)

    def _chord(self, start: float, end: float) -> Chord | None:
        w = np.zeros(12)
        lows: list[int] = []
        sounding: list[int] = []
        for on, off, pitch in self._heard:
            overlap = min(off, end) - max(on, start)
            if overlap <= 0:
                continue
            w[pitch % 12] += overlap
            sounding.append(pitch)
            if overlap * 4 >= end - start:
                lows.append(pitch)
        if not sounding:
            return None
        return best_chord(w, min(lows or sounding) % 12)

    def _arrange(self, number: int) -> tuple[float, list[Note]] | None:
        rec = self._bars.get(number)
        after = self._bars.get(number + 1)
        if rec is None or rec.arranged or after is None:
            return None
        before = self._bars.get(number - 1)
        bar = self.arranger.bar(
            number, rec.length, rec.chord, after.chord, before.voicings if before else None
        )
        rec.arranged, rec.voicings = True, bar.voicings
        notes = []
        for n in bar.notes:
            slot = self.slots[n.part]
            if slot is not None:
                notes.append(Note(rec.start + n.start, n.duration, n.pitch, slot, n.velocity))
        self.notes += len(notes)
        self.written_until = rec.start + rec.length
        return rec.start, notes

    # -- rewinds -----------------------------------------------------------------------------
    def rewind(self, number: int, start: float) -> None:
        """Bars from `number` on (starting at `start`) are decoded again: forget them and the
        model's notes in them."""
        for n in [n for n in self._bars if n >= number]:
            del self._bars[n]
        self._heard = [h for h in self._heard if h[0] < start - 1e-9]
        self.written_until = min(self.written_until, start)

    def shift_from(self, beat: float, length: float) -> None:
        """A hold inserted `length` quarter notes at the barline `beat`: bars and the
        model's notes from there on move later, notes sounding across it are sustained."""
        for rec in self._bars.values():
            if rec.start >= beat - 1e-9:
                rec.start += length
        self._heard = [
            (on + length, off + length, p)
            if on >= beat - 1e-9
            else (on, off + length if off > beat else off, p)
            for on, off, p in self._heard
        ]
        if self.written_until > beat + 1e-9:
            self.written_until += length

    def reset(self, key: str | None = None) -> None:
        """After a panic: the stream starts again from bar 0."""
        self._bars.clear()
        self._heard.clear()
        self.written_until = 0.0
        if key:
            self.key_chord = tonic_chord(key)
