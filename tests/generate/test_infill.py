"""Model v2 at generation: the chord per bar, infill contexts in the window, bar infill."""

from __future__ import annotations

import pytest
import symusic
from tests.conftest import make_score

from tunesmith.conditioning.controls import Controls
from tunesmith.errors import BadInputError
from tunesmith.generate.engine import Engine
from tunesmith.generate.parts import close_seams, given_parts_context, infill_bars
from tunesmith.generate.sampling import SamplingConfig
from tunesmith.model.transformer import MusicTransformer
from tunesmith.music.chords import Chord
from tunesmith.render.piece import Piece
from tunesmith.tokens.layouts import harmony_chord, harmony_id
from tunesmith.tokens.tokenizer import MusicTokenizer


@pytest.fixture(scope="module")
def engine(tiny_run_v2):
    folder = tiny_run_v2 / "model"
    return Engine(MusicTransformer.load(folder), MusicTokenizer.load(folder))


def _bars(tok, ids):
    out = []
    for t in ids:
        if t == tok.bar_id:
            out.append([])
        if out:
            out[-1].append(t)
    return out


def test_every_generated_bar_states_a_chord_and_a_request_writes_it(engine):
    tok = engine.tok
    controls = Controls(meter="4/4", bars=4, instruments=[52, 52])
    wanted = [[Chord(0, "maj")], [Chord(9, "min")], [Chord(5, "maj")], [Chord(7, "7")]]
    for chords in (None, wanted):
        r = engine.generate(controls, "", 1, SamplingConfig(seed=2), chords=chords)[0]
        bars = _bars(tok, r.ids[r.music_start :])
        assert len(bars) == 4
        for b, bar in enumerate(bars):
            assert tok.token(bar[2]).startswith("Harmony_")  # Bar TimeSig Harmony ...
            if chords:
                assert harmony_chord(tok, bar[2]) == chords[b][0]


def test_the_window_carries_the_context_from_its_first_bar(engine):
    tok = engine.tok
    asked: list[int] = []

    def context(first_bar: int) -> list[int]:
        asked.append(first_bar)
        return [tok.token_id("Infill_part"), tok.token_id("Infill_begin")]

    prefix = tok.prefix_ids(Controls(bars=40))
    bar = [tok.bar_id, tok.token_id("TimeSig_4/4"), harmony_id(tok, None)]
    note = [tok.token_id("Position_0"), tok.token_id("Program_0"), tok.token_id("Pitch_60")]
    row = (bar + note * 12) * 20
    short = engine._window(prefix, Controls(bars=40), row[:30], 40, context)
    assert short == prefix + context(0) + row[:30]
    long = engine._window(prefix, Controls(bars=40), row, 40, context)
    assert len(long) < engine.cfg.block_size
    assert asked[-1] > 0  # asked again from the window's first bar
    at = long.index(tok.token_id("Infill_begin"))
    assert long[at + 1] == tok.bar_id and long[at - 1] == tok.token_id("Infill_part")


def test_given_parts_context_lists_the_kept_voices_from_a_bar(engine):
    tok = engine.tok
    score = make_score(0, (4, 4), voices=3, bars=4, programs=[52, 52, 52], seed=1)
    ids = tok.encode_music(score).ids.tolist()
    ctx = given_parts_context(engine, ids, [0])
    assert ctx is not None
    first, last = ctx(0), ctx(3)
    room = engine.cfg.block_size // 4
    assert 1 <= tok.tokens(first).count("Bar_None") <= 4 and len(first) <= room
    assert tok.tokens(last).count("Bar_None") == 1  # from bar 4 on: the last bar only
    assert {t for t in tok.tokens(first) if t.startswith("Program_")} == {"Program_0"}
    soprano = [n.pitch for n in score.tracks[0].notes if n.time >= 3 * 4 * 480]
    assert [int(t.split("_")[1]) for t in tok.tokens(last) if t.startswith("Pitch_")] == soprano


def test_bar_infill_keeps_every_other_bar_exactly(engine):
    tok = engine.tok
    score = make_score(2, (4, 4), voices=2, bars=8, programs=[40, 42], seed=5)
    req = infill_bars(engine, score, 3, 5, SamplingConfig(seed=4), n=2)
    assert (req.first, req.last) == (3, 5)
    original = _bars(tok, tok.encode_music(score).ids.tolist())
    for r in req.results:
        assert r.ids[-1] == tok.eos_id
        bars = _bars(tok, r.ids[r.music_start : -1])
        assert len(bars) == 8
        strip = lambda bar: [t for t in bar if not tok.token(t).startswith("Harmony_")]  # noqa: E731
        kept = [strip(b) for i, b in enumerate(bars) if not 2 <= i <= 4]
        assert kept == [b for i, b in enumerate(original) if not 2 <= i <= 4]
        piece = Piece.from_tokens(tok, r.ids, req.controls)
        close_seams(piece.score, 3, 5)
        end_of_hole = 5 * 4 * piece.score.tpq
        for t in piece.score.tracks:
            for n in t.notes:
                if 2 * 4 * piece.score.tpq <= n.time < end_of_hole:
                    assert n.time + n.duration <= end_of_hole


def test_bar_infill_refuses_what_it_cannot_do(engine, tiny_run):
    score = make_score(2, (4, 4), voices=2, bars=4, programs=[40, 42], seed=5)
    with pytest.raises(BadInputError, match="outside the piece, which has 4 bars"):
        infill_bars(engine, score, 3, 6, SamplingConfig(seed=1))
    v1 = Engine(MusicTransformer.load(tiny_run / "model"), MusicTokenizer.load(tiny_run / "model"))
    with pytest.raises(BadInputError, match="trained without infill"):
        infill_bars(v1, score, 1, 2, SamplingConfig(seed=1))
    with pytest.raises(BadInputError, match="no notes"):
        infill_bars(engine, symusic.Score(480), 1, 1, SamplingConfig(seed=1))


def test_close_seams_cuts_notes_that_hang_into_kept_bars():
    score = make_score(0, (4, 4), voices=1, bars=4, programs=[0], seed=1)
    note = score.tracks[0].notes[5]  # in bar 2
    note.duration = 4 * 480 * 2  # held two bars
    assert close_seams(score, 2, 2) >= 1
    assert note.time + note.duration <= 2 * 4 * 480


def test_bars_written_anew_take_the_meter_the_piece_gives_them(engine):
    """A hole inside the 3/4 part of a piece that began in 4/4 is written in 3/4 (the first
    bar's meter would make the new bars longer than the ones they replace)."""
    g = engine.grammar
    score = make_score(2, (4, 4), voices=1, bars=8, programs=[73], seed=5)
    score.time_signatures.append(symusic.TimeSignature(4 * 4 * score.tpq, 3, 4))  # bar 5 on
    meters = g.bar_meters(engine.tok.encode_music(score).ids.tolist())
    assert meters[:4] == ["4/4"] * 4 and meters[4:] == ["3/4"] * (len(meters) - 4)
    req = infill_bars(engine, score, 5, 6, SamplingConfig(seed=2))
    r = req.results[0]
    assert g.bar_meters(r.ids[r.music_start :]) == meters
    assert req.controls.meter == "4/4"  # the whole piece's Meter control: its first bar's
