"""`tunesmith prepare music21`: the corpus bundled with music21 as a prepared corpus.

Every usable score of `music21.corpus.getCorePaths()` becomes one MIDI file (one track per
voice, GM programs set) and one `PieceRecord` with metadata and captions. Multi-tune ABC
books are split on their `X:` headers in the parent process and each tune is parsed on its
own: one tune is a fraction of a second of music21 parsing, the whole book minutes, and a
per-tune job makes per-tune resume possible. MIDI is built with symusic directly from
music21's notes, which is much faster than music21's MIDI writer.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import math
import random
import re
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import music21
import numpy as np
from music21 import bar as barline
from music21 import chord, dynamics, harmony, key, meter, note, stream, tempo
from symusic import KeySignature, Note, Score, Tempo, TimeSignature, Track

from ..conditioning import instruments as gm
from ..conditioning.controls import METERS
from ..music.keys import KEY_ORDER, MODE_TO_MAJOR_MINOR, key_correlations, key_name
from .captions import make_captions
from .forms import (
    DANCE_FORMS,
    clamp_tempo,
    form_from_text,
    region_from_origin,
    tempo_from_words,
    typical_tempo,
)
from .prepare import PrepareReport, ProgressFn, SkipPiece, run_prepare
from .records import PieceRecord, split_for

log = logging.getLogger(__name__)

TPQ = 480
DEFAULT_VELOCITY = 80
MIN_NOTES = 4  # fewer notes than this is a fragment, not a piece
FAST_BPM = 140.0  # a tune book's own tempo at least this fast marks a dance, not an air
FOLK_PROGRAMS = (gm.FIDDLE, gm.FLUTE, gm.TIN_WHISTLE, gm.ACCORDION, gm.PIANO, gm.HARP)
QUARTET_PROGRAMS = (gm.VIOLIN, gm.VIOLIN, gm.VIOLA, gm.CELLO)


# -- what each collection is ----------------------------------------------------------------
@dataclass(frozen=True)
class Collection:
    """Defaults for one corpus folder; `kind` decides instruments ('folk', 'chorale',
    'choir', 'quartet', 'work')."""

    form: str | None
    region: str
    composer: str
    era: str
    kind: str


COLLECTIONS: dict[str, Collection] = {
    "airdsAirs": Collection("air", "Scotland", "", "traditional", "folk"),
    "essenFolksong": Collection("folk song", "Germany", "", "traditional", "folk"),
    "oneills1850": Collection("air", "Ireland", "", "traditional", "folk"),
    "ryansMammoth": Collection("dance", "USA", "", "traditional", "folk"),
    "nottingham-dataset": Collection("reel", "England", "", "traditional", "folk"),
    "miscFolk": Collection("folk song", "England", "", "traditional", "folk"),
    "bach": Collection("chorale", "Germany", "Johann Sebastian Bach", "baroque", "chorale"),
    "palestrina": Collection(
        "mass movement", "Italy", "Giovanni Pierluigi da Palestrina", "Renaissance", "choir"
    ),
    "monteverdi": Collection("madrigal", "Italy", "Claudio Monteverdi", "Renaissance", "choir"),
    "josquin": Collection("chanson", "France", "Josquin des Prez", "Renaissance", "choir"),
    "trecento": Collection(None, "Italy", "", "medieval", "choir"),
    "ciconia": Collection("motet", "Italy", "Johannes Ciconia", "medieval", "choir"),
    "luca": Collection("mass movement", "Italy", "", "medieval", "choir"),
    "lusitano": Collection("madrigal", "Portugal", "Vicente Lusitano", "Renaissance", "choir"),
    "beethoven": Collection(
        "quartet movement", "Germany", "Ludwig van Beethoven", "classical", "quartet"
    ),
    "mozart": Collection(
        "quartet movement", "Austria", "Wolfgang Amadeus Mozart", "classical", "quartet"
    ),
    "haydn": Collection("quartet movement", "Austria", "Joseph Haydn", "classical", "quartet"),
    "schumann_robert": Collection("lied", "Germany", "Robert Schumann", "romantic", "work"),
    "schumann_clara": Collection("piano piece", "Germany", "Clara Schumann", "romantic", "work"),
    "beach": Collection("song", "USA", "Amy Beach", "romantic", "work"),
    "chopin": Collection("mazurka", "Poland", "Frédéric Chopin", "romantic", "work"),
    "corelli": Collection("trio sonata", "Italy", "Arcangelo Corelli", "baroque", "work"),
    "cpebach": Collection("sonata", "Germany", "Carl Philipp Emanuel Bach", "classical", "work"),
    "handel": Collection("aria", "Germany", "George Frideric Handel", "baroque", "work"),
    "johnson_j_r": Collection("hymn", "USA", "J. Rosamond Johnson", "", "work"),
    "joplin": Collection("rag", "USA", "Scott Joplin", "", "work"),
    "leadSheet": Collection("song", "USA", "", "", "work"),
    "liliuokalani": Collection("song", "Hawaii", "Liliuokalani", "", "work"),
    "schoenberg": Collection("piano piece", "Austria", "Arnold Schoenberg", "modern", "work"),
    "schubert": Collection("lied", "Austria", "Franz Schubert", "romantic", "work"),
    "verdi": Collection("aria", "Italy", "Giuseppe Verdi", "romantic", "work"),
    "weber": Collection("classical", "Germany", "Carl Maria von Weber", "romantic", "work"),
    "webern": Collection("song", "Austria", "Anton Webern", "modern", "work"),
}
# Works whose folder default does not fit: path prefix -> (form, kind).
_WORK_OVERRIDES: dict[str, tuple[str | None, str]] = {
    "mozart/k545": ("sonata", "work"),
    "schumann_robert/opus41no1": ("quartet movement", "quartet"),
    "schumann_clara/opus17": ("classical", "work"),
    "josquin/4vPerIlludAveProlatum": ("motet", "choir"),
    "miscFolk/americanfifeopus": ("march", "folk"),
}
# Scores whose instrument names music21 does not know: path prefix -> programs.
_PROGRAM_OVERRIDES: dict[str, tuple[int, ...]] = {
    "corelli/opus3no1": (gm.VIOLIN, gm.VIOLIN, gm.CELLO),
    "webern/webern_dormi_jesu": (gm.VOICE_OOHS, gm.CLARINET),
}
_REGION_OVERRIDES = {"miscFolk/americanfifeopus": "USA", "miscFolk/northumbrian": "Northumbria"}

# -- files that are not pieces ----------------------------------------------------------------
_NOT_PIECES = {
    "demos": "not a piece: demo or test score",
    "theoryExercises": "not a piece: theory exercise",
}
_DUPLICATES = {  # same music under another name
    "schumann_robert/dichterliebe_no2.xml": "schumann_robert/opus48no2.mxl",
}
_FORMAT_PREFERENCE = (".mxl", ".musicxml", ".xml", ".krn", ".abc")
_SCORE_SUFFIXES = frozenset(_FORMAT_PREFERENCE)
_VOICES_AS_TUNES = frozenset({"josquin"})  # each X: is one voice of the same piece


@dataclass(frozen=True)
class Music21Job:
    """One piece to convert: a score file, or one tune (or voice set) of an ABC file."""

    id: str
    source: str  # the collection folder, e.g. "oneills1850"
    path: str  # relative to the music21 corpus folder
    text: str = ""  # ABC text of this tune (or of all voices); empty for score files
    number: int | None = None  # ABC X: number


def corpus_root() -> Path:
    """The folder of music21's bundled corpus."""
    return Path(music21.__file__).parent / "corpus"


