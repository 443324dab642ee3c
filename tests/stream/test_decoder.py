"""The incremental decoder agrees with the batch decoder, note for note."""

from __future__ import annotations

import pytest
from tests.conftest import make_score

from tunesmith.errors import BadInputError
from tunesmith.stream.decoder import IncrementalDecoder, channel_for
from tunesmith.tokens.tokenizer import TICKS_PER_QUARTER, MusicTokenizer


@pytest.mark.parametrize("meter", [(4, 4), (3, 4), (6, 8)])
def test_incremental_notes_equal_batch_decode(meter):
    tok = MusicTokenizer("REMI")
    score = make_score(2, meter, 3, 4, [0, 40, 42], seed=1)
    ids = [int(i) for i in tok.encode_music(score).ids]
    dec = IncrementalDecoder(tok)
    notes, horizons = [], []
    for t in ids:
        n = dec.feed(t)
        horizons.append(dec.horizon)
        if n is not None:
            notes.append(n)
            # a note is only emitted once its onset is no later than the horizon
            assert n.start <= dec.horizon + 1e-9
    assert horizons == sorted(horizons)  # time never runs backwards
    batch = tok.decode(ids, programs=[0, 40, 42])
    expected = sorted(
        (n.time / TICKS_PER_QUARTER, n.duration / TICKS_PER_QUARTER, n.pitch, slot)
        for slot, track in enumerate(batch.tracks)
        for n in track.notes
    )
    got = sorted((round(n.start, 6), round(n.duration, 6), n.pitch, n.slot) for n in notes)
    assert [(round(a, 6), round(b, 6), p, s) for a, b, p, s in expected] == got


def test_snapshot_restore_and_restart():
    tok = MusicTokenizer("REMI")
    ids = [int(i) for i in tok.encode_music(make_score(0, (4, 4), 1, 3, [0], seed=2)).ids]
    dec = IncrementalDecoder(tok)
    bar_at = [i for i, t in enumerate(ids) if t == tok.bar_id]
    dec.feed_all(ids[: bar_at[1]])
    snap = dec.snapshot()
    first = dec.feed_all(ids[bar_at[1] :])
    dec.restore(snap)
    assert dec.feed_all(ids[bar_at[1] :]) == first  # rewinding replays identically
    dec.restart_at(10.0)
    again = dec.feed_all(ids[bar_at[0] : bar_at[1]])
    assert min(n.start for n in again) >= 10.0


def test_midilike_is_refused_and_channels_skip_drums():
    with pytest.raises(BadInputError, match="REMI"):
        IncrementalDecoder(MusicTokenizer("MIDILike"))
    assert channel_for(-1) == 9
    assert [channel_for(s) for s in (0, 8, 9, 10)] == [0, 8, 10, 11]
