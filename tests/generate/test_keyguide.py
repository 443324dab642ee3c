"""The key guide: profile bias on pitch tokens, and a correction only while off-key."""

from __future__ import annotations

import torch

from tunesmith.generate.grammar import Grammar
from tunesmith.generate.keyguide import KeyGuide
from tunesmith.tokens.tokenizer import MusicTokenizer

GRAMMAR = Grammar(MusicTokenizer("REMI"))
TOK = GRAMMAR.tok


def _id(token: str) -> int:
    return TOK.token_id(token)


def _pitch_bias(guide: KeyGuide, row: int = 0) -> dict[int, float]:
    biased = guide.apply(torch.zeros(guide.gain.size, GRAMMAR.V))[row]
    return {p: float(biased[_id(f"Pitch_{60 + p}")]) for p in range(12)}


def _play(guide: KeyGuide, pitches, duration: str = "Duration_1.0.8") -> None:
    for p in pitches:
        guide.observe(0, _id(f"Pitch_{p}"))
        guide.observe(0, _id(duration))


def test_constant_part_follows_the_key_profile_and_leaves_structure_alone():
    guide = KeyGuide(GRAMMAR, "A minor", rows=2, strength=0.5)
    bias = _pitch_bias(guide)
    assert max(bias, key=bias.get) == 9  # the tonic, A
    assert bias[4] > bias[10]  # the fifth (E) over an out-of-key B-flat
    out = guide.apply(torch.zeros(2, GRAMMAR.V))
    assert out[:, _id("Bar_None")].abs().max() == 0
    assert (
        KeyGuide(GRAMMAR, "A minor", 1, strength=0.0).apply(torch.zeros(1, GRAMMAR.V)).abs().max()
        == 0
    )


def test_correction_grows_while_off_key_and_favours_what_tells_the_keys_apart():
    guide = KeyGuide(GRAMMAR, "A minor", rows=1, strength=0.0, step=1.0, max_gain=3.0, release=1.0)
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
