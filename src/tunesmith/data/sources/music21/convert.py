"""One job to a symusic Score and a PieceRecord (runs in worker processes).

music21 parses the score; its notes become plain per-voice note lists (ties merged, grace
notes dropped, dynamics as velocities), from which instruments, tempo, meter and key are
chosen and the MIDI is built with symusic directly, which is much faster than music21's
MIDI writer.
"""

from __future__ import annotations

import bisect
import math
import random
import re
import warnings
from collections import Counter
from dataclasses import dataclass

import music21
import numpy as np
from music21 import bar as barline
from music21 import chord, dynamics, harmony, key, meter, note, stream, tempo
from symusic import KeySignature, Note, Score, Tempo, TimeSignature, Track

from ....conditioning import instruments as gm
from ....conditioning.controls import METERS
from ....music.keys import KEY_ORDER, MODE_TO_MAJOR_MINOR, key_correlations, key_name
from ...captions import make_captions
from ...forms import DANCE_FORMS, clamp_tempo, tempo_from_words, typical_tempo
from ...prepare import SkipPiece
from ...records import PieceRecord, split_for
from .jobs import VOICES_AS_TUNES, Music21Job, corpus_root, split_abc, stable_int
from .metadata import Meta, abc_meta, file_meta

TPQ = 480
DEFAULT_VELOCITY = 80
MIN_NOTES = 4  # fewer notes than this is a fragment, not a piece
FAST_BPM = 140.0  # a tune book's own tempo at least this fast marks a dance, not an air
FOLK_PROGRAMS = (gm.FIDDLE, gm.FLUTE, gm.TIN_WHISTLE, gm.ACCORDION, gm.PIANO, gm.HARP)
QUARTET_PROGRAMS = (gm.VIOLIN, gm.VIOLIN, gm.VIOLA, gm.CELLO)
# Scores whose instrument names music21 does not know: path prefix -> programs.
_PROGRAM_OVERRIDES: dict[str, tuple[int, ...]] = {
    "corelli/opus3no1": (gm.VIOLIN, gm.VIOLIN, gm.CELLO),
    "webern/webern_dormi_jesu": (gm.VOICE_OOHS, gm.CLARINET),
}


# -- what a score holds ----------------------------------------------------------------------
@dataclass
class _Voice:
    name: str
    program: int  # from the score's instrument, PIANO when unknown
    notes: list[tuple[float, float, int, int]]  # start, duration (quarters), pitch, velocity


@dataclass
class _Music:
    """What the MIDI and the record need from one music21 score."""

    voices: list[_Voice]
    time_signatures: list[tuple[float, int, int]]  # offset (quarters), numerator, denominator
    tempos: list[tuple[float, float, bool]]  # offset, quarter bpm, implicit (from a word)
    sharps: int | None  # first key signature
    stated_key: tuple[int, str] | None  # tonic pitch class and mode when the score says
    measures: int


