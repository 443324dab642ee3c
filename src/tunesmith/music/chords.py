"""Chords: symbols, pitch-class templates, and a chord analysis of any score.

The analysis reads a score per bar or per beat. Each segment's notes give a pitch-class
weight vector (each note weighted by how long it sounds inside the segment); every
template (12 roots x the qualities below) is scored by the weight it explains minus the
weight it leaves out, minus a small cost per chord tone that is missing, plus a bonus when
the segment's bass is the root (Pardo & Birmingham's template matching, with a bass
term). A seventh chord must beat its triad by a margin, so a passing seventh does not
turn every triad into a seventh chord. It is a few matrix products per piece: cheap enough
for a whole corpus and for every generated candidate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import symusic

from .keys import PITCH_CLASS_OF
from .metrics import as_tick_score, bar_grid

# Intervals above the root, and the symbol suffix of each quality.
QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "sus4": (0, 5, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
}
SUFFIX = {
    "maj": "", "min": "m", "dim": "dim", "aug": "aug", "sus4": "sus4", "7": "7",
    "maj7": "maj7", "min7": "m7", "m7b5": "m7b5", "dim7": "dim7",
}  # fmt: skip
TRIAD_OF = {
    "maj": "maj", "min": "min", "dim": "dim", "aug": "aug", "sus4": "sus4", "7": "maj",
    "maj7": "maj", "min7": "min", "m7b5": "dim", "dim7": "dim",
}  # fmt: skip
SHARP_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

SEVENTH_MARGIN = 0.2  # a seventh chord needs its seventh to carry > 10 % of the weight
RARE_MARGIN = 0.2  # so does a sus4 or augmented chord (passing 4ths are not harmony)
MISSING_TONE_COST = 0.08  # per chord tone that does not sound in the segment
BASS_BONUS = 0.1  # when the lowest sustained note is the root
MIN_WEIGHT = 1e-9


@dataclass(frozen=True)
class Chord:
    """A chord: root pitch class (0 = C), quality (a key of QUALITIES), optional bass."""

    root: int
    quality: str
    bass: int | None = None  # pitch class of an inversion's bass; None: the root

    def __post_init__(self) -> None:
        if self.quality not in QUALITIES:
            raise ValueError(f"unknown chord quality {self.quality!r}")

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        return tuple((self.root + i) % 12 for i in QUALITIES[self.quality])

    @property
    def triad(self) -> str:
        """The quality's triad family (maj, min, dim, aug, sus4): sevenths fold onto it."""
        return TRIAD_OF[self.quality]

    @property
    def bass_pitch_class(self) -> int:
        return self.root if self.bass is None else self.bass

    @property
    def symbol(self) -> str:
        """'Am', 'G7', 'Bbmaj7', 'D/F#'."""
        s = SHARP_NAMES[self.root] + SUFFIX[self.quality]
        if self.bass is not None and self.bass != self.root:
            s += "/" + SHARP_NAMES[self.bass]
        return s

    def same_harmony(self, other: Chord | None) -> bool:
        """Same root and triad family (a seventh or an inversion is the same harmony)."""
        return other is not None and self.root == other.root and self.triad == other.triad

    def __str__(self) -> str:
        return self.symbol


_SYMBOL = re.compile(
    r"^([A-Ga-g])(#|b|♯|♭)?"
    r"(maj7|M7|Δ7?|m7b5|ø7?|dim7|°7|min7|m7|-7|7|maj|M|min|m|-|dim|°|aug|\+|sus4|sus)?"
    r"(?:/([A-Ga-g])(#|b|♯|♭)?)?$"
)
_QUALITY_WORDS = {
    None: "maj", "maj": "maj", "M": "maj", "min": "min", "m": "min", "-": "min",
    "dim": "dim", "°": "dim", "aug": "aug", "+": "aug", "sus4": "sus4", "sus": "sus4",
    "7": "7", "maj7": "maj7", "M7": "maj7", "Δ": "maj7", "Δ7": "maj7", "min7": "min7",
    "m7": "min7", "-7": "min7", "m7b5": "m7b5", "ø": "m7b5", "ø7": "m7b5",
    "dim7": "dim7", "°7": "dim7",
}  # fmt: skip


