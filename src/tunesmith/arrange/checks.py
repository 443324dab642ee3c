"""What a band part must be, measured on a finished (and performed) score: the checks that
`benchmarks/arrangement.py` reports and `tests/arrange` run on every style.

- **drums steady**: outside the fills, the kit repeats a groove of one or two bars. The
  library's styles alternate a main bar and a variation (the bossa nova's and the salsa's
  clave is two bars by definition; rock and funk move the kick in the second bar), so a
  groove of two bars is as steady as one of one bar; what is not steady is a kit that
  plays something new in every bar. Each non-fill bar's hits (time in the bar and sound)
  are compared with the commonest pattern of its place in the cycle. The crash is left
  out (it marks where a phrase starts), and so are ghost notes (velocity <= 50, as the
  performance layer defines them: it adds one or two a bar at random places);
- **bass on the roots**: a bass note below C3 on the chord's root (or slash bass) where
  each chord starts;
- **comping**: the chord tones sounded within each chord;
- **melody on top**: the model's parts lie above the comping (mean pitch).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence

import symusic

from ..music.chords import ChordSpan
from ..render.performance import GHOST_RANGE
from .library import DRUM_NOTES

CRASH = DRUM_NOTES["crash"]
STEADY_SHARE = 0.75  # bars that must repeat their place's pattern
CYCLES = (1, 2)  # a groove repeats every bar, or every two bars (main bar and variation)
BASS_CEILING = 48  # C3
ONSET_SLACK = 0.05  # a chord change's bass note may be this fraction of a beat late


def bar_patterns(
    kit: symusic.Track, starts: Sequence[int], lengths: Sequence[int], fill_every: int
) -> dict[int, frozenset[tuple[int, int]]]:
    """bar index -> the kit's hits in it, (ticks from the barline, GM note), for the bars
    that are no fill (every `fill_every`-th bar is one); crash and ghost notes left out."""
    out = {}
    for b, (start, length) in enumerate(zip(starts, lengths, strict=True)):
        if (b + 1) % fill_every == 0:
            continue
        out[b] = frozenset(
            (n.time - start, n.pitch)
            for n in kit.notes
            if start <= n.time < start + length and n.pitch != CRASH and n.velocity > GHOST_RANGE[1]
        )
    return out


def repeat_share(patterns: dict[int, frozenset], cycle: int) -> float | None:
    """Share of the bars whose pattern is the commonest one of their place in a cycle of
    `cycle` bars (1: every bar against one pattern)."""
    if not patterns:
        return None
    same = 0
    for k in range(cycle):
        group = [p for b, p in patterns.items() if b % cycle == k]
        same += Counter(group).most_common(1)[0][1] if group else 0
    return same / len(patterns)


def drum_steadiness(
    kit: symusic.Track, starts: Sequence[int], lengths: Sequence[int], fill_every: int
) -> dict:
    """{"cycle": the shortest cycle (bars) the kit repeats on, None when none of CYCLES;
    "share": its repeat share (of the longest cycle when none), "one_bar": the share
    against a single pattern, "sounds": distinct sounds, "pulse": non-fill bars with hits}."""
    patterns = bar_patterns(kit, starts, lengths, fill_every)
    shares = {c: repeat_share(patterns, c) for c in CYCLES}
    cycle = next((c for c in CYCLES if (shares[c] or 0) >= STEADY_SHARE), None)
    return {
        "cycle": cycle,
        "share": shares[cycle if cycle is not None else CYCLES[-1]],
        "one_bar": shares[1],
        "sounds": len({n.pitch for n in kit.notes}),
        "pulse": sum(bool(p) for p in patterns.values()) / len(patterns) if patterns else 0.0,
    }


def chord_changes(spans: Iterable[ChordSpan]) -> list[ChordSpan]:
    """The spans where the chord changes (the first of each run of one chord)."""
    out, prev = [], None
    for s in spans:
        if s.chord is not None and s.chord != prev:
            out.append(s)
        prev = s.chord
    return out


def bass_root_share(bass: symusic.Track, spans: Sequence[ChordSpan], tpq: int) -> float | None:
    """Share of chord changes with a bass note below C3 on the root or slash bass where the
    chord starts (within ONSET_SLACK of a beat either way)."""
    changes = chord_changes(spans)
    if not changes:
        return None
    slack = ONSET_SLACK * tpq
    hit = 0
    for s in changes:
        assert s.chord is not None
        ok = {s.chord.root, s.chord.bass_pitch_class}
        hit += any(
            abs(n.time - s.start) <= slack and n.pitch < BASS_CEILING and n.pitch % 12 in ok
            for n in bass.notes
        )
    return hit / len(changes)


def chord_tone_counts(tracks: Sequence[symusic.Track], spans: Sequence[ChordSpan]) -> list[int]:
    """For each chord span, how many of its chord tones the tracks sound (notes starting in it)."""
    out = []
    for s in spans:
        if s.chord is None:
            continue
        heard = {n.pitch % 12 for t in tracks for n in t.notes if s.start <= n.time < s.end}
        out.append(len(heard & set(s.chord.pitch_classes)))
    return out


def mean_pitch(tracks: Iterable[symusic.Track]) -> float | None:
    ps = [n.pitch for t in tracks for n in t.notes]
    return statistics.fmean(ps) if ps else None
