"""The performance layer: a written score played the way its style is played.

`perform(score, controls, style)` returns a copy of the score with

- **dynamics by phrase**: each bar's level follows the tension curve (music/tension.py)
  and an arch that rises to the climax it finds and relaxes after it; inside each 4-bar
  phrase the music swells toward the phrase's last third and relaxes;
- **accents by meter**: the downbeat, then the middle of a four-beat bar, then the other
  beats (compound meters counted in dotted quarters, 5/8 and 7/8 in groups of 2 and 3);
  waltzes and marches lean on the downbeat, backbeat styles on the snare's 2 and 4;
- **ghost notes**: quiet snare hits between the beats of a drum track in the styles that
  use them (funk, hip hop, lo-fi, jazz, blues), one or two a bar, chosen by the seed; a
  bar that already has ghost notes (the groove library's funk) keeps its own;
- **swing**: in swing and shuffle styles the off-beat eighths (sixteenths) come late by the
  style's ratio. Only notes exactly on the straight off-beat move, so the parts the
  arranger already swung, triplet grids and human timing are left alone;
- **articulation**: legato styles carry each note into the next one, detached styles play
  notes of a beat or less at three quarters of their length;
- **sustain pedal** (CC64) on piano tracks (GM programs 0-7), lifted and pressed again at
  every chord change and barline;
- with `humanize` > 0, onsets moved by at most that many milliseconds (seeded), never past
  a neighbour in the same track and never out of their bar;
- the prompt's mood (`controls.extra`, read by the prompt parser): "dynamics" soft or loud
  moves every velocity down or up by DYNAMICS_SHIFT (inside the same limits), "density"
  sparse adds no ghost notes and dense two a bar.

Pitches never change and notes are only ever added as ghost notes; without swing or
`humanize` every onset stays where it was written. Velocities stay within 45-110 (ghost
notes 20-50). numpy and symusic are imported where they are used, so the CLI can check
`--performance` and `--humanize` before anything heavy loads.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from ..conditioning.limits import Bound
from ..errors import BadInputError

if TYPE_CHECKING:
    import numpy as np
    import symusic

    from ..conditioning.controls import Controls
    from ..music.chords import ChordSpan

MODES = ("auto", "none")
HUMANIZE = Bound("humanize", 0, 50, " ms")  # beyond ~50 ms a player sounds late, not alive

VELOCITY_RANGE = (45, 110)
GHOST_RANGE = (20, 50)  # a drum hit this soft is a ghost note and stays one
GHOST_VELOCITY = 34
DYNAMIC_RANGE = 14  # the piece's level moves velocities by up to this much either way
# "soft" / "loud" in the prompt: about one dynamic mark (mp -> p, mf -> f) on the whole piece;
# ghost notes move by half as much, so they stay ghosts.
DYNAMICS_SHIFT = {"soft": -15, "loud": 15}
PHRASE_BARS = 4
PHRASE_RANGE = 8  # a phrase's swell, from its start to its peak
PHRASE_PEAK = 0.65  # where in the phrase the swell turns
DOWNBEAT, MIDDLE, BEAT = 8, 4, 2  # accents by the strength of the beat
STRONG_DOWNBEAT = 4  # added to the downbeat in waltzes and marches
BACKBEAT = 10  # the snare on 2 and 4
SNARES = (38, 40, 37)  # acoustic snare, electric snare, side stick: ghost-note sounds
BACKBEAT_DRUMS = {37, 38, 39, 40}  # the snares and the clap
STACCATO = 0.75  # detached notes keep this much of their length
PIANOS = range(0, 8)  # GM pianos: the tracks that get a sustain pedal
PEDAL = 64


@dataclass(frozen=True)
class Feel:
    """How a style is played: swing ratio (0.5: straight; the first of each pair of
    `swing_unit`ths gets this share of the pair), backbeat, ghost notes, articulation."""

    swing: float = 0.5
    swing_unit: int = 8
    backbeat: bool = False
    ghosts: bool = False
    articulation: str = "normal"  # legato, normal, staccato
    strong_downbeat: bool = False


_SWING = Feel(swing=2 / 3, backbeat=True, ghosts=True)
_BACKBEAT = Feel(backbeat=True)
_LEGATO = Feel(articulation="legato")
_MARCH = Feel(articulation="staccato", strong_downbeat=True)
# Style words (controls.STYLES) and groove-library names; anything else plays as Feel().
FEELS: dict[str, Feel] = {
    "jazz": _SWING, "jazz-swing": _SWING, "blues": _SWING, "blues-shuffle": _SWING,
    "jazz-waltz": Feel(swing=2 / 3, ghosts=True),
    "funk": Feel(swing=0.54, swing_unit=16, backbeat=True, ghosts=True, articulation="staccato"),
    "hip hop": Feel(swing=0.57, swing_unit=16, backbeat=True, ghosts=True),
    "hip-hop": Feel(swing=0.57, swing_unit=16, backbeat=True, ghosts=True),
    "lo-fi": Feel(swing=0.6, swing_unit=16, backbeat=True, ghosts=True, articulation="legato"),
    "reggae": Feel(swing=0.56, articulation="staccato"),
    "rock": _BACKBEAT, "pop": _BACKBEAT, "country": _BACKBEAT, "electronic": _BACKBEAT,
    "disco": Feel(backbeat=True, articulation="staccato"),
    "ballad": _LEGATO, "song": _LEGATO, "lied": _LEGATO, "aria": _LEGATO, "air": _LEGATO,
    "chorale": _LEGATO, "hymn": _LEGATO, "motet": _LEGATO, "madrigal": _LEGATO,
    "mass movement": _LEGATO, "soundtrack": _LEGATO, "cinematic": _LEGATO, "ambient": _LEGATO,
    "march": _MARCH, "polka": _MARCH, "rag": Feel(articulation="staccato"),
    "waltz": Feel(strong_downbeat=True), "mazurka": Feel(strong_downbeat=True),
}  # fmt: skip


class Groove(Protocol):
    """What the performance reads of a groove-library style (arrange.library.Style)."""

    @property
    def name(self) -> str: ...
    @property
    def feel(self) -> str: ...
    @property
    def swing(self) -> float: ...
    @property
    def swing_unit(self) -> int: ...


def feel_for(style: str | Groove | None) -> Feel:
    """The feel of a style word, or of a library style (whose own swing ratio wins)."""
    if style is None:
        return Feel()
    if isinstance(style, str):
        return FEELS.get(style.strip().lower(), Feel())
    base = FEELS.get(style.name, Feel())
    if style.feel == "straight":
        return replace(base, swing=0.5)
    return replace(base, swing=style.swing, swing_unit=style.swing_unit)


def check_options(mode: str, humanize: float = 0.0) -> str:
    """The performance mode, normalised; one BadInputError line for a bad mode or humanize."""
    m = str(mode).strip().lower()
    if m not in MODES:
        raise BadInputError(
            f"unknown performance {mode!r}; use auto (dynamics, accents, swing, pedal in the "
            "piece's style) or none (the notes as written)",
            field="performance",
        )
    HUMANIZE.check(humanize, field="humanize")
    if m == "none" and humanize:
        raise BadInputError(
            "humanize is part of the performance; it cannot go with performance none",
            field="humanize",
        )
    return m


# -- bars and beats -------------------------------------------------------------------------
@dataclass
class _Bars:
    """The score's bars: start ticks, lengths, meters (numerator, denominator)."""

    starts: list[int]
    lengths: list[int]
    meters: list[tuple[int, int]]
    tpq: int

    def index(self, tick: int) -> int:
        return max(0, bisect.bisect_right(self.starts, tick) - 1)

    def end(self, bar: int) -> int:
        return self.starts[bar] + self.lengths[bar]