# -- listing jobs (runs in the parent; must be fast) -------------------------------------------
def list_jobs(limit: int | None = None) -> tuple[list[Music21Job], Counter[str]]:
    """Every convertible piece of the core corpus, plus skip counts (reason -> files).

    With `limit`, a deterministic sample spread round-robin over the collections.
    """
    root = corpus_root()
    rels = sorted(str(Path(p).relative_to(root)) for p in music21.corpus.getCorePaths())
    available = set(rels)
    jobs: list[Music21Job] = []
    skipped: Counter[str] = Counter()
    for rel in rels:
        reason = skip_reason(rel, available)
        if reason:
            skipped[reason] += 1
            continue
        if rel.endswith(".abc"):
            jobs.extend(abc_jobs(rel, _read_text(root / rel)))
        else:
            jobs.append(Music21Job(id=_slug(rel.rsplit(".", 1)[0]), source=_source(rel), path=rel))
    jobs = _unique_ids(jobs)
    return (sample_jobs(jobs, limit) if limit is not None else jobs), skipped


def skip_reason(rel: str, available: set[str]) -> str:
    """Why a corpus file is not converted ('' when it is a usable score)."""
    source, stem, suffix = _source(rel), rel.rsplit(".", 1)[0], Path(rel).suffix.lower()
    if suffix == ".rntxt":
        return "not a score: roman-numeral analysis (.rntxt)"
    if suffix not in _SCORE_SUFFIXES:
        return f"not a score: unsupported format ({suffix})"
    if source in _NOT_PIECES:
        return _NOT_PIECES[source]
    if source == "essenFolksong" and Path(rel).stem.startswith("test"):
        return "not a piece: test file of the Essen collection"
    if rel in _DUPLICATES or stem.endswith("_bak"):
        return "duplicate: the same work is in another file"
    better = _FORMAT_PREFERENCE[: _FORMAT_PREFERENCE.index(suffix)]
    if any(stem + s in available for s in better):
        return "duplicate: the same work in a preferred format"
    return ""


