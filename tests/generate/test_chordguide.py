"""The chord guide: which chord applies where, how strongly, and that it changes the music."""

from __future__ import annotations

import numpy as np
import pytest

from tunesmith.conditioning.chords import parse_progression
from tunesmith.generate.chordguide import ChordGuide
from tunesmith.generate.grammar import Grammar
from tunesmith.generate.sampling import SamplingConfig
from tunesmith.music.chords import analyse_chords


@pytest.fixture(scope="module")
def composer(tiny_run):
    from tunesmith import Composer

    return Composer.load(tiny_run)


def test_chord_at_bar_and_position(composer):
    g = Grammar(composer.tokenizer)
    guide = ChordGuide(g, parse_progression("C G | Am"))
    assert guide.chord_at(0, 0, 32).symbol == "C"
    assert guide.chord_at(0, 16, 32).symbol == "G"
    assert guide.chord_at(1, 31, 32).symbol == "Am"
    assert guide.chord_at(2, 0, 32).symbol == "C"  # the progression repeats


def test_bias_favours_chord_tones_only_before_a_pitch(composer):
    g = Grammar(composer.tokenizer)
    guide = ChordGuide(g, parse_progression("C"), bass_slot=1)
    state = g.new_state("4/4", [0, 42], 2, 2)
    for tid in (g.bar_id, g.timesig_id["4/4"], g.position_id[0], g.program_id[1]):
        state.update(tid)
    logits = np.zeros((1, g.V), np.float32)
    out = guide.apply(logits, [state])[0]
    c, e, d = (composer.tokenizer.token_id(f"Pitch_{p}") for p in (48, 52, 50))
    assert out[c] > out[e] > 0 > out[d]  # the bass (slot 1) is pulled to the root most
    assert out[composer.tokenizer.bar_id] == 0  # structure tokens are untouched
    state.update(c)  # after a pitch the next token is a Duration: no bias
    assert np.array_equal(guide.apply(logits, [state]), logits)


def test_a_requested_chord_is_completed_within_its_bar(composer):
    g = Grammar(composer.tokenizer)
    tok = composer.tokenizer
    plain = ChordGuide(g, parse_progression("Am"))
    complete = ChordGuide(g, parse_progression("Am"), complete=True)
    state = g.new_state("4/4", [0], 1, 2)
    for tid in (g.bar_id, g.timesig_id["4/4"], g.position_id[0], g.program_id[0]):
        state.update(tid)
    a, c, e = (tok.token_id(f"Pitch_{p}") for p in (69, 72, 76))
    for tid in (a, tok.ids_with_prefix("Duration_")[0], g.position_id[8], g.program_id[0], e):
        state.update(tid)  # A and E sounded: the third (C) is what the bar still lacks
    assert state.bar_pcs == {9, 4}
    logits = np.zeros((1, g.V), np.float32)
    state.update(tok.ids_with_prefix("Duration_")[0])
    state.update(g.position_id[16])
    state.update(g.program_id[0])
    before, after = plain.apply(logits, [state])[0], complete.apply(logits, [state])[0]
    assert after[c] > after[a] == before[a]  # the unsounded third gains; sounded tones do not
    state.update(g.bar_id)
    assert state.bar_pcs == frozenset()  # a new bar starts from nothing


def test_generation_with_chords_follows_them_more(composer):
    prog = parse_progression("C F G C")
    controls = composer.controls_for("a chorale", bars=4, instruments="choir,choir", key="C major")
    follow = {}
    for name, chords in (("without", None), ("with", prog)):
        hits = 0
        for seed in range(3):
            res = composer.engine.generate(
                controls, "a chorale", 1, SamplingConfig(seed=seed), chords=chords
            )
            from tunesmith.render.piece import Piece

            piece = Piece.from_tokens(composer.tokenizer, res[0].ids, controls, "a chorale")
            spans = analyse_chords(piece.score)
            hits += sum(prog[s.bar % 4][0].same_harmony(s.chord) for s in spans[:4])
        follow[name] = hits
    assert follow["with"] > follow["without"]
    assert follow["with"] >= 8  # of 12 bars, even for the 30-step tiny model


def test_a_cadence_frame_states_the_key_and_closes_on_it(composer):
    from tunesmith.generate.engine import cadence_frame

    frame = cadence_frame("A minor", 6)
    assert [[c.symbol for c in bar] for bar in frame] == [["Am"], [], [], [], ["E7"], ["Am"]]
    close = cadence_frame("A minor", 6, opening=False)  # SamplingConfig(cadence="close")
    assert [[c.symbol for c in bar] for bar in close] == [[], [], [], [], ["E7"], ["Am"]]
    g = Grammar(composer.tokenizer)
    guide = ChordGuide(g, frame)
    assert guide.chord_at(2, 0, 32) is None  # a free bar: no bias
    state = g.new_state("4/4", [0], 6, 6)
    for _ in range(3):
        state.update(g.bar_id)
        state.update(g.timesig_id["4/4"])
    for tid in (g.position_id[0], g.program_id[0]):
        state.update(tid)
    logits = np.zeros((1, g.V), np.float32)
    assert np.array_equal(guide.apply(logits, [state]), logits)