def _bars(score: symusic.Score, end: int) -> _Bars:
    from ..music.metrics import bar_grid

    starts, lengths = bar_grid(score, end)
    sigs = sorted(
        (int(t.time), int(t.numerator), int(t.denominator)) for t in score.time_signatures
    )
    times = [s[0] for s in sigs]
    meters = []
    for start in starts.tolist():
        i = bisect.bisect_right(times, start) - 1
        meters.append((sigs[i][1], sigs[i][2]) if i >= 0 else (4, 4))
    return _Bars(starts.tolist(), lengths.tolist(), meters, max(int(score.tpq), 1))


def beats(num: int, den: int, tpq: int) -> list[int]:
    """Tick offsets of a bar's beats: quarters (halves in x/2), dotted quarters in compound
    meters, groups of 2 and 3 eighths in 5/8 and 7/8 (the last group the long one)."""
    unit = tpq * 4 // den
    if den >= 8 and num % 3 == 0 and num > 3:
        groups = [3] * (num // 3)
    elif den >= 8 and num > 3:
        groups = [2] * ((num - 3) // 2) + [3] if num % 2 else [2] * (num // 2)
    elif den >= 8:
        groups = [num]
    else:
        groups = [1] * num
    offsets, at = [], 0
    for g in groups:
        offsets.append(at * unit)
        at += g
    return offsets


def _accent(rel: int, beat_ticks: list[int], feel: Feel, backbeat_sound: bool) -> int:
    """The accent of an onset `rel` ticks into its bar (0 off the beat)."""
    if rel not in beat_ticks:
        return 0
    i = beat_ticks.index(rel)
    n = len(beat_ticks)
    if i == 0:
        return DOWNBEAT + (STRONG_DOWNBEAT if feel.strong_downbeat else 0)
    accent = MIDDLE if n >= 4 and n % 2 == 0 and i == n // 2 else BEAT
    if feel.backbeat and backbeat_sound and n in (2, 4) and i % 2 == 1:
        accent += BACKBEAT
    return accent


# -- notes as lists -------------------------------------------------------------------------
_T, _D, _P, _V = range(4)  # time, duration, pitch, velocity of a note list


def _notes(track: symusic.Track) -> list[list[int]]:
    notes = [[n.time, n.duration, n.pitch, n.velocity] for n in track.notes]
    return sorted(notes, key=lambda n: (n[_T], n[_P]))


def _write(track: symusic.Track, notes: list[list[int]]) -> None:
    import symusic

    track.notes.clear()
    for t, d, p, v in sorted(notes, key=lambda n: (n[_T], n[_P])):
        track.notes.append(symusic.Note(t, max(1, d), p, v))


def _is_ghost(note: list[int], drum: bool) -> bool:
    return drum and note[_V] <= GHOST_RANGE[1]


# -- dynamics -------------------------------------------------------------------------------
def _levels(score: symusic.Score, n: int) -> np.ndarray:
    """Each bar's dynamic level in [-1, 1]: half the tension (scaled to its largest value),
    half an arch that peaks at the climax bar (70 % of the way when tension is flat)."""
    import numpy as np

    from ..music.tension import tension_curve

    curve = tension_curve(score)
    if len(curve) != n:  # a grid off by a partial bar: stretch the curve onto ours
        curve = np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(curve)), curve)
    peak = float(np.abs(curve).max()) if n else 0.0
    tension = curve / peak if peak > 1e-9 else np.zeros(n)
    climax = int(np.argmax(curve)) if peak > 1e-9 else round(0.7 * (n - 1))
    span = max(climax, n - 1 - climax, 1)
    arch = 1 - np.abs(np.arange(n) - climax) / span
    return 0.5 * tension + 0.5 * (2 * arch - 1)


