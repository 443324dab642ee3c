"""Keys: canonical names, tonic pitch classes, and estimation with Krumhansl-Kessler.

The Krumhansl-Schmuckler algorithm correlates a piece's pitch-class histogram with the
probe-tone profile of each of the 24 major and minor keys and picks the best match. It is
a few dot products, so it runs on every file of a corpus and every generated sample.

`key_panel` runs the same algorithm with four published profiles (Krumhansl-Kessler and
three corpus-derived ones) and `majority_key` reads their verdicts: a key that only the
Krumhansl-Kessler profile hears is weaker evidence than one the whole panel agrees on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

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


def key_signature(key: str) -> tuple[int, int]:
    """(sharps, minor) of a key's signature, as MIDI writes it: sharps > 0, flats < 0, and
    minor = 1 for a minor key ("D major" -> (2, 0), "C minor" -> (-3, 1))."""
    pc, mode = key_pitch_class(key)
    major_pc = pc if mode == "major" else (pc + 3) % 12
    fifths = (major_pc * 7) % 12
    tonic = key.split()[0]
    if fifths > 6 or (fifths == 6 and "b" in tonic[1:]):  # Gb major / Eb minor: flats
        fifths -= 12
    return fifths, int(mode == "minor")


def key_of_signature(sharps: int, minor: int) -> str:
    """The key a MIDI key signature names (the inverse of `key_signature`)."""
    major_pc = (int(sharps) * 7) % 12
    return key_name(major_pc - 3 if minor else major_pc, "minor" if minor else "major")


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


# -- a panel of key-finding profiles ---------------------------------------------------------
# Published major/minor profiles, tonic first, as music21 10.x has them in
# music21/analysis/discrete.py (classes AardenEssen, TemperleyKostkaPayne, BellmanBudge);
# independent public key-finding implementations carry the same values.
# Aarden (2003): note frequencies in the Essen folksong collection.
AARDEN_MAJOR = np.array(
    [17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587,
     0.291248, 22.062, 0.145624, 8.15494, 0.232998, 4.95122]
)  # fmt: skip
AARDEN_MINOR = np.array(
    [18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362,
     0.702494, 18.6161, 4.56621, 1.93186, 7.37619, 1.75623]
)  # fmt: skip
# Temperley (2007, "Music and Probability"): the Kostka-Payne textbook corpus, the share of
# segments in which each scale degree occurs.
TKP_MAJOR = np.array(
    [0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400]
)
TKP_MINOR = np.array(
    [0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330]
)
# Bellman (2005): chord-tone frequencies in a corpus of common-practice music (after Budge 1943).
BB_MAJOR = np.array([16.80, 0.86, 12.95, 1.41, 13.49, 11.93, 1.25, 20.28, 1.80, 8.04, 0.62, 10.57])
BB_MINOR = np.array([18.16, 0.69, 12.99, 13.34, 1.07, 11.15, 1.38, 21.07, 7.49, 1.53, 0.92, 10.21])


def key_profiles(major: ArrayLike, minor: ArrayLike) -> np.ndarray:
    """The 24 standardised key profiles (rows in KEY_ORDER) of a major and a minor profile."""
    ma = np.asarray(major, dtype=np.float64).reshape(12)
    mi = np.asarray(minor, dtype=np.float64).reshape(12)
    return _standardise(
        np.stack([np.roll(ma, k) for k in range(12)] + [np.roll(mi, k) for k in range(12)])
    )


#: The panel: name -> 24 standardised key profiles (rows in KEY_ORDER order).
PANEL: dict[str, np.ndarray] = {
    "Krumhansl-Kessler": PROFILES,
    "Aarden-Essen": key_profiles(AARDEN_MAJOR, AARDEN_MINOR),
    "Temperley-Kostka-Payne": key_profiles(TKP_MAJOR, TKP_MINOR),
    "Bellman-Budge": key_profiles(BB_MAJOR, BB_MINOR),
}
PANEL_NAMES: tuple[str, ...] = tuple(PANEL)


def profile_correlations(histogram: ArrayLike, profiles: np.ndarray = PROFILES) -> np.ndarray:
    """Pearson correlation of a 12-bin histogram with each of 24 standardised profiles
    (`key_correlations` with another profile set, e.g. a value of PANEL)."""
    h = np.asarray(histogram, dtype=np.float64).reshape(12)
    centred = h - h.mean()
    norm = np.linalg.norm(centred)
    if norm == 0.0:
        return np.zeros(24)
    return np.asarray(profiles @ (centred / norm))


def key_panel(histogram: ArrayLike) -> dict[str, str | None]:
    """Each panel profile's key estimate of a pitch-class histogram (name -> key or None).

    Same method as `estimate_key` (best Pearson correlation over the 24 rotated profiles,
    ties to the first key in KEY_ORDER); None for a flat or empty histogram.
    """
    out: dict[str, str | None] = {}
    for name, profiles in PANEL.items():
        r = profile_correlations(histogram, profiles)
        out[name] = KEY_ORDER[int(np.argmax(r))] if r.any() else None
    return out


def majority_key(estimates: Mapping[str, str | None] | Iterable[str | None]) -> str | None:
    """The panel's verdict on a set of key estimates (a `key_panel` result or a list).

    The key named most often wins when no other key is named as often: with the four
    profiles, a key that 3 or 4 of them name always wins, 2-1-1 goes to the pair, and
    a 2-2 split or four different keys give None. None estimates (no tonal information)
    are not votes; with no votes at all the verdict is None.
    """
    votes = estimates.values() if isinstance(estimates, Mapping) else estimates
    counts = Counter(k for k in votes if k is not None).most_common(2)
    if not counts or (len(counts) > 1 and counts[1][1] == counts[0][1]):
        return None
    return counts[0][0]