def _pitch_class(letter: str, accidental: str | None) -> int:
    acc = {"#": "#", "♯": "#", "b": "B", "♭": "B"}.get(accidental or "", "")
    return PITCH_CLASS_OF[letter.upper() + acc]


def parse_symbol(text: str) -> Chord:
    """'Am' -> A minor, 'G7', 'Bbmaj7', 'F#m7b5', 'D/F#' (slash bass), 'Cdim', 'Eaug'.

    Raises ValueError naming the symbol when it is not a chord symbol."""
    m = _SYMBOL.match(text.strip())
    if m is None:
        raise ValueError(f"unknown chord symbol {text!r}")
    root = _pitch_class(m.group(1), m.group(2))
    quality = _QUALITY_WORDS[m.group(3)]
    bass = _pitch_class(m.group(4), m.group(5)) if m.group(4) else None
    return Chord(root, quality, bass if bass != root else None)


def _templates() -> tuple[np.ndarray, list[Chord]]:
    rows, chords = [], []
    for quality, intervals in QUALITIES.items():
        for root in range(12):
            t = np.zeros(12)
            t[[(root + i) % 12 for i in intervals]] = 1.0
            rows.append(t)
            chords.append(Chord(root, quality))
    return np.stack(rows), chords


TEMPLATES, TEMPLATE_CHORDS = _templates()
_MARGIN = np.array(
    [
        SEVENTH_MARGIN if len(QUALITIES[c.quality]) == 4
        else RARE_MARGIN if c.quality in ("sus4", "aug")
        else 0.0
        for c in TEMPLATE_CHORDS
    ]
)  # fmt: skip
_ROOTS = np.array([c.root for c in TEMPLATE_CHORDS])
_SIZES = TEMPLATES.sum(axis=1)


def best_chord(weights: np.ndarray, bass: int | None = None) -> Chord | None:
    """The template that best explains a 12-bin pitch-class weight vector; None if silent.

    `bass`: the pitch class of the segment's lowest sustained note (favours that root,
    and becomes the chord's bass when it is another chord tone)."""
    total = float(weights.sum())
    if total <= MIN_WEIGHT:
        return None
    w = weights / total
    inside = TEMPLATES @ w
    missing = ((TEMPLATES > 0) & (w[None, :] <= MIN_WEIGHT)).sum(axis=1)
    score = inside - (1.0 - inside) - MISSING_TONE_COST * missing
    score -= _MARGIN
    if bass is not None:
        score += np.where(_ROOTS == bass, BASS_BONUS, 0.0)
    # Ties: fewer tones first, then the template order (C, Db, ... within a quality).
    best = int(np.lexsort((np.arange(len(score)), _SIZES, -score))[0])
    chord = TEMPLATE_CHORDS[best]
    if bass is not None and bass != chord.root and bass in chord.pitch_classes:
        return Chord(chord.root, chord.quality, bass)
    return chord


@dataclass(frozen=True)
class ChordSpan:
    """The chord of one segment of a score (a bar, or a beat of a bar)."""

    bar: int  # 0-based
    beat: int | None  # 0-based beat within the bar; None for a whole bar
    start: int  # ticks
    end: int  # ticks
    chord: Chord | None  # None: no pitched note sounds (N.C.)

    def to_dict(self) -> dict:
        c = self.chord
        return {
            "bar": self.bar + 1,
            "beat": None if self.beat is None else self.beat + 1,
            "symbol": c.symbol if c else "N.C.",
            "root": SHARP_NAMES[c.root] if c else None,
            "quality": c.quality if c else None,
            "bass": SHARP_NAMES[c.bass_pitch_class] if c else None,
        }


