"""The arranger: drums, bass, comping and pads around a score, from a style's step grids.

`arrange(score, chords, style, meter, tempo, roles)` keeps every input track as it is
(the melody the model wrote) and adds one track per role, all on the piece's bar grid:

- drums: the style's drum rows on General MIDI percussion (a drum track: channel 10),
  the main bar, its variations on alternate bars and the fill on the last bar of each
  phrase, with a crash where a phrase starts;
- bass: chord-relative degrees (root, third, fifth, octave, approach to the next root)
  in the octave below C3; every chord starts on its root (or its slash bass);
- comping and pad: the chord voiced by voice leading (each chord the inversion nearest to
  the last one, inside a range around middle C, an octave lower when the melody lies
  low, so the tune stays on top), played as the pattern says: block chords, arpeggios,
  Alberti figures, strums.

The chords are the piece's; where the melody leaves a chord's third open, the band takes
the key signature's third (`key_chords`: no E natural under a C minor tune's bar of C and
G). Patterns are on a grid of `steps` a bar of the style's first meter; a piece in another
meter takes the grid step by step (a 4/4 pattern in 3/4 plays its first three beats).
Swing and shuffle feels delay the off-beats of straight grids by the style's ratio.
Nothing here is learned: it is the style file, laid on the chords.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import symusic

from ..conditioning.controls import normalize_meter
from ..conditioning.instruments import program_name
from ..music.chords import QUALITIES, Chord, ChordSpan
from ..music.metrics import as_tick_score, bar_grid
from .library import DRUM_NOTES, DRUMS_PROGRAM, HOLD, VELOCITY, Line, Part, Style, find_style

log = logging.getLogger(__name__)

BASS_LOW = 33  # bass roots lie in A1..G#2: below C3 (48), as a bass player places them
CRASH = DRUM_NOTES["crash"]
STRUM_SPREAD = 48  # a strum spreads its notes over 1/48 of a quarter each
# Chords lie under the tune: a comping or pad range reaches at most MELODY_HEADROOM above
# the melody's median pitch (while an octave of range is left), and a range whose middle is
# still not MELODY_GAP below that median moves down by octaves, but not below COMP_FLOOR
# (E2, a guitar's lowest string: lower, close chords are mud over the bass).
MELODY_HEADROOM = 2
MELODY_GAP = 3
MIN_SPAN = 12
COMP_FLOOR = 40
PAD_PART = Part(steps=1, main=Line("X"), kind="pad", voices=4, range=(55, 79))

# Playable range (lowest, highest MIDI pitch) by General MIDI program; families first.
_FAMILY_RANGES = [
    (0, 8, (21, 108)),  # pianos
    (8, 16, (48, 96)),  # chromatic percussion
    (16, 24, (36, 96)),  # organs, accordion, harmonica
    (24, 32, (40, 86)),  # guitars
    (32, 40, (28, 60)),  # basses
    (40, 48, (28, 100)),  # strings
    (48, 56, (28, 100)),  # ensembles, choirs
    (56, 64, (34, 86)),  # brass
    (64, 72, (44, 92)),  # reeds
    (72, 80, (55, 100)),  # pipes
    (80, 128, (28, 100)),  # synths, ethnic, effects
]
_PROGRAM_RANGES = {
    40: (55, 103), 41: (48, 91), 42: (36, 76), 43: (28, 60), 46: (24, 103), 47: (40, 60),
    56: (54, 86), 57: (40, 72), 58: (26, 58), 60: (34, 77), 70: (34, 75), 105: (48, 86),
}  # fmt: skip


def instrument_range(program: int) -> tuple[int, int]:
    """The (lowest, highest) MIDI pitch the arranger gives an instrument (-1: the kit)."""
    if program == DRUMS_PROGRAM:
        return min(DRUM_NOTES.values()), max(DRUM_NOTES.values())
    if program in _PROGRAM_RANGES:
        return _PROGRAM_RANGES[program]
    for low, high, rng in _FAMILY_RANGES:
        if low <= program < high:
            return rng
    raise ValueError(f"no GM program {program}")


def _fold(pitch: int, low: int, high: int) -> int:
    """The pitch moved by octaves into [low, high]."""
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return max(low, pitch)


# -- time -----------------------------------------------------------------------------------
@dataclass
class _Grid:
    """The piece's bars, and a part's step length on them."""

    starts: list[int]
    lengths: list[int]
    tpq: int
    quarters_per_bar: float  # of the style's own meter

    def step_ticks(self, part: Part) -> float:
        return self.tpq * self.quarters_per_bar / part.steps

    def steps_in(self, bar: int, part: Part) -> int:
        return max(1, round(self.lengths[bar] / self.step_ticks(part)))


def _bar_kinds(n: int, style: Style, first: int = 0) -> list[tuple[str, int]]:
    """(main/variation/fill, variation index) for bars first .. first + n - 1: variations on
    alternate bars, the fill on the last bar of each phrase."""
    kinds = []
    for i in range(first, first + n):
        if (i + 1) % style.fill_every == 0:
            kinds.append(("fill", 0))
        elif i % 2:
            kinds.append(("variation", i // 2))
        else:
            kinds.append(("main", 0))
    return kinds


def _swing(style: Style, tpq: int, grid: _Grid, part: Part):
    """A function moving a tick by the style's swing (identity for straight feels and for
    grids that already are triplets)."""
    per_quarter = part.steps / grid.quarters_per_bar
    if style.feel == "straight" or style.swing <= 0.5 or per_quarter % 2:
        return lambda t, bar_start: t
    pair = tpq if style.swing_unit == 8 else tpq / 2
    r = style.swing

    def warp(t: int, bar_start: int) -> int:
        rel = t - bar_start
        base = (rel // pair) * pair
        p = (rel - base) / pair
        q = p / 0.5 * r if p < 0.5 else r + (p - 0.5) / 0.5 * (1 - r)
        return int(round(bar_start + base + q * pair))

    return warp


# -- chords ---------------------------------------------------------------------------------
class _Chords:
    """Which chord sounds at a tick, and the next one."""

    def __init__(self, spans: list[ChordSpan]) -> None:
        self.spans = sorted((s for s in spans if s.end > s.start), key=lambda s: s.start)
        self.starts = [s.start for s in self.spans]

    def index_at(self, tick: int) -> int | None:
        i = bisect.bisect_right(self.starts, tick) - 1
        if i < 0 or tick >= self.spans[i].end:
            return None
        return i

    def next_chord(self, i: int) -> Chord | None:
        """The next span's chord after span i (span i's own when it is the last)."""
        for s in self.spans[i + 1 :]:
            if s.chord is not None:
                return s.chord
        return self.spans[i].chord


def _intervals(chord: Chord) -> tuple[int, ...]:
    return QUALITIES[chord.quality]


def _bass_pitch(pc: int, low: int) -> int:
    return low + (pc - low) % 12


def _degree(symbol: str, chord: Chord, next_chord: Chord | None) -> int:
    """A bass symbol's pitch, relative to the register of the chord's root."""
    root = _bass_pitch(chord.root, BASS_LOW)
    iv = _intervals(chord)
    if symbol == "R":
        return _bass_pitch(chord.bass_pitch_class, BASS_LOW)
    if symbol in "AB":
        target = next_chord or chord
        return _bass_pitch(target.bass_pitch_class, BASS_LOW) + (-1 if symbol == "A" else 1)
    offsets = {
        "3": iv[1],
        "5": iv[2],
        "7": iv[3] if len(iv) > 3 else (11 if chord.quality == "maj7" else 10),
        "8": 12,
        "2": 2,
        "4": 5,
        "6": 9,
        "L": iv[2] - 12,
    }
    return root + offsets[symbol]


# -- the key's thirds -----------------------------------------------------------------------
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
_OTHER_THIRD = {("maj", 3): "min", ("min", 4): "maj", ("7", 3): "min7", ("min7", 4): "7"}


def score_key(score: symusic.Score) -> tuple[int, bool] | None:
    """(tonic pitch class, minor) of the score's first key signature; None without one."""
    if not len(score.key_signatures):
        return None
    ks = score.key_signatures[0]
    major_tonic = (7 * int(ks.key)) % 12
    minor = bool(ks.tonality)
    return ((major_tonic + 9) % 12 if minor else major_tonic), minor


