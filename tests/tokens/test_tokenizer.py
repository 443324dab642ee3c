"""Round trips for every tokenization: pitch, onset, duration (to the grid) and voices."""

from __future__ import annotations

import pytest
import symusic
from tests.conftest import make_score

from tunesmith.conditioning.controls import Controls
from tunesmith.errors import BadInputError, CheckpointError
from tunesmith.tokens.tokenizer import TOKENIZATIONS, MusicTokenizer

GRID = 480 // 8  # the tokenizers' finest position: a 32nd note at 480 ticks per quarter


def _notes(score: symusic.Score):
    return [sorted((n.time, n.duration, n.pitch) for n in t.notes) for t in score.tracks]


@pytest.mark.parametrize("name", TOKENIZATIONS)
@pytest.mark.parametrize("meter", [(4, 4), (3, 4), (6, 8)])
def test_round_trip_keeps_notes_and_voices(name, meter):
    tok = MusicTokenizer(name)
    score = make_score(2, meter, voices=4, bars=4, programs=[52, 52, 52, 52], seed=3)
    piece = tok.encode_music(score)
    controls = Controls(meter=f"{meter[0]}/{meter[1]}", tempo=100, instruments=[52, 52, 52, 52])
    back = tok.decode(tok.prefix_ids(controls) + piece.ids.tolist() + [tok.eos_id])
    # four choir voices come back as four separate tracks, each with its program
    assert len(back.tracks) == 4
    assert [t.program for t in back.tracks] == [52, 52, 52, 52]
    for want, got in zip(_notes(score), _notes(back), strict=True):
        assert len(want) == len(got)
        for (t0, d0, p0), (t1, d1, p1) in zip(want, got, strict=True):
            assert p0 == p1
            assert abs(t0 - t1) <= GRID
            assert abs(d0 - d1) <= GRID
    assert back.time_signatures[0].numerator == meter[0]


@pytest.mark.parametrize("name", TOKENIZATIONS)
def test_bar_starts_count_bars(name):
    tok = MusicTokenizer(name)
    score = make_score(0, (3, 4), voices=1, bars=6, programs=[0], seed=1)
    piece = tok.encode_music(score)
    assert len(piece.bar_starts) >= 6


def test_controls_survive_the_sequence():
    tok = MusicTokenizer("REMI")
    c = Controls(
        style="slip jig", key="F# minor", meter="9/8", tempo=130, bars=16, instruments=[110, -1]
    )
    read = tok.read_controls(tok.prefix_ids(c))
    assert (read.style, read.key, read.meter, read.bars) == ("slip jig", "F# minor", "9/8", 16)
    assert read.instruments == [110, -1]
    assert read.tempo == 132.0  # the tempo bin's representative value


def test_drums_keep_their_channel():
    tok = MusicTokenizer("REMI")
    score = make_score(0, (4, 4), voices=2, bars=2, programs=[0, 0], seed=2)
    score.tracks[1].is_drum = True
    for n in score.tracks[1].notes:
        n.pitch = 38
    ids = tok.encode_music(score).ids.tolist()
    back = tok.decode(tok.prefix_ids(Controls(instruments=[0, -1])) + ids)
    assert sorted(t.is_drum for t in back.tracks) == [False, True]


def test_tracks_come_back_in_voice_order_whoever_sounds_first():
    tok = MusicTokenizer("REMI")
    score = make_score(0, (4, 4), voices=3, bars=4, programs=[52, 52, 52], seed=4)
    bar = score.ticks_per_quarter * 4
    for track in list(score.tracks)[:2]:  # voices 1 and 2 rest for the first bar
        kept = [n for n in track.notes if n.time >= bar]
        track.notes = type(track.notes)(kept)
    ids = tok.encode_music(score).ids.tolist()
    back = tok.decode(tok.prefix_ids(Controls(instruments=[52, 52, 52])) + ids)
    assert [t.name for t in back.tracks] == ["voice 1", "voice 2", "voice 3"]
    assert [len(t.notes) for t in back.tracks] == [len(t.notes) for t in score.tracks]


def test_save_load(tmp_path):
    tok = MusicTokenizer("REMI+")
    tok.save(tmp_path)
    again = MusicTokenizer.load(tmp_path)
    assert again.name == "REMI+" and again.vocab_size == tok.vocab_size
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(CheckpointError):
        MusicTokenizer.load(tmp_path)


def test_unknown_tokenization_and_empty_score():
    with pytest.raises(BadInputError, match="unknown tokenization"):
        MusicTokenizer("ABC")
    with pytest.raises(BadInputError):
        MusicTokenizer("REMI").encode_music(symusic.Score(480))
