"""Score -> MusicXML (for MuseScore and friends) and Score -> JSON notes (for the HTTP API).

Generated music is not notation: notes overlap, start off any grid and can be a few ticks
long. The MusicXML path therefore quantises each quarter-note beat to 16ths or eighth
triplets (whichever fits the beat's onsets and offsets better), packs each track's notes
into up to four voices (equal start and end -> one chord; the fourth voice takes whatever
still overlaps, split into tied chords), splits notes at the edges of triplet beats so
that every tuplet group is complete, and leaves bars and ties to music21's `makeNotation`.
"""

from __future__ import annotations

import bisect
import copy
import itertools
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import symusic

from ..conditioning.controls import normalize_key
from ..conditioning.instruments import program_name
from ..deadline import check as check_deadline
from ..errors import BadInputError
from ..extras import require_notation
from ..fileio import atomic_write_bytes
from ..music.chords import SHARP_NAMES, ChordSpan

log = logging.getLogger(__name__)

VOICES_PER_PART = 4  # in one part; the last one absorbs all remaining overlaps as tied chords
TRIPLET_BIAS = 0.5  # a beat is written in triplets only if their error is below half the 16ths'
VALID_DENOMINATORS = (1, 2, 4, 8, 16, 32)
# GM percussion key map 35-81, for naming drum sounds in MusicXML.
GM_DRUM_NAMES: tuple[str, ...] = (
    "Acoustic Bass Drum", "Bass Drum 1", "Side Stick", "Acoustic Snare", "Hand Clap",
    "Electric Snare", "Low Floor Tom", "Closed Hi-Hat", "High Floor Tom", "Pedal Hi-Hat",
    "Low Tom", "Open Hi-Hat", "Low-Mid Tom", "Hi-Mid Tom", "Crash Cymbal 1", "High Tom",
    "Ride Cymbal 1", "Chinese Cymbal", "Ride Bell", "Tambourine", "Splash Cymbal", "Cowbell",
    "Crash Cymbal 2", "Vibraslap", "Ride Cymbal 2", "Hi Bongo", "Low Bongo", "Mute Hi Conga",
    "Open Hi Conga", "Low Conga", "High Timbale", "Low Timbale", "High Agogo", "Low Agogo",
    "Cabasa", "Maracas", "Short Whistle", "Long Whistle", "Short Guiro", "Long Guiro", "Claves",
    "Hi Wood Block", "Low Wood Block", "Mute Cuica", "Open Cuica", "Mute Triangle",
    "Open Triangle",
)  # fmt: skip
# Staff positions of the common kit (MuseScore's default drumset); others sit on B4.
DRUM_DISPLAY: dict[int, str] = {
    35: "F4", 36: "F4", 37: "C5", 38: "C5", 39: "C5", 40: "C5", 41: "A4", 42: "G5", 43: "A4",
    44: "D4", 45: "D5", 46: "G5", 47: "E5", 48: "F5", 49: "A5", 50: "F5", 51: "F5", 52: "B5",
    53: "F5", 55: "B5", 57: "B5", 59: "D5",
}  # fmt: skip
DRUM_ID = "tunesmith-drums-"
_drum_ids = itertools.count(1)
CYMBALS = {42, 44, 46, 49, 51, 52, 53, 55, 57, 59}  # written with x noteheads
LEGATO = Fraction(1, 4)  # overlaps up to this long are trimmed instead of opening a voice


# -- time grid --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Meter:
    """A time signature from `offset` (quarter notes) on."""

    offset: Fraction
    numerator: int
    denominator: int

    @property
    def bar(self) -> Fraction:
        return Fraction(4 * self.numerator, self.denominator)