def diatonic_third(root: int, key: tuple[int, bool]) -> int | None:
    """The third (3 or 4 semitones) the key gives a chord on `root` (in minor the dominant
    takes the leading tone: V, not v); None for a root outside the key."""
    tonic, minor = key
    if minor and (root - tonic) % 12 == 7:
        return 4
    scale = [(tonic + d) % 12 for d in (MINOR_SCALE if minor else MAJOR_SCALE)]
    if root not in scale:
        return None
    i = scale.index(root)
    third = (scale[(i + 2) % 7] - root) % 12
    return third if third in (3, 4) else None


def key_chords(score: symusic.Score, chords: Sequence[ChordSpan]) -> list[ChordSpan]:
    """The chords the band plays: `chords`, except that a major or minor chord whose third
    no note of the score sounds takes the key's third (the key signature's). A bar of C
    and G in C minor is C minor, not the C major an analysis with no key assumes: the band
    must not add the E natural the melody never plays. Without a key signature, as given."""
    key = score_key(score)
    if key is None:
        return list(chords)
    notes = [
        (n.time, n.time + max(n.duration, 1), n.pitch % 12)
        for t in score.tracks
        if not t.is_drum
        for n in t.notes
    ]
    out = []
    for span in chords:
        c = span.chord
        if c is None or c.quality not in ("maj", "min", "7", "min7"):
            out.append(span)
            continue
        sounding = {pc for on, off, pc in notes if on < span.end and off > span.start}
        third = QUALITIES[c.quality][1]
        want = diatonic_third(c.root, key)
        open_third = not ({(c.root + 3) % 12, (c.root + 4) % 12} & sounding)
        if not open_third or want is None or want == third:
            out.append(span)
            continue
        bass = c.bass
        if bass == (c.root + third) % 12:  # a first inversion keeps its third in the bass
            bass = (c.root + want) % 12
        chord = Chord(c.root, _OTHER_THIRD[(c.quality, want)], bass)
        out.append(replace(span, chord=chord))
    return out


