"""The reprise gate: theme alignment, the mixture, persistence, and its use in generation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tunesmith.api import Composer
from tunesmith.conditioning.controls import Controls
from tunesmith.data.sections import _similarity, bar_contents
from tunesmith.errors import CheckpointError
from tunesmith.generate.reprise import (
    KINDS,
    N_FEATURES,
    CopyGate,
    Reprise,
    ThemeAligner,
    key_shift,
    mix,
    token_kinds,
    transpose_theme,
)
from tunesmith.generate.sampling import SamplingConfig, log_softmax
from tunesmith.tokens.tokenizer import MusicTokenizer

BAR = 1
WIDTH = N_FEATURES


def _feed(aligner, tokens):
    refs = []
    for t in tokens:
        aligner.observe(t)
        refs.append(aligner.reference)
    return refs


def test_aligner_names_the_theme_token_at_the_same_place_bar_by_bar():
    theme = [BAR, 10, 11, BAR, 20, 21, 22]
    al = ThemeAligner(theme, BAR)
    assert al.reference is None  # before the section's first Bar nothing is aligned
    # Bar 0 of the section follows theme bar 0; past its end the reference is the next
    # Bar, then nothing; bar 1 follows theme bar 1; bar 2 wraps round to theme bar 0.
    refs = _feed(al, [BAR, 10, 11, 12, 13, BAR, 20, BAR, 10])
    assert refs == [10, 11, BAR, None, None, 20, 21, 10, 11]


def test_hit_means_follow_the_references():
    theme = [BAR, 10, 11, 12, 13, 14, 15]
    copying, wandering = ThemeAligner(theme, BAR), ThemeAligner(theme, BAR)
    _feed(copying, theme)
    _feed(wandering, [BAR, 50, 51, 52, 53, 54, 55])
    assert copying.fast > 0.9 and copying.slow > copying.fast * 0.5 > wandering.slow
    assert wandering.fast < 0.1


def test_mix_moves_the_gate_share_onto_the_reference():
    logp = log_softmax(np.array([[1.0, 2.0, 0.5, -1.0], [0.0, 0.0, 3.0, 1.0]]))
    out = mix(logp.copy(), np.array([2, 0]), np.array([0.3, 0.9]))
    p, q = np.exp(logp), np.exp(out)
    assert np.allclose(q.sum(-1), np.ones(2))
    assert math.isclose(float(q[0, 2]), 0.7 * float(p[0, 2]) + 0.3, rel_tol=1e-6)
    assert np.allclose(q[0, [0, 1, 3]], 0.7 * p[0, [0, 1, 3]])
    assert math.isclose(float(q[1, 0]), 0.1 * float(p[1, 0]) + 0.9, rel_tol=1e-6)


def test_gate_saves_loads_and_rejects_bad_files(tmp_path):
    gate = CopyGate(["A", "B"], np.arange(2 * WIDTH, dtype=float).reshape(2, WIDTH) / 10)
    gate.save(tmp_path)
    back = CopyGate.load(tmp_path)
    assert back.labels == ["A", "B"] and np.allclose(back.weights, gate.weights)
    assert CopyGate.load(tmp_path / "nothing") is None
    (tmp_path / "reprise.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt"):
        CopyGate.load(tmp_path)
    (tmp_path / "reprise.json").write_text('{"format": "tunesmith-reprise/1", "kinds": ["Bar"],'
                                           ' "labels": ["A"], "weights": [[0]]}')  # fmt: skip
    with pytest.raises(CheckpointError, match="not a reprise gate"):
        CopyGate.load(tmp_path)


def _gate(a_bias: float, b_bias: float) -> CopyGate:
    w = np.zeros((2, WIDTH))
    w[:, 0] = (a_bias, b_bias)
    return CopyGate(["A", "B"], w)


def test_rows_without_a_reference_are_left_alone():
    tok = MusicTokenizer("REMI")
    theme = [tok.bar_id, tok.token_id("Position_0"), tok.token_id("Pitch_60")]
    rep = Reprise(_gate(0.0, 0.0), "A", theme, tok, rows=2)
    rep.observe(0, tok.bar_id)  # row 0 is inside the section, row 1 not yet
    logits = np.random.default_rng(0).standard_normal((2, tok.vocab_size)).astype(np.float32)
    new, base = rep.apply(logits, logits)
    assert np.array_equal(new[1], logits[1]) and np.array_equal(base[1], logits[1])
    gained = np.exp(log_softmax(new[0]))[theme[1]] - np.exp(log_softmax(logits[0]))[theme[1]]
    assert gained > 0.2  # g = sigmoid(0) = 0.5 of the mass, minus what it had
    assert token_kinds(tok)[tok.bar_id] == KINDS.index("Bar")


@pytest.fixture(scope="module")
def composer(tiny_run):
    return Composer.load(tiny_run)


def test_section_a_brings_the_theme_back_and_b_does_not(composer):
    """A gate that always copies under A and never under B, on a real (tiny) model."""
    tok = composer.tokenizer
    controls = Controls(meter="4/4", instruments=[40], bars=4, section="start")
    theme_res = composer.engine.generate(controls, None, 1, SamplingConfig(seed=3))[0]
    theme = theme_res.ids[theme_res.music_start : -1]
    composer.engine.gate = _gate(30.0, -30.0)
    try:
        sims = {}
        for label in "AB":
            c = Controls(meter="4/4", instruments=[40], bars=8, section=label)
            res = composer.engine.generate(
                c, None, 1, SamplingConfig(seed=5), prompt_music=theme, theme=theme
            )[0]
            music = np.asarray(res.ids[res.music_start :])
            bars = bar_contents(tok, music, np.flatnonzero(music == tok.bar_id))
            sims[label] = _similarity(bars[4:8], bars[:4])
        # Without a theme, Section_A generates as before (the gate has nothing to offer).
        plain = composer.engine.generate(c, None, 1, SamplingConfig(seed=5), prompt_music=theme)
    finally:
        composer.engine.gate = None
    unguided = composer.engine.generate(c, None, 1, SamplingConfig(seed=5), prompt_music=theme)
    assert sims["A"] > 0.9 > 0.5 > sims["B"]
    assert plain[0].ids == unguided[0].ids


def test_a_theme_is_moved_into_the_section_key():
    assert key_shift("C major", "G major") == -5
    assert key_shift("G major", "D major") == -5
    assert key_shift("A minor", "C major") == 0  # relative keys share their notes
    assert key_shift("C major", "E minor") == -5  # E minor is G major's relative
    assert key_shift(None, "C major") == 0
    tok = MusicTokenizer("REMI")
    theme = [tok.bar_id, tok.token_id("Position_0"), tok.token_id("Pitch_60"),
             tok.token_id("Pitch_108")]  # fmt: skip
    moved = transpose_theme(theme, tok, 2)
    assert tok.tokens(moved) == ["Bar_None", "Position_0", "Pitch_62", "Pitch_108"]


def test_continue_under_a_brings_the_input_back(composer, tmp_path):
    from tunesmith.errors import BadInputError

    tok = composer.tokenizer
    theme = composer.generate("a tune", bars=4, instruments=[40], meter="4/4", seed=3)
    theme.save(tmp_path / "theme.mid")
    composer.engine.gate = _gate(30.0, -30.0)
    try:
        sims = {}
        for label in "AB":
            piece = composer.continue_midi(tmp_path / "theme.mid", 8, seed=5, section=label)
            music = np.asarray(piece.tokens)
            bars = bar_contents(tok, music, np.flatnonzero(music == tok.bar_id))
            sims[label] = _similarity(bars[4:8], bars[:4])
        with pytest.raises(BadInputError, match="unknown section"):
            composer.continue_midi(tmp_path / "theme.mid", 8, section="C")
    finally:
        composer.engine.gate = None
    assert sims["A"] > 0.9 > 0.5 > sims["B"]


def test_continue_cli_rejects_an_unknown_section(tiny_run, tmp_path):
    from tests.conftest import assert_one_line_error, run_cli

    theme = tmp_path / "t.mid"
    Composer.load(tiny_run).generate("a tune", bars=2, seed=1).save(theme)
    res = run_cli("continue", theme, "-o", tmp_path / "o.mid", "--bars", 4, "--section", "C",
                  "--model", tiny_run)  # fmt: skip
    assert_one_line_error(res, "unknown section")
    assert not (tmp_path / "o.mid").exists()