def _meters(score_q: symusic.Score) -> list[_Meter]:
    """Valid time signatures whose changes fall on barlines (others are dropped, logged)."""
    meters = [_Meter(Fraction(0), 4, 4)]
    for ts in sorted(score_q.time_signatures, key=lambda t: t.time):
        if not (1 <= ts.numerator <= 32 and ts.denominator in VALID_DENOMINATORS):
            log.info("skipping time signature %d/%d", ts.numerator, ts.denominator)
            continue
        at = Fraction(ts.time).limit_denominator(96)
        last = meters[-1]
        if at <= last.offset:  # at or before the current meter's start: it replaces it
            meters[-1] = _Meter(last.offset, ts.numerator, ts.denominator)
        elif (at - last.offset) % last.bar == 0:
            meters.append(_Meter(at, ts.numerator, ts.denominator))
        else:
            log.info("skipping time signature change off the barline at %s", at)
    return meters


def _barlines(meters: Sequence[_Meter], end: Fraction) -> list[Fraction]:
    """Bar starts from 0 up to and including the first barline at or after `end`."""
    bars = [Fraction(0)]
    i = 0
    while bars[-1] < end or len(bars) == 1:
        while i + 1 < len(meters) and meters[i + 1].offset <= bars[-1]:
            i += 1
        bars.append(bars[-1] + meters[i].bar)
    return bars


def _beats(bars: Sequence[Fraction]) -> list[Fraction]:
    """Quarter-note beat starts, restarting at each barline (5/8 bars end on a half beat)."""
    beats: list[Fraction] = []
    for start, stop in zip(bars, bars[1:], strict=False):
        t = start
        while t < stop:
            beats.append(t)
            t += 1
    beats.append(bars[-1])
    return beats


@dataclass
class _Grid:
    """Per-beat quantisation grid: each beat is cut into 16ths or eighth triplets."""

    beats: list[Fraction]
    steps: list[Fraction]  # step per beat, 1/4 or 1/3

    def index(self, t: float | Fraction) -> int:
        return max(0, min(bisect.bisect_right(self.beats, t) - 1, len(self.steps) - 1))

    def snap(self, t: float) -> Fraction:
        i = self.index(t)
        start = self.beats[i]
        q = start + round((Fraction(t) - start) / self.steps[i]) * self.steps[i]
        return min(max(q, start), self.beats[i + 1])

    def step_at(self, t: Fraction) -> Fraction:
        return self.steps[self.index(t)]

    def triplet_edges(self) -> list[Fraction]:
        """Edges of triplet beats (and of the half beats of sixteenth-triplet beats): no
        note or rest may cross them, so tuplets are complete."""
        edges: set[Fraction] = set()
        for i, step in enumerate(self.steps):
            if step == Fraction(1, 3):
                edges.update((self.beats[i], self.beats[i + 1]))
            elif step == Fraction(1, 6):
                edges.update((self.beats[i], self.beats[i] + Fraction(1, 2), self.beats[i + 1]))
        return sorted(edges)


def _beat_error(times: Iterable[float], start: Fraction, step: Fraction) -> float:
    return sum(abs(t - float(start + round((Fraction(t) - start) / step) * step)) for t in times)


def _exact_step(times: Sequence[float], start: Fraction) -> Fraction | None:
    """1/8 (32nds) or 1/6 (sixteenth triplets) when every time in the beat lies exactly on
    that grid and not on the usual ones; else None."""
    offsets = [Fraction(t).limit_denominator(960) - start for t in times]
    for step in (Fraction(1, 4), Fraction(1, 3)):
        if all((o / step).denominator == 1 for o in offsets):
            return None
    for step in (Fraction(1, 8), Fraction(1, 6)):
        if all((o / step).denominator == 1 for o in offsets):
            return step
    return None


