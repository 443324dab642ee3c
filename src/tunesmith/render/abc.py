"""Score -> ABC notation, the text format folk musicians trade tunes in.

music21 reads ABC but does not write it, so this module writes it. The notes are the ones
the MusicXML and SVG show: `notation.build_music21_score` quantises the score, cuts it into
bars with ties and triplets and packs each part into voices; each voice of each part
becomes one ABC voice (`V:`). The header carries X (reference number), T (title), M
(meter), L (unit length: an eighth), Q (tempo) and K (key); chord symbols ride above the
first voice in quotes ("Am") — a lead sheet. Accidentals are written whenever a note
differs from the key signature or from an accidental earlier in its bar, so a reader
that scopes accidentals by octave and one that scopes them by letter read the same
pitches. `%%MIDI program N` / `%%MIDI channel 10` keep each voice's instrument for
abc2midi and for tunesmith's own ABC reader (`music.abc`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import symusic

from ..fileio import atomic_write_text
from ..music.chords import ChordSpan

UNIT = Fraction(1, 2)  # L:1/8, in quarter notes
BARS_PER_LINE = 4
ACCIDENTALS = {-2: "__", -1: "_", 0: "=", 1: "^", 2: "^^"}


def _frac(x: Any) -> Fraction:
    return Fraction(x).limit_denominator(960)


def _length(quarters: Fraction) -> str:
    """An ABC length suffix for a duration in quarters, in units of L:1/8."""
    units = quarters / UNIT
    if units == 1:
        return ""
    if units.denominator == 1:
        return str(units.numerator)
    num = "" if units.numerator == 1 else str(units.numerator)
    return f"{num}/{units.denominator}"


def _key_field(key_obj: Any) -> str:
    """'D', 'Em', 'Bb', 'F#m' for a music21 Key (or KeySignature); 'C' when there is none."""
    if key_obj is None:
        return "C"
    mode = getattr(key_obj, "mode", None)
    tonic = getattr(key_obj, "tonic", None)
    if tonic is None:
        key_obj = key_obj.asKey("major")
        tonic, mode = key_obj.tonic, "major"
    name = tonic.name.replace("-", "b")
    return name + ("m" if mode == "minor" else "")


def _key_alters(key_obj: Any) -> dict[str, int]:
    """Letter -> alteration (-1, 0, 1) that the key signature gives it."""
    alters = {step: 0 for step in "CDEFGAB"}
    if key_obj is not None:
        for p in key_obj.alteredPitches:
            alters[p.step] = int(p.alter)
    return alters


class _Bar:
    """Accidentals written so far in the current bar, by letter."""

    def __init__(self, key_alters: dict[str, int]):
        self.key = key_alters
        self.written: dict[str, int] = {}

    def pitch(self, p: Any) -> str:
        letter, alter = p.step, int(p.alter)
        explicit = alter != self.key[letter] or letter in self.written
        if explicit:
            self.written[letter] = alter
        acc = ACCIDENTALS.get(alter, "") if explicit else ""
        octave = int(p.octave)
        if octave >= 5:
            return acc + letter.lower() + "'" * (octave - 5)
        return acc + letter + "," * (4 - octave)


def _tied(n: Any) -> bool:
    return n.tie is not None and n.tie.type in ("start", "continue")


def _element(el: Any, bar: _Bar, notated: Fraction) -> str:
    """One note, chord or rest with its notated length (tuplets: before the ratio)."""
    length = _length(notated)
    if el.isRest:
        return "z" + length
    if el.isChord:
        inner = "".join(bar.pitch(n.pitch) + ("-" if _tied(n) else "") for n in el.notes)
        return f"[{inner}]{length}"
    return bar.pitch(el.pitch) + length + ("-" if _tied(el) else "")


def _voice_elements(measure: Any, k: int) -> list[Any] | None:
    """The notes and rests of voice `k` of a measure (None: the measure has no such voice)."""
    from music21 import stream

    voices = list(measure.getElementsByClass(stream.Voice))
    if voices:
        return list(voices[k].notesAndRests) if k < len(voices) else None
    return list(measure.notesAndRests) if k == 0 else None


def _bar_text(
    elements: list[Any], bar: _Bar, symbols: Sequence[tuple[Fraction, str]], length: Fraction
) -> str:
    """One bar of a voice: chord symbols before the notes they sound over, tuplet groups."""
    tokens: list[str] = []
    pending = list(symbols)
    group_left = Fraction(0)  # quarters still to come in the open tuplet group
    i = 0
    if not elements:
        return "z" + _length(length)
    while i < len(elements):
        el = elements[i]
        offset = _frac(el.offset)
        prefix = ""
        while pending and pending[0][0] <= offset:
            prefix += f'"{pending.pop(0)[1]}"'
        ql = _frac(el.quarterLength)
        tuplets = el.duration.tuplets
        if tuplets and group_left <= 0:
            t = tuplets[0]
            total = _frac(t.totalTupletLength())
            count, acc = 0, Fraction(0)
            for later in elements[i:]:
                acc += _frac(later.quarterLength)
                count += 1
                if acc >= total:
                    break
            p, q = int(t.numberNotesActual), int(t.numberNotesNormal)
            prefix += f"({p}" if (q, count) == (2, 3) and p == 3 else f"({p}:{q}:{count}"
            group_left = total
        if tuplets:
            t = tuplets[0]
            notated = ql * int(t.numberNotesActual) / int(t.numberNotesNormal)
            group_left -= ql
        else:
            notated = ql
        tokens.append(prefix + _element(el, bar, notated))
        i += 1
    for _, name in pending:  # a chord change after the last onset of the bar
        tokens.append(f'"{name}"')
    return " ".join(tokens)


def _chord_symbols(
    chords: Sequence[ChordSpan] | None, tpq: int, bar_starts: list[Fraction]
) -> dict[int, list[tuple[Fraction, str]]]:
    """Measure index -> (offset in the bar, symbol); a chord like the one before is left out."""
    out: dict[int, list[tuple[Fraction, str]]] = {}
    previous = None
    for span in chords or ():
        c = span.chord
        if c is None or c == previous:
            previous = c
            continue
        previous = c
        at = Fraction(span.start, max(tpq, 1))
        m = max((i for i, s in enumerate(bar_starts) if s <= at), default=None)
        if m is None:
            continue
        out.setdefault(m, []).append((at - bar_starts[m], c.symbol))
    return out


def abc_text(
    score: symusic.Score,
    title: str | None = None,
    key: str | None = None,
    chords: Sequence[ChordSpan] | None = None,
    number: int = 1,
) -> str:
    """The ABC text of `score`: one tune (X:`number`), one ABC voice per voice of each part,
    `chords` as chord symbols over the first voice."""
    from music21 import key as m21key
    from music21 import meter, stream, tempo

    from .notation import build_music21_score

    m21 = build_music21_score(score, title, key, None, exact=True)
    tracks = [t for t in score.tracks if len(t.notes)]
    parts = list(m21.parts)
    first = list(parts[0].getElementsByClass(stream.Measure))
    bar_starts = [_frac(m.offset) for m in first]
    symbols = _chord_symbols(chords, int(score.tpq), bar_starts)

    def first_of(cls: Any) -> Any:
        found = parts[0].recurse().getElementsByClass(cls)
        return found[0] if len(found) else None

    ts, key_obj, mark = first_of(meter.TimeSignature), first_of(m21key.KeySignature), None
    mark = first_of(tempo.MetronomeMark)
    alters = _key_alters(key_obj)
    voices: list[tuple[str, str, list[tuple[list[str], str]]]] = []  # attrs, directive, bars
    for n, (part, track) in enumerate(zip(parts, tracks, strict=True)):
        measures = list(part.getElementsByClass(stream.Measure))
        count = max((len(m.getElementsByClass(stream.Voice)) for m in measures), default=0) or 1
        clef = part.recurse().getElementsByClass("Clef")
        clef_name = "bass" if len(clef) and clef[0].sign == "F" else "treble"
        clef_name = "perc" if track.is_drum else clef_name  # drums: GM keys on a drum staff
        directive = "%%MIDI channel 10" if track.is_drum else f"%%MIDI program {track.program}"
        for k in range(count):
            bars: list[tuple[list[str], str]] = []  # (field lines before it, notes)
            meter_now = ts.ratioString if ts is not None else "4/4"
            for i, m in enumerate(measures):
                fields = []
                for sig in m.getElementsByClass(meter.TimeSignature):
                    if sig.ratioString != meter_now:
                        meter_now = sig.ratioString
                        fields.append(f"M:{meter_now}")
                elements = _voice_elements(m, k) or []
                length = _frac(m.barDuration.quarterLength)
                here = symbols.get(i, []) if n == 0 and k == 0 else []
                text = _bar_text(elements, _Bar(alters), here, length)
                bars.append((fields, text))
            name = (part.partName or f"Part {n + 1}").replace('"', "'")
            name = name if count == 1 else f"{name} {k + 1}"
            voices.append((f'name="{name}" clef={clef_name}', directive, bars))

    header = [f"X:{number}", f"T:{' '.join((title or 'tunesmith').split())}"]
    header.append(f"M:{ts.ratioString if ts is not None else '4/4'}")
    header.append("L:1/8")
    if mark is not None and mark.number:
        header.append(f"Q:1/4={round(float(mark.getQuarterBPM() or mark.number))}")
    lines = [*header, f"K:{_key_field(key_obj)}"]
    for i, (attrs, directive, bars) in enumerate(voices):
        if len(voices) > 1:  # declared in the body: music21 makes a part of a header V:
            lines.append(f"V:{i + 1} {attrs}")
        lines.append(directive)
        lines += _body(bars)
    return "\n".join(lines) + "\n"


def _body(bars: list[tuple[list[str], str]]) -> list[str]:
    """Lines of BARS_PER_LINE bars; a bar with a field (a new meter) starts a new line."""
    lines: list[str] = []
    line: list[str] = []
    for fields, text in bars:
        if fields or len(line) == BARS_PER_LINE:
            if line:
                lines.append(" | ".join(line) + " |")
            lines += fields
            line = []
        line.append(text)
    if line:
        lines.append(" | ".join(line) + " |]")
    return lines


def export_abc(
    score: symusic.Score,
    path: str | os.PathLike,
    title: str | None = None,
    key: str | None = None,
    chords: Sequence[ChordSpan] | None = None,
) -> Path:
    """Write `score` as an ABC tune at `path` (atomically) and return the path."""
    path = Path(path)
    atomic_write_text(path, abc_text(score, title, key, chords))
    return path
