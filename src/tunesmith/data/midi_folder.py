"""`tunesmith prepare midi`: a user's folder of MIDI files as a prepared corpus.

Every `.mid`/`.midi` file under the folder (recursive, any case) becomes one MIDI file with
one track per voice and one `PieceRecord`, through the resumable driver in `prepare.py`.
Attributes come from analysis of the file (Krumhansl-Kessler key estimate, dominant time
signature and tempo, GM programs, note density); a MidiCaps-style captions file (JSON
lines or CSV with `location`, `caption`, `genre`, `key`, `time_signature`, `tempo`, ...)
overrides what it states and contributes its caption, matched by path or file name.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import logging
import random
import re
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import symusic

from ..conditioning.controls import (
    MAX_TEMPO,
    MAX_VOICES,
    METERS,
    MIN_TEMPO,
    STYLES,
    normalize_key,
    normalize_meter,
)
from ..conditioning.instruments import DRUMS
from ..errors import BadInputError
from ..fileio import atomic_write_json
from ..music.metrics import compute_metrics
from .captions import make_captions
from .forms import clamp_tempo
from .prepare import PrepareReport, ProgressFn, SkipPiece, run_prepare
from .records import PieceRecord, split_for

log = logging.getLogger(__name__)

TPQ = 480  # the resolution every prepared corpus uses
SOURCE = "midi"
MIDI_SUFFIXES = frozenset({".mid", ".midi"})
MIN_NOTES = 4  # fewer notes than this is a fragment, not a piece
MIN_KEY_CORRELATION = 0.5  # below this the key estimate is a guess: leave the key unknown
SPARSE_MAX, DENSE_MIN = 4.0, 24.0  # notes per bar (all tracks) for "sparse" / "dense"
SYNTHESISED_CAPTIONS = 5  # besides the captions file's own caption
_DEFAULT_QPM = 120.0  # MIDI's tempo when a file sets none
_MAX_ID_CHARS = 100
_MODE_WORDS = ("dorian", "phrygian", "lydian", "mixolydian", "locrian")
_KEPT_CAPTION_FIELDS = ("genre", "mood", "tempo_word", "duration_word", "chord_summary",
                        "instrument_summary")  # fmt: skip

# MidiCaps genre words (Jamendo tags) -> controls.STYLES; the first genre that maps wins.
_GENRE_STYLES: dict[str, str] = {
    "electronic": "electronic", "electronica": "electronic", "techno": "electronic",
    "house": "electronic", "trance": "electronic", "edm": "electronic", "idm": "electronic",
    "dubstep": "electronic", "drumnbass": "electronic", "breakbeat": "electronic",
    "dance": "electronic", "synthpop": "electronic", "triphop": "electronic",
    "pop": "pop", "instrumentalpop": "pop", "easylistening": "pop", "popfolk": "pop",
    "rock": "rock", "poprock": "rock", "alternative": "rock", "indie": "rock",
    "metal": "rock", "punk": "rock", "hardrock": "rock", "grunge": "rock",
    "jazz": "jazz", "swing": "jazz", "bebop": "jazz", "fusion": "jazz", "lounge": "jazz",
    "blues": "blues", "latin": "latin", "bossanova": "latin", "salsa": "latin",
    "tango": "latin", "world": "world", "reggae": "world", "ethno": "world",
    "african": "world", "celtic": "world", "country": "country", "bluegrass": "country",
    "funk": "funk", "soul": "funk", "rnb": "funk", "disco": "funk",
    "hiphop": "hip hop", "rap": "hip hop", "soundtrack": "soundtrack", "film": "soundtrack",
    "filmscore": "soundtrack", "videogame": "soundtrack", "orchestral": "classical",
    "classical": "classical", "romantic": "classical", "baroque": "baroque",
    "ambient": "ambient", "newage": "ambient", "chillout": "ambient",
    "folk": "folk song",
}  # fmt: skip


class CorruptMidiError(Exception):
    """The file is not a MIDI file symusic can parse (counted as a failure, never fatal)."""


@dataclass(frozen=True)
class MidiJob:
    """One MIDI file to convert (small and picklable for the worker processes)."""

    id: str
    path: str  # absolute
    rel: str  # relative to the folder, POSIX separators
    caption: dict | None = None  # the matched captions-file row (only the fields we use)


@dataclass
class MidiFolderReport(PrepareReport):
    """The driver's report plus how many files the captions file described."""

    captions_file: str = ""
    captions_rows: int = 0
    captions_matched: int = 0
    midi_files: int = 0