def _grid(times: Sequence[float], beats: list[Fraction], exact: bool = False) -> _Grid:
    """Choose 16ths or triplets per beat from the onsets/offsets that fall in it; with
    `exact`, 32nds or sixteenth triplets where every onset and offset is on them."""
    per_beat: list[list[float]] = [[] for _ in beats[:-1]]
    probe = _Grid(beats, [Fraction(1, 4)] * (len(beats) - 1))
    for t in times:
        per_beat[probe.index(t)].append(t)
    steps = []
    for i, ts in enumerate(per_beat):
        step = Fraction(1, 4)
        fine = _exact_step(ts, beats[i]) if exact and ts else None
        if fine is not None and (beats[i + 1] - beats[i] == 1 or fine == Fraction(1, 8)):
            step = fine
        elif beats[i + 1] - beats[i] == 1 and ts:
            e16 = _beat_error(ts, beats[i], Fraction(1, 4))
            e3 = _beat_error(ts, beats[i], Fraction(1, 3))
            if e3 < TRIPLET_BIAS * e16:
                step = Fraction(1, 3)
        steps.append(step)
    return _Grid(beats, steps)


# -- events and voices --------------------------------------------------------------------
@dataclass
class _Event:
    """Pitches sounding together from `start` to `end` (quarter notes) in one voice."""

    start: Fraction
    end: Fraction
    pitches: list[int]
    velocity: int
    ties: dict[int, str] = field(default_factory=dict)  # pitch -> start/continue/stop


def _quantised_notes(
    notes: Iterable[Any], grid: _Grid
) -> list[tuple[Fraction, Fraction, int, int]]:
    """(start, end, pitch, velocity) on the grid; a restruck pitch cuts the earlier note."""
    by_key: dict[tuple[int, Fraction], tuple[Fraction, int]] = {}
    for n in notes:
        start = grid.snap(n.time)
        end = max(grid.snap(n.time + n.duration), start + grid.step_at(start))
        old = by_key.get((n.pitch, start))
        if old is not None:
            end, vel = max(end, old[0]), max(n.velocity, old[1])
        else:
            vel = n.velocity
        by_key[(n.pitch, start)] = (end, vel)
    out = []
    ordered = sorted(by_key.items())
    for i, ((pitch, start), (end, vel)) in enumerate(ordered):
        if i + 1 < len(ordered) and ordered[i + 1][0][0] == pitch:
            end = min(end, ordered[i + 1][0][1])
        out.append((start, end, pitch, vel))
    return out


def _drum_hits(
    notes: list[tuple[Fraction, Fraction, int, int]], grid: _Grid
) -> list[tuple[Fraction, Fraction, int, int]]:
    """Drum notes last until the next hit, within their beat: one voice of chords, no ties."""
    onsets = sorted({n[0] for n in notes})
    out = []
    for start, _, pitch, vel in notes:
        i = bisect.bisect_right(onsets, start)
        beat_end = grid.beats[grid.index(start) + 1]
        end = min(onsets[i], beat_end) if i < len(onsets) else beat_end
        out.append((start, end, pitch, vel))
    return out


def _chords(notes: Iterable[tuple[Fraction, Fraction, int, int]]) -> list[_Event]:
    """Notes with equal start and end become one chord event."""
    groups: dict[tuple[Fraction, Fraction], _Event] = {}
    for start, end, pitch, vel in notes:
        ev = groups.setdefault((start, end), _Event(start, end, [], 0))
        ev.pitches.append(pitch)
        ev.velocity = max(ev.velocity, vel)
    return sorted(groups.values(), key=lambda e: (e.start, -e.end))


def _voices(events: list[_Event]) -> list[list[_Event]]:
    """Greedy first-fit into VOICES_PER_PART-1 clean voices; the rest share the last voice.

    A legato overlap of up to a 16th is trimmed rather than opening another voice, so a
    slurred melody stays one line.
    """
    voices: list[list[_Event]] = []
    overflow: list[_Event] = []
    for ev in events:
        for v in voices:
            if v[-1].end <= ev.start:
                v.append(ev)
                break
        else:
            legato = [v for v in voices if v[-1].start < ev.start < v[-1].end <= ev.start + LEGATO]
            if legato:
                legato[0][-1].end = ev.start
                legato[0].append(ev)
                continue
            if len(voices) < VOICES_PER_PART - 1:
                voices.append([ev])
            else:
                overflow.append(ev)
    if overflow:
        voices.append(overflow)
    return voices


