"""ABC notation in: a tune as a symusic Score, the type every MIDI file becomes.

music21 parses the ABC; its notes become one track per ABC voice (ties merged, grace
notes dropped, chord symbols left to tunesmith's own chord analysis), with the tune's
meter, key signature and tempo (Q:, else 120 quarter notes a minute). A pickup bar is
preceded by rests so that the barlines fall where the tune's do. An instrument comes from
a `%%MIDI program N` line in the voice (abc2midi's convention, which tunesmith writes
too), else a piano; `%%MIDI channel 10` marks drums.

A file may hold many tunes, each starting at an `X:` line: `tune` picks one by its X:
number; by default the first is read and `AbcTune.notice` says so.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from fractions import Fraction

import symusic

from ..errors import BadInputError

TPQ = 480  # divisible by 3 and 5: triplets and quintuplets land on whole ticks
DEFAULT_QPM = 120.0
DEFAULT_PROGRAM = 0  # acoustic grand piano
DEFAULT_VELOCITY = 80
ABC_SUFFIXES = (".abc",)
# music21's ABC parser takes time that grows faster than the length of a voice (about 5 s
# for 250 bars of eighths on a loaded 2-core machine), so a voice is refused past this many
# characters: over twice the longest voice (2,556) of the bundled corpus's ABC tunes.
MAX_VOICE_CHARS = 6_000
MAX_TUNE_CHARS = 24_000
_TUNE_START = re.compile(r"(?m)^X:[ \t]*(\d*)")


@dataclass
class AbcTune:
    """One tune read from an ABC file."""

    score: symusic.Score
    number: int | None  # its X: number
    title: str
    notice: str | None = None  # what the user should know (which of several tunes was read)


def looks_like_abc(data: bytes) -> bool:
    """True for text with an ABC key line (`K:`) and no MIDI header."""
    if data[:4] == b"MThd" or b"\x00" in data[:4096]:
        return False
    try:
        text = data[:65536].decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        text = data[:65536].decode("latin-1")
    return bool(re.search(r"(?m)^K:", text)) and bool(re.search(r"(?m)^[A-Za-z]:", text))


def split_tunes(text: str) -> list[tuple[int | None, str]]:
    """(X: number, tune text) of each tune with a K: line; a file without X: is one tune."""
    starts = list(_TUNE_START.finditer(text))
    if not starts:
        return [(None, text)] if re.search(r"(?m)^K:", text) else []
    header = text[: starts[0].start()]  # a file header applies to every tune
    tunes = []
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        chunk = text[m.start() : end]
        if re.search(r"(?m)^K:", chunk):
            tunes.append((int(m.group(1)) if m.group(1) else None, header + chunk))
    return tunes


def _field(text: str, name: str) -> str:
    m = re.search(rf"(?m)^{name}:[ \t]*(.*)$", text)
    return m.group(1).strip() if m else ""


def read_abc(data: bytes | str, source: str = "the ABC file", tune: int | None = None) -> AbcTune:
    """The tune of an ABC file (`tune`: its X: number; default the first) as a Score."""
    text = data if isinstance(data, str) else _decode(data)
    tunes = split_tunes(text)
    if not tunes:
        raise BadInputError(f"{source} is not ABC: it has no tune with a key line (K:)")
    numbers = [n for n, _ in tunes]
    notice = None
    if tune is None:
        number, chosen = tunes[0]
        if len(tunes) > 1:
            notice = f"{source} holds {len(tunes)} tunes; read the first" + (
                f" (X:{number} {_field(chosen, 'T')!r})" if number is not None else ""
            )
    else:
        found = [t for t in tunes if t[0] == tune]
        if not found:
            listed = ", ".join(str(n) for n in numbers[:20] if n is not None)
            more = ", ..." if len(numbers) > 20 else ""
            raise BadInputError(
                f"{source} has no tune X:{tune}; its tunes are X: {listed}{more}", field="tune"
            )
        number, chosen = found[0]
    score = parse_tune(chosen, source)
    return AbcTune(score, number, _field(chosen, "T"), notice)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # older tune books are Latin-1


def parse_tune(text: str, source: str = "the ABC file") -> symusic.Score:
    """One ABC tune as a Score (one track per voice); malformed ABC is one BadInputError."""
    from ..extras import require_notation

    require_notation("reading ABC")
    import music21

    if len(text) > MAX_TUNE_CHARS:
        raise BadInputError(
            f"{source} has a tune of {len(text):,} characters; at most {MAX_TUNE_CHARS:,} are read"
        )
    voices = split_voices(text)
    for voice in voices:
        if len(voice.text) > MAX_VOICE_CHARS:
            raise BadInputError(
                f"{source} has a voice of {len(voice.text):,} characters; at most "
                f"{MAX_VOICE_CHARS:,} are read"
            )
    parsed = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for voice in voices:
            try:
                parsed.append(music21.converter.parseData(voice.text, format="abc"))
            except Exception as e:  # music21 raises many kinds on malformed ABC
                detail = " ".join(str(e).split())[:200] or type(e).__name__
                raise BadInputError(f"{source} is not valid ABC ({detail})") from None
        try:
            score = _to_score(parsed, voices)
        except BadInputError:
            raise
        except Exception as e:
            detail = " ".join(str(e).split())[:200] or type(e).__name__
            raise BadInputError(f"{source} is not valid ABC ({detail})") from None
    if not any(len(t.notes) for t in score.tracks):
        raise BadInputError(f"{source} has no notes")
    return score


@dataclass
class Voice:
    """One ABC voice: the tune's header with this voice's lines, and its instrument."""

    text: str
    name: str = ""
    program: int = DEFAULT_PROGRAM
    drum: bool = False


_VOICE_LINE = re.compile(r"^\s*(?:V:\s*(\S+)(.*)|\[V:\s*([^\]\s]+)([^\]]*)\](.*))$")


def split_voices(text: str) -> list[Voice]:
    """The voices of a tune, each as a tune of its own (music21 makes a new part for every
    `V:` block, so a voice written in several blocks would come apart)."""
    lines = text.splitlines()
    k = next((i for i, line in enumerate(lines) if line.startswith("K:")), len(lines) - 1)
    header, declared = [], {}
    for line in lines[: k + 1]:
        m = _VOICE_LINE.match(line)
        if m and m.group(1):
            declared[m.group(1)] = m.group(2)
        else:
            header.append(line)
    bodies: dict[str, list[str]] = {"": []}
    attrs = dict(declared)
    current = ""
    for line in lines[k + 1 :]:
        m = _VOICE_LINE.match(line)
        if m:
            current = m.group(1) or m.group(3)
            extra = m.group(2) if m.group(1) else m.group(4)
            if extra and extra.strip():
                attrs[current] = extra
            bodies.setdefault(current, [])
            rest = "" if m.group(1) else m.group(5)
            if rest.strip():
                bodies[current].append(rest)
            continue
        bodies[current].append(line)
    shared = bodies.pop("")
    if not bodies:
        return [_voice(header, shared, "")]
    music = [line for line in shared if line.strip() and not line.lstrip().startswith("%")]
    if music:  # notes before the first V: are a voice of their own
        bodies = {"": shared, **bodies}
        shared = []
    return [_voice(header, shared + body, attrs.get(v, "")) for v, body in bodies.items()]


def _voice(header: list[str], body: list[str], attrs: str) -> Voice:
    voice = Voice("\n".join(header + body) + "\n")
    name = re.search(r'(?:name|nm)="([^"]*)"', attrs or "")
    if name:
        voice.name = name.group(1)
    for line in header + body:
        s = line.strip()
        m = re.match(r"%%MIDI\s+program\s+(?:\d+\s+)?(\d+)", s)
        if m and 0 <= int(m.group(1)) <= 127:
            voice.program = int(m.group(1))
        m = re.match(r"%%MIDI\s+channel\s+(\d+)", s)
        if m:
            voice.drum = int(m.group(1)) == 10
    return voice


def _first_stream(parsed):
    """The music of one voice's parse: its first part (music21 may wrap it in an Opus or
    a Score)."""
    from music21 import stream

    if isinstance(parsed, stream.Opus):
        scores = list(parsed.scores)
        if not scores:
            raise BadInputError("the ABC tune is empty")
        parsed = scores[0]
    if isinstance(parsed, stream.Score):
        parts = [p for p in parsed.parts if len(p.flatten().notes)] or list(parsed.parts)
        return parts[0] if parts else parsed
    return parsed


def _to_score(parsed: list, voices: list[Voice]) -> symusic.Score:
    from music21 import key, meter, stream, tempo

    parts = [_first_stream(p) for p in parsed]
    measures = list(parts[0].getElementsByClass(stream.Measure))
    shift = Fraction(0)
    if measures and measures[0].paddingLeft:  # a pickup: rests before it fill its bar
        shift = _q(measures[0].paddingLeft)
    out = symusic.Score(TPQ)
    flats = [p.flatten() for p in parts]
    first = flats[0]
    for ts in first.getElementsByClass(meter.TimeSignature):
        at = _ticks(_q(ts.offset) + shift) if ts.offset else 0
        if not any(t.time == at for t in out.time_signatures):
            out.time_signatures.append(symusic.TimeSignature(at, ts.numerator, ts.denominator))
    for ks in first.getElementsByClass(key.KeySignature):
        minor = isinstance(ks, key.Key) and ks.mode == "minor"
        at = _ticks(_q(ks.offset) + shift) if ks.offset else 0
        if -7 <= ks.sharps <= 7 and not any(k.time == at for k in out.key_signatures):
            out.key_signatures.append(symusic.KeySignature(at, int(ks.sharps), int(minor)))
    marks = [m for m in first.getElementsByClass(tempo.MetronomeMark) if m.number]
    for m in marks:
        at = _ticks(_q(m.offset) + shift) if m.offset else 0
        qpm = float(m.getQuarterBPM() or m.number)
        if not any(t.time == at for t in out.tempos):
            out.tempos.append(symusic.Tempo(at, qpm))
    if not len(out.tempos):
        out.tempos.append(symusic.Tempo(0, DEFAULT_QPM))
    for voice, flat in zip(voices, flats, strict=True):
        track = symusic.Track(name=voice.name, program=voice.program, is_drum=voice.drum)
        for start, length, pitch in _notes(flat):
            track.notes.append(
                symusic.Note(_ticks(start + shift), max(1, _ticks(length)), pitch, DEFAULT_VELOCITY)
            )
        out.tracks.append(track)
    return out


def _q(x) -> Fraction:
    return Fraction(x).limit_denominator(960)


def _ticks(q: Fraction) -> int:
    return round(q * TPQ)


def _notes(flat) -> list[tuple[Fraction, Fraction, int]]:
    """(start, length in quarters, MIDI pitch) with tied notes merged, grace notes dropped."""
    from music21 import chord, harmony, note

    out: list[list] = []
    open_ties: dict[int, int] = {}  # pitch -> index in out of the note its tie continues
    for el in flat.notes:
        if isinstance(el, harmony.Harmony) or el.duration.isGrace:
            continue
        length = _q(el.quarterLength)
        if length <= 0:
            continue
        start = _q(el.offset)
        members = [el] if isinstance(el, note.Note) else list(el.notes)
        if not isinstance(el, note.Note | chord.Chord):
            continue
        for n in members:
            pitch = int(n.pitch.midi)
            tie = n.tie.type if n.tie is not None else (el.tie.type if el.tie else None)
            prev = open_ties.get(pitch)
            if prev is not None and out[prev][0] + out[prev][1] == start:
                out[prev][1] += length  # music21 does not always mark the tie's last note
                if tie not in ("start", "continue"):
                    del open_ties[pitch]
                continue
            out.append([start, length, pitch])
            if tie in ("start", "continue"):
                open_ties[pitch] = len(out) - 1
            else:
                open_ties.pop(pitch, None)
    return [(s, d, p) for s, d, p in out if 0 <= p <= 127]
