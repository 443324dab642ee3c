"""A tension curve over a piece, and where its climax falls.

Per bar, three signals that listeners hear as rising tension are z-scored within the
piece and averaged: note density (onsets per bar), register (mean pitch) and tonal
distance (1 - correlation of the bar's pitch-class histogram with the piece's key). The
curve is smoothed over 3 bars. The design notes put the climax near 70 % of the
duration; real tunes give the reference (docs/EVALUATION.md).
"""

from __future__ import annotations

import numpy as np
import symusic

from .keys import PROFILES, key_correlations
from .metrics import NoteArrays, as_tick_score, bar_grid


def tension_curve(score: symusic.Score) -> np.ndarray:
    """Tension per bar (mean 0 within the piece); empty bars carry the previous value."""
    score = as_tick_score(score)
    notes = NoteArrays.from_score(score)
    pitched = ~notes.drum
    onset, pitch = notes.onset[pitched], notes.pitch[pitched]
    end = int(max(notes.offset.max(), notes.onset.max() + 1))
    starts, _ = bar_grid(score, end)
    n = len(starts)
    bar = np.clip(np.searchsorted(starts, onset, side="right") - 1, 0, n - 1)
    density = np.bincount(bar, minlength=n).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        height = np.bincount(bar, weights=pitch, minlength=n) / density
    hists = np.bincount(bar * 12 + pitch % 12, minlength=n * 12).reshape(n, 12).astype(float)
    whole = hists.sum(0)
    best = int(np.argmax(key_correlations(whole))) if pitch.size else 0
    # Pearson correlation of every bar's histogram with the piece's key profile at once.
    centred = hists - hists.mean(1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1)
    profile = PROFILES[best]
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(norms > 0, centred @ profile / norms, 0.0)
    distance = np.where(density > 0, 1 - corr, np.nan)
    height = np.where(density > 0, height, np.nan)
    parts = []
    for x in (density, height, distance):
        x = _fill(x)
        sd = x.std()
        parts.append((x - x.mean()) / sd if sd > 1e-9 else np.zeros(n))
    curve = np.mean(parts, axis=0)
    if n >= 3:
        curve = np.convolve(np.pad(curve, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    return curve


def _fill(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    if np.isnan(x).all():
        return np.zeros_like(x)
    last = x[~np.isnan(x)][0]
    for i in range(len(x)):
        if np.isnan(x[i]):
            x[i] = last
        last = x[i]
    return x


def climax_position(curve: np.ndarray) -> float:
    """Where the highest tension falls, as a fraction of the piece (bar centre)."""
    return (int(np.argmax(curve)) + 0.5) / len(curve)


def resample(curve: np.ndarray, points: int = 50) -> np.ndarray:
    """The curve on `points` evenly spaced positions from 0 to 100 % of the piece."""
    x = (np.arange(len(curve)) + 0.5) / len(curve)
    return np.interp(np.linspace(0, 1, points), x, curve)