# (began before this segment, goes on after it) -> the segment's tie
_TIES = {(True, True): "continue", (True, False): "stop", (False, True): "start"}


def _split(events: list[_Event], edges: Sequence[Fraction]) -> list[_Event]:
    """Cut overlapping events (and any crossing a triplet-beat edge) into tied segments."""
    bounds = sorted({e.start for e in events} | {e.end for e in events} | set(edges))
    events = sorted(events, key=lambda e: e.start)
    out: list[_Event] = []
    active: list[_Event] = []
    k = 0
    for a, b in zip(bounds, bounds[1:], strict=False):
        active = [e for e in active if e.end > a]
        while k < len(events) and events[k].start <= a:
            if events[k].end > a:
                active.append(events[k])
            k += 1
        if not active:
            continue
        seg = _Event(a, b, [], max(e.velocity for e in active))
        for e in active:
            tie = _TIES.get((e.start < a, e.end > b))
            for p in e.pitches:
                seg.pitches.append(p)
                if tie:
                    seg.ties[p] = tie
        out.append(seg)
    return out


# -- music21 objects ----------------------------------------------------------------------
def _m21_key(key: str | None, score_q: symusic.Score):
    """A music21 Key from a key name, else from the score's first key signature, else None."""
    from music21 import key as m21key

    if key:
        tonic, mode = normalize_key(key).split()  # canonical, e.g. "Bb major"
        return m21key.Key(tonic[0] + tonic[1:].replace("b", "-"), mode)
    if len(score_q.key_signatures):
        ks = score_q.key_signatures[0]
        if -7 <= ks.key <= 7:
            return m21key.KeySignature(int(ks.key)).asKey("minor" if ks.tonality else "major")
    return None


def _pitch(midi: int, accidental: int):
    """A music21 Pitch spelled with sharps (accidental > 0), flats (< 0) or music21's default."""
    from music21 import pitch

    p = pitch.Pitch(midi=midi)
    if p.accidental is not None and accidental and p.accidental.alter * accidental < 0:
        p = p.getEnharmonic()  # type: ignore[assignment]  # music21: None only when inPlace
    return p


def _general_note(ev: _Event, accidental: int):
    """A music21 Note or Chord for an event, with its ties and velocity."""
    from music21 import chord, note, tie

    pitches = sorted(set(ev.pitches))
    if len(pitches) == 1:
        obj: note.Note | chord.Chord = note.Note(_pitch(pitches[0], accidental))
        if pitches[0] in ev.ties:
            obj.tie = tie.Tie(ev.ties[pitches[0]])
    else:
        obj = chord.Chord([_pitch(p, accidental) for p in pitches])
        for n, p in zip(obj.notes, pitches, strict=True):
            if p in ev.ties:
                n.tie = tie.Tie(ev.ties[p])
    obj.quarterLength = ev.end - ev.start
    obj.volume.velocity = int(ev.velocity)
    return obj


def _rests(a: Fraction, b: Fraction, edges: Sequence[Fraction], hidden: bool) -> list:
    """Rests filling [a, b), cut at triplet-beat edges; hidden in secondary voices."""
    from music21 import note

    if a >= b:
        return []
    cuts = [a, *(e for e in edges if a < e < b), b]
    rests = []
    for s, t in zip(cuts, cuts[1:], strict=False):
        r = note.Rest(quarterLength=t - s)
        r.offset = s
        r.style.hideObjectOnPrint = hidden
        rests.append(r)
    return rests


def _voice_stream(
    events: list[_Event], total: Fraction, edges: Sequence[Fraction], accidental: int, hidden: bool
):
    """A flat music21 Stream covering [0, total) with notes, chords and rests."""
    from music21 import stream

    s: stream.Stream = stream.Stream()
    t = Fraction(0)
    for ev in events:
        for r in _rests(t, ev.start, edges, hidden):
            s.insert(r.offset, r)
        s.insert(ev.start, _general_note(ev, accidental))
        t = ev.end
    for r in _rests(t, total, edges, hidden):
        s.insert(r.offset, r)
    return s