# -- voicing --------------------------------------------------------------------------------
def _tones(chord: Chord, voices: int) -> list[int]:
    """The chord's pitch classes for `voices` notes (a seventh chord in three voices drops
    its fifth); at most one of each."""
    iv = list(_intervals(chord))
    while len(iv) > voices:
        iv.pop(2 if len(iv) > 3 else -1)
    return [(chord.root + i) % 12 for i in iv]


def voicings(chord: Chord, voices: int, low: int, high: int) -> list[tuple[int, ...]]:
    """Every close-position inversion of the chord inside [low, high]; with more voices
    than chord tones, the lowest notes doubled an octave up (C E G C, E G C E)."""
    tones = _tones(chord, voices)
    found = set()
    for rot in range(len(tones)):
        order = tones[rot:] + tones[:rot]
        for base in range(low, high + 1):
            if base % 12 != order[0]:
                continue
            notes = [base]
            for pc in order[1:]:
                nxt = notes[-1] + 1
                while nxt % 12 != pc:
                    nxt += 1
                notes.append(nxt)
            notes += [notes[k] + 12 for k in range(voices - len(notes))]
            if notes[-1] <= high:
                found.add(tuple(notes))
    return sorted(found)


def nearest_voicing(
    chord: Chord, voices: int, low: int, high: int, previous: tuple[int, ...] | None
) -> tuple[int, ...]:
    """The inversion nearest the previous voicing (least total movement, a slight pull to
    the middle of the range so a long piece does not drift); the first one: the middle."""
    cands = voicings(chord, voices, low, high)
    while not cands:  # a range too narrow for this chord: widen it
        low, high = low - 6, high + 6
        cands = voicings(chord, voices, low, high)
    centre = (low + high) / 2

    def cost(v: tuple[int, ...]) -> float:
        pull = abs(sum(v) / len(v) - centre)
        if previous is None:
            return pull
        return sum(abs(a - b) for a, b in zip(v, previous, strict=False)) + 0.3 * pull

    return min(cands, key=cost)


