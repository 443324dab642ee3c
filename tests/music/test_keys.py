"""Key names and the key-finding panel on hand-made pitch-class histograms."""

from __future__ import annotations

import numpy as np
import pytest

from tunesmith.music.keys import (
    KEY_ORDER,
    KEYS,
    PANEL,
    PANEL_NAMES,
    PROFILES,
    estimate_key,
    key_correlations,
    key_panel,
    key_pitch_class,
    majority_key,
    profile_correlations,
    transpose_key,
)

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
HARMONIC_MINOR = (0, 2, 3, 5, 7, 8, 11)


def _histogram(tonic: int, scale: tuple[int, ...], triad: tuple[int, ...]) -> np.ndarray:
    """A scale played once in quarter notes, then its tonic triad held for a whole note
    and the tonic once more: the duration-weighted pitch classes of a clear tonal phrase."""
    h = np.zeros(12)
    for degree in scale:
        h[(tonic + degree) % 12] += 1.0
    for degree in triad:
        h[(tonic + degree) % 12] += 4.0
    h[tonic % 12] += 2.0
    return h


def major_histogram(tonic: int) -> np.ndarray:
    return _histogram(tonic, MAJOR_SCALE, (0, 4, 7))


def minor_histogram(tonic: int) -> np.ndarray:
    return _histogram(tonic, HARMONIC_MINOR, (0, 3, 7))


@pytest.mark.parametrize(
    ("histogram", "key"),
    [
        (major_histogram(0), "C major"),
        (minor_histogram(9), "A minor"),
        (major_histogram(6), "F# major"),
    ],
)
def test_every_profile_finds_a_clear_key(histogram, key):
    panel = key_panel(histogram)
    assert (
        set(panel)
        == set(PANEL_NAMES)
        == {
            "Krumhansl-Kessler",
            "Aarden-Essen",
            "Temperley-Kostka-Payne",
            "Bellman-Budge",
        }
    )
    assert panel == dict.fromkeys(PANEL_NAMES, key)
    assert majority_key(panel) == key


def test_krumhansl_kessler_in_the_panel_is_estimate_key():
    rng = np.random.default_rng(0)
    assert PANEL["Krumhansl-Kessler"] is PROFILES
    for _ in range(50):
        h = rng.random(12) * (rng.random(12) < 0.7)
        assert key_panel(h)["Krumhansl-Kessler"] == estimate_key(h)[0]
        np.testing.assert_allclose(profile_correlations(h), key_correlations(h))


@pytest.mark.parametrize("shift", range(12))
def test_the_panel_is_transposition_invariant(shift):
    for base, histogram in (("C major", major_histogram(0)), ("A minor", minor_histogram(9))):
        rng = np.random.default_rng(shift)
        noisy = histogram + rng.random(12) * 0.5  # not every profile agrees on noise alone
        before = key_panel(noisy)
        after = key_panel(np.roll(noisy, shift))
        for name in PANEL_NAMES:
            assert after[name] == transpose_key(before[name], shift)
        assert key_panel(np.roll(histogram, shift)) == dict.fromkeys(
            PANEL_NAMES, transpose_key(base, shift)
        )


def test_profiles_are_standardised_rows_in_key_order():
    for profiles in PANEL.values():
        assert profiles.shape == (24, 12)
        np.testing.assert_allclose(profiles.mean(axis=1), 0.0, atol=1e-12)
        np.testing.assert_allclose(np.linalg.norm(profiles, axis=1), 1.0)
        for row, key in enumerate(KEY_ORDER):
            tonic, _ = key_pitch_class(key)
            assert int(np.argmax(profiles[row])) in (tonic, (tonic + 7) % 12)
    assert sorted(KEY_ORDER) == sorted(KEYS)


def test_the_majority_rule():
    c, g, a, e = "C major", "G major", "A minor", "E minor"
    assert majority_key([c, c, c, c]) == c
    assert majority_key([c, c, c, g]) == c  # 3 of 4
    assert majority_key([c, c, g, a]) == c  # plurality 2-1-1
    assert majority_key([c, c, g, g]) is None  # a 2-2 split
    assert majority_key([c, g, a, e]) is None  # four different keys
    assert majority_key([c, None, None, None]) == c  # None is not a vote
    assert majority_key([None, None, None, None]) is None
    assert majority_key([]) is None
    assert majority_key({"a": a, "b": a, "c": c, "d": None}) == a  # a key_panel result


@pytest.mark.parametrize("histogram", [np.zeros(12), np.ones(12), np.full(12, 3.5)])
def test_no_tonal_information_gives_no_key(histogram):
    assert key_panel(histogram) == dict.fromkeys(PANEL_NAMES, None)
    assert majority_key(key_panel(histogram)) is None
    assert not profile_correlations(histogram).any()


def test_key_signatures_as_midi_writes_them():
    from tunesmith.music.keys import KEYS, key_signature

    assert key_signature("D major") == (2, 0) and key_signature("C minor") == (-3, 1)
    assert key_signature("F major") == (-1, 0) and key_signature("A minor") == (0, 1)
    assert key_signature("Eb minor") == (-6, 1) and key_signature("F# major") == (6, 0)
    for k in KEYS:
        sharps, minor = key_signature(k)
        assert -7 <= sharps <= 7 and minor == int(k.endswith("minor"))


def test_a_signature_names_its_key_back():
    from tunesmith.music.keys import KEYS, key_of_signature, key_signature

    assert all(key_of_signature(*key_signature(k)) == k for k in KEYS)
    assert key_of_signature(-7, 0) == key_of_signature(5, 0) == "B major"  # Cb spelt B