def _context(
    meters: Sequence[_Meter], key_obj, tempos: Sequence[tuple[Fraction, float]], clef_obj
) -> list[tuple[Fraction, Any]]:
    """Time signatures, key, clef and tempo marks to insert into a voice before barring."""
    from music21 import meter, tempo

    items: list[tuple[Fraction, Any]] = [
        (m.offset, meter.TimeSignature(f"{m.numerator}/{m.denominator}")) for m in meters
    ]
    if key_obj is not None:
        items.append((Fraction(0), key_obj))
    if clef_obj is not None:
        items.append((Fraction(0), clef_obj))
    items += [(t, tempo.MetronomeMark(number=q)) for t, q in tempos]
    return items


def _part(
    voices: list[list[_Event]],
    context: list[tuple[Fraction, Any]],
    meters: Sequence[_Meter],
    total: Fraction,
    edges: Sequence[Fraction],
    accidental: int,
):
    """A music21 Part: barred voices merged measure by measure (one voice: no Voice objects).

    Only the first voice carries key, clef and tempo; every voice needs the meters to be
    cut into the same bars.
    """
    from music21 import stream

    barred = []
    for i, events in enumerate(voices):
        check_deadline()  # a server job past its time stops between voices (deadline.py)
        s = _voice_stream(events, total, edges, accidental, hidden=i > 0)
        for offset, obj in context if i == 0 else _context(meters, None, [], None):
            s.insert(offset, obj)
        barred.append(s.makeNotation())
    part = stream.Part()
    if len(barred) == 1:
        for m in barred[0].getElementsByClass(stream.Measure):
            part.append(m)
        return part
    for measures in zip(*(b.getElementsByClass(stream.Measure) for b in barred), strict=True):
        merged = stream.Measure(number=measures[0].number)
        for el in measures[0].getElementsNotOfClass(["GeneralNote", "Voice"]):
            merged.insert(el.offset, el)
        sounding = [bool(m.notes) for m in measures]
        for k, m in enumerate(measures):
            v = stream.Voice(id=str(k + 1))
            for el in m.notesAndRests:
                if el.isRest and k == 0 and not sounding[0] and any(sounding):
                    el.style.hideObjectOnPrint = True  # an empty first voice: show the others
                v.insert(el.offset, el)
            merged.insert(0, v)
        part.append(merged)
    return part


def _instrument(track: symusic.Track):
    from music21 import instrument

    if track.is_drum:
        inst: instrument.Instrument = instrument.Percussion()
        inst.midiChannel = 9  # written as channel 10: the GM drum kit
        inst.midiProgram = 0
        inst.instrumentId = f"{DRUM_ID}{next(_drum_ids)}"  # found again by _unpitched_drums
    else:
        try:
            inst = instrument.instrumentFromMidiProgram(track.program)
        except Exception:  # music21 raises its own InstrumentException for unmapped programs
            inst = instrument.Instrument()
        if isinstance(inst, instrument.UnpitchedPercussion):  # GM 113-119 are pitched here
            inst = instrument.Instrument(program_name(track.program))
        inst.midiProgram = track.program
    name = track.name if not re.fullmatch(r"(voice \d+)?", track.name or "") else ""
    name = name or ("Drums" if track.is_drum else program_name(track.program))  # not "voice 2"
    inst.partName = name
    inst.instrumentName = inst.instrumentName or name
    return inst, name


def _tempos(score_q: symusic.Score) -> list[tuple[Fraction, float]]:
    """Tempo marks where the tempo changes by at least 1 bpm, at 16th-note resolution."""
    out: list[tuple[Fraction, float]] = []
    for t in sorted(score_q.tempos, key=lambda t: t.time):
        qpm = round(float(t.qpm), 1)
        if out and abs(out[-1][1] - qpm) < 1:
            continue
        at = Fraction(round(t.time * 4), 4)
        if out and out[-1][0] == at:
            out[-1] = (at, qpm)
        else:
            out.append((at, qpm))
    return out or [(Fraction(0), 120.0)]