def abc_jobs(rel: str, text: str) -> list[Music21Job]:
    """One job per tune of an ABC file (one job for files whose tunes are voices)."""
    source = _source(rel)
    base = _slug(rel.rsplit(".", 1)[0])
    if source in _VOICES_AS_TUNES:
        return [Music21Job(id=base, source=source, path=rel, text=text)]
    tunes = split_abc(text)
    counts = Counter(n for n, _ in tunes)
    jobs, seen = [], Counter()
    for number, tune in tunes:
        seen[number] += 1
        suffix = f"_{seen[number]}" if counts[number] > 1 else ""
        job_id = f"{base}_x{number}{suffix}"
        jobs.append(Music21Job(id=job_id, source=source, path=rel, text=tune, number=number))
    return jobs


def split_abc(text: str) -> list[tuple[int, str]]:
    """(X number, tune text) for every tune of an ABC book that has a K: line."""
    tunes = []
    for chunk in re.split(r"(?m)^(?=X:)", text)[1:]:
        m = re.match(r"X:\s*(\d+)", chunk)
        if m and re.search(r"(?m)^K:", chunk):
            tunes.append((int(m.group(1)), chunk.strip() + "\n"))
    return tunes


def sample_jobs(jobs: list[Music21Job], limit: int) -> list[Music21Job]:
    """A small deterministic sample: round-robin over collections, evenly spaced in each."""
    groups: dict[str, list[Music21Job]] = defaultdict(list)
    sizes = Counter(j.source for j in jobs)
    for j in jobs:
        groups[j.source if sizes[j.source] >= 5 else "other works"].append(j)
    names = sorted(groups)
    rounds = max(1, math.ceil(limit / max(1, len(names))))
    picks = {g: _spread(groups[g], rounds) for g in names}
    sample: list[Music21Job] = []
    for r in range(rounds):
        sample += [picks[g][r] for g in names if r < len(picks[g])]
    if len(sample) < limit:  # small collections ran out: top up in corpus order
        chosen = {j.id for j in sample}
        sample += [j for j in jobs if j.id not in chosen][: limit - len(sample)]
    return sample[:limit]