# -- events ---------------------------------------------------------------------------------
@dataclass
class _Event:
    time: int
    end: int
    symbol: str
    velocity: int
    bar: int


def _line_events(grid: _Grid, part: Part, kinds, swing) -> list[_Event]:
    """The notes a pitched part's pattern plays, before pitches: symbol, time, length."""
    events = []
    step = grid.step_ticks(part)
    for bar, start in enumerate(grid.starts):
        line: Line = part.for_bar(*kinds[bar])
        n = grid.steps_in(bar, part)
        bar_end = start + grid.lengths[bar]
        for k in range(n):
            c = line.pattern[k % part.steps]
            if c in (".", HOLD):
                continue
            length = 1
            while k + length < n and line.pattern[(k + length) % part.steps] == HOLD:
                length += 1
            t0 = start + round(k * step)
            t1 = min(bar_end, start + round((k + length) * step))
            vel = line.velocity(k % part.steps, "X" if k == 0 else "x")
            if line.accents is None and c in VELOCITY:
                vel = VELOCITY[c]
            t0, t1 = swing(t0, start), swing(t1, start)
            events.append(_Event(t0, max(t0 + 1, t1), c, vel, bar))
    return events


def _fit_to_chords(events: list[_Event], chords: _Chords, symbol: str, always: bool) -> None:
    """Cut notes at chord changes, and give a chord that no note starts a note on its first
    tick (`always`: the note at a change is always `symbol`, the bass's root)."""
    starts = {e.time: e for e in events}
    for span in chords.spans:
        if span.chord is None:
            continue
        e = starts.get(span.start)
        inside = any(span.start <= x.time < span.end for x in events)
        if e is None and (always or not inside):
            nxt = min((x.time for x in events if x.time > span.start), default=span.end)
            vel = VELOCITY["x"]
            new = _Event(span.start, min(nxt, span.end), symbol, vel, -1)
            events.append(new)
            starts[span.start] = new
        elif e is not None and always:
            e.symbol = symbol
    events.sort(key=lambda e: e.time)
    for i, e in enumerate(events):
        j = chords.index_at(e.time)
        if j is not None:
            e.end = min(e.end, chords.spans[j].end)
        if i + 1 < len(events):
            e.end = min(e.end, events[i + 1].time)
        e.end = max(e.end, e.time + 1)


def _bass_track(events: list[_Event], chords: _Chords, program: int) -> symusic.Track:
    low, high = instrument_range(program)
    track = symusic.Track(name="Bass", program=program)
    for e in events:
        i = chords.index_at(e.time)
        if i is None or chords.spans[i].chord is None:
            continue
        chord = chords.spans[i].chord
        assert chord is not None
        pitch = _degree(e.symbol, chord, chords.next_chord(i))
        track.notes.append(
            symusic.Note(e.time, e.end - e.time, _fold(pitch, low, high), e.velocity)
        )
    return track


def melody_pitch(tracks: Sequence[symusic.Track]) -> float | None:
    """The median pitch of the tracks' notes (drums aside): where the tune lies."""
    pitches = sorted(n.pitch for t in tracks if not t.is_drum for n in t.notes)
    if not pitches:
        return None
    mid = len(pitches) // 2
    return float(pitches[mid]) if len(pitches) % 2 else (pitches[mid - 1] + pitches[mid]) / 2


