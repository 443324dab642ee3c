"""The key guide: profile bias on pitch tokens, and a correction only while off-key."""

from __future__ import annotations

import numpy as np

from tunesmith.generate.grammar import Grammar
from tunesmith.generate.keyguide import KeyGuide
from tunesmith.tokens.tokenizer import MusicTokenizer

GRAMMAR = Grammar(MusicTokenizer("REMI"))
TOK = GRAMMAR.tok


def _id(token: str) -> int:
    return TOK.token_id(token)


def _pitch_bias(guide: KeyGuide, row: int = 0) -> dict[int, float]:
    biased = guide.apply(np.zeros((guide.gain.size, GRAMMAR.V), np.float32))[row]
    return {p: float(biased[_id(f"Pitch_{60 + p}")]) for p in range(12)}


def _play(guide: KeyGuide, pitches, duration: str = "Duration_1.0.8") -> None:
    for p in pitches:
        guide.observe(0, _id(f"Pitch_{p}"))
        guide.observe(0, _id(duration))


def test_constant_part_follows_the_key_profile_and_leaves_structure_alone():
    guide = KeyGuide(GRAMMAR, "A minor", rows=2, strength=0.5, panel=False, panel_base=False)
    bias = _pitch_bias(guide)
    assert max(bias, key=bias.get) == 9  # the tonic, A
    assert bias[4] > bias[10]  # the fifth (E) over an out-of-key B-flat
    out = guide.apply(np.zeros((2, GRAMMAR.V), np.float32))
    assert np.abs(out[:, _id("Bar_None")]).max() == 0
    silent = KeyGuide(GRAMMAR, "A minor", 1, strength=0.0)
    assert np.abs(silent.apply(np.zeros((1, GRAMMAR.V), np.float32))).max() == 0


def test_correction_grows_while_off_key_and_favours_what_tells_the_keys_apart():
    guide = KeyGuide(
        GRAMMAR, "A minor", rows=1, strength=0.0, step=1.0, max_gain=3.0, release=1.0, panel=False
    )
    c_major = [60, 64, 67, 72, 65, 62, 71, 60, 67, 64]  # heard as C major, not A minor
    _play(guide, c_major)
    assert guide.gain[0] == 3.0  # grew at every note from the 4th on, capped
    bias = _pitch_bias(guide)
    assert bias[9] > 0 and bias[8] > 0  # A and the leading tone G# pulled up
    assert bias[0] < 0 and bias[5] < 0  # C and F pushed down
    _play(guide, [69, 64, 69, 68, 69, 72, 69, 64, 69, 68, 69, 71, 69], "Duration_2.0.8")
    assert guide.gain[0] == 0.0  # in A minor again: the correction has let go


def test_without_a_step_the_guide_never_corrects():
    guide = KeyGuide(GRAMMAR, "A minor", rows=1, strength=0.5, step=0.0)
    _play(guide, [60, 64, 67, 72, 65, 62, 71, 60])
    assert guide.gain[0] == 0.0


def test_panel_mode_corrects_while_the_panel_majority_is_elsewhere():
    from tunesmith.music.keys import key_panel

    # Krumhansl-Kessler hears G major; Aarden-Essen A minor, Temperley C major: KK alone
    # is content, the panel judge is not (3 of 4 must name the key).
    line = [72, 62, 64, 71, 76, 62, 79, 60, 62, 69]
    hist = [0.0] * 12
    for p in line:
        hist[p % 12] += 1.0
    panel = key_panel(hist)
    assert panel["Krumhansl-Kessler"] == "G major"
    assert sum(v == "G major" for v in panel.values()) == 2
    kk_only = KeyGuide(GRAMMAR, "G major", rows=1, strength=0.0, panel=False)
    judged = KeyGuide(GRAMMAR, "G major", rows=1, strength=0.0)  # the panel: the default
    _play(kk_only, line)
    _play(judged, line)
    # KK's correction is letting go (it agrees at the end); the panel's still grows
    assert judged.gain[0] > kk_only.gain[0]
    bias = _pitch_bias(judged)
    assert bias[6] > 0  # F#, which tells G major from C major and A minor, pulled up


def test_panel_base_is_the_mean_of_the_panel_profiles():
    guide = KeyGuide(GRAMMAR, "C major", rows=1, strength=1.0, panel=True, panel_base=True)
    bias = _pitch_bias(guide)
    assert max(bias, key=bias.get) in (0, 7)  # tonic or dominant
    assert min(bias.values()) < -1.0  # chromatic notes are rare in every profile