def build_music21_score(
    score: symusic.Score,
    title: str | None = None,
    key: str | None = None,
    chords: Sequence[ChordSpan] | None = None,
    exact: bool = False,
):
    """The music21 Score behind `export_musicxml` (exposed for tests and other exporters).
    `exact`: a beat whose notes all lie on 32nds or sixteenth triplets keeps them (the ABC
    writer: a tune read from ABC is written back as it was).

    `chords` become chord symbols above the first part (a lead sheet's harmony)."""
    require_notation()
    from music21 import clef, metadata, stream

    score_q = score.to("quarter")
    tracks_q = [t for t in score_q.tracks if len(t.notes)]
    if not tracks_q:
        raise BadInputError("the score has no notes to write as notation")
    key_obj = _m21_key(key, score_q)
    accidental = key_obj.sharps if key_obj is not None else 0  # spell black keys to suit
    meters = _meters(score_q)
    # a zero-length last note still gets a grid step, so leave it room before the barline
    last = max(float(n.time + max(n.duration, 0.34)) for t in tracks_q for n in t.notes)
    end = Fraction(last).limit_denominator(96)
    bars = _barlines(meters, end)
    beats = _beats(bars)
    tempos = _tempos(score_q)

    out = stream.Score()
    out.atSoundingPitch = True
    out.metadata = metadata.Metadata(title=title or "tunesmith", composer="tunesmith")
    for n, track in enumerate(tracks_q):
        check_deadline()
        times = [x for note in track.notes for x in (note.time, note.time + note.duration)]
        grid = _grid(times, beats, exact)
        notes = _quantised_notes(track.notes, grid)
        if track.is_drum:
            notes = _drum_hits(notes, grid)
        voices = _voices(_chords(notes))
        edges = grid.triplet_edges()
        voices = [_split(v, edges) for v in voices]
        clef_obj = clef.PercussionClef() if track.is_drum else _best_clef(voices)
        key_here = None if track.is_drum or key_obj is None else copy.deepcopy(key_obj)
        context = _context(meters, key_here, tempos if n == 0 else [], clef_obj)
        part = _part(voices, context, meters, bars[-1], edges, accidental)
        inst, name = _instrument(track)
        part.partName = name
        part.id = f"P{n + 1}"
        part.insert(0, inst)
        part.atSoundingPitch = True  # so the exporter writes transposing parts at written pitch
        if n == 0 and chords:
            _add_chord_symbols(part, chords, int(score.tpq))
        out.insert(0, part)
    return out


# music21's names for the chord qualities of music/chords.py
M21_KIND = {
    "maj": "major", "min": "minor", "dim": "diminished", "aug": "augmented",
    "sus4": "suspended-fourth", "7": "dominant-seventh", "maj7": "major-seventh",
    "min7": "minor-seventh", "m7b5": "half-diminished-seventh", "dim7": "diminished-seventh",
}  # fmt: skip


def _m21_name(pc: int) -> str:
    return SHARP_NAMES[pc % 12].replace("b", "-")


def _add_chord_symbols(part, chords: Sequence[ChordSpan], tpq: int) -> None:
    """Chord symbols at their bar and beat, inside the part's measures; a chord that
    repeats the one before it is not written again."""
    from music21 import harmony, stream

    measures = list(part.getElementsByClass(stream.Measure))
    previous = None
    for span in chords:
        c = span.chord
        if c is None or c == previous:
            previous = c
            continue
        previous = c
        offset = Fraction(span.start, max(tpq, 1))
        measure = next(
            (m for m in reversed(measures) if Fraction(m.offset).limit_denominator(96) <= offset),
            None,
        )
        if measure is None:
            continue
        symbol = harmony.ChordSymbol(
            root=_m21_name(c.root),
            kind=M21_KIND[c.quality],
            bass=_m21_name(c.bass) if c.bass is not None else None,
        )
        measure.insert(float(offset - Fraction(measure.offset).limit_denominator(96)), symbol)