def _segments(
    score: symusic.Score, per: str, parts: int = 1
) -> list[tuple[int, int | None, int, int]]:
    """(bar, beat or part, start, end) ticks of every bar, beat, or part of a bar."""
    end = max((n.time + n.duration for t in score.tracks for n in t.notes), default=0)
    starts, lengths = bar_grid(score, max(end, 1))
    tpq = max(int(score.tpq), 1)
    sigs = sorted((int(ts.time), int(ts.denominator)) for ts in score.time_signatures)
    segments: list[tuple[int, int | None, int, int]] = []
    for i, (s, length) in enumerate(zip(starts.tolist(), lengths.tolist(), strict=True)):
        if per == "bar":
            if parts == 1:
                segments.append((i, None, s, s + length))
            else:
                cuts = [s + length * k // parts for k in range(parts + 1)]
                segments += [(i, k, cuts[k], cuts[k + 1]) for k in range(parts)]
            continue
        den = next((d for t, d in reversed(sigs) if t <= s), 4) or 4
        beat = max(1, round(4 * tpq / den))
        if den == 8 and length % (3 * beat) == 0:  # compound meters: dotted-quarter beats
            beat *= 3
        for j, b in enumerate(range(s, s + length, beat)):
            segments.append((i, j, b, min(b + beat, s + length)))
    return segments


def analyse_chords(score: symusic.Score, per: str = "bar", parts: int = 1) -> list[ChordSpan]:
    """The chord of every bar (`per="bar"`; `parts` > 1 splits each bar into that many
    equal parts, numbered like beats) or beat (`per="beat"`) of a score."""
    if per not in ("bar", "beat"):
        raise ValueError("per must be 'bar' or 'beat'")
    if parts < 1:
        raise ValueError("parts must be at least 1")
    score = as_tick_score(score)
    notes = [
        (n.time, n.time + max(n.duration, 1), n.pitch)
        for t in score.tracks
        if not t.is_drum
        for n in t.notes
    ]
    if not notes:
        return []
    arr = np.array(notes, dtype=np.int64)
    on, off, pitch = arr[:, 0], arr[:, 1], arr[:, 2]
    pcs = pitch % 12
    spans = []
    for bar, beat, start, end in _segments(score, per, parts):
        overlap = np.minimum(off, end) - np.maximum(on, start)
        sounding = overlap > 0
        if not sounding.any():
            spans.append(ChordSpan(bar, beat, start, end, None))
            continue
        w = np.bincount(pcs[sounding], weights=overlap[sounding], minlength=12).astype(float)
        # The bass: the lowest note that sounds for at least a quarter of the segment.
        long_enough = sounding & (overlap * 4 >= end - start)
        low = pitch[long_enough] if long_enough.any() else pitch[sounding]
        spans.append(ChordSpan(bar, beat, start, end, best_chord(w, int(low.min()) % 12)))
    return spans


def chord_chart(spans: list[ChordSpan]) -> str:
    """A printable chart: one line per bar, '|'-separated, beats joined by spaces."""
    bars: dict[int, list[str]] = {}
    for s in spans:
        bars.setdefault(s.bar, []).append(s.chord.symbol if s.chord else "N.C.")
    lines = []
    for bar in sorted(bars):
        names = bars[bar]
        # A repeated chord within a bar is written once: "C . . G" reads as a chart.
        shown = [n if i == 0 or n != names[i - 1] else "." for i, n in enumerate(names)]
        lines.append(f"{bar + 1:>4} | {' '.join(shown)}")
    return "\n".join(lines)


def bar_harmony(score: symusic.Score) -> list[Chord | None]:
    """The chord of every bar, for training: the texture's chord when two or more pitched
    parts play; None for every bar of a single line. A line's implied chord per bar was
    measured against the four-part texture on Bach chorales (soprano alone vs all parts,
    benchmarks/implied_harmony.py): template matching agrees on only about a fifth of the
    bars, whatever the filter, so no chord is claimed for a single line."""
    score = as_tick_score(score)
    pitched = [t for t in score.tracks if not t.is_drum and len(t.notes)]
    spans = analyse_chords(score, per="bar")
    if len(pitched) >= 2:
        return [s.chord for s in spans]
    return [None] * len(spans)
