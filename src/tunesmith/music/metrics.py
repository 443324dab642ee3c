"""Objective music metrics for a MIDI file: H1/H4 pitch entropy, groove similarity and more.

Used to compare generated music with the corpus (the MusDr metrics of the Compound Word
Transformer / Pop1K7 papers) and by `tunesmith metrics`. Everything runs on numpy arrays
of note onsets: about 2 ms per file including parsing for a 6,400-note quintet movement.

Conventions shared by every metric:

- Times are MIDI ticks. Bars come from the file's time signatures (4/4 until the first
  one); a time-signature change starts a new bar, even in the middle of one. Bars run
  from tick 0 to the end of the last note.
- Drum tracks are left out of pitch metrics (H1, H4, pitch range, polyphony, key) but
  count for rhythm and loudness (GS, notes per bar, velocity): drums are groove.
- A metric that is undefined for a score (H1 of a drums-only file, GS of a one-bar
  piece) is None, so the JSON output stays valid.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import symusic
from numpy.typing import ArrayLike

from ..errors import BadInputError
from .gate import check_score
from .keys import estimate_key

log = logging.getLogger(__name__)

DEFAULT_GRID = 16  # onset positions per bar for GS: sixteenth notes in 4/4, as in Pop1K7
MAX_GRID = 1024  # finer than any MIDI quantisation in use; bounds the onset matrix
MAX_BARS = 100_000  # beyond this a file is corrupt or absurd; refuse rather than eat memory
_DEFAULT_MSPQ = 500_000  # MIDI default tempo: 120 bpm
_PITCH_CLASSES = 12


@dataclass(frozen=True)
class NoteArrays:
    """Every note of a score as parallel arrays, the form all metrics work on."""

    onset: np.ndarray  # ticks, int64
    offset: np.ndarray  # ticks, int64
    pitch: np.ndarray  # int64
    velocity: np.ndarray  # int64
    drum: np.ndarray  # bool: the note is on a drum track
    tracks: int  # tracks with at least one note

    @classmethod
    def from_score(cls, score: symusic.Score) -> NoteArrays:
        """Gather the notes of every track (the score must be in ticks)."""
        parts = [(t.notes.numpy(), t.is_drum) for t in score.tracks if t.note_num() > 0]
        if not parts:
            raise BadInputError("the score contains no notes")
        onset = np.concatenate([p["time"] for p, _ in parts]).astype(np.int64).clip(min=0)
        duration = np.concatenate([p["duration"] for p, _ in parts]).astype(np.int64).clip(min=0)
        return cls(
            onset=onset,
            offset=onset + duration,
            pitch=np.concatenate([p["pitch"] for p, _ in parts]).astype(np.int64) & 127,
            velocity=np.concatenate([p["velocity"] for p, _ in parts]).astype(np.int64) & 127,
            drum=np.concatenate([np.full(len(p["time"]), d) for p, d in parts]),
            tracks=len(parts),
        )


# -- loading ------------------------------------------------------------------------------
def load_midi(path: str | os.PathLike, tune: int | None = None) -> symusic.Score:
    """Parse a MIDI file (or an ABC tune, `read_music`) into a tick-based symusic Score.

    Any unreadable, non-MIDI or corrupt file raises BadInputError with one line; a file
    that is not ABC is parsed as MIDI whatever its extension, so a stray .txt is refused
    too, and a file outside the gate's bounds (gate.py: division, length, tempo, tracks,
    notes) is refused before anything works on it. Which tune of an ABC file with several
    was read is logged (`read_music` returns it instead).
    """
    score, notice = read_music(path, tune)
    if notice:
        log.warning("%s", notice)
    return score


def read_music(
    path: str | os.PathLike, tune: int | None = None
) -> tuple[symusic.Score, str | None]:
    """A MIDI file or an ABC file (by its .abc name or its text) as a Score, through the
    gate, with a notice for the user when an ABC file held several tunes (`tune`: the X:
    number of the one to read; default the first)."""
    from .abc import ABC_SUFFIXES, looks_like_abc, read_abc

    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise BadInputError(f"{p}: cannot read file ({e.strerror or e})") from None
    if p.suffix.lower() in ABC_SUFFIXES or looks_like_abc(data):
        abc = read_abc(data, str(p), tune)
        return check_score(abc.score, str(p)), abc.notice
    if tune is not None:
        raise BadInputError(
            f"{p} is not an ABC file; a tune number picks a tune of one", field="tune"
        )
    try:
        score = symusic.Score.from_midi(data)
    except Exception as e:  # symusic raises RuntimeError/ValueError with parser details
        detail = " ".join(str(e).split())
        raise BadInputError(f"{p}: not a valid MIDI file ({detail})") from None
    return check_score(score, str(p)), None


# -- bars and time ------------------------------------------------------------------------
def _bar_ticks(numerator: int, denominator: int, tpq: int) -> int:
    """Length of one bar in ticks; a nonsense signature (0 or overflowed) counts as 4/4."""
    if numerator <= 0 or denominator <= 0:
        numerator, denominator = 4, 4
    return max(1, round(numerator * 4 * tpq / denominator))


def _meter_changes(score: symusic.Score) -> list[tuple[int, int]]:
    """(tick, bar length) at 0 and at every real time-signature change, in order."""
    tpq = max(int(score.tpq), 1)
    ts = score.time_signatures.numpy()
    order = np.argsort(ts["time"], kind="stable")
    changes = [(0, _bar_ticks(4, 4, tpq))]
    for i in order:
        tick = max(int(ts["time"][i]), 0)
        length = _bar_ticks(int(ts["numerator"][i]), int(ts["denominator"][i]), tpq)
        if tick == changes[-1][0]:
            changes[-1] = (tick, length)  # the last signature at a tick wins
        else:
            changes.append((tick, length))
    # A signature repeated on another track or restated mid-piece does not start a bar.
    kept = changes[:1]
    kept += [c for prev, c in zip(changes, changes[1:], strict=False) if c[1] != prev[1]]
    return kept


def bar_grid(score: symusic.Score, end_tick: int) -> tuple[np.ndarray, np.ndarray]:
    """Start tick and nominal length (ticks) of every bar that begins before `end_tick`.

    At least one bar is returned. Raises BadInputError past MAX_BARS bars, which only
    corrupt files reach.
    """
    end_tick = max(int(end_tick), 1)
    changes = _meter_changes(score)
    starts, lengths = [], []
    total = 0
    for i, (tick, length) in enumerate(changes):
        if tick >= end_tick:
            break
        seg_end = min(changes[i + 1][0], end_tick) if i + 1 < len(changes) else end_tick
        n = -(-(seg_end - tick) // length)  # ceil: a partial bar at the end is a bar
        total += n
        if total > MAX_BARS:
            raise BadInputError(f"the score is longer than {MAX_BARS} bars")
        starts.append(tick + length * np.arange(n, dtype=np.int64))
        lengths.append(np.full(n, length, dtype=np.int64))
    return np.concatenate(starts), np.concatenate(lengths)


def ticks_to_seconds(score: symusic.Score, tick: int) -> float:
    """Seconds from the start to `tick`, following the tempo map (120 bpm until the first)."""
    tpq = max(int(score.tpq), 1)
    tempos = score.tempos.numpy()
    order = np.argsort(tempos["time"], kind="stable")
    times = np.concatenate([[0], tempos["time"][order].astype(np.int64).clip(min=0)])
    mspq = np.concatenate([[_DEFAULT_MSPQ], tempos["mspq"][order].astype(np.float64)])
    mspq[mspq <= 0] = _DEFAULT_MSPQ
    # The tempo in force on [times[i], times[i+1]) is the last one set at times[i].
    bounds = np.minimum(np.append(times, tick), tick)
    spans = np.diff(bounds).clip(min=0)
    return float((spans * mspq).sum() / 1e6 / tpq)


def bar_positions(
    onset: np.ndarray, starts: np.ndarray, lengths: np.ndarray, grid: int
) -> tuple[np.ndarray, np.ndarray]:
    """Bar index and grid position (0..grid-1) of each onset, rounded to the nearest step.

    An onset that rounds up to the next downbeat belongs to the next bar, so slightly early
    notes of a performance land where they were meant to.
    """
    bar = np.searchsorted(starts, onset, side="right") - 1
    pos = np.floor((onset - starts[bar]) * grid / lengths[bar] + 0.5).astype(np.int64)
    carry = pos >= grid
    bar = bar + carry
    pos[carry] = 0
    past_end = bar >= len(starts)
    bar[past_end] = len(starts) - 1
    pos[past_end] = grid - 1
    return bar, pos


# -- the metrics --------------------------------------------------------------------------
def pitch_class_entropy(
    bar: np.ndarray, pitch: np.ndarray, n_bars: int, window: int
) -> float | None:
    """Mean pitch-class entropy (bits) over sliding windows of `window` bars, step one bar.

    MusDr's H1/H4: per window, the histogram of pitch classes of the notes whose onsets fall
    in it, weighted by count; the mean is over non-empty windows. A window longer than the
    piece shrinks to the whole piece, as in MusDr.
    """
    if len(pitch) == 0:
        return None
    window = max(1, min(window, n_bars))
    counts = np.bincount(bar * _PITCH_CLASSES + pitch % _PITCH_CLASSES, minlength=n_bars * 12)
    cum = np.zeros((n_bars + 1, _PITCH_CLASSES), dtype=np.int64)
    np.cumsum(counts.reshape(n_bars, _PITCH_CLASSES), axis=0, out=cum[1:])
    windows = cum[window:] - cum[:-window]
    totals = windows.sum(axis=1)
    p = windows[totals > 0] / totals[totals > 0, None]
    plogp = np.zeros_like(p)
    nz = p > 0
    plogp[nz] = p[nz] * np.log2(p[nz])
    return float(-plogp.sum(axis=1).mean()) + 0.0  # + 0.0 turns -0.0 into 0.0


def groove_similarity(
    bar: np.ndarray, position: np.ndarray, n_bars: int, grid: int
) -> float | None:
    """Grooving pattern similarity: mean of 1 - XOR/grid over all pairs of non-empty bars.

    Each bar is a binary vector of `grid` onset positions. The mean over pairs is exact and
    O(bars x grid): at a position where c of n bars have an onset, c * (n - c) pairs differ.
    None when fewer than two bars have onsets.
    """
    onsets = np.zeros((n_bars, grid), dtype=bool)
    onsets[bar, position] = True
    rows = onsets[onsets.any(axis=1)]
    n = len(rows)
    if n < 2:
        return None
    c = rows.sum(axis=0, dtype=np.int64)
    differing = float((c * (n - c)).sum())
    return 1.0 - differing / (grid * n * (n - 1) / 2)


def polyphony(onset: np.ndarray, offset: np.ndarray) -> float | None:
    """Time-averaged number of sounding notes, over the time when at least one sounds.

    This is MusPy's definition: total note duration over the length of the union of the
    notes' spans, so rests do not pull it down. A 4-note chord gives 4. Notes of zero
    length are ignored; None when nothing has length.
    """
    keep = offset > onset
    if not keep.any():
        return None
    times = np.concatenate([onset[keep], offset[keep]])
    delta = np.concatenate([np.ones(keep.sum(), np.int64), -np.ones(keep.sum(), np.int64)])
    order = np.argsort(times, kind="stable")
    active = np.cumsum(delta[order])[:-1]
    gaps = np.diff(times[order])
    sounding = gaps[active > 0].sum()
    return float((offset[keep] - onset[keep]).sum() / sounding)


def pitch_class_histogram(pitch: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """12-bin pitch-class histogram weighted by `weight` (e.g. durations)."""
    return np.bincount(pitch % _PITCH_CLASSES, weights=weight, minlength=_PITCH_CLASSES)


def as_tick_score(score: symusic.Score) -> symusic.Score:
    return score if score.ttype == symusic.TimeUnit.tick else score.to("tick")


def compute_metrics(score: symusic.Score, grid: int = DEFAULT_GRID) -> dict[str, Any]:
    """All single-piece metrics of a score, as a JSON-ready dict.

    Keys: bars, duration_s, tracks, notes, notes_per_bar, H1, H4, GS, pitch_range,
    polyphony, velocity_mean, velocity_std, key, key_correlation.
    `grid` is the number of onset positions per bar for GS (16 = the Pop1K7 convention).
    Pitch metrics are None for a drums-only score; GS is None with fewer than two
    non-empty bars. Raises BadInputError for a score without notes.
    """
    if not 1 <= grid <= MAX_GRID:
        raise BadInputError(f"the GS grid must have 1-{MAX_GRID} positions per bar, not {grid}")
    score = as_tick_score(score)
    notes = NoteArrays.from_score(score)
    end_tick = int(max(notes.offset.max(), notes.onset.max() + 1))
    starts, lengths = bar_grid(score, end_tick)
    n_bars = len(starts)
    bar, pos = bar_positions(notes.onset, starts, lengths, grid)
    pitched = ~notes.drum
    pitch = notes.pitch[pitched]
    # H1/H4 use the bar an onset lies in, not the rounded grid bar, as MusDr's bars do.
    onset_bar = np.searchsorted(starts, notes.onset[pitched], side="right") - 1
    key = None
    if pitch.size:
        durations = (notes.offset - notes.onset)[pitched].astype(np.float64)
        weights = durations if durations.any() else np.ones_like(durations)
        key = estimate_key(pitch_class_histogram(pitch, weights))
    return {
        "bars": n_bars,
        "duration_s": ticks_to_seconds(score, end_tick),
        "tracks": notes.tracks,
        "notes": int(notes.onset.size),
        "notes_per_bar": notes.onset.size / n_bars,
        "H1": pitch_class_entropy(onset_bar, pitch, n_bars, 1),
        "H4": pitch_class_entropy(onset_bar, pitch, n_bars, 4),
        "GS": groove_similarity(bar, pos, n_bars, grid),
        "pitch_range": int(pitch.max() - pitch.min()) if pitch.size else None,
        "polyphony": polyphony(notes.onset[pitched], notes.offset[pitched]),
        "velocity_mean": float(notes.velocity.mean()),
        "velocity_std": float(notes.velocity.std()),
        "key": key[0] if key else None,
        "key_correlation": key[1] if key else None,
    }


def metrics_for_file(path: str | os.PathLike, grid: int = DEFAULT_GRID) -> dict[str, Any]:
    """compute_metrics of a MIDI file; every problem with the file is a BadInputError."""
    score = load_midi(path)
    try:
        return compute_metrics(score, grid=grid)
    except BadInputError as e:
        raise BadInputError(f"{path}: {e}") from None


# -- comparing two pieces -----------------------------------------------------------------
def _notes_per_bar(x: symusic.Score | Mapping[str, Any]) -> float:
    if isinstance(x, Mapping):
        return float(x["notes_per_bar"])
    return float(compute_metrics(x)["notes_per_bar"])


def note_density_ratio(
    a: symusic.Score | Mapping[str, Any], b: symusic.Score | Mapping[str, Any]
) -> float:
    """Similarity of note density: min/max of the two pieces' notes per bar, in (0, 1].

    Symmetric so it reads like velocity_similarity (1 = same density). Either argument may
    be a Score or a compute_metrics dict, to reuse metrics already computed.
    """
    da, db = _notes_per_bar(a), _notes_per_bar(b)
    return min(da, db) / max(da, db)


def _velocities(x: symusic.Score | ArrayLike) -> np.ndarray:
    if hasattr(x, "tracks"):
        arrays = [t.notes.numpy()["velocity"] for t in x.tracks]
        v = np.concatenate(arrays) if arrays else np.zeros(0)
    else:
        v = np.asarray(x)
    if v.size == 0:
        raise BadInputError("cannot compare velocities of a score without notes")
    return v.astype(np.int64).ravel().clip(0, 127)


def velocity_similarity(
    a: symusic.Score | ArrayLike, b: symusic.Score | ArrayLike, bins: int = 32
) -> float:
    """Overlap of the two velocity distributions, in [0, 1] (1 = identical histograms).

    Velocities 0-127 fall into `bins` equal bins (32 = MidiTok's default resolution, so a
    difference of one or two velocity steps still overlaps); the overlap is sum(min(p, q))
    of the normalised histograms. Either argument may be a Score or an array of velocities.
    """
    if not 1 <= bins <= 128:
        raise BadInputError(f"velocity bins must be between 1 and 128, not {bins}")
    hists = []
    for x in (a, b):
        v = _velocities(x)
        hists.append(np.bincount(v * bins // 128, minlength=bins) / v.size)
    return float(np.minimum(*hists).sum())
