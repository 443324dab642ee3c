"""Requested voices keep a real part's pace while decoding (grammar.thin_slots), and a
generated duet gives both instruments real parts (music/parts.py)."""

from __future__ import annotations

import pytest

from tunesmith.generate.grammar import Grammar
from tunesmith.generate.session import copy_state
from tunesmith.music.parts import real_programs


@pytest.fixture(scope="module")
def composer(tiny_run):
    from tunesmith import Composer

    return Composer.load(tiny_run)


def _play(state, g, slot: int) -> None:
    pitch = next(i for i, k in enumerate(g.type_of) if k == "Pitch")
    state.update(g.program_id[slot])
    state.update(pitch)


def test_a_voice_silent_in_most_bars_is_thin(composer):
    g = Grammar(composer.tokenizer)
    state = g.new_state("4/4", [40, 42], 8, 8)
    state.update(g.bar_id)
    assert state.thin_slots() == (0, 1)  # nobody has played yet
    _play(state, g, 0)
    _play(state, g, 1)  # the second voice's only note
    fork = copy_state(state)
    for _ in range(2):
        state.update(g.bar_id)
        _play(state, g, 0)
    assert state.bar == 3
    assert state.thin_slots() == (1,)  # 1 bar of 3: behind half the bars
    assert [g.program_id[1]] == state.thin_program_ids()
    assert fork.played != state.played  # a fork keeps its own counts
    assert state.due_program_ids() == [g.program_id[1]]  # and not heard in this bar yet
    _play(state, g, 1)
    assert state.thin_slots() == (1,)  # 2 bars of 3, but 2 notes of the 3 due by bar 3
    assert state.due_program_ids() == []  # heard in this bar: no longer due here
    state.update(g.bar_id)
    assert g.program_id[1] in state.due_program_ids()  # a new bar: due again while thin
    state = fork
    for _ in range(2):
        state.update(g.bar_id)
        _play(state, g, 0)
        _play(state, g, 1)
        _play(state, g, 1)
    assert state.thin_slots() == () and state.due_program_ids() == []


def test_generated_duet_gives_both_instruments_real_parts(composer):
    from tunesmith.generate.sampling import SamplingConfig
    from tunesmith.render.piece import Piece

    controls = composer.controls_for("a duet", instruments="violin,cello", bars=8)
    real = 0
    for seed in range(4):
        res = composer.engine.generate(controls, "a duet", 1, SamplingConfig(seed=seed))[0]
        piece = Piece.from_tokens(composer.tokenizer, res.ids, controls, "a duet")
        real += len({40, 42} & real_programs(piece.score))
    assert real == 8, f"{real} of 8 requested parts are real"