# -- listing files -------------------------------------------------------------------------
def list_midi_files(folder: Path, exclude: Path | None = None) -> tuple[list[Path], Counter[str]]:
    """MIDI files under `folder` (sorted) and counts of files passed over, by reason.

    Hidden files and folders (such as macOS `._name.mid` resource forks, which are not
    MIDI) are passed over, and so is `exclude` (our own output when it lies inside).
    """
    if not folder.exists():
        raise BadInputError(f"MIDI folder {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise BadInputError(f"{str(folder)!r} is not a folder")
    if not any(folder.iterdir()):
        raise BadInputError(f"MIDI folder {str(folder)!r} is empty")
    exclude = exclude.resolve() if exclude is not None else None
    files: list[Path] = []
    passed: Counter[str] = Counter()
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in MIDI_SUFFIXES:
            continue
        rel_parts = path.relative_to(folder).parts
        if any(part.startswith(".") for part in rel_parts):
            passed["hidden file (name starts with '.')"] += 1
        elif exclude is not None and path.resolve().is_relative_to(exclude):
            continue  # our own output from an earlier run
        else:
            files.append(path)
    if not files:
        raise BadInputError(f"no .mid or .midi files in {str(folder)!r}")
    return files, passed


def piece_ids(rels: list[str]) -> list[str]:
    """Filesystem-safe ids, unique and stable across runs (a hash resolves clashes)."""
    slugs = [_slug(r) for r in rels]
    counts = Counter(slugs)
    ids = []
    for rel, slug in zip(rels, slugs, strict=True):
        if counts[slug] > 1 or len(slug) > _MAX_ID_CHARS:
            slug = f"{slug[:_MAX_ID_CHARS]}-{_short_hash(rel)}"
        ids.append(slug)
    return ids


def _slug(rel: str) -> str:
    stem = str(PurePosixPath(rel).with_suffix(""))
    return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9.-]+", "_", stem)).strip("_.") or "piece"


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