def convert_job(job: Music21Job, expand_repeats: bool = False) -> tuple[Score, PieceRecord]:
    """Parse one job with music21 and return its symusic Score and PieceRecord.

    `expand_repeats`: play repeat signs out (|: A :| becomes A A), as a performer would;
    by default pieces are kept as notated.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = parse_job(job)
        if expand_repeats:
            parsed = _expand_repeats(parsed)
        meta = abc_meta(job) if job.text else file_meta(job, parsed)
        music = extract_music(parsed)
    music.voices = [v for v in music.voices if v.notes]
    if sum(len(v.notes) for v in music.voices) < MIN_NOTES:
        raise SkipPiece("no notes" if not music.voices else f"fewer than {MIN_NOTES} notes")
    programs = _programs(job, meta, music.voices)
    meter_name = _dominant_meter(music)
    bpm, estimated, tempo_source = _tempo(music, meta, meter_name)
    if meta.form_is_default and tempo_source == "score" and bpm >= FAST_BPM:
        meta.form = _dance_for_meter(meter_name)  # a fast tune in a book of airs is a dance
    key_name_, mode = corpus_key(music, modes=meta.modes)
    score = build_score(music, programs, bpm, key_name_)
    record = PieceRecord(
        id=job.id,
        tune_id=meta.tune_id,
        source=job.source,
        title=meta.title,
        composer=meta.composer,
        form=meta.form,
        region=meta.region,
        key=key_name_,
        mode=mode,
        meter=meter_name,
        tempo=round(bpm, 2),
        tempo_estimated=estimated,
        programs=programs,
        voices=len(programs),
        bars=_bars(music, score),
        duration_s=round(float(score.to("second").end()), 2),
        split=split_for(meta.tune_id),
        extra={
            "path": job.path,
            **({"abc_number": job.number} if job.number is not None else {}),
            "era": meta.era,
            "tempo_source": tempo_source,
            "parts": [v.name for v in music.voices],
            **meta.extra,
        },
    )
    record.captions = make_captions(record, random.Random(stable_int(record.id)))
    return score, record


def parse_job(job: Music21Job) -> stream.Score:
    if not job.text:
        parsed = music21.converter.parse(
            corpus_root() / job.path, forceSource=True, storePickle=False
        )
    elif job.source in VOICES_AS_TUNES:
        parsed = stream.Score()
        for _, tune in split_abc(job.text):
            for part in _as_score(music21.converter.parseData(tune, format="abc")).parts:
                parsed.insert(0, part)
    else:
        parsed = music21.converter.parseData(job.text, format="abc")
    return _as_score(parsed)


def _expand_repeats(score: stream.Score) -> stream.Score:
    """The score with its repeat barlines played out; as notated where music21 cannot."""
    if not any(True for _ in score.recurse().getElementsByClass(barline.Repeat)):
        return score
    try:
        return _as_score(score.expandRepeats())
    except Exception:  # music21 raises several kinds on inconsistent repeat marks
        return score


def _as_score(parsed: stream.Stream) -> stream.Score:
    if isinstance(parsed, stream.Opus):
        scores = list(parsed.scores)
        if not scores:
            raise SkipPiece("empty ABC tune")
        return scores[0]
    if isinstance(parsed, stream.Score):
        return parsed
    score = stream.Score()
    score.insert(0, parsed)
    return score


def extract_music(score: stream.Score) -> _Music:
    """Notes per part (ties merged, grace notes dropped) and the global signatures."""
    parts: list[stream.Stream] = list(score.parts) or [score]
    flats = [p.flatten() for p in parts]
    voices = [
        _Voice(_part_name(p, i), _score_program(p), _notes(flat))
        for i, (p, flat) in enumerate(zip(parts, flats, strict=True))
    ]
    first = flats[0]
    sigs = [
        (float(ts.offset), ts.numerator, ts.denominator)
        for ts in first.getElementsByClass(meter.TimeSignature)
    ]
    ks = next(iter(first.getElementsByClass(key.KeySignature)), None)
    stated = None
    if isinstance(ks, key.Key) and ks.tonic is not None:
        stated = (ks.tonic.pitchClass, (ks.mode or "major").lower())
    return _Music(
        voices=voices,
        time_signatures=_dedupe(sigs),
        tempos=_tempos(flats),
        sharps=ks.sharps if ks is not None else None,
        stated_key=stated,
        measures=max((len(p.getElementsByClass(stream.Measure)) for p in parts), default=0),
    )


def _notes(flat: stream.Stream) -> list[tuple[float, float, int, int]]:
    """(start, duration, pitch, velocity) with tied notes merged into one."""
    found = [(float(d.offset), _velocity(d)) for d in flat.getElementsByClass(dynamics.Dynamic)]
    marks = sorted((offset, v) for offset, v in found if v is not None)
    out: list[tuple[float, float, int, int]] = []
    open_ties: dict[int, int] = {}
    for el in flat.notes:
        if isinstance(el, harmony.Harmony) or el.duration.isGrace:
            continue
        length = float(el.quarterLength)
        if length <= 0:
            continue
        start = float(el.offset)
        if isinstance(el, note.Note):
            members = [(el.pitch.midi, el.tie)]
        elif isinstance(el, chord.Chord):
            members = [(n.pitch.midi, n.tie or el.tie) for n in el.notes]
        else:
            continue  # unpitched percussion
        velocity = _velocity_at(marks, start)
        for pitch, tie in members:
            if not 0 <= pitch <= 127:
                continue
            kind = tie.type if tie is not None else None
            idx = open_ties.get(pitch)
            if kind in ("continue", "stop") and idx is not None:
                s0, d0, _, v0 = out[idx]
                if abs(s0 + d0 - start) < 1e-3:
                    out[idx] = (s0, start + length - s0, pitch, v0)
                    if kind == "stop":
                        del open_ties[pitch]
                    continue
            out.append((start, length, pitch, velocity))
            if kind in ("start", "continue"):
                open_ties[pitch] = len(out) - 1
            else:
                open_ties.pop(pitch, None)
    return out


def _velocity(mark: dynamics.Dynamic) -> int | None:
    scalar = mark.volumeScalar
    return None if scalar is None else int(min(127, max(1, round(30 + 97 * scalar))))


def _velocity_at(marks: list[tuple[float, int]], offset: float) -> int:
    """Velocity of the last dynamic mark at or before `offset` (marks sorted by offset)."""
    i = bisect.bisect_right(marks, (offset + 1e-6, 128))
    return marks[i - 1][1] if i else DEFAULT_VELOCITY


def _tempos(flats: list[stream.Stream]) -> list[tuple[float, float, bool]]:
    """Metronome marks of the first part that has any with a number."""
    for flat in flats:
        found = []
        for mark in flat.getElementsByClass(tempo.MetronomeMark):
            bpm = mark.getQuarterBPM()
            if bpm and bpm > 0:
                found.append((float(mark.offset), clamp_tempo(bpm), bool(mark.numberImplicit)))
        if found:
            return _dedupe(found)
    return []


def _dedupe(events: list[tuple]) -> list[tuple]:
    """One event per offset (the last), and no repeats of the previous value."""
    by_offset = {e[0]: e for e in sorted(events, key=lambda e: e[0])}
    out: list[tuple] = []
    for e in by_offset.values():
        if not out or out[-1][1:] != e[1:]:
            out.append(e)
    return out


def _part_name(part: stream.Stream, index: int) -> str:
    name = getattr(part, "partName", None) or ""
    return str(name).strip() or f"voice {index + 1}"


def _score_program(part: stream.Stream) -> int:
    """GM program for a part from its instrument name, else its MIDI program, else piano."""
    inst = part.getInstrument(returnDefault=False) if hasattr(part, "getInstrument") else None
    names = [getattr(part, "partName", None)]
    if inst is not None:
        names += [inst.instrumentName, inst.partName]
    text = " ".join(str(n) for n in names if n).lower()
    for pattern, program in _NAME_PROGRAMS:
        if re.search(pattern, text):
            return program
    if inst is not None and inst.midiProgram is not None and 0 <= inst.midiProgram < 128:
        return int(inst.midiProgram)
    return gm.PIANO


_NAME_PROGRAMS: tuple[tuple[str, int], ...] = (
    (r"clarinet", gm.CLARINET),
    (r"violoncell|cello", gm.CELLO),
    (r"viola", gm.VIOLA),
    (r"violin", gm.VIOLIN),
    (r"contrabass|double bass", gm.CONTRABASS),
    (r"piano|klavier", gm.PIANO),
    (r"organ", gm.CHURCH_ORGAN),
    (r"harpsichord|cembalo", gm.HARPSICHORD),
    (r"flute|flauto", gm.FLUTE),
    (r"oboe", gm.OBOE),
    (r"bassoon", gm.BASSOON),
    (r"horn", gm.FRENCH_HORN),
    (r"trumpet|tromba", gm.TRUMPET),
    (r"trombone", gm.TROMBONE),
    (r"guitar", gm.NYLON_GUITAR),
    (r"harp", gm.HARP),
    (r"voice|vocal|singer|solo", gm.VOICE_OOHS),
    (r"soprano|alto|tenor|bass|choir|canto|cantus", gm.CHOIR_AAHS),
)


# -- instruments, tempo, meter, key -------------------------------------------------------------
def _programs(job: Music21Job, meta: Meta, voices: list[_Voice]) -> list[int]:
    n = len(voices)
    for prefix, programs in _PROGRAM_OVERRIDES.items():
        if job.path.startswith(prefix) and len(programs) == n:
            return list(programs)
    if meta.kind == "chorale":
        return [gm.CHURCH_ORGAN if stable_int(meta.tune_id) % 3 == 0 else gm.CHOIR_AAHS] * n
    if meta.kind == "choir":
        return [gm.CHOIR_AAHS] * n
    if meta.kind == "quartet":
        if n == 4:
            return list(QUARTET_PROGRAMS)
        strings = {gm.VIOLIN, gm.VIOLA, gm.CELLO, gm.CONTRABASS}
        return [v.program if v.program in strings else gm.VIOLIN for v in voices]
    if meta.kind == "folk":
        return [FOLK_PROGRAMS[stable_int(meta.tune_id) % len(FOLK_PROGRAMS)]] * n
    return [v.program for v in voices]


def _tempo(music: _Music, meta: Meta, meter_name: str | None) -> tuple[float, bool, str]:
    """(quarter bpm, estimated?, where it came from)."""
    if music.tempos:
        _, bpm, implicit = music.tempos[0]
        return bpm, implicit, "score"
    # Tune books write the same dance in eighths (L:1/8) or in sixteenths (L:1/16, often
    # with M:2/4); typical tempos assume eighths, so sixteenth-note tunes get half the bpm.
    scale = 0.5 if meta.kind == "folk" and _running_note(music) <= 0.25 else 1.0
    words = tempo_from_words(meta.tempo_words)
    if words is not None and meta.form not in DANCE_FORMS:
        return float(round(clamp_tempo(max(40.0, words * scale)))), True, "words"
    bpm = typical_tempo(meta.form, meter_name) * scale
    return float(round(clamp_tempo(max(40.0, bpm)))), True, "form"


def _dance_for_meter(meter_name: str | None) -> str:
    return {"6/8": "jig", "9/8": "slip jig", "2/2": "reel", "4/4": "reel"}.get(
        meter_name or "", "dance"
    )


def _running_note(music: _Music) -> float:
    """The most common note length in quarters (the tune's running note value)."""
    lengths = Counter(round(d * 12) / 12 for v in music.voices for _, d, _, _ in v.notes)
    return lengths.most_common(1)[0][0] if lengths else 1.0


def _dominant_meter(music: _Music) -> str | None:
    """The meter that lasts longest, as a controls.METERS value (None if unusual)."""
    sigs = music.time_signatures
    if not sigs:
        return None
    end = max((s + d for v in music.voices for s, d, _, _ in v.notes), default=0.0)
    spans: dict[str, float] = {}  # meter -> quarters; the first of equal spans wins
    for i, (offset, num, den) in enumerate(sigs):
        until = sigs[i + 1][0] if i + 1 < len(sigs) else max(end, offset)
        name = f"{num}/{den}"
        spans[name] = spans.get(name, 0) + max(until - offset, 1e-6)
    best = max(spans, key=spans.__getitem__)
    return best if best in METERS else None


_MODE_OF_FINAL = {0: "major", 2: "dorian", 4: "phrygian", 5: "lydian", 7: "mixolydian", 9: "minor"}


def corpus_key(music: _Music, modes: frozenset[str] = frozenset()) -> tuple[str | None, str]:
    """(canonical key, church mode or '') from the key signature and the final bass note.

    Much cheaper than music21's `analyze('key')`: a stated mode other than major is
    trusted; otherwise the final note picks major, relative minor or one of `modes` (the
    church modes plausible for the repertoire), and a pitch-class profile decides the rest.
    """
    hist = _pitch_class_histogram(music)
    if not hist.any():
        return None, ""
    final = _final_pitch_class(music)
    stated = music.stated_key
    if stated and stated[1] != "major":
        family = MODE_TO_MAJOR_MINOR.get(stated[1], "major")
        return key_name(stated[0], family), stated[1] if stated[1] not in ("major", "minor") else ""
    if music.sharps is not None:
        major = (7 * music.sharps) % 12
    elif stated:
        major = stated[0]
    else:
        return KEY_ORDER[int(np.argmax(key_correlations(hist)))], ""
    mode = _MODE_OF_FINAL.get((final - major) % 12)
    if mode in ("major", "minor") or mode in modes:
        family = MODE_TO_MAJOR_MINOR[mode]
        return key_name(final, family), mode if mode not in ("major", "minor") else ""
    r = key_correlations(hist)  # Krumhansl-Kessler (music/keys.py): major k, minor 12 + k
    if r[12 + (major + 9) % 12] > r[major]:
        return key_name(major + 9, "minor"), ""
    return key_name(major, "major"), ""


def _pitch_class_histogram(music: _Music) -> np.ndarray:
    hist = np.zeros(12)
    for v in music.voices:
        for _, dur, pitch, _ in v.notes:
            hist[pitch % 12] += dur
    return hist


def _final_pitch_class(music: _Music) -> int:
    """Pitch class of the lowest note sounding at the very end (the bass of the last chord)."""
    ends = [(s + d, p) for v in music.voices for s, d, p, _ in v.notes]
    last = max(e for e, _ in ends)
    return min(p for e, p in ends if e >= last - 1e-3) % 12


# -- the MIDI ---------------------------------------------------------------------------------
def build_score(music: _Music, programs: list[int], bpm: float, key_label: str | None) -> Score:
    """A symusic Score: one track per voice, time signatures, tempo(s), key signature."""
    score = Score(TPQ)
    for voice, program in zip(music.voices, programs, strict=True):
        notes = sorted(voice.notes)
        track = Track(name=voice.name, program=int(program), is_drum=False)
        track.notes = Note.from_numpy(
            np.array([_tick(s) for s, _, _, _ in notes], dtype=np.int32),
            np.array([max(1, _tick(s + d) - _tick(s)) for s, d, _, _ in notes], dtype=np.int32),
            np.array([p for _, _, p, _ in notes], dtype=np.int8),
            np.array([v for _, _, _, v in notes], dtype=np.int8),
        )
        score.tracks.append(track)
    for offset, num, den in music.time_signatures:
        if 0 < num < 256 and den in (1, 2, 4, 8, 16, 32, 64):
            score.time_signatures.append(TimeSignature(_tick(offset), num, den))
    tempos = music.tempos or [(0.0, bpm, True)]
    score.tempos.append(Tempo(0, qpm=float(bpm)))
    for offset, qpm, _ in tempos:
        if _tick(offset) > 0:
            score.tempos.append(Tempo(_tick(offset), qpm=float(qpm)))
    if music.sharps is not None and -7 <= music.sharps <= 7:
        minor = 1 if key_label and key_label.endswith("minor") else 0
        score.key_signatures.append(KeySignature(0, int(music.sharps), minor))
    return score


def _tick(quarters: float) -> int:
    return max(0, round(quarters * TPQ))


def _bars(music: _Music, score: Score) -> int:
    if music.measures:
        return music.measures
    num, den = music.time_signatures[0][1:] if music.time_signatures else (4, 4)
    bar_ticks = TPQ * 4 * num / den
    return max(1, math.ceil(score.end() / bar_ticks))