def _best_clef(voices: list[list[_Event]]):
    """Treble or bass from the mean pitch (music21's own choice sees only one voice)."""
    from music21 import clef

    pitches = [p for v in voices for e in v for p in e.pitches]
    mean = sum(pitches) / len(pitches)
    if mean < 55:
        return clef.BassClef()
    return clef.TrebleClef()


_STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def _drum_name(pitch: int) -> str:
    return GM_DRUM_NAMES[pitch - 35] if 35 <= pitch <= 81 else f"Percussion {pitch}"


def _insert_after(parent: ET.Element, child: ET.Element, after: set[str]) -> None:
    """Insert `child` after the last sub-element whose tag is in `after` (MusicXML order)."""
    index = max((i + 1 for i, el in enumerate(parent) if el.tag in after), default=0)
    parent.insert(index, child)


def _unpitched_note(note: ET.Element, part_id: str) -> int | None:
    """Turn a pitched <note> of a drum part into an <unpitched> one; returns its GM key."""
    pitch = note.find("pitch")
    if pitch is None:
        return None
    step, octave = pitch.findtext("step", "C"), int(pitch.findtext("octave", "4"))
    midi = (octave + 1) * 12 + _STEPS[step] + int(float(pitch.findtext("alter", "0")))
    display = DRUM_DISPLAY.get(midi, "B4")
    unpitched = ET.Element("unpitched")
    ET.SubElement(unpitched, "display-step").text = display[0]
    ET.SubElement(unpitched, "display-octave").text = display[1]
    note.insert(list(note).index(pitch), unpitched)
    note.remove(pitch)
    for acc in note.findall("accidental"):
        note.remove(acc)
    _insert_after(note, ET.Element("instrument", id=f"{part_id}-I{midi}"), {"duration", "tie"})
    if midi in CYMBALS:
        head = ET.Element("notehead")
        head.text = "x"
        _insert_after(note, head, {"type", "dot", "accidental", "time-modification", "stem"})
    return midi


def _drum_part_list(score_part: ET.Element, part_id: str, keys: Iterable[int]) -> None:
    """One <score-instrument> per drum sound, each mapped to its key on MIDI channel 10."""
    for old in score_part.findall("score-instrument") + score_part.findall("midi-instrument"):
        score_part.remove(old)
    for tag in ("score-instrument", "midi-instrument"):
        for key in sorted(keys):
            el = ET.SubElement(score_part, tag, id=f"{part_id}-I{key}")
            if tag == "score-instrument":
                ET.SubElement(el, "instrument-name").text = _drum_name(key)
            else:
                ET.SubElement(el, "midi-channel").text = "10"
                ET.SubElement(el, "midi-program").text = "1"
                ET.SubElement(el, "midi-unpitched").text = str(key + 1)


def _unpitched_drums(xml: bytes) -> bytes:
    """Rewrite drum parts with <unpitched> notes that name their drum sound.

    music21 writes pitched notes, which MuseScore places by staff position and so loses
    sharps: a closed hi-hat (F#2) would play a low floor tom (F2).
    """
    root = ET.fromstring(xml)
    for score_part in root.iter("score-part"):
        inst = score_part.find("score-instrument")
        if inst is None or not inst.get("id", "").startswith(DRUM_ID):
            continue
        part_id = score_part.get("id", "")
        part = root.find(f"part[@id='{part_id}']")
        if part is None:
            continue
        found = (_unpitched_note(note, part_id) for note in part.iter("note"))
        keys = {key for key in found if key is not None}
        _drum_part_list(score_part, part_id, keys or {38})
    ET.indent(root, space="  ")
    header = re.match(rb"(?s)^.*?(?=<score-partwise)", xml)
    return (header.group(0) if header else b"") + ET.tostring(
        root, encoding="utf-8", xml_declaration=False
    )