def _phrase(tick: int, bar: int, bars: _Bars) -> int:
    """The phrase's swell at `tick`: rising over the first PHRASE_PEAK of each phrase of
    PHRASE_BARS bars, then relaxing (centred on 0)."""
    first = bar - bar % PHRASE_BARS
    last = min(first + PHRASE_BARS, len(bars.starts)) - 1
    length = bars.end(last) - bars.starts[first]
    x = (tick - bars.starts[first]) / max(length, 1)
    arc = x / PHRASE_PEAK if x < PHRASE_PEAK else (1 - x) / (1 - PHRASE_PEAK)
    return round(PHRASE_RANGE * (min(max(arc, 0.0), 1.0) - 0.5))


def _dynamics(
    notes: list[list[int]],
    drum: bool,
    bars: _Bars,
    levels: np.ndarray,
    feel: Feel,
    shift: int = 0,
) -> None:
    """Velocities by the bar's level, the phrase's swell, the beat's accent and `shift`
    (the prompt's soft or loud), clamped to VELOCITY_RANGE (ghost notes to GHOST_RANGE)."""
    beat_cache: dict[tuple[int, int], list[int]] = {}
    for note in notes:
        bar = bars.index(note[_T])
        level = round(DYNAMIC_RANGE * float(levels[bar])) + shift
        if _is_ghost(note, drum):
            note[_V] = min(max(note[_V] + level // 2, GHOST_RANGE[0]), GHOST_RANGE[1])
            continue
        meter = bars.meters[bar]
        if meter not in beat_cache:
            beat_cache[meter] = beats(*meter, bars.tpq)
        rel = note[_T] - bars.starts[bar]
        accent = _accent(rel, beat_cache[meter], feel, drum and note[_P] in BACKBEAT_DRUMS)
        v = note[_V] + level + _phrase(note[_T], bar, bars) + accent
        note[_V] = min(max(v, VELOCITY_RANGE[0]), VELOCITY_RANGE[1])


# -- ghost notes ----------------------------------------------------------------------------
def _ghost_notes(
    notes: list[list[int]],
    bars: _Bars,
    feel: Feel,
    rng: np.random.Generator,
    dense: bool = False,
) -> list[list[int]]:
    """One or two soft snare hits a bar (two when `dense`) between the beats, away from the
    written snare hits, in the bars the drums play, except bars with ghost notes of their own."""
    snares = [n for n in notes if n[_P] in SNARES]
    if not snares:
        return []
    pitch = Counter(n[_P] for n in snares).most_common(1)[0][0]
    hits = sorted(n[_T] for n in notes if n[_P] in BACKBEAT_DRUMS)
    step = bars.tpq // 2 if feel.swing > 0.5 and feel.swing_unit == 8 else bars.tpq // 4
    played = {bars.index(n[_T]) for n in notes}
    played -= {bars.index(n[_T]) for n in snares if n[_V] <= GHOST_RANGE[1]}
    added = []
    for bar in sorted(played):
        start, length = bars.starts[bar], bars.lengths[bar]
        on_beat = set(beats(*bars.meters[bar], bars.tpq))
        free = []
        for rel in range(step, length, step):
            t = start + rel + _late(rel, bars.meters[bar][1], feel, bars.tpq)
            i = bisect.bisect_left(hits, t - step + 1)
            if rel not in on_beat and not (i < len(hits) and hits[i] < t + step):
                free.append(t)
        if not free:
            continue
        count = min(len(free), 2 if dense else int(rng.integers(1, 3)))
        for t in sorted(rng.choice(free, size=count, replace=False).tolist()):
            velocity = GHOST_VELOCITY + int(rng.integers(-4, 5))
            added.append([int(t), max(1, bars.tpq // 8), pitch, velocity])
    return added


# -- timing ---------------------------------------------------------------------------------
def _pair(feel: Feel, tpq: int) -> tuple[int, int]:
    """The ticks of a swung pair (two eighths, or two sixteenths) and how late its second
    note comes."""
    pair = tpq if feel.swing_unit == 8 else tpq // 2
    return pair, round(feel.swing * pair) - pair // 2


def _late(rel: int, denominator: int, feel: Feel, tpq: int) -> int:
    """How late the feel plays an onset `rel` ticks into a bar: the swing's delay on a
    straight off-beat in x/4 and x/2 meters, else 0."""
    pair, late = _pair(feel, tpq)
    if feel.swing <= 0.5 or denominator not in (2, 4) or rel % pair != pair // 2:
        return 0
    return late


def _swing(notes: list[list[int]], bars: _Bars, feel: Feel) -> None:
    """Delay the onsets exactly on a straight off-beat (of eighths, or sixteenths) to the
    swing ratio, in bars of x/4 and x/2 meters, where nothing else starts in between. A
    note that ran up to a moved onset still does; a moved note keeps its place in the pair."""
    if feel.swing <= 0.5:
        return
    pair, late = _pair(feel, bars.tpq)
    half = pair // 2
    onsets = sorted({n[_T] for n in notes})
    moved: dict[int, int] = {}
    for k, t in enumerate(onsets):
        bar = bars.index(t)
        if not _late(t - bars.starts[bar], bars.meters[bar][1], feel, bars.tpq):
            continue
        if k + 1 < len(onsets) and onsets[k + 1] <= t + late:
            continue
        moved[t] = t + late
    if not moved:
        return

    def warp(t: int, pair_start: int) -> int:
        """A tick in the second half of a pair, in the swung second half."""
        rest = pair_start + pair - t
        return pair_start + pair - round(rest * (pair - half - late) / (pair - half))

    for note in notes:
        t, end = note[_T], note[_T] + note[_D]
        if t in moved:
            pair_start = t - half
            k = bisect.bisect_right(onsets, t)
            nxt = onsets[k] if k < len(onsets) else None
            if end in moved:
                new_end = moved[end]
            elif end <= pair_start + pair:
                new_end = warp(end, pair_start)
            else:
                new_end = end
            if nxt is not None and end <= nxt:  # never past the next onset it did not pass
                new_end = min(new_end, moved.get(nxt, nxt))
            note[_T] = moved[t]
            note[_D] = max(1, new_end - note[_T])
        elif end in moved:
            note[_D] = moved[end] - t


def _articulate(notes: list[list[int]], feel: Feel, tpq: int) -> None:
    """Legato: a note that ends at (or just before) the next onset lasts a little past it
    (never into its own pitch's next note). Staccato: notes of a beat or less shortened."""
    if feel.articulation == "staccato":
        shortest = max(1, tpq // 8)
        for note in notes:
            if note[_D] <= tpq:
                note[_D] = min(note[_D], max(shortest, round(note[_D] * STACCATO)))
        return
    if feel.articulation != "legato":
        return
    gap, overlap = tpq // 4, tpq // 16
    onsets = sorted({n[_T] for n in notes})
    by_pitch: dict[int, list[int]] = {}
    for n in sorted(notes, key=lambda n: n[_T]):
        by_pitch.setdefault(n[_P], []).append(n[_T])
    for note in notes:
        k = bisect.bisect_right(onsets, note[_T])
        if k == len(onsets):
            continue
        nxt, end = onsets[k], note[_T] + note[_D]
        if end > nxt or nxt - end > gap:
            continue
        target = nxt + overlap
        same = by_pitch[note[_P]]
        j = bisect.bisect_right(same, note[_T])
        if j < len(same):
            target = min(target, same[j])
        note[_D] = max(note[_D], target - note[_T])


def _humanize(
    notes: list[list[int]],
    bars: _Bars,
    ms: float,
    tempo_at: Callable[[int], float],
    piece_end: int,
    rng: np.random.Generator,
) -> None:
    """Move each onset (a chord's notes together) by up to `ms` milliseconds: less than
    half the gap to its neighbours, so the order holds, and never out of its bar."""
    onsets = sorted({n[_T] for n in notes})
    shift: dict[int, int] = {}
    for k, t in enumerate(onsets):
        bar = bars.index(t)
        low, high = bars.starts[bar], bars.end(bar) - 1
        if k:
            low = max(low, t - (t - onsets[k - 1] - 1) // 2)
        if k + 1 < len(onsets):
            high = min(high, t + (onsets[k + 1] - t - 1) // 2)
        most = ms / 1000 * tempo_at(t) / 60 * bars.tpq
        new = round(t + float(rng.uniform(-1, 1)) * most)
        shift[t] = min(max(new, low), high) - t
    for note in notes:
        end = note[_T] + note[_D]
        moved_end = end + shift.get(end, shift[note[_T]])  # legato joins stay joined
        note[_T] += shift[note[_T]]
        note[_D] = max(1, min(moved_end, piece_end) - note[_T])
    by_pitch: dict[int, list[list[int]]] = {}
    for note in sorted(notes, key=lambda n: n[_T]):
        by_pitch.setdefault(note[_P], []).append(note)
    for same in by_pitch.values():  # a note never runs into its own pitch's next one
        for a, b in zip(same, same[1:], strict=False):
            if a[_T] < b[_T] and a[_T] + a[_D] > b[_T]:
                a[_D] = b[_T] - a[_T]


def _tempo_lookup(score: symusic.Score, default: float) -> Callable[[int], float]:
    """The tempo (quarter notes a minute) in force at a tick."""
    tempos = sorted((int(t.time), float(t.qpm)) for t in score.tempos)
    times = [t for t, _ in tempos]

    def at(tick: int) -> float:
        i = bisect.bisect_right(times, tick) - 1
        return tempos[i][1] if i >= 0 else default

    return at


# -- pedal ----------------------------------------------------------------------------------
def _pedal(track: symusic.Track, bars: _Bars, chords: Sequence[ChordSpan] | None) -> None:
    """CC64 down from the first note, lifted at every chord change and barline and pressed
    again just after it (so the new harmony is caught, not the old), up at the end."""
    import symusic

    first = min(n.time for n in track.notes)
    last = max(n.time + n.duration for n in track.notes)
    changes = set(bars.starts) | {s.start for s in chords or ()}
    points = sorted(p for p in changes if first < p < last)
    delay = max(1, bars.tpq // 8)
    events = [(first, 127)]
    for p in points:
        events.append((p, 0))
        if p + delay < last:
            events.append((p + delay, 127))
    events.append((last, 0))
    for time, value in events:
        track.controls.append(symusic.ControlChange(time, PEDAL, value))


# -- the layer ------------------------------------------------------------------------------
def perform(
    score: symusic.Score,
    controls: Controls | None = None,
    style: str | Groove | None = None,
    humanize: float = 0.0,
    seed: int = 0,
    chords: Sequence[ChordSpan] | None = None,
) -> symusic.Score:
    """A performed copy of `score` (the input is not changed).

    `style`: a style word or a groove-library style (default: `controls.style`);
    `humanize`: the most an onset moves, in ms (0: the grid as written); `seed` makes the
    ghost notes and the timing reproducible; `chords`: where the harmony changes (the
    piece's requested progression), for the pedal; barlines count without it.
    `controls.extra` "dynamics" (soft, loud) and "density" (sparse, dense), as the prompt
    parser reads them from mood words, shift the velocities and set the ghost notes."""
    import numpy as np

    from ..music.metrics import as_tick_score

    HUMANIZE.check(humanize, field="humanize")
    out = as_tick_score(score).copy()
    tracks = [t for t in out.tracks if len(t.notes)]
    if not tracks:
        return out
    feel = feel_for(style if style is not None else (controls.style if controls else None))
    piece_end = max(max(n.time + n.duration, n.time + 1) for t in tracks for n in t.notes)
    bars = _bars(out, piece_end)
    levels = _levels(out, len(bars.starts))
    tempo = (controls.tempo if controls else None) or 120.0
    tempo_at = _tempo_lookup(out, tempo)
    mood = controls.extra if controls else {}
    shift = DYNAMICS_SHIFT.get(str(mood.get("dynamics")), 0)
    density = mood.get("density")
    for k, track in enumerate(out.tracks):
        if not len(track.notes):
            continue
        drum = bool(track.is_drum)
        notes = _notes(track)
        if drum and feel.ghosts and density != "sparse":
            rng = np.random.default_rng([seed, k, 0])
            notes += _ghost_notes(notes, bars, feel, rng, dense=density == "dense")
        _dynamics(notes, drum, bars, levels, feel, shift)
        _swing(notes, bars, feel)
        if not drum:
            _articulate(notes, feel, bars.tpq)
        if humanize > 0:
            rng = np.random.default_rng([seed, k, 1])
            _humanize(notes, bars, float(humanize), tempo_at, piece_end, rng)
        _write(track, notes)
        has_pedal = any(c.number == PEDAL for c in track.controls)
        if not drum and track.program in PIANOS and not has_pedal:
            if feel.articulation != "staccato":  # detached styles are played dry
                _pedal(track, bars, chords)
    return out
