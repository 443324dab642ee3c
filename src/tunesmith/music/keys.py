"""Keys: canonical names, tonic pitch classes, and estimation with Krumhansl-Kessler.

The Krumhansl-Schmuckler algorithm correlates a piece's pitch-class histogram with the
probe-tone profile of each of the 24 major and minor keys and picks the best match. It is
a few dot products, so it runs on every file of a corpus and every generated sample.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

# -- names: one spelling per pitch class and mode ----------------------------------------------
MAJOR_TONICS = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_TONICS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
KEYS: tuple[str, ...] = tuple(f"{t} major" for t in MAJOR_TONICS) + tuple(
    f"{t} minor" for t in MINOR_TONICS
)
PITCH_CLASS_OF = {
    "C": 0, "B#": 0, "C#": 1, "DB": 1, "D": 2, "D#": 3, "EB": 3, "E": 4, "FB": 4, "E#": 5,
    "F": 5, "F#": 6, "GB": 6, "G": 7, "G#": 8, "AB": 8, "A": 9, "A#": 10, "BB": 10, "B": 11,
    "CB": 11,
}  # fmt: skip
# Church modes fold onto major or minor by their third, which is what a key control can say.
MODE_TO_MAJOR_MINOR = {
    "major": "major", "ionian": "major", "lydian": "major", "mixolydian": "major",
    "minor": "minor", "aeolian": "minor", "dorian": "minor", "phrygian": "minor",
    "locrian": "minor",
}  # fmt: skip


def key_name(pitch_class: int, mode: str) -> str:
    """Canonical key name for a tonic pitch class (0 = C) and 'major' or 'minor'."""
    tonics = MAJOR_TONICS if mode == "major" else MINOR_TONICS
    if mode not in ("major", "minor"):
        raise ValueError(f"mode must be 'major' or 'minor', not {mode!r}")
    return f"{tonics[pitch_class % 12]} {mode}"


def key_pitch_class(key: str) -> tuple[int, str]:
    """(tonic pitch class, 'major'|'minor') of a canonical key name."""
    tonic, mode = key.split()
    return PITCH_CLASS_OF[tonic.upper()], mode


def transpose_key(key: str, semitones: int) -> str:
    """The key name after transposing by `semitones`."""
    pc, mode = key_pitch_class(key)
    return key_name(pc + semitones, mode)


# -- estimation ------------------------------------------------------------------------------
# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def _standardise(x: np.ndarray) -> np.ndarray:
    """Zero mean, unit norm along the last axis, so a dot product is Pearson's r."""
    x = x - x.mean(axis=-1, keepdims=True)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


# Standardised profiles of the 24 keys. Row k < 12: major key with tonic k; row 12 + k: minor key with tonic k.
PROFILES = _standardise(
    np.stack([np.roll(KK_MAJOR, k) for k in range(12)] + [np.roll(KK_MINOR, k) for k in range(12)])
)
KEY_ORDER = [key_name(k, "major") for k in range(12)] + [key_name(k, "minor") for k in range(12)]


def key_correlations(histogram: ArrayLike) -> np.ndarray:
    """Pearson correlation of a 12-bin pitch-class histogram with all 24 key profiles.

    Index k < 12 is the major key on pitch class k, 12 + k the minor key on k. A flat
    histogram (no tonal information) correlates 0 with every key.
    """
    h = np.asarray(histogram, dtype=np.float64).reshape(12)
    centred = h - h.mean()
    norm = np.linalg.norm(centred)
    if norm == 0.0:
        return np.zeros(24)
    return PROFILES @ (centred / norm)


def estimate_key(histogram: ArrayLike) -> tuple[str, float] | None:
    """Most likely key of a pitch-class histogram: (canonical name, correlation).

    Returns None for a flat or empty histogram, where no key is more likely than another.
    Ties go to the first key in C, Db, ... major then C, C#, ... minor order.
    """
    r = key_correlations(histogram)
    if not r.any():
        return None
    best = int(np.argmax(r))
    return KEY_ORDER[best], float(r[best])