def _spread(items: list, k: int) -> list:
    k = min(k, len(items))
    return [items[(2 * i + 1) * len(items) // (2 * k)] for i in range(k)]


def _unique_ids(jobs: list[Music21Job]) -> list[Music21Job]:
    """Make ids unique even where slugging maps two names to one."""
    seen: Counter[str] = Counter()
    out = []
    for j in jobs:
        seen[j.id] += 1
        if seen[j.id] > 1:
            j = Music21Job(f"{j.id}_{seen[j.id]}", j.source, j.path, j.text, j.number)
        out.append(j)
    return out


# -- conversion (runs in worker processes) -----------------------------------------------------
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


@dataclass
class _Meta:
    title: str
    composer: str
    form: str | None
    region: str
    tune_id: str
    era: str
    kind: str
    modes: frozenset[str]  # church modes a final other than tonic / relative minor may mean
    form_is_default: bool = False  # the collection's form, not named by the tune itself
    tempo_words: str = ""
    extra: dict = field(default_factory=dict)


def convert_job(job: Music21Job, expand_repeats: bool = False) -> tuple[Score, PieceRecord]:
    """Parse one job with music21 and return its symusic Score and PieceRecord.

    `expand_repeats`: play repeat signs out (|: A :| becomes A A), as a performer would;
    by default pieces are kept as notated.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = _parse(job)
        if expand_repeats:
            parsed = _expand_repeats(parsed)
        meta = _abc_meta(job) if job.text else _file_meta(job, parsed)
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


def _parse(job: Music21Job) -> stream.Score:
    if not job.text:
        parsed = music21.converter.parse(
            corpus_root() / job.path, forceSource=True, storePickle=False
        )
    elif job.source in _VOICES_AS_TUNES:
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
    parts = list(score.parts) or [score]
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
    marks = [(float(d.offset), _velocity(d)) for d in flat.getElementsByClass(dynamics.Dynamic)]
    marks = sorted(m for m in marks if m[1] is not None)
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


# -- metadata ---------------------------------------------------------------------------------
def _abc_meta(job: Music21Job) -> _Meta:
    fields = abc_fields(job.text)
    coll = COLLECTIONS.get(job.source, Collection(None, "", "", "", "folk"))
    form, kind = _override(job.path, coll)
    title = clean_title(_first(fields, "T"))
    if job.source == "essenFolksong":  # drop the printed source's references
        title = clean_title(
            re.sub(r",?\s*S\.\s*\d+\w*$|\s*\((Band \d+|[\w-]*\d[\w-]*)\)", "", title)
        )
    rhythm = _first(fields, "R")
    form_is_default = False
    if job.source == "essenFolksong":
        found = form_from_text(rhythm)
        form = found if found in ("waltz", "polka", "mazurka", "march", "schottische") else form
    elif job.source in _VOICES_AS_TUNES:
        pass
    else:
        named = form_from_text(rhythm) or form_from_text(title) or _oneill_form(job)
        form_is_default = named is None
        form = named or form
    region = coll.region
    for prefix, value in _REGION_OVERRIDES.items():
        if job.path.startswith(prefix):
            region = value
    credit = _first(fields, "C")
    origin = _first(fields, "O") or _first(fields, "A") or credit
    region = region_from_origin(origin) or region
    composer = coll.composer or _abc_composer(credit, job.source)
    stem = job.path.rsplit(".", 1)[0]
    if job.source == "oneills1850":
        tune_id = f"oneills1850/{job.number}"
    elif job.number is None:
        tune_id = stem
    else:
        tune_id = f"{stem}/{job.number}"
    return _Meta(
        title=title,
        composer=composer,
        form=form,
        region=region,
        tune_id=tune_id,
        era=coll.era,
        kind=kind,
        modes=_abc_modes(job.source, kind),
        form_is_default=form_is_default,
        tempo_words=" ".join(fields.get("N", []) + fields.get("Q", [])),
        extra={k: v for k, v in (("origin", _first(fields, "O")), ("rhythm", rhythm)) if v},
    )


def abc_fields(text: str) -> dict[str, list[str]]:
    """Header fields of one ABC tune (up to and including its first K: line)."""
    fields: dict[str, list[str]] = defaultdict(list)
    for line in text.splitlines():
        m = re.match(r"([A-Za-z]):\s*(.*?)\s*$", line)
        if not m:
            continue
        fields[m.group(1)].append(m.group(2).strip("\"' ]"))
        if m.group(1) == "K":
            break
    return dict(fields)


def _first(fields: dict[str, list[str]], name: str) -> str:
    return next((v for v in fields.get(name, []) if v), "")


def _abc_composer(credit: str, source: str) -> str:
    """A composer from a C: field, which tune books also use for collectors, origins and
    remarks ('Irish.', 'collected by F. O'Neill', 'A Welch Tune', 'New Set, by T. Ebdon')."""
    if not credit or re.search(r"trad|anon|unknown|collect|\?", credit, re.IGNORECASE):
        return ""
    if source == "oneills1850":  # C: names the collector, except for O'Carolan's tunes
        return "Turlough O'Carolan" if "carolan" in credit.lower() else ""
    by = re.search(r"\bby\s+(.+)$", credit, re.IGNORECASE)
    name = re.sub(r"\s*\(\d{4}\)$", "", (by.group(1) if by else credit)).strip(" .,")
    words = [w.lower() for w in re.findall(r"[A-Za-z]+(?!\.)\b", name)]  # not initials
    if (
        not _PERSON.fullmatch(name)
        or len(name) < 4
        or len(words) > 4
        or _NOT_PERSON.intersection(words)
        or region_from_origin(name)
    ):
        return ""
    return name.title() if name.isupper() else name


_PERSON = re.compile(r"[A-Z][A-Za-z.'\- ]+")
_NOT_PERSON = frozenset(
    "tune air song set march reel jig dance regt regiment india highland new old the a of".split()
)


def _abc_modes(source: str, kind: str) -> frozenset[str]:
    if source == "essenFolksong":
        return _ESSEN_MODES
    return _EARLY_MODES if kind == "choir" else _NO_MODES


_ONEILL_SECTIONS = ((700, "air"), (1115, "jig"), (1175, "slip jig"), (1555, "reel"),
                    (1780, "hornpipe"), (1800, "dance"), (1850, "march"))  # fmt: skip


def _oneill_form(job: Music21Job) -> str | None:
    """O'Neill's 1850 is ordered by form: airs, jigs, slip jigs, reels, hornpipes, ..."""
    if job.source != "oneills1850" or job.number is None:
        return None
    return next((form for last, form in _ONEILL_SECTIONS if job.number <= last), None)


def _file_meta(job: Music21Job, parsed: stream.Score) -> _Meta:
    coll = COLLECTIONS.get(job.source, Collection(None, "", "", "", "work"))
    form, kind = _override(job.path, coll)
    md = parsed.metadata
    stem = job.path.rsplit(".", 1)[0]
    title = _score_title(md, job.source) or _title_from_path(stem)
    tune_id = stem
    parent = str(Path(stem).parent)
    if parent != job.source and re.match(r"(movement|\d)", Path(stem).name):
        tune_id = parent  # movements of one work share a split
        title = _work_title(job, form) or title
    extra: dict = {}
    if job.source == "bach":
        tune_id = "bach/" + Path(stem).name.split("-")[0]
        title = _chorale_title(Path(stem).name)
    elif job.source == "palestrina":
        mass = clean_title(getattr(md, "parentTitle", None) or "") if md else ""
        section = clean_title(getattr(md, "title", None) or "") if md else ""
        title = f"{section} from {mass}" if mass and section else title
        tune_id = f"palestrina/{_slug(mass)}" if mass else stem
        extra["mass"] = mass
    elif job.source == "trecento":
        tune_id = re.sub(r"(\d+)[a-c]-", r"\1-", stem)
        form = _trecento_form(Path(stem).name, title)
    elif job.source in ("beethoven", "mozart", "haydn") and parent == job.source:
        title = _work_title(job, form) or title
    composer = coll.composer or _person(getattr(md, "composer", None) if md else None)
    return _Meta(
        title=title,
        composer=composer,
        form=form,
        region=coll.region,
        tune_id=tune_id,
        era=coll.era,
        kind=kind,
        modes=_EARLY_MODES if kind == "choir" else _NO_MODES,
        extra=extra,
    )


def _override(path: str, coll: Collection) -> tuple[str | None, str]:
    for prefix, (form, kind) in _WORK_OVERRIDES.items():
        if path.startswith(prefix):
            return form, kind
    return coll.form, coll.kind


_MASS_WORDS = re.compile(r"kyrie|gloria|credo|sanctus|agnus|benedicamus|\bmissa\b", re.I)


def _trecento_form(name: str, title: str) -> str:
    """Trecento files: mass sections, motets (PMFC 1, Ciconia's), ballate, madrigals."""
    if _MASS_WORDS.search(name) or _MASS_WORDS.search(title):
        return "mass movement"
    if name.startswith("PMFC_04"):
        return "ballata"
    if name.startswith("PMFC_06"):
        return "madrigal"
    return "motet"


def _work_title(job: Music21Job, form: str | None) -> str:
    """'String Quartet Op. 18 No. 1, movement 2' from the corpus path."""
    parts = Path(job.path.rsplit(".", 1)[0]).parts
    work = parts[1] if len(parts) > 1 else ""
    label = re.sub(r"opus(\d+)", r"Op. \1", work)
    label = re.sub(r"no(\d+)", r" No. \1", label)
    label = re.sub(r"^k(\d+)", r"K. \1", label).strip()
    if not label:
        return ""
    noun = "String Quartet" if form == "quartet movement" else ""
    movement = re.match(r"movement(\d+)", parts[-1]) if len(parts) > 2 else None
    text = f"{noun} {label}".strip()
    return f"{text}, movement {movement.group(1)}" if movement else text


_CHORALE_TITLES: dict[int, str] | None = None


def _chorale_title(name: str) -> str:
    """'Was Gott tut, das ist wohlgetan (BWV 250)' from music21's chorale list."""
    global _CHORALE_TITLES
    if _CHORALE_TITLES is None:
        from music21.corpus import chorales

        _CHORALE_TITLES = {
            int(k): v["title"] for k, v in chorales.ChoraleList().byBWV.items() if v.get("title")
        }
    bwv = name.removeprefix("bwv").split("-")[0]
    known = _CHORALE_TITLES.get(int(bwv)) if bwv.isdigit() else None
    return f"{known} (BWV {bwv})" if known else f"Chorale BWV {bwv}"


_NOT_TITLES = re.compile(
    r"\.(mxl|xml|musicxml|krn|abc)$|^(canto|cantus|soprano|alto|tenor|basso?|quinto|score)$", re.I
)


def _score_title(md: music21.metadata.Metadata | None, source: str) -> str:
    if md is None:
        return ""
    candidates = [md.title, md.movementName]
    if source == "monteverdi":  # these files carry the madrigal's title as the composer
        candidates.insert(0, md.composer)
    for candidate in candidates:
        text = clean_title(str(candidate or ""))
        if text and not _NOT_TITLES.search(text):
            return text
    return ""


def clean_title(text: str) -> str:
    """Tidy a title: 'Enchanted Valley., The' -> 'The Enchanted Valley', ALL CAPS -> Title."""
    t = re.sub(r"\s+", " ", text.replace("_", " ").replace(" -- ", " ")).strip(" .,;")
    t = re.sub(r"^\d+\.\s*", "", t)
    if t.isupper() and len(t) > 3:
        t = re.sub(r"'S\b", "'s", t.title())
    m = re.match(r"(.*?)[.,]?\s*,\s*(the|a|an)$", t, re.IGNORECASE)
    if m:
        t = f"{m.group(2).capitalize()} {m.group(1)}"
    return t.strip(" .")


def _title_from_path(stem: str) -> str:
    name = Path(stem).name
    name = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ")
    return clean_title(name[:1].upper() + name[1:])


def _person(text: str | None) -> str:
    """'Beethoven, Ludwig van' -> 'Ludwig van Beethoven'; first line only."""
    if not text:
        return ""
    t = str(text).splitlines()[0].strip()
    if t.count(",") == 1:
        last, first = (s.strip() for s in t.split(","))
        t = f"{first} {last}"
    return t


# -- instruments, tempo, meter, key -------------------------------------------------------------
def _programs(job: Music21Job, meta: _Meta, voices: list[_Voice]) -> list[int]:
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


def _tempo(music: _Music, meta: _Meta, meter_name: str | None) -> tuple[float, bool, str]:
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
    spans: Counter[str] = Counter()
    for i, (offset, num, den) in enumerate(sigs):
        until = sigs[i + 1][0] if i + 1 < len(sigs) else max(end, offset)
        spans[f"{num}/{den}"] += max(until - offset, 1e-6)
    best = spans.most_common(1)[0][0]
    return best if best in METERS else None


_MODE_OF_FINAL = {0: "major", 2: "dorian", 4: "phrygian", 5: "lydian", 7: "mixolydian", 9: "minor"}
_EARLY_MODES = frozenset({"dorian", "phrygian", "lydian", "mixolydian"})
_ESSEN_MODES = frozenset({"dorian", "mixolydian"})  # Essen K: fields give only the signature
_NO_MODES: frozenset[str] = frozenset()  # ABC books state their modes (K:Ador) themselves


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


# -- helpers ------------------------------------------------------------------------------------
def stable_int(text: str) -> int:
    """A hash that is the same in every process and every run (unlike hash())."""
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:12], 16)


def _source(rel: str) -> str:
    return rel.split("/", 1)[0]


def _slug(text: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9.-]+", "_", text)).strip("_.")


def _read_text(path: Path) -> str:
    """File text; repairs DOS code page 850 text once mis-read as Latin-1 (Essen books),
    which shows as C1 control characters ('Fr\\x81hling' -> 'Frühling')."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if re.search("[\x80-\x9f]", text):
        try:
            return text.encode("latin-1").decode("cp850")
        except UnicodeError:
            return text
    return text


# -- entry point ----------------------------------------------------------------------------------
def prepare_music21(
    out_dir: str | Path,
    limit: int | None = None,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    expand_repeats: bool = False,
) -> PrepareReport:
    """Prepare the music21 corpus into `out_dir` (resumable); see `run_prepare`.

    `limit` converts a small deterministic sample spread over the collections;
    `expand_repeats` plays repeat signs out (see `convert_job`).
    """
    jobs, skipped = list_jobs(limit)
    log.info(
        "music21 corpus: %d pieces to convert, %d files skipped", len(jobs), sum(skipped.values())
    )
    return run_prepare(
        out_dir, jobs, partial(convert_job, expand_repeats=expand_repeats), workers=workers,
        progress=progress,
        skipped=skipped if limit is None else None,
    )  # fmt: skip
