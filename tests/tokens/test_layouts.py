"""Model v2's layouts: Harmony tokens per bar, the part notes, and the infill contexts."""

from __future__ import annotations

import numpy as np
import pytest
from tests.conftest import make_score

from tunesmith.data.dataset import transpose_table
from tunesmith.errors import BadInputError, CheckpointError
from tunesmith.music.chords import Chord, bar_harmony
from tunesmith.tokens.layouts import (
    bar_infill_context,
    harmony_chord,
    harmony_id,
    insert_harmony,
    part_context,
    part_notes,
    split_bars,
    strip_extensions,
)
from tunesmith.tokens.tokenizer import MusicTokenizer

V2 = ("harmony", "infill")


@pytest.fixture(scope="module")
def tok():
    return MusicTokenizer("REMI", V2)


def test_v2_vocabulary_extends_v1_at_the_same_ids(tok, tmp_path):
    v1 = MusicTokenizer("REMI")
    assert tok.vocab_size == v1.vocab_size + 12 * 10 + 1 + 4
    assert all(tok.token(i) == v1.token(i) for i in range(v1.vocab_size))
    tok.save(tmp_path / "v2")
    v1.save(tmp_path / "v1")
    assert MusicTokenizer.load(tmp_path / "v2").extensions == V2
    assert MusicTokenizer.load(tmp_path / "v1").extensions == ()
    assert tok.dir_name == "REMI-harmony-infill" and v1.dir_name == "REMI"


def test_extensions_are_checked(tmp_path):
    with pytest.raises(BadInputError, match="unknown tokenizer extension"):
        MusicTokenizer("REMI", ("melody",))
    with pytest.raises(BadInputError, match="REMI"):
        MusicTokenizer("MIDILike", V2)
    path = tmp_path / "tokenizer.json"
    data = MusicTokenizer("REMI", V2).to_dict()
    data["extensions"] = ["nonsense"]
    import json

    path.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="unknown tokenizer extension"):
        MusicTokenizer.load(path)


def test_harmony_follows_each_bars_time_signature(tok):
    score = make_score(0, (3, 4), voices=3, bars=5, programs=[52, 52, 52], seed=1)
    music = tok.encode_music(score).ids
    chords = bar_harmony(score)
    assert len(chords) == 5 and all(c is not None for c in chords)
    ids = insert_harmony(tok, music, chords[:4])  # the fifth bar: no chord known
    names = tok.tokens(ids)
    bars = [i for i, n in enumerate(names) if n == "Bar_None"]
    assert len(bars) == 5
    for b, i in enumerate(bars):
        assert names[i + 1].startswith("TimeSig_")
        want = harmony_id(tok, chords[b] if b < 4 else None)
        assert ids[i + 2] == want
    assert harmony_chord(tok, ids[bars[0] + 2]) == Chord(chords[0].root, chords[0].quality)
    assert harmony_chord(tok, ids[bars[4] + 2]) is None
    # the extension tokens go again, and decoding ignores them either way
    assert strip_extensions(tok, ids) == music.tolist()
    a, b = tok.decode(ids), tok.decode(music)
    assert [list(t.notes) for t in a.tracks] == [list(t.notes) for t in b.tracks]


def test_a_single_line_claims_no_chord():
    score = make_score(0, (4, 4), voices=1, bars=4, programs=[73], seed=2)
    assert bar_harmony(score) == [None, None, None, None]


def test_transposition_moves_the_chord_root(tok):
    table = transpose_table(tok, 3)
    c_major = harmony_id(tok, Chord(0, "maj"))
    b_seventh = harmony_id(tok, Chord(11, "7"))
    assert table[c_major] == harmony_id(tok, Chord(3, "maj"))
    assert table[b_seventh] == harmony_id(tok, Chord(2, "7"))  # wraps around the octave
    none = harmony_id(tok, None)
    assert table[none] == none


def test_part_notes_keep_only_the_given_voices_and_every_bar(tok):
    score = make_score(0, (4, 4), voices=3, bars=3, programs=[52, 52, 52], seed=4)
    ids = insert_harmony(tok, tok.encode_music(score).ids, bar_harmony(score)).tolist()
    given = part_notes(tok, ids, [0])
    names = tok.tokens(given)
    assert names.count("Bar_None") == 3
    assert not any(n.startswith("Harmony_") for n in names)
    assert {n for n in names if n.startswith("Program_")} == {"Program_0"}
    # exactly the soprano's notes, each after its position
    sop = [n for n in tok.decode(given).tracks if len(n.notes)]
    assert len(sop) == 1
    assert sorted((n.time, n.pitch) for n in sop[0].notes) == sorted(
        (n.time, n.pitch) for n in tok.decode(ids).tracks[0].notes
    )


def test_infill_contexts_put_the_markers_around_the_given_music(tok):
    before, after, given = [tok.bar_id, 5], [tok.bar_id, 6], [tok.bar_id, 7]
    ctx = bar_infill_context(tok, before, after)
    assert tok.tokens(ctx)[0] == "Infill_before" and tok.tokens(ctx)[-1] == "Infill_begin"
    assert ctx[1:3] == before and ctx[4:6] == after and tok.token(ctx[3]) == "Infill_after"
    part = part_context(tok, given)
    assert tok.tokens([part[0], part[-1]]) == ["Infill_part", "Infill_begin"]
    assert part[1:-1] == given
    assert np.all(np.asarray(ctx) < tok.vocab_size)


def test_spm_order_puts_the_bars_after_first_and_survives_save(tmp_path):
    spm = MusicTokenizer("REMI", ("harmony", "infill"), "spm")
    before, after = [spm.bar_id, 5], [spm.bar_id, 6]
    ctx = bar_infill_context(spm, before, after)
    assert spm.tokens([ctx[0], ctx[3], ctx[-1]]) == ["Infill_after", "Infill_before", "Infill_begin"]
    assert ctx[1:3] == after and ctx[4:6] == before  # the hole follows the bars before it
    spm.save(tmp_path)
    assert MusicTokenizer.load(tmp_path).infill_order == "spm"
    with pytest.raises(BadInputError):
        MusicTokenizer("REMI", ("infill",), "mps")


def test_split_bars_cuts_at_each_bar(tok):
    b = tok.bar_id
    assert split_bars([7, b, 1, 2, b, 3], b) == [[b, 1, 2], [b, 3]]
    assert split_bars([], b) == []