# -- the captions file ---------------------------------------------------------------------
def read_captions(path: Path) -> list[dict]:
    """Rows of a MidiCaps-style captions file: JSON lines, a JSON array, or CSV.

    Only `location` and the fields used here are kept, so a 168k-row MidiCaps file stays
    small in memory. Raises BadInputError for a file that cannot be read or parsed.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise BadInputError(f"cannot read captions file {str(path)!r}: {e}") from None
    head = text.lstrip()[:1]
    if path.suffix.lower() == ".csv" or (head and head not in "[{"):
        rows = _csv_rows(text, path)
    else:
        rows = _json_rows(text, path)
    kept = [_keep_fields(r) for r in rows if isinstance(r, dict) and r.get("location")]
    if not kept:
        raise BadInputError(f"captions file {str(path)!r} has no rows with a 'location' field")
    return kept


def _json_rows(text: str, path: Path) -> list[Any]:
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as e:
            raise BadInputError(f"captions file {str(path)!r} is not valid JSON: {e}") from None
        return rows if isinstance(rows, list) else []
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise BadInputError(f"captions file {str(path)!r} line {number}: {e}") from None
    return rows


def _csv_rows(text: str, path: Path) -> list[dict]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # MidiCaps chord lists are long
    try:
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "location" not in reader.fieldnames:
            raise BadInputError(f"captions file {str(path)!r} has no 'location' column")
        return list(reader)
    except csv.Error as e:
        raise BadInputError(f"captions file {str(path)!r} is not valid CSV: {e}") from None


def _keep_fields(row: dict) -> dict:
    fields = ("location", "caption", "key", "time_signature", "tempo", "test_set")
    return {k: row[k] for k in (*fields, *_KEPT_CAPTION_FIELDS) if row.get(k) not in (None, "")}


def match_captions(rels: list[str], rows: list[dict]) -> list[dict | None]:
    """The captions row of each file: by its path relative to the folder, else its name.

    MidiCaps locations carry the dataset's own prefix ('lmd_full/1/1a0b....mid'), so of
    the rows with the file's name the one sharing the longest path suffix wins.
    """
    by_location: dict[str, dict] = {}
    by_name: dict[str, list[dict]] = {}
    for row in rows:
        location = _norm_location(str(row["location"]))
        by_location.setdefault(location, row)
        by_name.setdefault(PurePosixPath(location).name, []).append(row)
    matched: list[dict | None] = []
    for rel in rels:
        key = _norm_location(rel)
        found = by_location.get(key)
        if found is None:
            candidates = by_name.get(PurePosixPath(key).name, [])
            found = max(candidates, key=lambda r: _common_suffix(r, key), default=None)
        matched.append(found)
    return matched


def _norm_location(location: str) -> str:
    return location.replace("\\", "/").strip().strip("/").lower().removeprefix("./")


def _common_suffix(row: dict, rel: str) -> int:
    a = PurePosixPath(_norm_location(str(row["location"]))).parts[::-1]
    b = PurePosixPath(rel).parts[::-1]
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


# -- attributes from a captions row --------------------------------------------------------
def style_from_genres(genres: Any) -> str | None:
    """The first genre that maps onto controls.STYLES ('hiphop' -> 'hip hop'), or None."""
    for genre in _as_list(genres):
        word = re.sub(r"[^a-z]", "", str(genre).lower())
        style = _GENRE_STYLES.get(word) or next(
            (s for s in STYLES if re.sub(r"[^a-z]", "", s) == word), None
        )
        if style:
            return style
    return None


def _as_list(value: Any) -> list:
    """A list field as JSON gives it, or as CSV writes it ("['pop', 'rock']" or 'pop, rock')."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = ast.literal_eval(text)  # literals only: safe on untrusted text
            return list(parsed) if isinstance(parsed, list | tuple) else [parsed]
        except (ValueError, SyntaxError):
            text = text.strip("[]")
    return [w.strip(" '\"") for w in text.split(",") if w.strip(" '\"")]


def _caption_key(row: dict) -> tuple[str | None, str]:
    """(canonical key, church mode or '') stated by the row; (None, '') if absent or odd."""
    text = str(row.get("key", "")).strip()
    if not text:
        return None, ""
    try:
        key = normalize_key(text)
    except BadInputError:
        log.debug("captions key %r not understood", text)
        return None, ""
    mode = next((m for m in _MODE_WORDS if m in text.lower()), "")
    return key, mode


def _caption_meter(row: dict) -> str | None:
    text = str(row.get("time_signature", "")).strip()
    try:
        return normalize_meter(text) if text else None
    except BadInputError:
        return None


def _caption_tempo(row: dict) -> float | None:
    try:
        bpm = float(row.get("tempo", ""))
    except (TypeError, ValueError):
        return None
    return bpm if MIN_TEMPO <= bpm <= MAX_TEMPO else None


