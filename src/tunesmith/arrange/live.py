"""The band one bar at a time, for a live stream: the patterns `arrange` lays under a
finished piece, laid under each bar as it arrives.

`BarArranger(style, roles).bar(n, length, chord, next_chord, previous)` gives the notes of
bar n (0-based, counted from the stream's start) for every library part: the same drum
rows, fills, crashes, bass degrees and comping figures `arrange` would write for that bar
of a whole piece with the same chords, because it runs the same code on a one-bar grid.
`next_chord` is the following bar's chord (the bass's approach notes lead into it);
`previous` holds each chord part's last voicing, so the voicing leads on smoothly from the
bar before. Nothing here keeps state: a caller that rewinds keeps the voicings per bar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..music.chords import Chord, ChordSpan
from .arranger import (
    PAD_PART,
    _bar_kinds,
    _bass_track,
    _Chords,
    _comp_track,
    _drum_track,
    _fit_to_chords,
    _Grid,
    _line_events,
    _roles,
    _swing,
)
from .library import DRUMS_PROGRAM, Part, Style, find_style

TICKS = 480  # per quarter note, inside one bar


@dataclass(frozen=True)
class BandPart:
    """One library part of a live band: its role, GM program (-1: drums) and track name."""

    role: str  # drums, bass, comping, pad
    program: int
    name: str


@dataclass(frozen=True)
class BandNote:
    """A note of one bar; times in quarter notes from the bar's start."""

    part: int  # index into BarArranger.parts
    start: float
    duration: float
    pitch: int
    velocity: int


@dataclass
class BandBar:
    notes: list[BandNote]
    voicings: dict[int, tuple[int, ...]] = field(default_factory=dict)  # part -> last voicing


class BarArranger:
    """A style's band for bars given one at a time (see the module's docstring)."""

    def __init__(
        self,
        style: Style | str,
        roles: Mapping[str, int | Sequence[int]] | None = None,
        melody: float | None = None,
    ) -> None:
        """`melody`: the tune's median pitch when the caller knows it (the chords then lie
        under it, as `arrange` lays them under a finished piece); None: the style's range."""
        self.melody = melody
        self.style = find_style(style) if isinstance(style, str) else style
        st = self.style
        wanted = _roles(st, roles)
        parts: list[tuple[BandPart, Part | None]] = []
        if wanted.get("drums") and st.drums is not None:
            parts.append((BandPart("drums", DRUMS_PROGRAM, "Drums"), st.drums))
        if st.bass is not None:
            for k, program in enumerate(wanted.get("bass", [])):
                parts.append((BandPart("bass", program, "Bass" + (f" {k + 1}" if k else "")),
                              st.bass))  # fmt: skip
        for role, default in (("comping", st.comping), ("pad", st.pad or PAD_PART)):
            for k, program in enumerate(wanted.get(role, [])):
                name = role.capitalize() + (f" {k + 1}" if k else "")
                parts.append((BandPart(role, program, name), default or PAD_PART))
        self.parts = [p for p, _ in parts]
        self._patterns = [pattern for _, pattern in parts]
        num, den = (int(x) for x in st.meters[0].split("/"))
        self._quarters_per_bar = num * 4 / den

    def bar(
        self,
        index: int,
        length: float,
        chord: Chord | None,
        next_chord: Chord | None = None,
        previous: Mapping[int, tuple[int, ...]] | None = None,
    ) -> BandBar:
        """Bar `index` (`length` quarter notes) over `chord` (None: drums only), leading
        into `next_chord` (None: the same chord again)."""
        st = self.style
        ticks = max(1, round(length * TICKS))
        grid = _Grid([0], [ticks], TICKS, self._quarters_per_bar)
        kinds = _bar_kinds(1, st, index)
        here = ChordSpan(index, None, 0, ticks, chord)
        after = ChordSpan(index + 1, None, ticks, 2 * ticks, next_chord or chord)
        out = BandBar([])
        for k, (part, pattern) in enumerate(zip(self.parts, self._patterns, strict=True)):
            assert pattern is not None
            swing = _swing(st, TICKS, grid, pattern)
            if part.role == "drums":
                track = _drum_track(grid, st, kinds, swing, first=index)
            elif part.role == "bass":
                if chord is None:
                    continue
                spans = _Chords([here, after])
                events = _line_events(grid, pattern, kinds, swing)
                _fit_to_chords(events, spans, "R", always=True)
                track = _bass_track(events, spans, part.program)
            else:
                if chord is None:
                    continue
                spans = _Chords([here])
                events = _line_events(grid, pattern, kinds, swing)
                _fit_to_chords(events, spans, "x", always=False)
                shift = 12 * sum(1 for p in self.parts[:k] if p.role == part.role)
                track, last = _comp_track(
                    events, spans, pattern, part.program, part.name, TICKS, shift,
                    (previous or {}).get(k), self.melody,
                )  # fmt: skip
                if last is not None:
                    out.voicings[k] = last
            for n in track.notes:
                if n.time < ticks:
                    end = min(n.time + n.duration, ticks)
                    out.notes.append(BandNote(
                        k, n.time / TICKS, max(1, end - n.time) / TICKS, n.pitch, n.velocity,
                    ))  # fmt: skip
        return out
