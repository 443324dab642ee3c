"""The voice-leading guide: what it penalises for a free voice's next pitch, and that
harmonizing with it keeps the melody and writes fewer faults."""

from __future__ import annotations

import numpy as np

from tunesmith.generate.grammar import Grammar
from tunesmith.generate.voicing import CROSSING, PARALLEL, RANGE, VoiceGuide
from tunesmith.tokens.tokenizer import MusicTokenizer

GRAMMAR = Grammar(MusicTokenizer("REMI"))
TOK = GRAMMAR.tok


def _row(*names: str) -> list[int]:
    return [TOK.token_id(n) for n in names]


def _note(slot: int, pitch: int) -> tuple[str, ...]:
    return (f"Program_{slot}", f"Pitch_{pitch}", "Duration_1.0.8")


def _penalties(guide: VoiceGuide, row: list[int], slot: int) -> dict[int, float]:
    pen = guide.penalty(row, slot)
    return {int(p): float(v) for p, v in zip(guide.pitches, pen, strict=True)}


# Soprano C5 over alto F4 (a fifth), then the soprano steps up to D5: the alto's turn.
ROW = _row(
    "Bar_None", "TimeSig_4/4", "Position_0", *_note(0, 72), *_note(1, 65),
    "Position_8", *_note(0, 74), "Program_1",
)  # fmt: skip


def test_parallel_fifths_and_crossings_are_penalised_for_the_voice_being_written():
    guide = VoiceGuide(GRAMMAR, [0, 1, 2, 3], free=[1, 2, 3])
    pen = _penalties(guide, ROW, 1)
    assert pen[67] >= PARALLEL  # G4 under D5: the fifth again, both voices rising
    assert pen[65] == 0 and pen[69] == 0  # F4 held (oblique) or A4 (a fourth) are fine
    assert pen[76] >= CROSSING  # E5 would cross above the soprano's D5
    assert pen[50] >= RANGE  # D3 is far below an alto's range


def test_without_order_only_parallels_count():
    guide = VoiceGuide(GRAMMAR, [0, 1], free=[1], ordered=False)
    pen = _penalties(guide, ROW, 1)
    assert pen[67] >= PARALLEL and pen[76] == 0 and pen[50] == 0


def test_kept_voices_and_other_tokens_are_left_alone():
    guide = VoiceGuide(GRAMMAR, [0, 1, 2, 3], free=[1, 2, 3])
    state = GRAMMAR.new_state("4/4", [0, 1, 2, 3], 2, 2)
    for t in ROW:
        state.update(t)
    logits = np.zeros((1, GRAMMAR.V), np.float32)
    out = guide.apply(logits, [state], [ROW])
    assert out[0, TOK.token_id("Pitch_67")] < 0 and out[0, TOK.token_id("Pitch_69")] == 0
    assert out[0, TOK.bar_id] == 0
    soprano_turn = ROW[:-1] + _row("Program_0")
    state = GRAMMAR.new_state("4/4", [0, 1, 2, 3], 2, 2)
    for t in soprano_turn:
        state.update(t)
    assert np.array_equal(guide.apply(logits, [state], [soprano_turn]), logits)  # slot 0 is kept
    assert np.all(guide.penalty(_row("Bar_None"), 2) >= 0)