def _is_true(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


# -- analysis of the MIDI ------------------------------------------------------------------
def load_score(path: Path) -> symusic.Score:
    """Parse a file as MIDI at TPQ ticks per quarter; empty or corrupt files are refused."""
    data = path.read_bytes()
    if not data:
        raise SkipPiece("empty file (0 bytes)")
    try:
        score = symusic.Score.from_midi(data)
    except Exception:  # symusic raises RuntimeError with parser details
        raise CorruptMidiError("not a valid MIDI file") from None
    return score.resample(TPQ, min_dur=1)


def voice_tracks(score: symusic.Score) -> tuple[symusic.Score, int]:
    """The score with only tracks that have notes, at most MAX_VOICES (the busiest).

    Returns the score and how many tracks with notes were dropped.
    """
    tracks = [t for t in score.tracks if t.note_num() > 0]
    dropped = max(0, len(tracks) - MAX_VOICES)
    if dropped:
        busiest = sorted(range(len(tracks)), key=lambda i: -tracks[i].note_num())[:MAX_VOICES]
        tracks = [tracks[i] for i in sorted(busiest)]
    out = score.copy()
    out.tracks = type(out.tracks)()
    for track in tracks:
        out.tracks.append(track.copy())
    return out, dropped


def track_programs(score: symusic.Score) -> list[int]:
    """One GM program per track; drum tracks are DRUMS (-1)."""
    return [DRUMS if t.is_drum else int(t.program) for t in score.tracks]


def dominant_meter(score: symusic.Score, end: int) -> str | None:
    """The time signature that lasts longest, as a controls.METERS value, else None."""
    return _dominant(score.time_signatures.numpy(), end, _meter_label)


def dominant_tempo(score: symusic.Score, end: int) -> float | None:
    """The tempo (quarter bpm) in force longest, or None when the file sets none."""
    return _dominant(score.tempos.numpy(), end, lambda a, i: round(6e7 / max(a["mspq"][i], 1), 2))


def _meter_label(arrays: dict, i: int) -> str | None:
    label = f"{arrays['numerator'][i]}/{arrays['denominator'][i]}"
    return label if label in METERS else None


def _dominant(arrays: dict, end: int, label) -> Any:
    """The label of the event that spans the most ticks up to `end` (ties: earliest)."""
    times = arrays["time"].astype(np.int64)
    if times.size == 0:
        return None
    order = np.argsort(times, kind="stable")
    spans: Counter = Counter()
    first_seen: dict = {}
    for n, i in enumerate(order):
        until = times[order[n + 1]] if n + 1 < len(order) else max(end, times[i] + 1)
        value = label(arrays, i)
        spans[value] += max(int(until - times[i]), 0)
        first_seen.setdefault(value, n)
    best = max(spans, key=lambda v: (spans[v], -first_seen[v]))
    return best


def density_word(notes_per_bar: float) -> str:
    """'sparse', 'dense' or '' (in between) for the notes per bar of all tracks."""
    if notes_per_bar <= SPARSE_MAX:
        return "sparse"
    if notes_per_bar >= DENSE_MIN:
        return "dense"
    return ""


# -- one job -------------------------------------------------------------------------------
def convert_midi(job: MidiJob) -> tuple[symusic.Score, PieceRecord]:
    """Analyse one MIDI file and return its voice-per-track Score and PieceRecord."""
    score, dropped = voice_tracks(load_score(Path(job.path)))
    if sum(t.note_num() for t in score.tracks) < MIN_NOTES:
        raise SkipPiece("no notes" if not score.tracks else f"fewer than {MIN_NOTES} notes")
    metrics = compute_metrics(score)
    end = int(score.end())
    record = _analysed_record(job, score, metrics, end)
    record.extra.update(_extra(job, score, metrics, dropped))
    if job.caption:
        _apply_caption(record, job.caption)
    record.captions = _captions(record, job.caption, metrics["notes_per_bar"])
    return score, record


def _analysed_record(job: MidiJob, score: symusic.Score, metrics: dict, end: int) -> PieceRecord:
    programs = track_programs(score)
    key_ok = metrics["key"] and (metrics["key_correlation"] or 0.0) >= MIN_KEY_CORRELATION
    qpm = dominant_tempo(score, end)
    return PieceRecord(
        id=job.id,
        tune_id=job.id,  # each file is its own tune; the split cannot know better
        source=SOURCE,
        key=metrics["key"] if key_ok else None,
        meter=dominant_meter(score, end),
        tempo=round(clamp_tempo(qpm if qpm is not None else _DEFAULT_QPM), 2),
        tempo_estimated=qpm is None,
        programs=programs,
        voices=len(programs),
        bars=int(metrics["bars"]),
        duration_s=round(float(metrics["duration_s"]), 2),
        split=split_for(job.id),
    )


def _extra(job: MidiJob, score: symusic.Score, metrics: dict, dropped: int) -> dict:
    extra: dict[str, Any] = {
        "path": job.rel,
        "key_estimate": metrics["key"],
        "key_correlation": round(metrics["key_correlation"] or 0.0, 3),
        "notes_per_bar": round(float(metrics["notes_per_bar"]), 2),
        "parts": [t.name for t in score.tracks],
        "caption_source": "captions file" if job.caption else "synthesised",
    }
    if dropped:
        extra["dropped_tracks"] = dropped
    return extra


def _apply_caption(record: PieceRecord, row: dict) -> None:
    """Let the attributes a captions row states override the analysed ones."""
    key, mode = _caption_key(row)
    if key:
        record.key, record.mode = key, mode
    record.meter = _caption_meter(row) or record.meter
    tempo = _caption_tempo(row)
    if tempo is not None:
        record.tempo, record.tempo_estimated = round(tempo, 2), False
    record.form = style_from_genres(row.get("genre"))
    if _is_true(row.get("test_set", "")):
        record.split = "test"  # keep MidiCaps' own test set out of training
    record.extra.update({k: row[k] for k in _KEPT_CAPTION_FIELDS if k in row})


def _captions(record: PieceRecord, row: dict | None, notes_per_bar: float) -> list[str]:
    """The file's own caption first, then synthesised ones; some name the texture."""
    rng = random.Random(int(_short_hash(record.id), 16))
    given = " ".join(str(row.get("caption", "")).split()) if row else ""
    synthesised = make_captions(record, rng, SYNTHESISED_CAPTIONS + (0 if given else 1))
    density = density_word(notes_per_bar)
    if density:
        synthesised = [
            _with_texture(c, density) if i % 2 == 0 else c for i, c in enumerate(synthesised)
        ]
    return [given, *synthesised] if given else synthesised


def _with_texture(caption: str, density: str) -> str:
    """The caption with its texture named, in a shape that fits the caption's own."""
    if ". " in caption:  # several sentences: add one more
        return f"{caption.rstrip('.')}. The texture is {density}."
    end = "." if caption.endswith(".") else ""
    return f"{caption.rstrip('.')}, with a {density} texture{end}"


# -- entry point ---------------------------------------------------------------------------
def prepare_midi_folder(
    folder: str | Path,
    out_dir: str | Path,
    captions: str | Path | None = None,
    workers: int | None = None,
    progress: ProgressFn | None = None,
) -> MidiFolderReport:
    """Prepare every MIDI file under `folder` into `out_dir` (resumable); see `run_prepare`.

    `captions` is an optional MidiCaps-style file; files it does not describe get
    synthesised captions only. Corrupt, empty and note-less files are counted in the
    report, never fatal.
    """
    folder, out_dir = Path(folder), Path(out_dir)
    paths, passed = list_midi_files(folder, exclude=out_dir / "midi")
    rels = [p.relative_to(folder).as_posix() for p in paths]
    rows = read_captions(Path(captions)) if captions is not None else []
    matched = match_captions(rels, rows) if rows else [None] * len(rels)
    jobs = [
        MidiJob(id=i, path=str(p.resolve()), rel=r, caption=m)
        for i, p, r, m in zip(piece_ids(rels), paths, rels, matched, strict=True)
    ]
    n_matched = sum(m is not None for m in matched)
    log.info("%d MIDI files, %d described by the captions file", len(jobs), n_matched)
    report = run_prepare(
        out_dir, jobs, convert_midi, workers=workers, progress=progress, skipped=passed
    )
    full = MidiFolderReport(
        **asdict(report),
        captions_file=str(captions) if captions is not None else "",
        captions_rows=len(rows),
        captions_matched=n_matched,
        midi_files=len(jobs),
    )
    atomic_write_json(out_dir / "report.json", asdict(full))
    return full