def _stop_between_measures() -> None:
    """Make music21's writer check the job's deadline before each measure it writes.

    The export of a long score is one call into music21 (seconds for hundreds of bars);
    wrapping `MeasureExporter.parse` once lets a server job that was told to stop end at
    the next measure. Outside a job `check_deadline` does nothing, so other callers of
    music21 in this process see no change.
    """
    from music21.musicxml.m21ToXml import MeasureExporter

    parse = MeasureExporter.parse
    if getattr(parse, "_tunesmith_checked", False):
        return

    def checked_parse(self, *args, **kwargs):
        check_deadline()
        return parse(self, *args, **kwargs)

    checked_parse._tunesmith_checked = True  # type: ignore[attr-defined]
    MeasureExporter.parse = checked_parse  # type: ignore[method-assign]


def musicxml_bytes(
    score: symusic.Score,
    title: str | None = None,
    key: str | None = None,
    chords: Sequence[ChordSpan] | None = None,
) -> bytes:
    """MusicXML (partwise, UTF-8) for `score`, with chord symbols when `chords` are given."""
    require_notation()
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    _stop_between_measures()
    xml = GeneralObjectExporter(build_music21_score(score, title, key, chords)).parse()
    has_drums = any(t.is_drum and len(t.notes) for t in score.tracks)
    return _unpitched_drums(xml) if has_drums else xml


def export_musicxml(
    score: symusic.Score,
    path: str | os.PathLike,
    title: str | None = None,
    key: str | None = None,
    chords: Sequence[ChordSpan] | None = None,
) -> Path:
    """Write `score` as MusicXML at `path` (atomically) and return the path.

    `key` ("D major", "F#m", ...) sets the key signature and the spelling of black keys;
    without it the score's first key signature is used, if any.
    """
    data = musicxml_bytes(score, title, key, chords)
    path = Path(path)
    atomic_write_bytes(path, data)
    return path


# -- JSON -------------------------------------------------------------------------------
def export_json_notes(score: symusic.Score, chords: Sequence[ChordSpan] | None = None) -> dict:
    """Notes in seconds, per track, plus tempo, meter and chords (`chords`, or one per bar
    by analysis when None): a plain dict for JSON APIs."""
    from ..music.chords import analyse_chords
    from ..music.metrics import as_tick_score, ticks_to_seconds

    ticks = as_tick_score(score)
    if chords is None:
        chords = analyse_chords(ticks, "bar") if any(len(t.notes) for t in ticks.tracks) else []
    chord_rows = [
        {
            **span.to_dict(),
            "start_s": round(ticks_to_seconds(ticks, span.start), 4),
            "end_s": round(ticks_to_seconds(ticks, span.end), 4),
        }
        for span in chords
    ]
    sec = score.to("second")
    tempos = [
        {"time_s": round(float(t.time), 4), "qpm": round(float(t.qpm), 3)} for t in sec.tempos
    ]
    meters = [
        {"time_s": round(float(t.time), 4), "numerator": t.numerator, "denominator": t.denominator}
        for t in sec.time_signatures
    ]
    tracks = []
    for track in sec.tracks:
        check_deadline()
        name = "Drums" if track.is_drum else program_name(track.program)
        tracks.append(
            {
                "name": track.name or name,
                "program": int(track.program),
                "instrument": name,
                "is_drum": bool(track.is_drum),
                "notes": [
                    {
                        "pitch": int(n.pitch),
                        "start_s": round(float(n.time), 4),
                        "end_s": round(float(n.time + n.duration), 4),
                        "velocity": int(n.velocity),
                    }
                    for n in track.notes
                ],
            }
        )
    return {
        "duration_s": round(float(sec.end()), 4) if any(len(t.notes) for t in sec.tracks) else 0.0,
        "tempo": tempos[0]["qpm"] if tempos else 120.0,
        "tempos": tempos,
        "time_signature": (
            f"{meters[0]['numerator']}/{meters[0]['denominator']}" if meters else "4/4"
        ),
        "time_signatures": meters,
        "tracks": tracks,
        "chords": chord_rows,
    }
