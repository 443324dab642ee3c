"""Kept voices come out exactly; the model writes the others (harmonize, add, rewrite)."""

from __future__ import annotations

import pytest
import symusic
from tests.conftest import make_score

from tunesmith.errors import BadInputError
from tunesmith.generate.parts import add_part, harmonize, melody_line, rewrite_part
from tunesmith.generate.sampling import SamplingConfig
from tunesmith.render.piece import Piece


@pytest.fixture(scope="module")
def composer(tiny_run):
    from tunesmith import Composer

    return Composer.load(tiny_run)


def voice_notes(tok, ids, slot):
    """(bar, position, pitch token, duration token) of one voice slot in a REMI sequence."""
    out, bar, pos, prog, pitch = [], 0, 0, None, None
    for t in ids:
        kind, _, value = tok.token(int(t)).partition("_")
        if kind == "Bar":
            bar += 1
        elif kind == "Position":
            pos = int(value)
        elif kind == "Program":
            prog = int(value)
        elif kind == "Pitch":
            pitch = value
        elif kind == "Duration" and prog == slot:
            out.append((bar, pos, pitch, value))
    return out


def melody(bars=4) -> symusic.Score:
    return make_score(0, (4, 4), 1, bars, [73], seed=3)


@pytest.mark.parametrize("seed", [1, 2])
def test_harmonize_keeps_the_melody_exactly_and_adds_voices(composer, seed):
    m = melody()
    req = harmonize(composer.engine, m, SamplingConfig(seed=seed), voices=3, style="quartet")
    ids = req.results[0].ids
    want = voice_notes(composer.tokenizer, composer.tokenizer.encode_music(m).ids, 0)
    assert voice_notes(composer.tokenizer, ids, 0) == want
    assert req.controls.instruments == [40, 40, 41] and req.controls.bars == 4
    piece = Piece.from_tokens(composer.tokenizer, ids, req.controls)
    assert len(piece.score.tracks) == 3 and all(len(t.notes) for t in piece.score.tracks)
    assert sum(1 for t in ids if t == composer.tokenizer.bar_id) == 4


def test_add_part_keeps_every_part_and_plays_the_new_one(composer):
    duo = make_score(2, (3, 4), 2, 4, [40, 42], seed=5)
    req = add_part(composer.engine, duo, 32, SamplingConfig(seed=1))
    enc = composer.tokenizer.encode_music(duo).ids
    for slot in (0, 1):
        assert voice_notes(composer.tokenizer, req.results[0].ids, slot) == voice_notes(
            composer.tokenizer, enc, slot
        )
    assert voice_notes(composer.tokenizer, req.results[0].ids, 2)  # the new part plays
    assert req.controls.instruments == [40, 42, 32] and req.controls.meter == "3/4"


def test_rewrite_part_keeps_the_others(composer):
    trio = make_score(5, (4, 4), 3, 4, [52, 52, 52], seed=7)
    req = rewrite_part(composer.engine, trio, 1, SamplingConfig(seed=4), n=2)
    enc = composer.tokenizer.encode_music(trio).ids
    for r in req.results:
        for slot in (0, 2):
            assert voice_notes(composer.tokenizer, r.ids, slot) == voice_notes(
                composer.tokenizer, enc, slot
            )
    assert req.kept_slots == [0, 2]


def test_a_chordal_melody_is_reduced_to_its_top_line():
    s = melody(2)
    t = s.tracks[0]
    for n in list(t.notes)[:3]:
        t.notes.append(symusic.Note(n.time, n.duration, n.pitch - 12, 60))
    line, notice = melody_line(s)
    assert len(line.tracks[0].notes) == len(melody(2).tracks[0].notes)
    assert "top note" in notice and "3 lower notes" in notice


def test_bad_requests_are_refused(composer):
    s = SamplingConfig(seed=1)
    with pytest.raises(BadInputError, match="part 5 does not exist"):
        rewrite_part(composer.engine, make_score(0, (4, 4), 2, 2, [40, 42], seed=1), 4, s)
    with pytest.raises(BadInputError, match="unknown style"):
        harmonize(composer.engine, melody(), s, style="bebop")
    with pytest.raises(BadInputError, match="voices"):
        harmonize(composer.engine, melody(), s, voices=9)
    with pytest.raises(BadInputError, match="no pitched notes"):
        harmonize(composer.engine, symusic.Score(480), s)


def test_add_part_keeps_a_drum_track_exactly(composer):
    duo = make_score(0, (4, 4), 1, 2, [40], seed=2)
    drums = symusic.Track(program=0, is_drum=True, name="drums")
    for beat in range(8):
        drums.notes.append(symusic.Note(beat * 480, 240, 36 if beat % 2 == 0 else 38, 90))
    duo.tracks.append(drums)
    req = add_part(composer.engine, duo, 32, SamplingConfig(seed=3))
    enc = composer.tokenizer.encode_music(duo).ids
    tok = composer.tokenizer
    hits = [tok.token(int(t)) for t in enc if tok.token(int(t)).startswith("PitchDrum")]
    out = [
        tok.token(int(t)) for t in req.results[0].ids if tok.token(int(t)).startswith("PitchDrum")
    ]
    assert out == hits and len(hits) == 8  # the drum hits, in order, and no new ones
    assert voice_notes(tok, req.results[0].ids, 0) == voice_notes(tok, enc, 0)