def _comp_range(
    part: Part, program: int, shift: int, melody: float | None = None
) -> tuple[int, int]:
    """The part's voicing range moved by octaves into the instrument's range, and below the
    melody's median pitch (`melody`) where the instrument allows (see MELODY_GAP)."""
    low, high = part.range[0] + shift, part.range[1] + shift
    ilow, ihigh = instrument_range(program)
    while low < ilow and high + 12 <= ihigh:
        low, high = low + 12, high + 12
    while high > ihigh and low - 12 >= ilow:
        low, high = low - 12, high - 12
    if melody is not None:
        top = int(melody) + MELODY_HEADROOM

        def capped(high: int) -> int:
            return top if high > top and top - max(low, ilow) >= MIN_SPAN else high

        floor = max(ilow, COMP_FLOOR)
        while (low + capped(high)) / 2 > melody - MELODY_GAP and low - 12 >= floor:
            low, high = low - 12, high - 12
        high = capped(high)
    return max(low, ilow), min(high, ihigh)


def _comp_track(
    events: list[_Event], chords: _Chords, part: Part, program: int, name: str, tpq: int,
    shift: int = 0, previous: tuple[int, ...] | None = None, melody: float | None = None,
) -> tuple[symusic.Track, tuple[int, ...] | None]:  # fmt: skip
    """The comping track, and its last voicing (`previous`: the voicing it leads on from;
    `melody`: the tune's median pitch, which the voicings stay under)."""
    low, high = _comp_range(part, program, shift, melody)
    ilow, ihigh = instrument_range(program)
    voicing: dict[int, tuple[int, ...]] = {}
    for i, span in enumerate(chords.spans):
        if span.chord is not None:
            previous = nearest_voicing(span.chord, part.voices, low, high, previous)
            voicing[i] = previous
    track = symusic.Track(name=name, program=program)
    spread = max(1, tpq // STRUM_SPREAD)
    for e in events:
        at = chords.index_at(e.time)
        if at is None or at not in voicing:
            continue
        v = voicing[at]
        c = e.symbol
        offsets = [0] * len(v)
        if c in "1234":
            notes = [v[min(int(c) - 1, len(v) - 1)]]
        elif c == "H":
            notes = list(v[1:])
        elif c == "L":
            notes = list(v[:2])
        else:
            notes = list(v)
            if c in "dD":
                offsets = [k * spread for k in range(len(v))]
            elif c in "uU":
                offsets = [(len(v) - 1 - k) * spread for k in range(len(v))]
        vel = e.velocity
        if c in "dDuU":
            vel = {"D": 108, "d": 88, "U": 92, "u": 70}[c]
        for k, pitch in enumerate(notes):
            t = min(e.time + offsets[k], e.end - 1)
            p = _fold(pitch, ilow, ihigh)
            track.notes.append(symusic.Note(t, max(1, e.end - t), p, vel))
    return track, previous


def _drum_track(grid: _Grid, style: Style, kinds, swing, first: int = 0) -> symusic.Track:
    """The drum track of the grid's bars, which are bars first, first + 1, ... of the piece
    (the crash marks the piece's first bar and the bar after each fill)."""
    part = style.drums
    assert part is not None
    track = symusic.Track(name="Drums", program=0, is_drum=True)
    step = grid.step_ticks(part)
    length = max(1, round(step / 2))
    for bar, start in enumerate(grid.starts):
        pattern = part.for_bar(*kinds[bar])
        hits: dict[tuple[int, int], int] = {}
        for k in range(grid.steps_in(bar, part)):
            for note, row in pattern.items():
                c = row[k % part.steps]
                if c in VELOCITY:
                    t = swing(start + round(k * step), start)
                    hits[(t, note)] = VELOCITY[c]
        before = kinds[bar - 1] if bar else _bar_kinds(1, style, first - 1)[0]
        phrase_start = first + bar == 0 or before[0] == "fill"
        if style.crash and phrase_start and (start, CRASH) not in hits:
            hits[(start, CRASH)] = VELOCITY["x"] if first + bar == 0 else VELOCITY["X"]
        for (t, note), vel in sorted(hits.items()):
            track.notes.append(symusic.Note(t, length, note, vel))
    return track


# -- the arranger ---------------------------------------------------------------------------
def _roles(style: Style, roles: Mapping[str, int | Sequence[int]] | None) -> dict[str, list[int]]:
    if roles is None:
        roles = {r: p for r, p in style.instruments.items() if r != "melody"}
    out: dict[str, list[int]] = {}
    for role, programs in roles.items():
        if role in ("melody", "counter-melody") or programs is None:
            continue
        if role not in ("bass", "comping", "pad", "drums"):
            raise ValueError(f"unknown arrangement role {role!r}")
        values: list[int] = [programs] if isinstance(programs, int) else [int(p) for p in programs]
        for p in values:
            if p != DRUMS_PROGRAM:
                program_name(p)  # raises for a program outside 0-127
        out[role] = values
    return out


def arrange(
    score: symusic.Score,
    chords: list[ChordSpan],
    style: Style | str,
    meter: str | None = None,
    tempo: float | None = None,
    roles: Mapping[str, int | Sequence[int]] | None = None,
    *,
    fit: bool = True,
) -> symusic.Score:
    """The score with a band added: every input track unchanged, then one track per role
    (`roles`: role -> GM program(s), -1 for drums; default: the style's instruments).
    `fit` False leaves out the two ways the band follows the tune (voicings under the
    melody, open thirds from the key signature): the style's ranges and the chords as
    given, for comparison (benchmarks/arrangement.py --unfitted).

    `chords`: the piece's chords (`Piece.chord_spans()`; a third no note sounds follows
    the key signature, see `key_chords`), `meter` and `tempo` fill in a score that has no
    time signature or tempo; the bars are the score's own."""
    st = find_style(style) if isinstance(style, str) else style
    out = as_tick_score(score).copy()
    tpq = max(int(out.tpq), 1)
    if meter and not len(out.time_signatures):
        num, den = (int(x) for x in normalize_meter(meter).split("/"))
        out.time_signatures.append(symusic.TimeSignature(0, num, den))
    if tempo and not len(out.tempos):
        out.tempos.append(symusic.Tempo(0, float(tempo)))
    piece_meter = (
        f"{out.time_signatures[0].numerator}/{out.time_signatures[0].denominator}"
        if len(out.time_signatures)
        else "4/4"
    )
    if piece_meter not in st.meters:
        log.info("style %s is written for %s; laid on %s bar by bar", st.name,
                 "/".join(st.meters), piece_meter)  # fmt: skip
    end = max((n.time + n.duration for t in out.tracks for n in t.notes), default=0)
    end = max([end] + [s.end for s in chords])
    if end <= 0:
        return out
    starts, lengths = bar_grid(out, end)
    num, den = (int(x) for x in st.meters[0].split("/"))
    grid = _Grid(starts.tolist(), lengths.tolist(), tpq, num * 4 / den)
    kinds = _bar_kinds(len(grid.starts), st)
    spans = _Chords(key_chords(out, chords) if fit else list(chords))
    wanted = _roles(st, roles)
    tune = melody_pitch(list(out.tracks)) if fit else None  # before the band is added

    if wanted.get("drums") and st.drums is not None:
        out.tracks.append(_drum_track(grid, st, kinds, _swing(st, tpq, grid, st.drums)))
    for k, program in enumerate(wanted.get("bass", [])):
        if st.bass is None:
            continue
        events = _line_events(grid, st.bass, kinds, _swing(st, tpq, grid, st.bass))
        _fit_to_chords(events, spans, "R", always=True)
        track = _bass_track(events, spans, program)
        if k:
            track.name = f"Bass {k + 1}"
        out.tracks.append(track)
    for role, default in (("comping", st.comping), ("pad", st.pad or PAD_PART)):
        part = default or PAD_PART
        for k, program in enumerate(wanted.get(role, [])):
            events = _line_events(grid, part, kinds, _swing(st, tpq, grid, part))
            _fit_to_chords(events, spans, "x", always=False)
            name = role.capitalize() + (f" {k + 1}" if k else "")
            track, _ = _comp_track(
                events, spans, part, program, name, tpq, shift=12 * k, melody=tune
            )
            out.tracks.append(track)
    return out