def _meter_change(score: symusic.Score, bar: int, meter: tuple[int, int]) -> symusic.Score:
    """`score` (4/4, one part) with its bars from `bar` (1-based) re-barred in `meter`."""
    num, den = meter
    tpq = score.ticks_per_quarter
    start = (bar - 1) * 4 * tpq
    score.time_signatures.append(symusic.TimeSignature(start, num, den))
    return score


@pytest.mark.parametrize("job", ["add", "harmonize", "rewrite"])
def test_a_piece_that_changes_meter_keeps_its_bars(composer, job):
    """Each bar is written in the meter the piece gives it, so kept notes stay where they are
    (the first bar's meter for every bar would shift every note after the change)."""
    piece = _meter_change(make_score(0, (4, 4), 2, 6, [73, 42], seed=4), 4, (3, 4))
    s = SamplingConfig(seed=2)
    if job == "add":
        req = add_part(composer.engine, piece, 32, s)
    elif job == "harmonize":
        piece.tracks = piece.tracks[:1]
        req = harmonize(composer.engine, piece, s, voices=3)
    else:
        req = rewrite_part(composer.engine, piece, 1, s)
    tok, ids = composer.tokenizer, req.results[0].ids
    enc = tok.encode_music(piece).ids
    assert voice_notes(tok, ids, 0) == voice_notes(tok, enc, 0)
    g = composer.engine.grammar
    assert g.bar_meters(ids[req.results[0].music_start :]) == g.bar_meters(list(enc))


def test_a_piece_in_a_meter_no_request_names_is_still_kept(composer):
    piece = make_score(0, (1, 4), 1, 8, [73], seed=6)  # 1/4: in the vocabulary, not a control
    req = add_part(composer.engine, piece, 42, SamplingConfig(seed=1))
    tok = composer.tokenizer
    assert req.controls.meter is None
    assert voice_notes(tok, req.results[0].ids, 0) == voice_notes(
        tok, tok.encode_music(piece).ids, 0
    )


def test_harmonized_voices_are_single_lines(composer):
    """Each voice under the melody sings one note at a time, even when sampling is hot
    enough to make the model pile notes up (a choir part may otherwise hold chords)."""
    hot = SamplingConfig(seed=3, temperature=2.0, top_k=0, top_p=1.0)
    req = harmonize(composer.engine, melody(4), hot, voices=4, style="chorale", n=2)
    for r in req.results:
        piece = Piece.from_tokens(composer.tokenizer, r.ids, req.controls)
        for track in piece.score.tracks:
            onsets = [n.time for n in track.notes]
            assert len(onsets) == len(set(onsets)), f"{track.name} begins a chord"


def test_a_dense_new_part_leaves_the_kept_part_whole():
    """The shipped model rewriting the strings under a synth-pad line writes chords of up
    to ten notes; the token budget still leaves room for every kept note (it ran out
    first once, and the piece ended with 12 of the pad's 82 notes missing)."""
    from tunesmith import Composer

    c = Composer.load()
    piece = c("cinematic, D minor, synth pad and strings, very slow, one minute", bars=8, seed=1)
    score = piece.score
    req = rewrite_part(c.engine, score, 1, SamplingConfig(seed=1))
    tok, enc = c.tokenizer, c.tokenizer.encode_music(score).ids
    assert voice_notes(tok, req.results[0].ids, 0) == voice_notes(tok, enc, 0)


def test_parts_are_placed_by_register():
    """A new part goes where its instrument plays among the kept parts (a cello under a
    flute, a viola between violin and cello); a piano has no one place."""
    from tunesmith.generate.parts import _registers

    def order(tracks, programs):
        where = _registers(tracks, programs)
        return sorted(where, key=lambda s: -where[s]) if where else None

    flute = make_score(0, (4, 4), 1, 2, [73], seed=1).tracks[0]  # around C5
    assert order([flute], [73, 42]) == [0, 1]  # a cello under it
    assert _registers([flute], [73, 42])[1] == 50  # ... around D3
    assert order([flute], [73, 72]) == [1, 0]  # a piccolo over it
    assert order([flute], [73, 0]) is None  # a piano: anywhere
    duo = make_score(0, (4, 4), 2, 2, [40, 42], seed=1)
    for note in duo.tracks[1].notes:  # a cello part, around E3
        note.pitch -= 12
    assert order(list(duo.tracks), [40, 42, 41]) == [0, 2, 1]
    # rewriting: the part stays where it was
    assert order(list(duo.tracks), [40, 42]) == [0, 1]
